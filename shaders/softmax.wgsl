// softmax.wgsl — numerically stable softmax over the last dimension.
//
//   src (N, K) -> dst (N, K)
//   dst[n, k] = exp(src[n, k] - m) / sum_j exp(src[n, j] - m),  m = max_j src[n, j]
//
// Bindings (group 0):
//   0  uniform             params  Params { N, K }
//   1  storage, read       src     (N, K) f32
//   2  storage, read_write dst     (N, K) f32 (must not alias src)
//
// One workgroup per row: its WG invocations (override, default 64, a power of two) stride over
// the row, then reduce the max and the sum through workgroup memory (log2(WG) barrier steps each).
// Grid: N workgroups as (x, y) with x <= maxComputeWorkgroupsPerDimension; row = wid.y * nwg.x + wid.x.
// K may be any size (1000+); each invocation handles ceil(K / WG) elements.

struct Params {
  N: u32,
  K: u32,
}

override WG: u32 = 64;
const LOWEST = -3.402823466e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.N) { return; }  // uniform per workgroup, so the barriers below stay uniform
  let base = row * params.K;

  var m = LOWEST;
  for (var k = lid; k < params.K; k += WG) { m = max(m, src[base + k]); }
  partial[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { partial[lid] = max(partial[lid], partial[lid + s]); }
    workgroupBarrier();
  }
  let rowMax = partial[0];
  workgroupBarrier();  // everyone has read partial[0] before it is reused

  var sum = 0.0;
  for (var k = lid; k < params.K; k += WG) { sum += exp(src[base + k] - rowMax); }
  partial[lid] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { partial[lid] = partial[lid] + partial[lid + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / partial[0];

  for (var k = lid; k < params.K; k += WG) { dst[base + k] = exp(src[base + k] - rowMax) * inv; }
}
