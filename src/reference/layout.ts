// CPU reference for shaders/layout.wgsl: NCHW <-> NHWC, plain loops.

/** x (N, C, H, W) -> (N, H, W, C). */
export function nchwToNhwc(x: Float32Array, [N, C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let w = 0; w < W; w++) {
          out[((n * H + y) * W + w) * C + c] = x[((n * C + c) * H + y) * W + w];
        }
      }
    }
  }
  return out;
}

/** x (N, H, W, C) -> (N, C, H, W). */
export function nhwcToNchw(x: Float32Array, [N, H, W, C]: readonly number[]): Float32Array {
  const out = new Float32Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let y = 0; y < H; y++) {
      for (let w = 0; w < W; w++) {
        for (let c = 0; c < C; c++) {
          out[((n * C + c) * H + y) * W + w] = x[((n * H + y) * W + w) * C + c];
        }
      }
    }
  }
  return out;
}
