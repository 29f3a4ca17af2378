// CPU steps on decoded RGBA8 pixels that bound what is kept and uploaded (browser-safe):
//
//   shrinkFactor / boxDownscale   an image whose shorter side is more than `maxShorterSide` is
//                                 reduced by an integer factor f (the smallest that brings it to at
//                                 most maxShorterSide), each output pixel the mean of an f x f block
//                                 (an area filter; the blocks at the right and bottom edges may be
//                                 partial). With maxShorterSide = 2 x the model's resize size the
//                                 result keeps a shorter side of at least the resize size, so the GPU's
//                                 bilinear resize still only shrinks, by less than 2x.
//   orient                        applies an EXIF orientation (1..8) as the browser's decoders do.

import type { RgbaImage } from '../graph/steps.js';

/** The integer reduction for an image of `width` x `height` whose shorter side may be at most `maxShorterSide` (1: none). */
export function shrinkFactor(width: number, height: number, maxShorterSide: number | undefined): number {
  if (maxShorterSide === undefined || !(maxShorterSide >= 1)) return 1;
  return Math.max(1, Math.ceil(Math.min(width, height) / maxShorterSide));
}

/** Mean of each f x f block (partial blocks at the right and bottom edges average the pixels they have). */
export function boxDownscale(img: RgbaImage, f: number): RgbaImage {
  if (f <= 1) return img;
  const { width: W, height: H, data } = img;
  const w = Math.ceil(W / f), h = Math.ceil(H / f);
  const out = new Uint8Array(w * h * 4);
  const acc = new Float64Array(w * 4);
  for (let oy = 0; oy < h; oy++) {
    acc.fill(0);
    const y0 = oy * f, y1 = Math.min(H, y0 + f);
    for (let y = y0; y < y1; y++) {
      let p = y * W * 4;
      for (let x = 0; x < W; x++, p += 4) {
        const o = Math.floor(x / f) * 4;
        acc[o] += data[p]; acc[o + 1] += data[p + 1]; acc[o + 2] += data[p + 2]; acc[o + 3] += data[p + 3];
      }
    }
    for (let ox = 0; ox < w; ox++) {
      const n = (Math.min(W, (ox + 1) * f) - ox * f) * (y1 - y0);
      const q = (oy * w + ox) * 4;
      for (let c = 0; c < 4; c++) out[q + c] = Math.round(acc[ox * 4 + c] / n);
    }
  }
  return { data: out, width: w, height: h };
}

/** The image as displayed for EXIF orientation `o` (2: mirrored, 3: rotated 180, 6: rotated 90 clockwise, ...). */
export function orient(img: RgbaImage, o: number): RgbaImage {
  if (!(o >= 2 && o <= 8)) return img;
  const { width: W, height: H, data } = img;
  const swap = o >= 5;
  const w = swap ? H : W, h = swap ? W : H;
  const src = new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + W * H * 4));
  const dst = new Uint32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // (x, y) in the displayed image -> (sx, sy) in the stored one.
      let sx: number, sy: number;
      switch (o) {
        case 2: sx = W - 1 - x; sy = y; break;
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;
        case 4: sx = x; sy = H - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = H - 1 - x; break;
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;
        default: sx = W - 1 - y; sy = x; break; // 8
      }
      dst[y * w + x] = src[sy * W + sx];
    }
  }
  return { data: new Uint8Array(dst.buffer), width: w, height: h };
}
