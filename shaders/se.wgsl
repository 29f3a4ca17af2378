// se.wgsl — channel attention: squeeze-and-excitation (Cadene's SENet SEModule, timm's SEModule) or
// efficient channel attention (timm's EcaModule, ECA-Net), and the attention bottleneck's store.
//
// Two entry points, run in this order after a bottleneck's conv3 + bn3 (stored without epilogue):
//
//   squeeze_excite         x (N, HW, K) -> s (N, K)
//     m[n, c]  = mean over p of x[n, p, c]                       (squeeze: global average pool)
//     h[n, j]  = max(0, b1[j] + sum_c w1[j, c] * m[n, c])        (fc1, a 1x1 conv, + ReLU)
//     s[n, k]  = sigmoid(b2[k] + sum_j w2[k, j] * h[n, j])       (fc2, a 1x1 conv, + sigmoid)
//   or eca                 x (N, HW, K) -> s (N, K)
//     m[n, c]  as above
//     s[n, k]  = sigmoid(sum_j w[j] * m[n, k + j - PAD]),         (Conv1d(1, 1, KS, padding PAD, bias=False)
//                j in [0, KS), m outside [0, K) is 0, PAD = (KS - 1) / 2    across channels; KS odd: 3, 5, 7)
//   scale_residual_relu    x (N, HW, K), s (N, K), res (N, HW, K) -> y (N, HW, K)
//     y[n, p, k] = max(0, x[n, p, k] * s[n, k] + res[n, p, k])
//
// Three dispatches per SE block (conv3, squeeze_excite, scale_residual_relu) instead of conv3 with
// the residual in its store, because s depends on every output of conv3 (a mean over all of H x W):
// no conv3 workgroup can apply it to the tile it stores. The scale pass is one read of x and res and
// one write of y, the cheapest full pass there is. (Folding the scale into conv3's store would need s
// first: since conv3 + bn3 is affine, mean(conv3(a)) = conv3(mean(a)), so s could be computed from
// conv2's output before conv3 runs; that needs a per-(n, k) scale epilogue in conv2d.wgsl.)
//
// Layouts: NHWC activations with H x W flattened to HW; K (channels) a multiple of 4.
// F16: the activations x, res and y are stored as f16 (with SHADER_F16, 'shader-f16', as f16 arrays,
// else as pairs packed in u32: pack2x16float / unpack2x16float); the scales s and the weights stay
// f32, the arithmetic is f32 and y saturates to +-65504 before its f16 store.
// Weights, one f32 buffer: squeeze_excite's packed at load (src/ops/se.ts packSqueezeExciteWeights)
//   [ w1 (HIDDEN, K) | b1 (HIDDEN) | w2 (K, HIDDEN) | b2 (K) ]
// eca's the conv's KS taps (PyTorch's (1, 1, KS) as it is).
//
// squeeze_excite and eca bindings (group 0):
//   0  uniform             params   SeParams { N, HW, K, ARG }  (ARG: HIDDEN for squeeze_excite, KS for eca)
//   1  storage, read       x        (N, HW, K) f32 (F16: f16)
//   2  storage, read       weights  as above
//   3  storage, read_write s        (N, K) f32
// One workgroup of WG invocations (override, default 256) per image: invocation i sums channels
// c = i, i + WG, ... over all HW positions (neighbouring invocations read neighbouring channels, so
// each position's row is read in one contiguous sweep), keeps the means in workgroup memory, then
// computes fc1's HIDDEN outputs and fc2's K outputs (eca: the K scales) the same way. Workgroup memory holds K_CAP + HIDDEN_CAP
// f32 (overrides, set to the layer's K and HIDDEN by the TS twin, which checks them against the
// adapter's maxComputeWorkgroupStorageSize). Grid: N workgroups as (x, y), n = wid.y * nwg.x + wid.x.
// One workgroup per image serialises the mean over HW; it is small next to conv3 (HW * K loads
// against conv3's HW * K * C multiply-adds).
//
// scale_residual_relu bindings (group 0):
//   0  uniform             params   ScaleParams { N, HW, K4 }  (K4 = K / 4)
//   1  storage, read       x        (N, HW, K4) vec4<f32>
//   2  storage, read       s        (N, K4) vec4<f32>
//   3  storage, read       res      (N, HW, K4) vec4<f32>
//   4  storage, read_write y        (N, HW, K4) vec4<f32> (must alias none of the inputs)
// One invocation per vec4 of y; workgroups of WG invocations; grid (x, y) over ceil(N * HW * K4 / WG)
// workgroups, index = (wid.y * nwg.x + wid.x) * WG + lid; invocations past the end return.

#if SHADER_F16
enable f16;
#endif

struct SeParams {
  N: u32,
  HW: u32,
  K: u32,
  ARG: u32,  // squeeze_excite: HIDDEN; eca: KS
}

struct ScaleParams {
  N: u32,
  HW: u32,
  K4: u32,
}

override WG: u32 = 256;
override K_CAP: u32 = 4;
override HIDDEN_CAP: u32 = 1;

#if F16
#include half
#endif

@group(0) @binding(0) var<uniform> se: SeParams;
#if F16
@group(0) @binding(1) var<storage, read> seX: array<Half2>;
/** Element i of x (channel pairs share a word). */
fn seLoad(i: u32) -> f32 {
  let v = fromHalf2(seX[i >> 1u]);
  return select(v.x, v.y, (i & 1u) == 1u);
}
#else
@group(0) @binding(1) var<storage, read> seX: array<f32>;
fn seLoad(i: u32) -> f32 { return seX[i]; }
#endif
@group(0) @binding(2) var<storage, read> seWeights: array<f32>;
@group(0) @binding(3) var<storage, read_write> seScale: array<f32>;

var<workgroup> means: array<f32, K_CAP>;
var<workgroup> hidden: array<f32, HIDDEN_CAP>;

// m[n, c] for every channel into `means`, by every invocation of image n's workgroup (uniform control flow).
fn channelMeans(n: u32, lid: u32) {
  let K = se.K;
  let base = n * se.HW * K;
  for (var c = lid; c < K; c += WG) {
    var sum = 0.0;
    for (var p = 0u; p < se.HW; p++) { sum += seLoad(base + p * K + c); }
    means[c] = sum / f32(se.HW);
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn squeeze_excite(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  if (n >= se.N) { return; }  // uniform per workgroup, so the barriers below stay uniform
  let K = se.K;
  let HID = se.ARG;
  channelMeans(n, lid);

  let b1 = HID * K;       // offset of b1
  let w2 = b1 + HID;      // offset of w2
  let b2 = w2 + K * HID;  // offset of b2
  for (var j = lid; j < HID; j += WG) {
    var acc = seWeights[b1 + j];
    for (var c = 0u; c < K; c++) { acc += seWeights[j * K + c] * means[c]; }
    hidden[j] = max(acc, 0.0);
  }
  workgroupBarrier();

  for (var k = lid; k < K; k += WG) {
    var acc = seWeights[b2 + k];
    for (var j = 0u; j < HID; j++) { acc += seWeights[w2 + k * HID + j] * hidden[j]; }
    seScale[n * K + k] = 1.0 / (1.0 + exp(-acc));
  }
}

@compute @workgroup_size(WG)
fn eca(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  if (n >= se.N) { return; }  // uniform per workgroup, so the barrier in channelMeans stays uniform
  let K = se.K;
  let KS = se.ARG;
  channelMeans(n, lid);

  let pad = i32(KS - 1u) / 2;
  for (var k = lid; k < K; k += WG) {
    var acc = 0.0;
    for (var j = 0u; j < KS; j++) {
      let c = i32(k) + i32(j) - pad;
      if (c >= 0 && c < i32(K)) { acc += seWeights[j] * means[u32(c)]; }
    }
    seScale[n * K + k] = 1.0 / (1.0 + exp(-acc));
  }
}

@group(0) @binding(0) var<uniform> sc: ScaleParams;
@group(0) @binding(2) var<storage, read> scScale: array<vec4f>;
#if F16
@group(0) @binding(1) var<storage, read> scX: array<Half4>;
@group(0) @binding(3) var<storage, read> scRes: array<Half4>;
@group(0) @binding(4) var<storage, read_write> scY: array<Half4>;
fn scLoadX(i: u32) -> vec4f { return fromHalf4(scX[i]); }
fn scLoadRes(i: u32) -> vec4f { return fromHalf4(scRes[i]); }
fn scStore(i: u32, v: vec4f) { scY[i] = toHalf4(v); }
#else
@group(0) @binding(1) var<storage, read> scX: array<vec4f>;
@group(0) @binding(3) var<storage, read> scRes: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> scY: array<vec4f>;
fn scLoadX(i: u32) -> vec4f { return scX[i]; }
fn scLoadRes(i: u32) -> vec4f { return scRes[i]; }
fn scStore(i: u32, v: vec4f) { scY[i] = v; }
#endif

@compute @workgroup_size(WG)
fn scale_residual_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                       @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  let perImage = sc.HW * sc.K4;
  if (i >= sc.N * perImage) { return; }
  let n = i / perImage;
  let k4 = i % sc.K4;
  scStore(i, max(scLoadX(i) * scScale[n * sc.K4 + k4] + scLoadRes(i), vec4f(0.0)));
}
