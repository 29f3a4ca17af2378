// CPU reference for shaders/softmax.wgsl: softmax over the last dim of (N, K), in float64.

export function softmax(x: Float32Array, N: number, K: number): Float32Array {
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[n * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(x[n * K + k] - m);
    for (let k = 0; k < K; k++) out[n * K + k] = Math.exp(x[n * K + k] - m) / sum;
  }
  return out;
}
