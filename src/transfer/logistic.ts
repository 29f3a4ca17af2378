// Multinomial logistic regression, full batch: the fitting behind the 'softmax' transfer head.
//
// Given z (N, D) and labels y (N), find W (K, D) and b (K) minimising
//   mean_n(logsumexp(W z_n + b) - (W z_n + b)[y_n]) + l2 / 2 * |W|^2      (b not penalised)
// by L-BFGS from zero.
//
// Few-shot training has fewer examples than dimensions (N < D: 200 x 2048). Then the optimal W's
// rows lie in the row space of z (the gradient's W part is always a combination of the z_n, plus
// l2 W), so the problem is solved there: a pivoted Cholesky factorisation of the Gram matrix
// z z^T = L L^T gives z = L Q with Q (r, D) orthonormal rows, r = rank <= N. With W = beta Q,
// W z_n = beta L_n and |W| = |beta|: the same problem on the features L (N, r), an isometry, so
// L-BFGS takes the same steps, each costing N r K instead of N D K. W = beta Q is formed once at
// the end. This pays for the Gram matrix (N^2 D / 2) after a few iterations.

import { minimizeLbfgs } from './lbfgs.js';

export interface LogisticOptions {
  l2: number;
  maxIterations: number;
  gradientTolerance: number;
}

export interface LogisticFit {
  /** (K, D) row-major */
  weight: Float64Array;
  /** (K) */
  bias: Float64Array;
  iterations: number;
  evaluations: number;
  /** The objective at the end. */
  loss: number;
  converged: boolean;
}

/** a[ao .. ao + n) . b[bo .. bo + n), with four partial sums (independent adds run in parallel). */
function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[ao + i] * b[bo + i];
    s1 += a[ao + i + 1] * b[bo + i + 1];
    s2 += a[ao + i + 2] * b[bo + i + 2];
    s3 += a[ao + i + 3] * b[bo + i + 3];
  }
  for (; i < n; i++) s0 += a[ao + i] * b[bo + i];
  return (s0 + s1) + (s2 + s3);
}

/** y[yo .. yo + n) += alpha * x[xo .. xo + n). */
function axpy(alpha: number, x: Float64Array, xo: number, y: Float64Array, yo: number, n: number): void {
  for (let i = 0; i < n; i++) y[yo + i] += alpha * x[xo + i];
}

/** p = softmax(logits), stable (max subtracted). */
export function softmaxInto(logits: Float64Array, p: Float32Array | Float64Array): void {
  let max = -Infinity;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) sum += Math.exp(logits[k] - max);
  for (let k = 0; k < logits.length; k++) p[k] = Math.exp(logits[k] - max) / sum;
}

/** Fits W, b on z (N, D) with labels in 0..K-1 (checked by the caller). */
export function fitLogisticRegression(z: Float64Array, labels: readonly number[] | Int32Array, N: number, D: number,
  K: number, options: LogisticOptions): LogisticFit {
  if (N >= D) return fitOn(z, labels, N, D, K, options);
  const { L, r, pivots } = pivotedCholesky(gram(z, N, D), N);
  const fit = fitOn(L, labels, N, r, K, options);
  return { ...fit, weight: rowSpaceWeight(fit.weight, L, r, pivots, z, D, K) };
}

function fitOn(x: Float64Array, labels: readonly number[] | Int32Array, N: number, D: number, K: number,
  options: LogisticOptions): LogisticFit {
  const { l2 } = options;
  const logits = new Float64Array(K);
  const p = new Float64Array(K);
  const b = K * D; // theta = [W (K, D), b (K)]
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let n = 0; n < N; n++) {
      const xn = n * D;
      for (let k = 0; k < K; k++) logits[k] = theta[b + k] + dot(theta, k * D, x, xn, D);
      softmaxInto(logits, p);
      const y = labels[n];
      loss -= Math.log(Math.max(p[y], 1e-300));
      p[y] -= 1; // d loss_n / d logits
      for (let k = 0; k < K; k++) {
        const e = p[k] / N;
        axpy(e, x, xn, grad, k * D, D);
        grad[b + k] += e;
      }
    }
    let sq = 0;
    for (let i = 0; i < K * D; i++) {
      sq += theta[i] * theta[i];
      grad[i] += l2 * theta[i];
    }
    return loss / N + 0.5 * l2 * sq;
  };
  const theta = new Float64Array(K * D + K);
  const r = minimizeLbfgs(objective, theta, { maxIterations: options.maxIterations, gradientTolerance: options.gradientTolerance });
  return {
    weight: theta.slice(0, b), bias: theta.slice(b),
    iterations: r.iterations, evaluations: r.evaluations, loss: r.value, converged: r.converged,
  };
}

/** z z^T: (N, N) for z (N, D). */
function gram(z: Float64Array, N: number, D: number): Float64Array {
  const G = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= i; j++) G[i * N + j] = G[j * N + i] = dot(z, i * D, z, j * D, D);
  }
  return G;
}

/**
 * G (N, N) symmetric positive semi-definite = L L^T with L (N, r) (row-major, stride r), columns
 * taken in the order of `pivots` (largest remaining diagonal first); stops when the remaining
 * diagonal is below 1e-10 x the largest, so r is G's numerical rank. Row pivots[j] of L is zero
 * after column j: the rows of L at the pivots form a lower-triangular (r, r) matrix.
 */
function pivotedCholesky(G: Float64Array, N: number): { L: Float64Array; r: number; pivots: number[] } {
  const diag = new Float64Array(N);
  for (let i = 0; i < N; i++) diag[i] = G[i * N + i];
  const tolerance = 1e-10 * Math.max(...diag);
  const cols: Float64Array[] = []; // column j of L, (N)
  const pivots: number[] = [];
  const used = new Uint8Array(N);
  while (pivots.length < N) {
    let p = -1;
    for (let i = 0; i < N; i++) if (!used[i] && (p < 0 || diag[i] > diag[p])) p = i;
    if (!(diag[p] > tolerance)) break;
    const col = new Float64Array(N);
    const root = Math.sqrt(diag[p]);
    for (let i = 0; i < N; i++) {
      if (used[i]) continue;
      let s = G[i * N + p];
      for (const c of cols) s -= c[i] * c[p];
      col[i] = s / root;
      diag[i] -= col[i] * col[i];
    }
    used[p] = 1;
    pivots.push(p);
    cols.push(col);
  }
  const r = cols.length;
  const L = new Float64Array(N * r);
  for (let j = 0; j < r; j++) for (let i = 0; i < N; i++) L[i * r + j] = cols[j][i];
  return { L, r, pivots };
}

/**
 * W = beta Q (K, D) with Q = P^-1 z_P: P (r, r) = L's rows at the pivots (lower triangular), z_P
 * z's rows at the pivots. Solves alpha P = beta by back substitution, then W = alpha z_P.
 */
function rowSpaceWeight(beta: Float64Array, L: Float64Array, r: number, pivots: number[], z: Float64Array, D: number,
  K: number): Float64Array {
  const W = new Float64Array(K * D);
  const alpha = new Float64Array(r);
  for (let k = 0; k < K; k++) {
    for (let i = r - 1; i >= 0; i--) {
      let s = beta[k * r + i];
      for (let j = i + 1; j < r; j++) s -= alpha[j] * L[pivots[j] * r + i];
      alpha[i] = s / L[pivots[i] * r + i];
    }
    for (let j = 0; j < r; j++) axpy(alpha[j], z, pivots[j] * D, W, k * D, D);
  }
  return W;
}
