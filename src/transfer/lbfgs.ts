// L-BFGS: minimises a smooth function of a Float64Array, with the two-loop recursion over the last
// `history` steps and a backtracking (Armijo) line search. Deterministic: no randomness anywhere.
// Used by the transfer head (head.ts) to fit a multinomial logistic regression in full batch.

/** Writes the gradient at x into `grad` and returns the value at x. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** Stop after this many iterations (each costs one or a few evaluations). */
  maxIterations: number;
  /** Stop when max |gradient| falls below this. */
  gradientTolerance: number;
  /** Stop when an iteration lowers the value by less than this times max(1, |value|). */
  relativeDecrease?: number;
  /** Step pairs kept for the inverse-Hessian estimate. */
  history?: number;
}

export interface LbfgsResult {
  value: number;
  iterations: number;
  evaluations: number;
  /** max |gradient| at the end. */
  gradientNorm: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Minimises f starting from x (updated in place). */
export function minimizeLbfgs(f: Objective, x: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = x.length;
  const m = options.history ?? 10;
  const relativeDecrease = options.relativeDecrease ?? 1e-12;
  const s: Float64Array[] = []; // x_{k+1} - x_k, oldest first
  const y: Float64Array[] = []; // g_{k+1} - g_k
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const g = new Float64Array(n);
  const gNew = new Float64Array(n);
  const xNew = new Float64Array(n);
  const d = new Float64Array(n);

  let value = f(x, g);
  let evaluations = 1;
  let iterations = 0;
  while (iterations < options.maxIterations && maxAbs(g) >= options.gradientTolerance) {
    // d = -H g by the two-loop recursion; H0 = (s.y / y.y) I from the newest pair.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    for (let j = s.length - 1; j >= 0; j--) {
      alpha[j] = rho[j] * dot(s[j], d);
      for (let i = 0; i < n; i++) d[i] -= alpha[j] * y[j][i];
    }
    const last = s.length - 1;
    const gamma = last >= 0 ? dot(s[last], y[last]) / dot(y[last], y[last]) : 1 / Math.max(maxAbs(g), 1e-300);
    for (let i = 0; i < n; i++) d[i] *= gamma;
    for (let j = 0; j < s.length; j++) {
      const beta = rho[j] * dot(y[j], d);
      for (let i = 0; i < n; i++) d[i] += (alpha[j] - beta) * s[j][i];
    }
    let slope = dot(g, d);
    if (!(slope < 0)) { // not a descent direction (numerical trouble): restart from steepest descent
      s.length = y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i] / Math.max(maxAbs(g), 1e-300);
      slope = dot(g, d);
    }

    // Backtracking line search: the first step t in 1, 1/2, 1/4 ... with f(x + t d) <= f(x) + 1e-4 t slope.
    let t = 1;
    let valueNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + t * d[i];
      valueNew = f(xNew, gNew);
      evaluations++;
      if (valueNew <= value + 1e-4 * t * slope) break;
      t *= 0.5;
    }
    if (!(valueNew <= value)) break; // no decrease found: x is as good as this precision allows
    iterations++;

    const sk = new Float64Array(n);
    const yk = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      sk[i] = xNew[i] - x[i];
      yk[i] = gNew[i] - g[i];
    }
    const sy = dot(sk, yk);
    if (sy > 1e-12 * Math.sqrt(dot(yk, yk) * dot(sk, sk))) { // keep H positive definite
      if (s.length === m) { s.shift(); y.shift(); rho.shift(); }
      s.push(sk); y.push(yk); rho.push(1 / sy);
    }
    const decrease = value - valueNew;
    x.set(xNew);
    g.set(gNew);
    value = valueNew;
    if (decrease < relativeDecrease * Math.max(1, Math.abs(value))) break;
  }
  const gradientNorm = maxAbs(g);
  return { value, iterations, evaluations, gradientNorm, converged: gradientNorm < options.gradientTolerance };
}
