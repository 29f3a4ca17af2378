// preprocess.wgsl — RGBA8 image -> normalised NHWC input of a classifier, in one pass:
// torchvision's Resize(resizeTo) (bilinear, antialias=False, on a float tensor), CenterCrop(S),
// scaling to the model's input range and Normalize(mean, std).
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
// Defines:
//   GREY  C = 1, luminance; else C = 3, RGB
//
// Bindings (group 0):
//   0  uniform             params  Params
//   1  storage, read       src     (srcH, srcW) u32
//   2  storage, read_write dst     (N, S, S, C) f32
//
// One invocation produces one output pixel (C values). Workgroup: TILE x TILE (override,
// default 8). Grid: (ceil(S / TILE), ceil(S / TILE)).

struct Params {
  srcW: u32, srcH: u32, resizedW: u32, resizedH: u32,
  S: u32, top: u32, left: u32, batchIndex: u32,
  resizeTo: u32, _pad0: u32, scaleX: f32, scaleY: f32,
  lo: f32, hi: f32, _pad1: f32, _pad2: f32,
  mean: vec4<f32>,
  stdDev: vec4<f32>,
}

override TILE: u32 = 8;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn pixel(x: u32, y: u32) -> vec3<f32> {
  return unpack4x8unorm(src[y * params.srcW + x]).rgb;
}

@compute @workgroup_size(TILE, TILE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let x = gid.x;
  let y = gid.y;
  let S = params.S;
  if (x >= S || y >= S) { return; }

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
