// conv2d-tiled.wgsl: 2D convolution (grouped, strided, zero-padded) with a fused bias + ReLU / residual epilogue,
// as an implicit GEMM per group whose operand tiles are staged through workgroup memory (the kernel family
// for hardware GPUs; shaders/conv2d.wgsl is the barrier-free one the CPU-backed adapters run fastest).
//
// Computes exactly what conv2d.wgsl computes (same layouts, same packed weight texture, same epilogues):
// for every output pixel m = (n, p, q) and output channel k = g*Kg + kk of group g:
//   y[n, p, q, k] = epilogue(bias[k] + sum over (r, s, c < Cg) of
//                   a(x[n, p*stride - pad + r, q*stride - pad + s, g*Cg + c]) * w[g, r, s, c, kk])
// with input positions outside the image read as zero (after the prologue a), and
//   prologue a: identity | PRE_ACT: max(0, x * scale[ch] + shift[ch]) (ch = g*Cg + c),
//   epilogue: none | RELU: max(0, .) | RESIDUAL: . + res[n, p, q, k] | RESIDUAL and RELU: max(0, . + res).
// Per group g this is a GEMM  Y_g (M x Kg) = A_g (M x Kred) * B_g (Kred x Kgp):  M = N*P*Q pixels,
// Kred = R*S*Cg, reduction index kr = (r*S + s)*Cg + c, A_g[m, kr] the (activated) input of pixel m at tap
// (r, s), channel g*Cg + c; B_g the packed weights, whose rows are in exactly that order:
// B_g[kr, kk] = texel (g*Kred + kr)*Kgp/4 + kk/4 of the weight texture.
//
// Layouts (f32, dense):
//   x    (N, H, W, C)                                    input activations, C = G*Cg
//   wts  (G, R, S, Cg, Kgp) then bias (G, Kgp)           as conv2d.wgsl (src/ops/conv2d-weights.ts): texels of
//        then (PRE_ACT) scale (C), shift (C)             an rgba32float texture, 2^wShift a row; bias at float
//                                                         biasOffset, scale at biasOffset + G*Kgp, shift C later
//   res  (N, P, Q, K)                                    residual, only with RESIDUAL
//   y    (N, P, Q, K)                                    output, K = G*Kg
//   part (splits, N, P, Q, K)                            split-K partial sums (no bias, no epilogue)
// Activations are read and written only through loadX4 / loadX1 / loadRes4 / loadRes1 / storeY4 / storeY1,
// so that their storage type can change in one place.
//
// Bindings (group 0): 0 params (uniform), 1 x, 2 wts (+ bias, a texture), 3 res (RESIDUAL only), 4 y, or
// with PARTIAL the partial sums part; entry point `reduce` (PARTIAL off): 2 wts, 3 res, 4 y, 5 part.
//
// Defines:
//   VEC4_IN   Cg % 4 == 0: x is read as vec4 over channels (4 consecutive reduction steps of one tap);
//             else one channel at a time.
//   VEC4_OUT  Kg % 4 == 0: y, res (and part) are vec4 over channels; else scalar stores masked to k < Kg.
//   GEMM_1X1  R = S = 1, stride 1, pad 0: pixel m reads x row m directly (no spatial indexing).
//   RELU, RESIDUAL  the epilogue: ReLU, residual add (with RELU, the ReLU comes after the add).
//   PRE_ACT   the prologue (VEC4_IN only): each input vec4 is max(0, x * scale + shift), zero outside the image.
//   PARTIAL   split-K's first pass: workgroup slice `split` of the reduction stores its raw sums to part
//             (splits slices of M*K floats); the entry point `reduce` (compiled with PARTIAL off) then
//             adds the slices, the bias and the epilogue into y.
//
// Tiles (override constants): a workgroup computes a BM-pixel x BN-channel tile of one group's output
// (BN a multiple of 4), with (BN/TN) x (BM/TM) invocations declared (NX, MY); invocation (tx, ty) computes
// pixels ty + i*MY (i < TM) x vec4 columns tx + j*NX (j < TN/4) of the tile, TM*TN/4 vec4 accumulators in
// registers (TM <= 8, TN <= 8). The reduction runs in stages of BK (a multiple of 4): all invocations copy
// the stage's A tile (BM x BK, one vec4 of 4 reduction steps per copy, zero past M and Kred, rows padded by
// one vec4 against bank conflicts) and B tile (BK x BN, one texel per copy, zero past Kred and Kgp) into
// workgroup memory, barrier, then each multiplies its TM rows by its TN/4 columns (per 4 reduction steps:
// TM vec4 reads of A, 4*TN/4 of B, TM*TN/4 mat4x4-vec4 products), barrier. Workgroup memory:
// 16 * (BM*(BK/4 + 1) + BK*BN/4) bytes (src/ops/conv2d-tiled.ts checks it against the device's limit).
// Grouped convolutions are one GEMM per group with the group in the grid: a tile never spans two groups,
// so narrow groups (ResNeXt's 4 to 32 channels) get tiles with BN = Kgp and many pixels.
//
// Grid: x * z = ceil(M / BM) pixel tiles, split as x = min(that, maxComputeWorkgroupsPerDimension),
// z = ceil(that / x) (gridX = x); y = (split*G + g)*nTiles + column tile, nTiles = ceil(Kgp / BN), split <
// splits. Split `split` runs reduction stages [split*stagesPerSplit, min((split+1)*stagesPerSplit, stages)),
// stages = ceil(Kred / BK) (the host picks splits so that none is empty). Workgroups past M return before
// any barrier (uniform: the condition depends on the workgroup id and uniforms only).
// `reduce`: 64 invocations a workgroup, one per y element (vec4 with VEC4_OUT), `total` of them, numbered
// (wid.y * nwg.x + wid.x) * 64 + local index.
//
// Tile sizes per GPU vendor and layer shape: src/ops/conv2d-hardware.ts (a rule table not yet measured on a GPU).

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  K: u32, P: u32, Q: u32, M: u32,       // M = N*P*Q
  R: u32, S: u32, stride: u32, pad: u32,
  G: u32, Cg: u32, Kg: u32, Kgp: u32,
  nTiles: u32, gridX: u32, biasOffset: u32, wShift: u32,
  Kred: u32, splits: u32, stagesPerSplit: u32, total: u32,   // total: y elements (vec4s with VEC4_OUT) of `reduce`
}

/** Output tile: pixels, channels (a multiple of 4). */
override BM: u32 = 32u;
override BN: u32 = 32u;
/** Reduction steps per stage (a multiple of 4). */
override BK: u32 = 32u;
/** Pixels (1 to 8) and channels (4 or 8) per invocation. */
override TM: u32 = 4u;
override TN: u32 = 4u;
/** Invocations along channels and along pixels. */
override NX: u32 = BN / TN;
override MY: u32 = BM / TM;
/** vec4s per row of the A tile: BK/4 and one of padding. */
override A_STRIDE: u32 = BK / 4u + 1u;

/** The largest register block: TM <= 8 pixels, TN/4 <= 2 vec4 columns. */
const MAX_TM = 8u;
const MAX_TN4 = 2u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var wts: texture_2d<f32>;

var<workgroup> tileA: array<vec4<f32>, BM * A_STRIDE>;
var<workgroup> tileB: array<vec4<f32>, BK * BN / 4u>;

/** vec4 i of the packed weights (texel i of the row-major texture). */
fn weight(i: u32) -> vec4<f32> {
  return textureLoad(wts, vec2<u32>(i & ((1u << params.wShift) - 1u), i >> params.wShift), 0);
}

/** The bias of vec4 column kv (channels 4kv .. 4kv+3) of group g. */
fn biasAt(g: u32, kv: u32) -> vec4<f32> {
  return weight(params.biasOffset / 4u + g * (params.Kgp / 4u) + kv);
}

// ---- Activation access: the only places x, res and y are read or written.
#if VEC4_IN
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
fn loadX4(i: u32) -> vec4<f32> { return x[i]; }
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
fn loadX1(i: u32) -> f32 { return x[i]; }
#endif
#if VEC4_OUT
#if RESIDUAL
@group(0) @binding(3) var<storage, read> res: array<vec4<f32>>;
fn loadRes4(i: u32) -> vec4<f32> { return res[i]; }
#endif
#if PARTIAL
@group(0) @binding(4) var<storage, read_write> part: array<vec4<f32>>;
#else
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> partIn: array<vec4<f32>>;
fn storeY4(i: u32, v: vec4<f32>) { y[i] = v; }
#endif
#else
#if RESIDUAL
@group(0) @binding(3) var<storage, read> res: array<f32>;
fn loadRes1(i: u32) -> f32 { return res[i]; }
#endif
#if PARTIAL
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
#else
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> partIn: array<f32>;
fn storeY1(i: u32, v: f32) { y[i] = v; }
#endif
#endif

// ---- The epilogue: bias already added; residual, ReLU, store.
#if PARTIAL
#else
#if VEC4_OUT
/** Epilogue and store of y vec4 o (bias included in v). */
fn finish4(v: vec4<f32>, o: u32) {
#if RESIDUAL
  let r = v + loadRes4(o);
#else
  let r = v;
#endif
#if RELU
  storeY4(o, max(r, vec4<f32>(0.0)));
#else
  storeY4(o, r);
#endif
}
#else
/** Epilogue and store of y float o (bias included in v). */
fn finish1(v: f32, o: u32) {
#if RESIDUAL
  let r = v + loadRes1(o);
#else
  let r = v;
#endif
#if RELU
  storeY1(o, max(r, 0.0));
#else
  storeY1(o, r);
#endif
}
#endif
#endif

// ---- The A operand: the input at (pixel m, reduction step kr) of group g.
#if PRE_ACT
/** Input channels ch..ch+3 of one position through the prologue; zero outside the image (padding stays zero). */
fn activate(v: vec4<f32>, ch: u32, inside: bool) -> vec4<f32> {
  let s = (params.biasOffset + params.G * params.Kgp + ch) / 4u;   // vec4 index of scale[ch]
  return select(vec4<f32>(0.0), max(v * weight(s) + weight(s + params.C / 4u), vec4<f32>(0.0)), inside);
}
#endif

/** Float index of channel ch at pixel m's input position for tap rs, and whether it lies inside the image. */
struct Tap {
  index: u32,
  inside: bool,
}

fn tapAt(m: u32, rs: u32, ch: u32) -> Tap {
#if GEMM_1X1
  return Tap(m * params.C + ch, true);
#else
  let PQ = params.P * params.Q;
  let n = m / PQ;
  let pq = m - n * PQ;
  let p = pq / params.Q;
  let q = pq - p * params.Q;
  let r = rs / params.S;
  let s = rs - r * params.S;
  let ih = i32(p * params.stride + r) - i32(params.pad);
  let iw = i32(q * params.stride + s) - i32(params.pad);
  let inside = ih >= 0 && ih < i32(params.H) && iw >= 0 && iw < i32(params.W);
  let index = ((n * params.H + u32(select(0, ih, inside))) * params.W + u32(select(0, iw, inside))) * params.C + ch;
  return Tap(index, inside);
#endif
}

/** A_g[m, kr .. kr+3] (kr % 4 == 0): zero past M, past Kred and outside the image. */
fn loadA(m: u32, kr: u32, g: u32) -> vec4<f32> {
  if (m >= params.M || kr >= params.Kred) {
    return vec4<f32>(0.0);
  }
#if VEC4_IN
  // Cg % 4 == 0: the 4 steps are 4 consecutive channels of one tap.
  let rs = kr / params.Cg;
  let ch = g * params.Cg + (kr - rs * params.Cg);
  let t = tapAt(m, rs, ch);
  let v = loadX4(t.index / 4u);
#if PRE_ACT
  return activate(v, ch, t.inside);
#else
  return select(vec4<f32>(0.0), v, t.inside);
#endif
#else
  var a = vec4<f32>(0.0);
  for (var l = 0u; l < 4u; l++) {
    let k = kr + l;
    if (k < params.Kred) {
      let rs = k / params.Cg;
      let t = tapAt(m, rs, g * params.Cg + (k - rs * params.Cg));
      a[l] = select(0.0, loadX1(t.index), t.inside);
    }
  }
  return a;
#endif
}

/** B_g[kr, 4kv .. 4kv+3]: zero past Kred and past the group's Kgp/4 columns. */
fn loadB(g: u32, kr: u32, kv: u32) -> vec4<f32> {
  let cols = params.Kgp / 4u;
  if (kr >= params.Kred || kv >= cols) {
    return vec4<f32>(0.0);
  }
  return weight((g * params.Kred + kr) * cols + kv);
}

/** Stores one accumulator: pixel m (< M), vec4 column kv (< Kgp/4) of group g. */
fn storeOut(v: vec4<f32>, m: u32, g: u32, kv: u32, split: u32) {
#if PARTIAL
#if VEC4_OUT
  part[((split * params.M + m) * params.K + g * params.Kg) / 4u + kv] = v;
#else
  let o = (split * params.M + m) * params.K + g * params.Kg + kv * 4u;
  let valid = min(params.Kg - kv * 4u, 4u);
  for (var l = 0u; l < valid; l++) {
    part[o + l] = v[l];
  }
#endif
#else
  let b = v + biasAt(g, kv);
#if VEC4_OUT
  finish4(b, (m * params.K + g * params.Kg) / 4u + kv);
#else
  let o = m * params.K + g * params.Kg + kv * 4u;
  let valid = min(params.Kg - kv * 4u, 4u);       // channels of this column that exist
  for (var l = 0u; l < valid; l++) {
    finish1(b[l], o + l);
  }
#endif
#endif
}

@compute @workgroup_size(NX, MY)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let mBase = (wid.x + wid.z * params.gridX) * BM;
  if (mBase >= params.M) {
    return;
  }
  let nt = wid.y % params.nTiles;
  let sg = wid.y / params.nTiles;                  // split * G + g
  let g = sg % params.G;
  let split = sg / params.G;
  let colBase = nt * (BN / 4u);                    // the tile's first vec4 column within the group
  let stages = (params.Kred + BK - 1u) / BK;
  let s0 = split * params.stagesPerSplit;
  let s1 = min(s0 + params.stagesPerSplit, stages);
  let threads = NX * MY;
  let bCols = BN / 4u;

  var acc: array<vec4<f32>, MAX_TM * MAX_TN4>;
  for (var i = 0u; i < MAX_TM * MAX_TN4; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  for (var st = s0; st < s1; st++) {
    let kBase = st * BK;
    for (var e = li; e < BM * (BK / 4u); e += threads) {
      let m = e / (BK / 4u);
      let k4 = e - m * (BK / 4u);
      tileA[m * A_STRIDE + k4] = loadA(mBase + m, kBase + 4u * k4, g);
    }
    for (var e = li; e < BK * bCols; e += threads) {
      let k = e / bCols;
      tileB[e] = loadB(g, kBase + k, colBase + (e - k * bCols));
    }
    workgroupBarrier();
    for (var k4 = 0u; k4 < BK / 4u; k4++) {
      let row = 4u * k4 * bCols;
      var w: array<mat4x4<f32>, MAX_TN4>;
      for (var j = 0u; j < TN / 4u; j++) {
        let col = lid.x + j * NX;
        w[j] = mat4x4<f32>(tileB[row + col], tileB[row + bCols + col], tileB[row + 2u * bCols + col], tileB[row + 3u * bCols + col]);
      }
      for (var i = 0u; i < TM; i++) {
        let a = tileA[(lid.y + i * MY) * A_STRIDE + k4];
        for (var j = 0u; j < TN / 4u; j++) {
          acc[i * MAX_TN4 + j] += w[j] * a;
        }
      }
    }
    workgroupBarrier();
  }

  let cols = params.Kgp / 4u;
  for (var i = 0u; i < TM; i++) {
    let m = mBase + lid.y + i * MY;
    if (m < params.M) {
      for (var j = 0u; j < TN / 4u; j++) {
        let kv = colBase + lid.x + j * NX;
        if (kv < cols) {
          storeOut(acc[i * MAX_TN4 + j], m, g, kv, split);
        }
      }
    }
  }
}

#if PARTIAL
#else
/** Split-K's second pass: y = epilogue(sum of the splits' partial sums + bias), one y element (or vec4) each. */
@compute @workgroup_size(64)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + li;
  if (i >= params.total) {
    return;
  }
#if VEC4_OUT
  let k = (i * 4u) % params.K;
  let g = k / params.Kg;
  let slice = params.M * params.K / 4u;
  var v = vec4<f32>(0.0);
  for (var s = 0u; s < params.splits; s++) {
    v += partIn[s * slice + i];
  }
  finish4(v + biasAt(g, (k - g * params.Kg) / 4u), i);
#else
  let k = i % params.K;
  let g = k / params.Kg;
  let kk = k - g * params.Kg;
  let slice = params.M * params.K;
  var v = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    v += partIn[s * slice + i];
  }
  finish1(v + biasAt(g, kk / 4u)[kk % 4u], i);
#endif
}
#endif
