// CPU reference for the eca entry point of shaders/se.wgsl: efficient channel attention's channel scales, in float64.

/**
 * Channel scales (N, K) of x (N, HW, K): s = sigmoid(conv1d(mean over HW of x)), the conv across
 * channels with the `w.length` taps of w, zero padding (w.length - 1) / 2 each side, no bias.
 */
export function eca(x: Float32Array, N: number, HW: number, K: number, w: Float32Array): Float32Array {
  const out = new Float32Array(N * K);
  const pad = (w.length - 1) / 2;
  for (let n = 0; n < N; n++) {
    const mean = new Float64Array(K);
    for (let p = 0; p < HW; p++) for (let c = 0; c < K; c++) mean[c] += x[(n * HW + p) * K + c];
    for (let c = 0; c < K; c++) mean[c] /= HW;
    for (let k = 0; k < K; k++) {
      let acc = 0;
      for (let j = 0; j < w.length; j++) {
        const c = k + j - pad;
        if (c >= 0 && c < K) acc += w[j] * mean[c];
      }
      out[n * K + k] = 1 / (1 + Math.exp(-acc));
    }
  }
  return out;
}
