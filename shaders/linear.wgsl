// linear.wgsl — fully connected layer: dst = src · weightᵀ + bias (PyTorch nn.Linear).
//
//   src     (N, C)   the pooled features; an (N, 1, 1, C) tensor is the same bytes
//   weights (K, C) row-major (PyTorch's fc.weight order), then bias (K), in one buffer
//           (see packWeights in src/ops/linear.ts): bias of output k is element K * C + k
//   dst     (N, K)
//   dst[n, k] = bias[k] + sum_c src[n, c] * weight[k, c]
//
// Defines:
//   VEC4  C % 4 == 0: src and weight rows are read as vec4 (Cu = C / 4 units); else Cu = C
//
// Bindings (group 0):
//   0  uniform             params   Params
//   1  storage, read       src      (N, Cu) of T
//   2  storage, read       weights  (K, Cu) of T, then bias: K scalars
//   3  storage, read_write dst      (N, K) f32
//
// Register blocking: one invocation produces a 4 x 4 block of dst (4 rows n0..n0+3, 4 outputs
// k0..k0+3; the 4 is the width of vec4 and fixed by the types), loading each weight row once for
// all four rows of src. Rows or outputs past N or K are clamped on load and skipped on store.
// Workgroup: WG x 1 x 1 (override, default 64). Invocation i: kb = i % kBlocks, nb = i / kBlocks,
// with kBlocks = ceil(K / 4), nBlocks = ceil(N / 4). Grid: ceil(nBlocks * kBlocks / WG)
// workgroups as (x, y) with x <= maxComputeWorkgroupsPerDimension; flat = wid.y * nwg.x + wid.x.

struct Params {
  N: u32,
  K: u32,
  Cu: u32,       // C in units of T
  kBlocks: u32,  // ceil(K / 4)
  total: u32,    // ceil(N / 4) * kBlocks
  biasAt: u32,   // scalar index of bias[0] = K * C
}

#if VEC4
alias T = vec4<f32>;
fn mulAdd(a: T, b: T) -> f32 { return dot(a, b); }
#else
alias T = f32;
fn mulAdd(a: T, b: T) -> f32 { return a * b; }
#endif

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read> weights: array<T>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

/** Element `i` of the weights buffer counted in scalars (bias lives past the (K, C) block). */
fn weightScalar(i: u32) -> f32 {
#if VEC4
  return weights[i / 4u][i % 4u];
#else
  return weights[i];
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= params.total) { return; }
  let n0 = (i / params.kBlocks) * 4u;
  let k0 = (i % params.kBlocks) * 4u;
  let Cu = params.Cu;
  // Clamped row starts: out-of-range rows repeat the last one and are not stored.
  let x0 = min(n0, params.N - 1u) * Cu;
  let x1 = min(n0 + 1u, params.N - 1u) * Cu;
  let x2 = min(n0 + 2u, params.N - 1u) * Cu;
  let x3 = min(n0 + 3u, params.N - 1u) * Cu;
  let w0 = min(k0, params.K - 1u) * Cu;
  let w1 = min(k0 + 1u, params.K - 1u) * Cu;
  let w2 = min(k0 + 2u, params.K - 1u) * Cu;
  let w3 = min(k0 + 3u, params.K - 1u) * Cu;
  // acc[r][j] = dst[n0 + r, k0 + j] without bias.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var c = 0u; c < Cu; c++) {
    let a = weights[w0 + c];
    let b = weights[w1 + c];
    let d = weights[w2 + c];
    let e = weights[w3 + c];
    let s0 = src[x0 + c];
    let s1 = src[x1 + c];
    let s2 = src[x2 + c];
    let s3 = src[x3 + c];
    acc0 += vec4<f32>(mulAdd(s0, a), mulAdd(s0, b), mulAdd(s0, d), mulAdd(s0, e));
    acc1 += vec4<f32>(mulAdd(s1, a), mulAdd(s1, b), mulAdd(s1, d), mulAdd(s1, e));
    acc2 += vec4<f32>(mulAdd(s2, a), mulAdd(s2, b), mulAdd(s2, d), mulAdd(s2, e));
    acc3 += vec4<f32>(mulAdd(s3, a), mulAdd(s3, b), mulAdd(s3, d), mulAdd(s3, e));
  }
  var bias = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    bias[j] = weightScalar(params.biasAt + min(k0 + j, params.K - 1u));
  }
  var acc = array<vec4<f32>, 4>(acc0 + bias, acc1 + bias, acc2 + bias, acc3 + bias);
  for (var r = 0u; r < 4u; r++) {
    let n = n0 + r;
    if (n >= params.N) { break; }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + j;
      if (k < params.K) { dst[n * params.K + k] = acc[r][j]; }
    }
  }
}
