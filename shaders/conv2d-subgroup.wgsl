// conv2d-subgroup.wgsl: 2D convolution (grouped, strided, zero-padded) with a fused bias + ReLU / residual
// epilogue, as an implicit GEMM with register blocks whose weights are shared across a subgroup's lanes
// (subgroupShuffle) instead of loaded by every lane. Needs the 'subgroups' feature.
//
// Computes, for every output pixel m = (n, p, q) and output channel k = g*Kg + kk of group g:
//   y[n, p, q, k] = epilogue(bias[k] + sum over (r, s, c < Cg) of
//                   a(x[n, p*stride - pad + r, q*stride - pad + s, g*Cg + c]) * w[g, r, s, c, kk])
// with input positions outside the image read as zero (after the prologue a), and
//   prologue a: identity | PRE_ACT: max(0, x * scale[ch] + shift[ch]) (ch = g*Cg + c),
//   epilogue: none | RELU: max(0, .) | RESIDUAL: . + res[n, p, q, k] | RESIDUAL and RELU: max(0, . + res).
// The same contract as conv2d.wgsl (and the same results up to the order of the sums).
//
// Layouts (f32, dense), the same as those of conv2d.wgsl (src/ops/conv2d-weights.ts packs the weights once for
// every family):
//   x    (N, H, W, C)                                    input activations, C = G*Cg
//   wts  (G, R, S, Cg, Kgp) then bias (G, Kgp)           Kgp = Kg rounded up to a multiple of 4, padding
//        then (PRE_ACT) scale (C), shift (C)             columns zero; bias at float biasOffset =
//                                                         G*R*S*Cg*Kgp, scale at biasOffset + G*Kgp, shift
//                                                         C floats later; texels of an rgba32float texture,
//                                                         row-major, 2^wShift texels a row (weight())
//   res  (N, P, Q, K)                                    residual, only with RESIDUAL
//   y    (N, P, Q, K)                                    output, K = G*Kg
// Per group, the weights are a (Rd, Kgp) matrix with Rd = R*S*Cg reduction rows: row k = (r*S + s)*Cg + c.
//
// Bindings (group 0): 0 params (uniform), 1 x, 2 wts (+ bias, a texture), 3 res (RESIDUAL only), 4 y.
//
// Defines:
//   VEC4_IN   Cg % 4 == 0: x is read as vec4 over channels (4 reduction rows at a time); else one channel
//             (one reduction row) at a time.
//   VEC4_OUT  Kg % 4 == 0: y and res are vec4 over channels; else scalar stores masked to k < Kg.
//   RELU, RESIDUAL  the epilogue (with both, the ReLU comes after the add).
//   PRE_ACT   the prologue (VEC4_IN only): each input vec4 is max(0, x * scale + shift), zero outside the image.
//   QUADS_2   the block declares 2 pixel quads (TQ 2); else 1.
//   COLS_2, COLS_4  the block declares 2 or 4 vec4 columns (JN up to 2, up to 4); else 1.
//
// Register block: a lane (invocation) computes TQ quads of 4 consecutive pixels (of the N*P*Q) x JN vec4
// columns (4 output channels each) of one group, as TQ*JN mat4x4 accumulators (columns = pixels, rows =
// channels) held member by member, as conv2d.wgsl does. TQ (1, 2) and JN (1 to 4) are override constants.
//
// Sharing: every lane of a workgroup computes the same columns of the same group (the workgroup is one
// dimension, along pixels), so at each reduction row all lanes need the same JN weight vec4s. The
// reduction runs in chunks of `sg` rows (sg = subgroup_size): lane l loads the JN vec4s of row k0 + l
// (one texel fetch per vec4), then for each row k0 + i of the chunk every lane takes them from lane i
// with subgroupShuffle. A lane thus loads each weight row of its subgroup's work once per sg rows instead
// of once per row: weight loads fall by the subgroup size (4 on SwiftShader, 32 or 64 on GPUs); the inputs
// (different pixels per lane) are loaded as in conv2d.wgsl. Nothing depends on the subgroup size but the
// chunk length, and lane i is asked only for rows it loaded, so any size works (sizes are powers of two
// from 4 to 128). Every subgroup must be full (all sg lanes active): the twin makes the workgroup size a
// multiple of the adapter's largest subgroup size, and no lane returns early (lanes past the last pixel
// compute on the last pixel and store nothing), so the shuffles run in uniform control flow.
//
// Workgroup: WG lanes (override), along pixel tiles. Pixel tiles: T = ceil(M / (4*TQ)).
// Grid: x * z = ceil(T / WG) workgroups along pixels, split as x = min(that, maxComputeWorkgroupsPerDimension),
// z = ceil(that / x) (gridX = x in params); y = G * nTiles with nTiles = ceil(Kgp/4 / JN), y = g*nTiles +
// column block. Columns past Kgp/4 in the last block re-read column kv0 and are not stored.

enable subgroups;

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  K: u32, P: u32, Q: u32, M: u32,       // M = N*P*Q
  R: u32, S: u32, stride: u32, pad: u32,
  G: u32, Cg: u32, Kg: u32, Kgp: u32,
  nTiles: u32, gridX: u32, biasOffset: u32, wShift: u32,   // wShift: log2 of the weight texture's width
}

override WG: u32 = 64u;
/** Pixel quads per lane: 1 or 2. */
override TQ: u32 = 1u;
/** vec4 output-channel columns per lane: 1 to 4. */
override JN: u32 = 2u;

@group(0) @binding(0) var<uniform> params: Params;
#if VEC4_IN
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(2) var wts: texture_2d<f32>;
#if VEC4_OUT
#if RESIDUAL
@group(0) @binding(3) var<storage, read> res: array<vec4<f32>>;
#endif
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
#else
#if RESIDUAL
@group(0) @binding(3) var<storage, read> res: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#endif

/** vec4 i of the packed weights (texel i of the row-major texture). */
fn weight(i: u32) -> vec4<f32> {
  return textureLoad(wts, vec2<u32>(i & ((1u << params.wShift) - 1u), i >> params.wShift), 0);
}

/** Top-left input corner (ih0, iw0) and image base n*H*W of 4 pixels starting at m (pixels past M: pixel M-1). */
struct Corners {
  ih0: vec4<i32>,
  iw0: vec4<i32>,
  imageBase: vec4<u32>,
}

fn cornersAt(m: u32) -> Corners {
  let ms = min(vec4<u32>(m) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.M - 1u));
  let PQ = params.P * params.Q;
  let n = ms / PQ;
  let pq = ms - n * PQ;
  let p = pq / params.Q;
  let q = pq - p * params.Q;
  return Corners(vec4<i32>(p * params.stride) - i32(params.pad), vec4<i32>(q * params.stride) - i32(params.pad),
                 n * params.H * params.W);
}

/** Where 4 pixels' input rows start (float index of channel g*Cg) at one tap, and whether each lies inside the image. */
struct Quad {
  start: vec4<u32>,
  inside: vec4<bool>,
}

fn quadAt(k: Corners, r: u32, s: u32, cOffset: u32) -> Quad {
  let ih = k.ih0 + i32(r);
  let iw = k.iw0 + i32(s);
  let inside = (ih >= vec4<i32>(0)) & (ih < vec4<i32>(i32(params.H))) & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(i32(params.W)));
  let start = (k.imageBase + vec4<u32>(ih) * params.W + vec4<u32>(iw)) * params.C + cOffset;
  return Quad(select(vec4<u32>(0u), start, inside), inside);
}

#if PRE_ACT
/** The prologue of input channels ch..ch+3 (ch % 4 == 0): x -> max(0, x * scale + shift). */
struct PreAct {
  scale: vec4<f32>,
  shift: vec4<f32>,
}

fn preActAt(ch: u32) -> PreAct {
  let scale = (params.biasOffset + params.G * params.Kgp + ch) / 4u;   // vec4 index of scale[ch]
  return PreAct(weight(scale), weight(scale + params.C / 4u));
}

/** The prologue on one input vec4 at a position inside the image; zero outside (padding stays zero). */
fn activate(v: vec4<f32>, pre: PreAct, inside: bool) -> vec4<f32> {
  return select(vec4<f32>(0.0), max(v * pre.scale + pre.shift, vec4<f32>(0.0)), inside);
}
#endif

#if VEC4_IN
/**
 * Input channels c..c+3 (ch..ch+3 of the whole input, ch = g*Cg + c) of a quad's 4 pixels: column i =
 * pixel i, zero outside the image, after the prologue.
 */
fn loadInput(quad: Quad, c: u32, ch: u32) -> mat4x4<f32> {
  let z = vec4<f32>(0.0);
  let a0 = select(z, x[(quad.start.x + c) / 4u], quad.inside.x);
  let a1 = select(z, x[(quad.start.y + c) / 4u], quad.inside.y);
  let a2 = select(z, x[(quad.start.z + c) / 4u], quad.inside.z);
  let a3 = select(z, x[(quad.start.w + c) / 4u], quad.inside.w);
#if PRE_ACT
  let pre = preActAt(ch);
  return mat4x4<f32>(activate(a0, pre, quad.inside.x), activate(a1, pre, quad.inside.y), activate(a2, pre, quad.inside.z),
                     activate(a3, pre, quad.inside.w));
#else
  return mat4x4<f32>(a0, a1, a2, a3);
#endif
}

alias Input = mat4x4<f32>;
alias Weight = mat4x4<f32>;

/** Reduction rows i..i+3 of the chunk, from lanes i..i+3: matrix column t = row i+t (input channel c+t, 4 outputs). */
fn share(v: vec4<f32>, i: u32) -> Weight {
  return mat4x4<f32>(subgroupShuffle(v, i), subgroupShuffle(v, i + 1u), subgroupShuffle(v, i + 2u), subgroupShuffle(v, i + 3u));
}

fn mac(w: Weight, a: Input) -> mat4x4<f32> {
  return w * a;
}
#else
/** Input channel c of a quad's 4 pixels, zero outside the image. */
fn loadInput(quad: Quad, c: u32, ch: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(x[quad.start.x + c], x[quad.start.y + c], x[quad.start.z + c], x[quad.start.w + c]),
                quad.inside);
}

alias Input = vec4<f32>;
alias Weight = vec4<f32>;

/** Reduction row i of the chunk, from lane i. */
fn share(v: vec4<f32>, i: u32) -> Weight {
  return subgroupShuffle(v, i);
}

/** w (4 outputs of one input channel) times a (that channel at 4 pixels), as an outer product. */
fn mac(w: Weight, a: Input) -> mat4x4<f32> {
  return mat4x4<f32>(w * a.x, w * a.y, w * a.z, w * a.w);
}
#endif

/** The TQ quads' inputs at one reduction row (VEC4_IN: four rows). */
struct Inputs {
  q0: Input,
#if QUADS_2
  q1: Input,
#endif
}

/** One vec4 column's accumulators: member qi holds pixels 4i..4i+3 (matrix column = pixel). */
struct ColumnAcc {
  q0: mat4x4<f32>,
#if QUADS_2
  q1: mat4x4<f32>,
#endif
}

/** The lane's accumulators: vec4 columns 0..3 (those past JN are never touched). */
struct Block {
  c0: ColumnAcc,
#if COLS_2
  c1: ColumnAcc,
#endif
#if COLS_4
  c2: ColumnAcc, c3: ColumnAcc,
#endif
}

/** One reduction row of the weights at the lane's JN columns. */
struct WeightRow {
  c0: vec4<f32>,
#if COLS_2
  c1: vec4<f32>,
#endif
#if COLS_4
  c2: vec4<f32>, c3: vec4<f32>,
#endif
}

/** The row starting at vec4 index `base`, columns kc (those past the group's columns: column kv0 again). */
fn loadRow(base: u32, kc: vec4<u32>) -> WeightRow {
  var w: WeightRow;
  w.c0 = weight(base + kc.x);
#if COLS_2
  if (JN > 1u) { w.c1 = weight(base + kc.y); }
#endif
#if COLS_4
  if (JN > 2u) { w.c2 = weight(base + kc.z); }
  if (JN > 3u) { w.c3 = weight(base + kc.w); }
#endif
  return w;
}

/** acc.qi += w x a.qi for the TQ quads. */
fn accumulate(acc: ptr<function, ColumnAcc>, w: Weight, a: Inputs) {
  (*acc).q0 += mac(w, a.q0);
#if QUADS_2
  if (TQ > 1u) { (*acc).q1 += mac(w, a.q1); }
#endif
}

/** Bias, epilogue and store of vec4 column kv of group g for the TQ quads from pixel m0 (only pixels < M). */
fn storeColumn(acc: ColumnAcc, m0: u32, g: u32, kv: u32) {
  let b = weight(params.biasOffset / 4u + g * (params.Kgp / 4u) + kv);
  storeQuad(acc.q0 + mat4x4<f32>(b, b, b, b), m0, g, kv);
#if QUADS_2
  if (TQ > 1u) { storeQuad(acc.q1 + mat4x4<f32>(b, b, b, b), m0 + 4u, g, kv); }
#endif
}

fn storeQuad(v: mat4x4<f32>, m: u32, g: u32, kv: u32) {
  storePixel(v[0], m, g, kv);
  storePixel(v[1], m + 1u, g, kv);
  storePixel(v[2], m + 2u, g, kv);
  storePixel(v[3], m + 3u, g, kv);
}

fn storePixel(v: vec4<f32>, m: u32, g: u32, kv: u32) {
  if (m >= params.M) {
    return;
  }
#if VEC4_OUT
  let o = (m * params.K + g * params.Kg) / 4u + kv;   // vec4 index
#if RESIDUAL
  let r = v + res[o];
#else
  let r = v;
#endif
#if RELU
  y[o] = max(r, vec4<f32>(0.0));
#else
  y[o] = r;
#endif
#else
  let o = m * params.K + g * params.Kg + kv * 4u;     // float index of the column's first channel
  let valid = min(params.Kg - kv * 4u, 4u);           // channels of this column that exist
  for (var l = 0u; l < valid; l++) {
#if RESIDUAL
    let r = v[l] + res[o + l];
#else
    let r = v[l];
#endif
#if RELU
    y[o + l] = max(r, 0.0);
#else
    y[o + l] = r;
#endif
  }
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg: u32) {
  let tile = (wid.x + wid.z * params.gridX) * WG + lid.x;   // pixel tile of this lane
  let g = wid.y / params.nTiles;
  let cols = params.Kgp / 4u;                     // vec4 columns of this group
  let kv0 = (wid.y % params.nTiles) * JN;         // the same for every lane of the workgroup
  let m0 = tile * 4u * TQ;                        // past M: computed on pixel M-1, not stored
  let Cg = params.Cg;
  let cOffset = g * Cg;
  let Rd = params.R * params.S * Cg;              // reduction rows of a group
  let k = vec4<u32>(kv0) + vec4<u32>(0u, 1u, 2u, 3u);
  let kc = select(vec4<u32>(kv0), k, k < vec4<u32>(cols));
  let corners0 = cornersAt(m0);
#if QUADS_2
  let corners1 = cornersAt(m0 + 4u);
#endif
  let wGroup = g * Rd * cols;                     // vec4 index of w[g, 0, 0, 0, 0]
  var acc: Block;

  // Chunks of sg reduction rows: lane l loads row k0 + l, every lane takes row k0 + i from lane i.
  for (var k0 = 0u; k0 < Rd; k0 += sg) {
    let mine = loadRow(wGroup + min(k0 + lane, Rd - 1u) * cols, kc);
    let rows = min(sg, Rd - k0);                  // VEC4_IN: a multiple of 4 (Rd and sg are)
#if VEC4_IN
    for (var i = 0u; i < rows; i += 4u) {
#else
    for (var i = 0u; i < rows; i++) {
#endif
      let kk = k0 + i;
      let rs = kk / Cg;                           // tap r*S + s
      let c = kk - rs * Cg;                       // channel within the group
      let r = rs / params.S;
      let s = rs - r * params.S;
      var a: Inputs;
      a.q0 = loadInput(quadAt(corners0, r, s, cOffset), c, cOffset + c);
#if QUADS_2
      if (TQ > 1u) { a.q1 = loadInput(quadAt(corners1, r, s, cOffset), c, cOffset + c); }
#endif
      accumulate(&acc.c0, share(mine.c0, i), a);
#if COLS_2
      if (JN > 1u) { accumulate(&acc.c1, share(mine.c1, i), a); }
#endif
#if COLS_4
      if (JN > 2u) { accumulate(&acc.c2, share(mine.c2, i), a); }
      if (JN > 3u) { accumulate(&acc.c3, share(mine.c3, i), a); }
#endif
    }
  }

  // Only existing columns; storePixel skips pixels past M.
  storeColumn(acc.c0, m0, g, kv0);
#if COLS_2
  if (JN > 1u && kv0 + 1u < cols) { storeColumn(acc.c1, m0, g, kv0 + 1u); }
#endif
#if COLS_4
  if (JN > 2u && kv0 + 2u < cols) { storeColumn(acc.c2, m0, g, kv0 + 2u); }
  if (JN > 3u && kv0 + 3u < cols) { storeColumn(acc.c3, m0, g, kv0 + 3u); }
#endif
}
