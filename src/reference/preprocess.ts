// CPU reference for shaders/preprocess.wgsl, written out with plain loops in float64:
// torchvision Resize(resizeTo) (bilinear, align_corners=False, no antialias) -> CenterCrop(S) ->
// range scaling -> Normalize, for an RGBA8 image.

export interface PreprocessParams {
  resizeTo: number;
  size: number;
  channels: 1 | 3;
  range: readonly [number, number];
  mean: readonly number[];
  std: readonly number[];
}

/** rgba (h, w, 4) bytes -> (S, S, C) floats. */
export function preprocess(rgba: Uint8Array | Uint8ClampedArray, w: number, h: number, o: PreprocessParams): Float32Array {
  // Resize: the shorter side to resizeTo, the longer one int(resizeTo * long / short).
  let rw: number, rh: number;
  if (w <= h) { rw = o.resizeTo; rh = Math.floor((o.resizeTo * h) / w); } else { rh = o.resizeTo; rw = Math.floor((o.resizeTo * w) / h); }
  // CenterCrop: Python's round(), which rounds halves to even.
  const pyRound = (v: number) => { const f = Math.floor(v); return v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v); };
  const top = pyRound((rh - o.size) / 2);
  const left = pyRound((rw - o.size) / 2);
  const S = o.size, C = o.channels;
  const [lo, hi] = o.range;
  const out = new Float32Array(S * S * C);
  const byte = (x: number, y: number, c: number) => rgba[(y * w + x) * 4 + c] / 255;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      // Source coordinates of resized pixel (y + top, x + left).
      const sy = Math.max((h / rh) * (y + top + 0.5) - 0.5, 0);
      const sx = Math.max((w / rw) * (x + left + 0.5) - 0.5, 0);
      const y0 = Math.min(Math.floor(sy), h - 1), x0 = Math.min(Math.floor(sx), w - 1);
      const y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
      const wy = sy - y0, wx = sx - x0;
      const rgb = [0, 1, 2].map((c) =>
        (1 - wy) * ((1 - wx) * byte(x0, y0, c) + wx * byte(x1, y0, c)) +
        wy * ((1 - wx) * byte(x0, y1, c) + wx * byte(x1, y1, c)));
      const values = C === 3 ? rgb : [0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]];
      for (let c = 0; c < C; c++) {
        out[(y * S + x) * C + c] = (values[c] * (hi - lo) + lo - o.mean[c]) / o.std[c];
      }
    }
  }
  return out;
}
