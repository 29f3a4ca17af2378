// eca.wgsl — efficient channel attention (timm's EcaModule, ECA-Net): per-image channel scales.
//
//   eca    x (N, HW, K) -> s (N, K)
//     m[n, c] = mean over p of x[n, p, c]                                  (global average pool)
//     s[n, k] = sigmoid(sum_j w[j] * m[n, k + j - PAD]), j in [0, KS)      (Conv1d(1, 1, KS, padding PAD,
//               where m outside [0, K) is 0, PAD = (KS - 1) / 2            bias=False) across channels)
//
// The block's store (x * s + residual, ReLU) is the scale_residual_relu entry point of se.wgsl, as for squeeze-excitation:
// s depends on every output of the block's last conv, so it cannot be applied in that conv's store.
//
// Layouts: NHWC activations with H x W flattened to HW. Weights: the conv's KS taps, f32 (PyTorch's
// (1, 1, KS) as it is). KS is odd (timm: 3, 5 or 7, from K).
//
// Bindings (group 0):
//   0  uniform             params   EcaParams { N, HW, K, KS }
//   1  storage, read       x        (N, HW, K) f32
//   2  storage, read       weights  (KS) f32
//   3  storage, read_write s        (N, K) f32
// One workgroup of WG invocations (override, default 256) per image: invocation i sums channels
// c = i, i + WG, ... over all HW positions (neighbouring invocations read neighbouring channels), keeps
// the means in workgroup memory (K_CAP f32, an override set to the layer's K by the TS twin, which
// checks it against maxComputeWorkgroupStorageSize), then computes the scales of the same channels.
// Grid: N workgroups as (x, y), n = wid.y * nwg.x + wid.x.

struct EcaParams {
  N: u32,
  HW: u32,
  K: u32,
  KS: u32,
}

override WG: u32 = 256;
override K_CAP: u32 = 4;

@group(0) @binding(0) var<uniform> params: EcaParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;

var<workgroup> means: array<f32, K_CAP>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  if (n >= params.N) { return; }  // uniform per workgroup, so the barrier below stays uniform
  let K = params.K;
  let base = n * params.HW * K;

  for (var c = lid; c < K; c += WG) {
    var sum = 0.0;
    for (var p = 0u; p < params.HW; p++) { sum += x[base + p * K + c]; }
    means[c] = sum / f32(params.HW);
  }
  workgroupBarrier();

  let pad = i32(params.KS - 1u) / 2;
  for (var k = lid; k < K; k += WG) {
    var acc = 0.0;
    for (var j = 0u; j < params.KS; j++) {
      let c = i32(k) + i32(j) - pad;
      if (c >= 0 && c < i32(K)) { acc += weights[j] * means[u32(c)]; }
    }
    s[n * K + k] = 1.0 / (1.0 + exp(-acc));
  }
}
