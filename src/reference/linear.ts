// CPU reference for shaders/linear.wgsl: y = x · Wᵀ + b, plain loops.

/** x (N, C), weight (K, C) PyTorch order, bias (K) or none -> (N, K). */
export function linear(x: Float32Array, weight: Float32Array, bias: Float32Array | undefined,
  N: number, C: number, K: number): Float32Array {
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let sum = bias ? bias[k] : 0;
      for (let c = 0; c < C; c++) sum += x[n * C + c] * weight[k * C + c];
      out[n * K + k] = sum;
    }
  }
  return out;
}
