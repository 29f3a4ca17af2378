// preprocess.wgsl — RGBA8 image -> normalised NHWC input of a classifier, in one pass:
// Resize(resizeTo) of the shorter side, CenterCrop(S), scaling to the model's input range and
// Normalize(mean, std). The resize is torchvision's on a float tensor (bilinear, antialias=False),
// or with PILLOW Pillow's Image.resize (antialiased BILINEAR or BICUBIC, what timm evaluates with).
//
//   src  (srcH, srcW) u32: one pixel per word, bytes R, G, B, A in memory order (R = low byte)
//   dst  (N, S, S, C) f32; this dispatch writes batch slot `batchIndex` only
//
// Mapping for output pixel (y, x), channel c (all in f32):
//   resized size (resizedH, resizedW): the shorter side becomes resizeTo, the longer
//     floor(resizeTo * long / short) (torchvision's rule, computed by the TS twin)
//   crop offsets top = round_half_even((resizedH - S) / 2), left likewise (CenterCrop)
//   source row  sy = max(scaleY * (y + top + 0.5) - 0.5, 0), scaleY = srcH / resizedH
//     (PyTorch's upsample_bilinear2d, align_corners=False); y0 = floor(sy),
//     y1 = min(y0 + 1, srcH - 1), wy = sy - y0; columns likewise with scaleX = srcW / resizedW
//   p = (1-wy) * ((1-wx) * px[y0,x0] + wx * px[y0,x1]) + wy * ((1-wx) * px[y1,x0] + wx * px[y1,x1])
//     with px the RGB bytes / 255
//   GREY: p = 0.299 R + 0.587 G + 0.114 B of that (C = 1)
//   dst[batchIndex, y, x, c] = (p[c] * (hi - lo) + lo - mean[c]) / std[c]
//
// PILLOW instead (Pillow's ImagingResample, 8 bits per channel, bit for bit), in two dispatches as
// Pillow runs it: the filter weights of crop column x are the table row coeffs[x * (2 + kx) ..]:
// [start, used, kx weights], those of crop row y the row at rowTable + y * (2 + ky) (computed by the TS
// twin as Pillow does: support scaled by the downscale factor, normalised, times 2^22 rounded).
//   HPASS (horizontal): for source rows r = rowFirst .. rowFirst + rowCount - 1 and crop columns x,
//     mid[r - rowFirst, x] = clip8(2^21 + sum_i byte[r, xstart(x) + i] * wx(x)[i]), packed R | G << 8 | B << 16
//   then (vertical, this file without HPASS): p = clip8(2^21 + sum_j mid[ystart(y) + j - rowFirst, x] * wy(y)[j]) / 255
// with clip8(v) = clamp(v >> 22, 0, 255), in i32 (|sums| < 2^31 for these filters); rows rowFirst ..
// rowFirst + rowCount - 1 are those the crop's vertical taps read.
//
// Defines:
//   GREY    C = 1, luminance; else C = 3, RGB
//   PILLOW  Pillow's resize through the coefficient table (binding 3); src is the HPASS output
//   HPASS   (with PILLOW) the horizontal pass: src the image, dst (rowCount, S) u32 packed bytes
//
// Bindings (group 0):
//   0  uniform             params  Params
//   1  storage, read       src     (srcH, srcW) u32; PILLOW: (rowCount, S) u32 from HPASS
//   2  storage, read_write dst     (N, S, S, C) f32; HPASS: (rowCount, S) u32
//   3  storage, read       coeffs  i32 (PILLOW only)
//
// One invocation produces one output pixel (C values), with HPASS one packed value. Workgroup:
// TILE x TILE (override, default 8). Grid: (ceil(S / TILE), ceil(S / TILE)); HPASS:
// (ceil(S / TILE), ceil(rowCount / TILE)).

struct Params {
  srcW: u32, srcH: u32, resizedW: u32, resizedH: u32,
  S: u32, top: u32, left: u32, batchIndex: u32,
  resizeTo: u32, kx: u32, scaleX: f32, scaleY: f32,
  lo: f32, hi: f32, ky: u32, rowTable: u32,
  mean: vec4<f32>,
  stdDev: vec4<f32>,
  rowFirst: u32, rowCount: u32, _pad0: u32, _pad1: u32,
}

override TILE: u32 = 8;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
#if HPASS
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
#else
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
#endif

fn pixel(x: u32, y: u32) -> vec3<f32> {
  return unpack4x8unorm(src[y * params.srcW + x]).rgb;
}

#if PILLOW
@group(0) @binding(3) var<storage, read> coeffs: array<i32>;

fn bytes3(word: u32) -> vec3<i32> {
  return vec3<i32>(i32(word & 0xffu), i32((word >> 8u) & 0xffu), i32((word >> 16u) & 0xffu));
}

fn clip8(v: vec3<i32>) -> vec3<i32> {
  return clamp(v >> vec3<u32>(22u), vec3<i32>(0), vec3<i32>(255));
}

#if HPASS
// The horizontal pass: one packed value of the intermediate per (crop column, needed source row).
@compute @workgroup_size(TILE, TILE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let x = gid.x;
  let r = gid.y;
  if (x >= params.S || r >= params.rowCount) { return; }
  let cx = x * (2u + params.kx);
  let xstart = u32(coeffs[cx]);
  let xused = u32(coeffs[cx + 1u]);
  let row = (params.rowFirst + r) * params.srcW + xstart;
  var h = vec3<i32>(2097152);  // 2^21: rounds the shift by 22 to nearest
  for (var i = 0u; i < xused; i++) {
    h += bytes3(src[row + i]) * coeffs[cx + 2u + i];
  }
  let b = vec3<u32>(clip8(h));
  dst[r * params.S + x] = b.x | (b.y << 8u) | (b.z << 16u);
}
#else
// The vertical pass over the intermediate: Pillow's resampled RGB of crop pixel (x, y), in [0, 1].
fn resampled(x: u32, y: u32) -> vec3<f32> {
  let cy = params.rowTable + y * (2u + params.ky);
  let ystart = u32(coeffs[cy]);
  let yused = u32(coeffs[cy + 1u]);
  var acc = vec3<i32>(2097152);
  for (var j = 0u; j < yused; j++) {
    acc += bytes3(src[(ystart + j - params.rowFirst) * params.S + x]) * coeffs[cy + 2u + j];
  }
  return vec3<f32>(clip8(acc)) / 255.0;
}
#endif
#endif

#if HPASS
#else
@compute @workgroup_size(TILE, TILE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let x = gid.x;
  let y = gid.y;
  let S = params.S;
  if (x >= S || y >= S) { return; }

#if PILLOW
  let rgb = resampled(x, y);
#else
  let sy = max(params.scaleY * (f32(y + params.top) + 0.5) - 0.5, 0.0);
  let sx = max(params.scaleX * (f32(x + params.left) + 0.5) - 0.5, 0.0);
  let y0 = min(u32(sy), params.srcH - 1u);
  let x0 = min(u32(sx), params.srcW - 1u);
  let y1 = min(y0 + 1u, params.srcH - 1u);
  let x1 = min(x0 + 1u, params.srcW - 1u);
  let wy = sy - f32(y0);
  let wx = sx - f32(x0);
  let rgb = (1.0 - wy) * ((1.0 - wx) * pixel(x0, y0) + wx * pixel(x1, y0)) +
            wy * ((1.0 - wx) * pixel(x0, y1) + wx * pixel(x1, y1));
#endif

  let range = params.hi - params.lo;
#if GREY
  let lum = dot(rgb, vec3<f32>(0.299, 0.587, 0.114));
  dst[(params.batchIndex * S + y) * S + x] = (lum * range + params.lo - params.mean.x) / params.stdDev.x;
#else
  let v = (rgb * range + params.lo - params.mean.xyz) / params.stdDev.xyz;
  let o = ((params.batchIndex * S + y) * S + x) * 3u;
  dst[o] = v.x;
  dst[o + 1u] = v.y;
  dst[o + 2u] = v.z;
#endif
}
#endif
