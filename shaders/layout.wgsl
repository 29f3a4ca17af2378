// layout.wgsl — NCHW <-> NHWC conversion of an f32 tensor (any N, C, H, W).
//
// Entry points (same bindings, same grid):
//   nchw_to_nhwc   src (N, C, H, W) -> dst (N, H, W, C)
//   nhwc_to_nchw   src (N, H, W, C) -> dst (N, C, H, W)
//
// Bindings (group 0):
//   0  uniform             params  Params (shape of the NCHW view and the element count)
//   1  storage, read       src     f32, layout per entry point above
//   2  storage, read_write dst     f32, layout per entry point above
//
// One invocation writes one dst element (flat dst index i) and gathers it from src: writes are
// contiguous, reads are strided.
// Workgroup: WG x 1 x 1 (override, default 64). Grid: ceil(total / WG) workgroups, laid out as
// (x, y) with x <= maxComputeWorkgroupsPerDimension; flat workgroup = wid.y * nwg.x + wid.x.
// Invocations past `total` do nothing.

struct Params {
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  total: u32,  // N * C * H * W
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn flatIndex(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn nchw_to_nhwc(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, nwg, lid);
  if (i >= params.total) { return; }
  // i indexes dst (N, H, W, C).
  let c = i % params.C;
  var t = i / params.C;
  let x = t % params.W;
  t = t / params.W;
  let y = t % params.H;
  let n = t / params.H;
  dst[i] = src[((n * params.C + c) * params.H + y) * params.W + x];
}

@compute @workgroup_size(WG)
fn nhwc_to_nchw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, nwg, lid);
  if (i >= params.total) { return; }
  // i indexes dst (N, C, H, W).
  let x = i % params.W;
  var t = i / params.W;
  let y = t % params.H;
  t = t / params.H;
  let c = t % params.C;
  let n = t / params.C;
  dst[i] = src[((n * params.H + y) * params.W + x) * params.C + c];
}
