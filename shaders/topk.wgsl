// topk.wgsl — the k largest values of each row of (N, K), with their indices.
//
//   src (N, K) f32
//   dst (N, 2, k) u32 words: for row n, words [n*2k, n*2k + k) are the values (f32 bits, use
//       bitcast), words [n*2k + k, n*2k + 2k) their indices into K. Sorted by value descending;
//       equal values by lower index first. So reading back N * 2k words is all a runner needs
//       (decodeTopK in src/ops/topk.ts turns them into [{ index, value }] per row).
//   Assumes k <= K. The order is total, NaN included: values are compared as integer keys
//   (orderKey), NaN after every number (-Infinity included), -0 equal to +0. So the k indices of
//   a row are always k distinct indices in [0, K), whatever src holds, and a NaN in the top k is
//   written as the NaN it is (the caller checks the values).
//
// Bindings (group 0):
//   0  uniform             params  Params { N, K, k }
//   1  storage, read       src     (N, K) f32
//   2  storage, read_write dst     (N, 2, k) u32
//
// One workgroup per row, WG invocations (override, default 64, a power of two). Round r picks
// the r-th element of the order "value descending, index ascending": each invocation scans its
// strided share of the row for the best element ranked after pick r-1, then a tree reduction
// through workgroup memory finds the best over the workgroup. k rounds of K / WG loads each;
// fine for the classifier's k <= 32 and K ~ 1000.
// Grid: N workgroups as (x, y) with x <= maxComputeWorkgroupsPerDimension; row = wid.y * nwg.x + wid.x.

struct Params {
  N: u32,
  K: u32,
  k: u32,
}

override WG: u32 = 64;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> bestKey: array<u32, WG>;
var<workgroup> bestIndex: array<u32, WG>;

/**
 * A u32 in the order of the f32 values: a larger value has a larger key; every NaN has key 0, below
 * -Infinity's; -0 has +0's key. Integer compares, so no float compare meets a NaN (which compares
 * false either way, and which a compiler may assume absent).
 */
fn orderKey(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0u; }  // NaN
  if (b == 0x80000000u) { return 0x80000000u; }        // -0: as +0
  if ((b & 0x80000000u) != 0u) { return ~b; }          // negative: the larger the magnitude, the smaller the key
  return b | 0x80000000u;
}

/** True when (ak, ai) comes before (bk, bi): larger key, or equal key and lower index. NONE is last. */
fn before(ak: u32, ai: u32, bk: u32, bi: u32) -> bool {
  return ai != NONE && (bi == NONE || ak > bk || (ak == bk && ai < bi));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.N) { return; }  // uniform per workgroup, so the barriers below stay uniform
  let base = row * params.K;
  let out = row * 2u * params.k;

  // The previous pick; NONE before the first round.
  var prevKey = 0u;
  var prevIndex = NONE;
  for (var r = 0u; r < params.k; r++) {
    var key = 0u;
    var i = NONE;
    for (var j = lid; j < params.K; j += WG) {
      let x = orderKey(src[base + j]);
      // Candidates are the elements that come after the previous pick.
      let eligible = prevIndex == NONE || before(prevKey, prevIndex, x, j);
      if (eligible && before(x, j, key, i)) { key = x; i = j; }
    }
    bestKey[lid] = key;
    bestIndex[lid] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
      if (lid < s && before(bestKey[lid + s], bestIndex[lid + s], bestKey[lid], bestIndex[lid])) {
        bestKey[lid] = bestKey[lid + s];
        bestIndex[lid] = bestIndex[lid + s];
      }
      workgroupBarrier();
    }
    prevKey = bestKey[0];
    prevIndex = bestIndex[0];
    if (lid == 0u) {
      // k <= K, and the order is total: round r always finds an element, so prevIndex < K.
      dst[out + r] = bitcast<u32>(src[base + prevIndex]);
      dst[out + params.k + r] = prevIndex;
    }
    workgroupBarrier();  // everyone has read slot 0 before the next round overwrites it
  }
}
