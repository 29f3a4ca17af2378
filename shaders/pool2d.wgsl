// pool2d.wgsl — MaxPool2d and AvgPool2d over NHWC f32 tensors, PyTorch semantics.
//
//   src (N, H, W, C) -> dst (N, P, Q, C)
//   dst[n, p, q, c] = max or mean of src[n, y, x, c] over the window
//     y in [p * strideH - padH, p * strideH - padH + R) and x in [q * strideW - padW, ... + S),
//   restricted to the input. Max ignores padding. Average divides by
//     countIncludePad == 1: the window size clipped to the padded input [-pad, H + pad), as
//                           PyTorch does (differs from R*S only for ceil-mode edge windows);
//     countIncludePad == 0: the number of input elements in the window.
//   Global average pooling is R = H, S = W, stride 1, pad 0 (P = Q = 1).
//   P, Q (floor or ceil mode) are computed by the TS twin; every window must hold at least one
//   input element, which PyTorch's rules (pad <= kernel / 2, last window starts inside the input
//   or left padding) guarantee.
//
// Defines:
//   MAX   max pooling (else average)
//   VEC4  C % 4 == 0: one invocation handles 4 channels as a vec4 (Cu = C / 4); else Cu = C
//   X_F16, Y_F16  src, dst stored as f16 (VEC4 only; independently: the global pool reads f16
//         activations and writes f32 features), as f16 with SHADER_F16 ('shader-f16'), else as pairs
//         packed in u32 (pack2x16float / unpack2x16float). Arithmetic stays f32; stores saturate to
//         +-65504 (an out-of-range conversion is indeterminate in WGSL). F16: either of them.
//   PRE_ACT  (average only) each input element is first mapped to max(0, x * scale[c] + shift[c]): a
//         BatchNorm + ReLU before the pool (the final norm of pre-activation ResNets). Windows are
//         clipped to the input, so padding never goes through it.
//
// Bindings (group 0):
//   0  uniform             params  Params
//   1  storage, read       src     (N, H, W, Cu) of T (X_F16: of 4 f16)
//   2  storage, read_write dst     (N, P, Q, Cu) of T (Y_F16: of 4 f16)
//   3  storage, read       pre     (2, Cu) of T: scale then shift (PRE_ACT only; f32)
//
// One invocation produces one dst element of T (one output position, 1 or 4 channels), looping
// over its window; consecutive invocations take consecutive channels, so loads are contiguous.
// For a global pool over a 7x7x2048 map that is N * 512 invocations of 49 vec4 loads each.
// Workgroup: WG x 1 x 1 (override, default 64). Grid: ceil(N*P*Q*Cu / WG) workgroups as (x, y)
// with x <= maxComputeWorkgroupsPerDimension; flat workgroup = wid.y * nwg.x + wid.x.

#if SHADER_F16
enable f16;
#endif

struct Params {
  N: u32, H: u32, W: u32, Cu: u32,
  P: u32, Q: u32, R: u32, S: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32,
  countIncludePad: u32,
  total: u32,  // N * P * Q * Cu
}

#if VEC4
alias T = vec4<f32>;
#else
alias T = f32;
#endif

override WG: u32 = 64;

#if F16
#include half
#endif

@group(0) @binding(0) var<uniform> params: Params;
#if X_F16
@group(0) @binding(1) var<storage, read> src: array<Half4>;
fn loadSrc(i: u32) -> T { return fromHalf4(src[i]); }
#else
@group(0) @binding(1) var<storage, read> src: array<T>;
fn loadSrc(i: u32) -> T { return src[i]; }
#endif
#if Y_F16
@group(0) @binding(2) var<storage, read_write> dst: array<Half4>;
fn storeDst(i: u32, v: T) { dst[i] = toHalf4(v); }
#else
@group(0) @binding(2) var<storage, read_write> dst: array<T>;
fn storeDst(i: u32, v: T) { dst[i] = v; }
#endif
#if PRE_ACT
@group(0) @binding(3) var<storage, read> pre: array<T>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= params.total) { return; }
  let c = i % params.Cu;
  var t = i / params.Cu;
  let q = t % params.Q;
  t = t / params.Q;
  let p = t % params.P;
  let n = t / params.P;

  // Window in input coordinates (may reach into padding), then clipped to the input.
  let y0 = i32(p * params.strideH) - i32(params.padH);
  let x0 = i32(q * params.strideW) - i32(params.padW);
  let yPadEnd = min(y0 + i32(params.R), i32(params.H + params.padH));
  let xPadEnd = min(x0 + i32(params.S), i32(params.W + params.padW));
  let yStart = u32(max(y0, 0));
  let xStart = u32(max(x0, 0));
  let yEnd = u32(min(yPadEnd, i32(params.H)));
  let xEnd = u32(min(xPadEnd, i32(params.W)));

  let rowBase = n * params.H;
#if MAX
  var acc = loadSrc(((rowBase + yStart) * params.W + xStart) * params.Cu + c);
  for (var y = yStart; y < yEnd; y++) {
    for (var x = xStart; x < xEnd; x++) {
      acc = max(acc, loadSrc(((rowBase + y) * params.W + x) * params.Cu + c));
    }
  }
  storeDst(i, acc);
#else
#if PRE_ACT
  let scale = pre[c];
  let shift = pre[params.Cu + c];
#endif
  var acc = T(0.0);
  for (var y = yStart; y < yEnd; y++) {
    for (var x = xStart; x < xEnd; x++) {
#if PRE_ACT
      acc += max(loadSrc(((rowBase + y) * params.W + x) * params.Cu + c) * scale + shift, T(0.0));
#else
      acc += loadSrc(((rowBase + y) * params.W + x) * params.Cu + c);
#endif
    }
  }
  var count: i32;
  if (params.countIncludePad != 0u) {
    count = (yPadEnd - y0) * (xPadEnd - x0);
  } else {
    count = i32((yEnd - yStart) * (xEnd - xStart));
  }
  storeDst(i, acc / f32(count));
#endif
}
