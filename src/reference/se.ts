// CPU reference for shaders/se.wgsl: squeeze-and-excitation and the SE bottleneck's store, in float64.

/**
 * Channel scales (N, K) of x (N, HW, K): s = sigmoid(fc2(relu(fc1(mean over HW of x)))), with fc1
 * weight w1 (hidden, K) and bias b1 (hidden), fc2 weight w2 (K, hidden) and bias b2 (K).
 */
export function squeezeExcite(x: Float32Array, N: number, HW: number, K: number, hidden: number,
  w1: Float32Array, b1: Float32Array, w2: Float32Array, b2: Float32Array): Float32Array {
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const mean = new Float64Array(K);
    for (let p = 0; p < HW; p++) for (let c = 0; c < K; c++) mean[c] += x[(n * HW + p) * K + c];
    for (let c = 0; c < K; c++) mean[c] /= HW;
    const h = new Float64Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let acc = b1[j];
      for (let c = 0; c < K; c++) acc += w1[j * K + c] * mean[c];
      h[j] = Math.max(acc, 0);
    }
    for (let k = 0; k < K; k++) {
      let acc = b2[k];
      for (let j = 0; j < hidden; j++) acc += w2[k * hidden + j] * h[j];
      out[n * K + k] = 1 / (1 + Math.exp(-acc));
    }
  }
  return out;
}

/** y (N, HW, K) = relu(x * s[n, k] + residual), x and residual (N, HW, K), s (N, K). */
export function scaleResidualRelu(x: Float32Array, s: Float32Array, residual: Float32Array, N: number, HW: number, K: number): Float32Array {
  const out = new Float32Array(N * HW * K);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < HW; p++) {
      for (let k = 0; k < K; k++) {
        const i = (n * HW + p) * K + k;
        out[i] = Math.max(x[i] * s[n * K + k] + residual[i], 0);
      }
    }
  }
  return out;
}
