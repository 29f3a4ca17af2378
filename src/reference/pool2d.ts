// CPU reference for shaders/pool2d.wgsl: PyTorch's MaxPool2d / AvgPool2d on NHWC, plain loops.

export interface PoolParams {
  mode: 'max' | 'avg';
  kernel: [number, number];
  stride: [number, number];
  pad: [number, number];
  ceilMode: boolean;
  /** AvgPool2d count_include_pad (PyTorch's default true). */
  countIncludePad: boolean;
  /** Average only: each input element becomes max(0, x * scale[c] + shift[c]) first (BatchNorm + ReLU), each (C). */
  preAct?: { scale: Float32Array; shift: Float32Array };
}

/** PyTorch's pooling_output_shape (dilation 1). */
export function poolOutputSize(L: number, k: number, s: number, p: number, ceilMode: boolean): number {
  let out = Math.floor((L + 2 * p - k + (ceilMode ? s - 1 : 0)) / s) + 1;
  // In ceil mode the last window must start inside the input or the left padding.
  if (ceilMode && (out - 1) * s >= L + p) out--;
  return out;
}

/** x (N, H, W, C) -> (N, P, Q, C). */
export function pool2d(x: Float32Array, [N, H, W, C]: readonly number[], o: PoolParams): { data: Float32Array; shape: number[] } {
  const [R, S] = o.kernel;
  const [sh, sw] = o.stride;
  const [ph, pw] = o.pad;
  const P = poolOutputSize(H, R, sh, ph, o.ceilMode);
  const Q = poolOutputSize(W, S, sw, pw, o.ceilMode);
  if (o.preAct && o.mode !== 'avg') throw new Error('pool2d: the pre-activation is for average pooling only');
  const out = new Float32Array(N * P * Q * C);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        for (let c = 0; c < C; c++) {
          const hs = p * sh - ph, ws = q * sw - pw;
          // PyTorch's avg pool: window end clipped to the padded input, divisor from that.
          const he = Math.min(hs + R, H + ph), we = Math.min(ws + S, W + pw);
          let maxV = -Infinity, sum = 0, inside = 0;
          for (let y = hs; y < he; y++) {
            for (let xx = ws; xx < we; xx++) {
              if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
              let v = x[((n * H + y) * W + xx) * C + c];
              if (o.preAct) v = Math.max(0, v * o.preAct.scale[c] + o.preAct.shift[c]);
              maxV = Math.max(maxV, v);
              sum += v;
              inside++;
            }
          }
          const divisor = o.countIncludePad ? (he - hs) * (we - ws) : inside;
          out[((n * P + p) * Q + q) * C + c] = o.mode === 'max' ? maxV : sum / divisor;
        }
      }
    }
  }
  return { data: out, shape: [N, P, Q, C] };
}
