// conv2d.wgsl: 2D convolution (grouped, strided, zero-padded) with a fused bias + ReLU / residual epilogue,
// as an implicit GEMM (or, DIRECT, a sliding-window direct convolution) with register tiling and no
// workgroup memory or barriers.
//
// Computes, for every output pixel m = (n, p, q) and output channel k = g*Kg + kk of group g:
//   y[n, p, q, k] = epilogue(bias[k] + sum over (r, s, c < Cg) of
//                   a(x[n, p*stride - pad + r, q*stride - pad + s, g*Cg + c]) * w[g, r, s, c, kk])
// with input positions outside the image read as zero (after the prologue a), and
//   prologue a: identity | PRE_ACT: max(0, x * scale[ch] + shift[ch]) (ch = g*Cg + c: a BatchNorm + ReLU
//               before the conv, pre-activation ResNets),
//   epilogue: none | RELU: max(0, .) | RESIDUAL: . + res[n, p, q, k] | RESIDUAL and RELU: max(0, . + res).
// Per group g this is a GEMM: M = N*P*Q rows (pixels) x Kg columns (channels), reduction R*S*Cg.
//
// Layouts (dense; x, res and y f32 or, X_F16 / RES_F16 / Y_F16, f16; arithmetic always f32):
//   x    (N, H, W, C)                                    input activations, C = G*Cg
//   wts  (G, R, S, Cg, Kgp) then bias (G, Kgp)           Kgp = Kg rounded up to a multiple of 4, padding
//        then (PRE_ACT) scale (C), shift (C)             columns zero; bias starts at float biasOffset
//                                                         = G*R*S*Cg*Kgp (a multiple of 4), scale at
//                                                         biasOffset + G*Kgp, shift C floats later; as vec4s
//                                                         (texels) in an rgba32float texture, row-major,
//                                                         2^wShift texels a row (see weight())
//   res  (N, P, Q, K)                                    residual, only with RESIDUAL
//   y    (N, P, Q, K)                                    output, K = G*Kg
// W_F16: the texture is rgba16float and holds, in half elements: the weights divided by the layer's scale
//   2^e (see weightScale()), at 0; bias hi (G, Kgp) at biasOffset and bias lo (G, Kgp) right after it (the
//   f32 bias is hi + lo, about 22 significant bits); one texel (2^e1, 2^e2, 0, 0) with e1 + e2 = e at
//   biasOffset + 2*G*Kgp; then (PRE_ACT) scale hi, shift hi, scale lo, shift lo (C each).
//
// Bindings (group 0): 0 params (uniform), 1 x, 2 wts (+ bias, a texture), 3 res (RESIDUAL only), 4 y.
// The weights come from a texture rather than a storage buffer: a texel fetch is one 16-byte load per
// lane where the CPU drivers turn a storage-buffer vec4 load into a masked, bounds-checked loop over
// lanes and components (1.0x to 1.35x by layer shape, most layers 1.1x to 1.3x; bench/RESULTS.md).
//
// Defines:
//   VEC4_IN   Cg % 4 == 0: x is read as vec4 over channels; else one channel at a time.
//   VEC4_OUT  Kg % 4 == 0: y and res are vec4 over channels; else scalar stores masked to k < Kg.
//   GEMM_1X1  R = S = 1, stride 1, pad 0: pixel m reads x row m directly (no spatial indexing).
//   DIRECT    stride 1, S = 3, VEC4_IN: a pixel tile is 4*TQ consecutive pixels of ONE output row; per
//             kernel row r and 4 input channels the 4*TQ input pixels of tap s = 0 are loaded once and
//             taps 1, 2 slide that window one pixel right (1 new load each instead of 4*TQ). Pixels
//             past the row end (q >= Q) are computed on zero padding and not stored.
//   CHANNEL_LANES  the workgroup's first dimension (the one CPU drivers run as SIMD lanes) runs along
//             column blocks instead of pixel tiles (see Workgroup below).
//   RELU, RESIDUAL  the epilogue: ReLU, residual add (with RELU, the ReLU comes after the add).
//   X_F16, RES_F16, Y_F16  x, res, y stored as f16 (independently: the stem reads f32 preprocess output):
//             with SHADER_F16 as f16 arrays, else as u32 words of two f16 (pack2x16float /
//             unpack2x16float, core WGSL). Stores saturate to +-F16_MAX first (an out-of-range conversion
//             is indeterminate in WGSL). Y_F16 needs VEC4_OUT. F16: any of the three.
//   W_F16     the weight texture's f16 layout above (the texel fetch itself is the same).
//   SHADER_F16  the device has 'shader-f16': f16 storage types (`enable f16`); only with F16.
//   PRE_ACT   the prologue (VEC4_IN only): each input vec4 is max(0, x * scale + shift), masked to zero
//             outside the image, as it is loaded (so padding stays zero).
//   QUADS_2, QUADS_4, QUADS_8  the register block declares 2, 4 or 8 pixel quads (accumulators, inputs,
//             quads): QUADS_n on for every n up to TQ rounded up to a power of two; none on: quad 0 only.
//   COLS_2, COLS_4, COLS_8, COLS_16  likewise the block's vec4 columns, for JN.
//
// Register block: one invocation computes TQ quads of 4 consecutive pixels x JN vec4 columns (4 consecutive
// output channels of one group each), i.e. 4*TQ pixels x 4*JN channels (up to 32 x 64), held as TQ*JN
// mat4x4 accumulators (matrix columns = pixels, rows = channels). They live in one struct per column
// (ColumnAcc, members q0..q7), never in an indexed array, so that the compilers split them into
// registers (or stack slots on CPU drivers); TQ (1 to 8) and JN (1 to 16) are override constants, and every
// member, load and store past them is behind a constant condition the compilers remove. Members past TQ
// and JN rounded up to powers of two are not declared at all (QUADS_n, COLS_n): the compilers never see
// the full block, and on SwiftShader a small block compiles several times faster (bench/RESULTS.md,
// "First prediction: a bounded register block"). Per 4 input
// channels an invocation loads 4*TQ input vec4s and 4*JN weight vec4s for 16*TQ*JN vec4 multiply-adds:
// on CPU drivers, where every load is a per-lane loop, large blocks are what makes it fast (the earlier
// versions, v0 with at most 16 x 16, v1 to v3 with 32 x 32, v4 with 32 x 64 and the weights in a storage
// buffer: bench/kernels/README.md; bench/RESULTS.md the measurements).
// Columns always come from the padded Kgp, so weight loads are vec4 in every variant.
//
// Workgroup: WG_X invocations along pixel tiles, WG_Y along column blocks, declared (WG_X, WG_Y), or with
// CHANNEL_LANES (WG_Y, WG_X). CPU drivers run the lanes of a SIMD batch along the first dimension: along
// pixels for most layers, along columns for layers with few pixels, where pixel lanes would idle (the
// 7x7 maps at batch 1).
// Pixel tiles: T = ceil(M / (4*TQ)), or with DIRECT T = N*P*qTiles with qTiles = ceil(Q / (4*TQ)).
// Grid: x * z = ceil(T / WG_X) workgroups along pixels, split as x = min(that, maxComputeWorkgroupsPerDimension),
// z = ceil(that / x) (gridX = x in params); y = G * nTiles with nTiles = ceil(Kgp/4 / (WG_Y*JN)),
// y = g*nTiles + column tile. Invocations past the last tile or past Kgp/4 return early (no barriers).
//
// This barrier-free path is what CPU-backed adapters (SwiftShader, llvmpipe) run fastest; src/ops/conv2d-tuning.ts
// picks TQ, JN, WG_X, WG_Y, DIRECT and CHANNEL_LANES per adapter and shape from a cost model fitted to bench --micro runs.
// Hardware GPUs would prefer tiles staged through workgroup memory; that would be another define-selected
// variant of this file (not written yet). Earlier and experimental versions: bench/kernels/README.md.

#if SHADER_F16
enable f16;
#endif

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  K: u32, P: u32, Q: u32, M: u32,       // M = N*P*Q
  R: u32, S: u32, stride: u32, pad: u32,
  G: u32, Cg: u32, Kg: u32, Kgp: u32,
  nTiles: u32, gridX: u32, biasOffset: u32, qTiles: u32,   // qTiles: DIRECT only, pixel tiles per output row
  wShift: u32,                          // log2 of the weight texture's width
}

override WG_X: u32 = 32u;
override WG_Y: u32 = 2u;
/** Pixel quads per invocation: 1 to 8. */
override TQ: u32 = 2u;
/** vec4 output-channel columns per invocation: 1 to 16. */
override JN: u32 = 2u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var wts: texture_2d<f32>;

#if F16
#include half
#endif

#if VEC4_IN
#if X_F16
@group(0) @binding(1) var<storage, read> x: array<Half4>;
fn loadX4(i: u32) -> vec4<f32> { return fromHalf4(x[i]); }
#else
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
fn loadX4(i: u32) -> vec4<f32> { return x[i]; }
#endif
#else
#if X_F16
@group(0) @binding(1) var<storage, read> x: array<Half2>;
fn loadX1(i: u32) -> f32 {
  let v = fromHalf2(x[i >> 1u]);
  return select(v.x, v.y, (i & 1u) == 1u);
}
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
fn loadX1(i: u32) -> f32 { return x[i]; }
#endif
#endif

/** vec4 i of the packed weights (texel i of the row-major texture). */
fn weight(i: u32) -> vec4<f32> {
  return textureLoad(wts, vec2<u32>(i & ((1u << params.wShift) - 1u), i >> params.wShift), 0);
}

#if PRE_ACT
/** The prologue of input channels ch..ch+3 (ch % 4 == 0): x -> max(0, x * scale + shift). */
struct PreAct {
  scale: vec4<f32>,
  shift: vec4<f32>,
}

fn preActAt(ch: u32) -> PreAct {
#if W_F16
  let scale = (params.biasOffset + 2u * params.G * params.Kgp + 4u + ch) / 4u;   // texel of scale hi [ch]
  let C4 = params.C / 4u;
  return PreAct(weight(scale) + weight(scale + 2u * C4), weight(scale + C4) + weight(scale + 3u * C4));
#else
  let scale = (params.biasOffset + params.G * params.Kgp + ch) / 4u;   // vec4 index of scale[ch]
  return PreAct(weight(scale), weight(scale + params.C / 4u));
#endif
}

/** The prologue on one input vec4 at a position inside the image; zero outside (padding stays zero). */
fn activate(v: vec4<f32>, pre: PreAct, inside: bool) -> vec4<f32> {
  return select(vec4<f32>(0.0), max(v * pre.scale + pre.shift, vec4<f32>(0.0)), inside);
}
#endif
#if VEC4_OUT
#if RESIDUAL
#if RES_F16
@group(0) @binding(3) var<storage, read> res: array<Half4>;
fn loadRes4(i: u32) -> vec4<f32> { return fromHalf4(res[i]); }
#else
@group(0) @binding(3) var<storage, read> res: array<vec4<f32>>;
fn loadRes4(i: u32) -> vec4<f32> { return res[i]; }
#endif
#endif
#if Y_F16
@group(0) @binding(4) var<storage, read_write> y: array<Half4>;
fn storeY4(i: u32, v: vec4<f32>) { y[i] = toHalf4(v); }
#else
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
fn storeY4(i: u32, v: vec4<f32>) { y[i] = v; }
#endif
#else
#if RESIDUAL
#if RES_F16
@group(0) @binding(3) var<storage, read> res: array<Half2>;
fn loadRes1(i: u32) -> f32 {
  let v = fromHalf2(res[i >> 1u]);
  return select(v.x, v.y, (i & 1u) == 1u);
}
#else
@group(0) @binding(3) var<storage, read> res: array<f32>;
fn loadRes1(i: u32) -> f32 { return res[i]; }
#endif
#endif
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#endif

/** Where 4 pixels' input rows start (float index of channel g*Cg) and whether each lies inside the image. */
struct Quad {
  start: vec4<u32>,
  inside: vec4<bool>,
}

#if VEC4_IN
/** Input channels c..c+3 of a quad's 4 pixels: column i = pixel i, zero outside the image. */
fn loadInput(quad: Quad, c: u32) -> mat4x4<f32> {
  let z = vec4<f32>(0.0);
  return mat4x4<f32>(select(z, loadX4((quad.start.x + c) / 4u), quad.inside.x),
                     select(z, loadX4((quad.start.y + c) / 4u), quad.inside.y),
                     select(z, loadX4((quad.start.z + c) / 4u), quad.inside.z),
                     select(z, loadX4((quad.start.w + c) / 4u), quad.inside.w));
}

/** Weights of input channels c..c+3 for vec4 column `col`: matrix column i = channel c+i (4 outputs). */
fn loadWeights(row: u32, cols: u32, col: u32) -> mat4x4<f32> {
  return mat4x4<f32>(weight(row + col), weight(row + cols + col), weight(row + 2u * cols + col), weight(row + 3u * cols + col));
}
#else
/** Input channel c of a quad's 4 pixels, zero outside the image. */
fn loadInput(quad: Quad, c: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(loadX1(quad.start.x + c), loadX1(quad.start.y + c), loadX1(quad.start.z + c), loadX1(quad.start.w + c)),
                quad.inside);
}

/** acc += w (4 outputs of one input channel) times a (that channel at 4 pixels), as an outer product. */
fn outer(w: vec4<f32>, a: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(w * a.x, w * a.y, w * a.z, w * a.w);
}
#endif

#if GEMM_1X1
/** x is an (M, C) matrix: pixel m's row. Pixels past M reread row M-1 (their results are not stored). */
fn quadAt(m: u32, cOffset: u32) -> Quad {
  let rows = min(vec4<u32>(m) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.M - 1u));
  return Quad(rows * params.C + cOffset, vec4<bool>(true));
}
#else
/** Top-left input corner (ih0, iw0) and image base n*H*W of 4 pixels starting at m. */
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

/** The quad's input rows for kernel tap (r, s). */
fn quadAt(k: Corners, r: u32, s: u32, cOffset: u32) -> Quad {
  let ih = k.ih0 + i32(r);
  let iw = k.iw0 + i32(s);
  let inside = (ih >= vec4<i32>(0)) & (ih < vec4<i32>(i32(params.H))) & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(i32(params.W)));
  let start = (k.imageBase + vec4<u32>(ih) * params.W + vec4<u32>(iw)) * params.C + cOffset;
  return Quad(select(vec4<u32>(0u), start, inside), inside);
}
#endif

/** One vec4 column's accumulators for quads 0..7: member qi holds pixels 4i..4i+3 (matrix column = pixel). */
struct ColumnAcc {
  q0: mat4x4<f32>,
#if QUADS_2
  q1: mat4x4<f32>,
#endif
#if QUADS_4
  q2: mat4x4<f32>, q3: mat4x4<f32>,
#endif
#if QUADS_8
  q4: mat4x4<f32>, q5: mat4x4<f32>, q6: mat4x4<f32>, q7: mat4x4<f32>,
#endif
}

/** The invocation's 8 pixel quads at one kernel tap. */
struct Quads {
  q0: Quad,
#if QUADS_2
  q1: Quad,
#endif
#if QUADS_4
  q2: Quad, q3: Quad,
#endif
#if QUADS_8
  q4: Quad, q5: Quad, q6: Quad, q7: Quad,
#endif
}

#if VEC4_IN
/** Input channels c..c+3 of the TQ quads (4 channels x 4 pixels each). */
struct Inputs {
  q0: mat4x4<f32>,
#if QUADS_2
  q1: mat4x4<f32>,
#endif
#if QUADS_4
  q2: mat4x4<f32>, q3: mat4x4<f32>,
#endif
#if QUADS_8
  q4: mat4x4<f32>, q5: mat4x4<f32>, q6: mat4x4<f32>, q7: mat4x4<f32>,
#endif
}
alias Weight = mat4x4<f32>;

fn loadColumn(row: u32, cols: u32, col: u32) -> Weight {
  return loadWeights(row, cols, col);
}

fn mac(w: Weight, a: mat4x4<f32>) -> mat4x4<f32> {
  return w * a;
}
#else
/** Input channel c of the TQ quads (4 pixels each). */
struct Inputs {
  q0: vec4<f32>,
#if QUADS_2
  q1: vec4<f32>,
#endif
#if QUADS_4
  q2: vec4<f32>, q3: vec4<f32>,
#endif
#if QUADS_8
  q4: vec4<f32>, q5: vec4<f32>, q6: vec4<f32>, q7: vec4<f32>,
#endif
}
alias Weight = vec4<f32>;

fn loadColumn(row: u32, cols: u32, col: u32) -> Weight {
  return weight(row + col);
}

fn mac(w: Weight, a: vec4<f32>) -> mat4x4<f32> {
  return outer(w, a);
}
#endif

#if PRE_ACT
/** The prologue on a quad's 4 pixels (matrix columns), zero for those outside the image. */
fn activateQuad(a: mat4x4<f32>, inside: vec4<bool>, pre: PreAct) -> mat4x4<f32> {
  return mat4x4<f32>(activate(a[0], pre, inside.x), activate(a[1], pre, inside.y), activate(a[2], pre, inside.z),
                     activate(a[3], pre, inside.w));
}

/** Input channels ch..ch+3 of the TQ quads after the prologue (c = ch - g*Cg, the channel within the group). */
fn loadActivatedInputs(q: Quads, c: u32, ch: u32) -> Inputs {
  let pre = preActAt(ch);
  var a = loadInputs(q, c);
  a.q0 = activateQuad(a.q0, q.q0.inside, pre);
#if QUADS_2
  if (TQ > 1u) { a.q1 = activateQuad(a.q1, q.q1.inside, pre); }
#endif
#if QUADS_4
  if (TQ > 2u) { a.q2 = activateQuad(a.q2, q.q2.inside, pre); }
  if (TQ > 3u) { a.q3 = activateQuad(a.q3, q.q3.inside, pre); }
#endif
#if QUADS_8
  if (TQ > 4u) { a.q4 = activateQuad(a.q4, q.q4.inside, pre); }
  if (TQ > 5u) { a.q5 = activateQuad(a.q5, q.q5.inside, pre); }
  if (TQ > 6u) { a.q6 = activateQuad(a.q6, q.q6.inside, pre); }
  if (TQ > 7u) { a.q7 = activateQuad(a.q7, q.q7.inside, pre); }
#endif
  return a;
}
#endif

fn loadInputs(q: Quads, c: u32) -> Inputs {
  var a: Inputs;
  a.q0 = loadInput(q.q0, c);
#if QUADS_2
  if (TQ > 1u) { a.q1 = loadInput(q.q1, c); }
#endif
#if QUADS_4
  if (TQ > 2u) { a.q2 = loadInput(q.q2, c); }
  if (TQ > 3u) { a.q3 = loadInput(q.q3, c); }
#endif
#if QUADS_8
  if (TQ > 4u) { a.q4 = loadInput(q.q4, c); }
  if (TQ > 5u) { a.q5 = loadInput(q.q5, c); }
  if (TQ > 6u) { a.q6 = loadInput(q.q6, c); }
  if (TQ > 7u) { a.q7 = loadInput(q.q7, c); }
#endif
  return a;
}

#if DIRECT
/** Input channels ch..ch+3 at pixel iw of the input row starting at pixel index rowBase; zero outside the row. */
fn loadPixel(rowBase: u32, iw: i32, ch: u32) -> vec4<f32> {
  let inside = iw >= 0 && iw < i32(params.W);
  let v = loadX4(((rowBase + u32(select(0, iw, inside))) * params.C + ch) / 4u);
#if PRE_ACT
  return activate(v, preActAt(ch), inside);
#else
  return select(vec4<f32>(0.0), v, inside);
#endif
}

/** Channels ch..ch+3 at the 4*TQ consecutive pixels iw0 .. of one input row, as TQ quads. */
fn loadRow(rowBase: u32, iw0: i32, ch: u32) -> Inputs {
  var a: Inputs;
  a.q0 = mat4x4<f32>(loadPixel(rowBase, iw0, ch), loadPixel(rowBase, iw0 + 1, ch), loadPixel(rowBase, iw0 + 2, ch), loadPixel(rowBase, iw0 + 3, ch));
#if QUADS_2
  if (TQ > 1u) { a.q1 = mat4x4<f32>(loadPixel(rowBase, iw0 + 4, ch), loadPixel(rowBase, iw0 + 5, ch), loadPixel(rowBase, iw0 + 6, ch), loadPixel(rowBase, iw0 + 7, ch)); }
#endif
#if QUADS_4
  if (TQ > 2u) { a.q2 = mat4x4<f32>(loadPixel(rowBase, iw0 + 8, ch), loadPixel(rowBase, iw0 + 9, ch), loadPixel(rowBase, iw0 + 10, ch), loadPixel(rowBase, iw0 + 11, ch)); }
  if (TQ > 3u) { a.q3 = mat4x4<f32>(loadPixel(rowBase, iw0 + 12, ch), loadPixel(rowBase, iw0 + 13, ch), loadPixel(rowBase, iw0 + 14, ch), loadPixel(rowBase, iw0 + 15, ch)); }
#endif
#if QUADS_8
  if (TQ > 4u) { a.q4 = mat4x4<f32>(loadPixel(rowBase, iw0 + 16, ch), loadPixel(rowBase, iw0 + 17, ch), loadPixel(rowBase, iw0 + 18, ch), loadPixel(rowBase, iw0 + 19, ch)); }
  if (TQ > 5u) { a.q5 = mat4x4<f32>(loadPixel(rowBase, iw0 + 20, ch), loadPixel(rowBase, iw0 + 21, ch), loadPixel(rowBase, iw0 + 22, ch), loadPixel(rowBase, iw0 + 23, ch)); }
  if (TQ > 6u) { a.q6 = mat4x4<f32>(loadPixel(rowBase, iw0 + 24, ch), loadPixel(rowBase, iw0 + 25, ch), loadPixel(rowBase, iw0 + 26, ch), loadPixel(rowBase, iw0 + 27, ch)); }
  if (TQ > 7u) { a.q7 = mat4x4<f32>(loadPixel(rowBase, iw0 + 28, ch), loadPixel(rowBase, iw0 + 29, ch), loadPixel(rowBase, iw0 + 30, ch), loadPixel(rowBase, iw0 + 31, ch)); }
#endif
  return a;
}

/** The row window one pixel to the right: every pixel takes its right neighbour's values, the last takes `next`. */
fn shiftRow(a: Inputs, next: vec4<f32>) -> Inputs {
  var b: Inputs;
  // The last member declared takes `next` (TQ is at most the declared count).
#if QUADS_2
  b.q0 = mat4x4<f32>(a.q0[1], a.q0[2], a.q0[3], select(a.q1[0], next, TQ == 1u));
#else
  b.q0 = mat4x4<f32>(a.q0[1], a.q0[2], a.q0[3], next);
#endif
#if QUADS_4
  if (TQ > 1u) { b.q1 = mat4x4<f32>(a.q1[1], a.q1[2], a.q1[3], select(a.q2[0], next, TQ == 2u)); }
  if (TQ > 2u) { b.q2 = mat4x4<f32>(a.q2[1], a.q2[2], a.q2[3], select(a.q3[0], next, TQ == 3u)); }
#elif QUADS_2
  if (TQ > 1u) { b.q1 = mat4x4<f32>(a.q1[1], a.q1[2], a.q1[3], next); }
#endif
#if QUADS_8
  if (TQ > 3u) { b.q3 = mat4x4<f32>(a.q3[1], a.q3[2], a.q3[3], select(a.q4[0], next, TQ == 4u)); }
  if (TQ > 4u) { b.q4 = mat4x4<f32>(a.q4[1], a.q4[2], a.q4[3], select(a.q5[0], next, TQ == 5u)); }
  if (TQ > 5u) { b.q5 = mat4x4<f32>(a.q5[1], a.q5[2], a.q5[3], select(a.q6[0], next, TQ == 6u)); }
  if (TQ > 6u) { b.q6 = mat4x4<f32>(a.q6[1], a.q6[2], a.q6[3], select(a.q7[0], next, TQ == 7u)); }
  if (TQ > 7u) { b.q7 = mat4x4<f32>(a.q7[1], a.q7[2], a.q7[3], next); }
#elif QUADS_4
  if (TQ > 3u) { b.q3 = mat4x4<f32>(a.q3[1], a.q3[2], a.q3[3], next); }
#endif
  return b;
}
#endif

/** acc.qi += w x a.qi for the TQ quads. */
fn accumulate(acc: ptr<function, ColumnAcc>, w: Weight, a: Inputs) {
  (*acc).q0 += mac(w, a.q0);
#if QUADS_2
  if (TQ > 1u) { (*acc).q1 += mac(w, a.q1); }
#endif
#if QUADS_4
  if (TQ > 2u) { (*acc).q2 += mac(w, a.q2); }
  if (TQ > 3u) { (*acc).q3 += mac(w, a.q3); }
#endif
#if QUADS_8
  if (TQ > 4u) { (*acc).q4 += mac(w, a.q4); }
  if (TQ > 5u) { (*acc).q5 += mac(w, a.q5); }
  if (TQ > 6u) { (*acc).q6 += mac(w, a.q6); }
  if (TQ > 7u) { (*acc).q7 += mac(w, a.q7); }
#endif
}

/** The invocation's accumulators: vec4 columns 0..15 (those past JN are never touched). */
struct Block {
  c0: ColumnAcc,
#if COLS_2
  c1: ColumnAcc,
#endif
#if COLS_4
  c2: ColumnAcc, c3: ColumnAcc,
#endif
#if COLS_8
  c4: ColumnAcc, c5: ColumnAcc, c6: ColumnAcc, c7: ColumnAcc,
#endif
#if COLS_16
  c8: ColumnAcc, c9: ColumnAcc, c10: ColumnAcc, c11: ColumnAcc, c12: ColumnAcc, c13: ColumnAcc, c14: ColumnAcc, c15: ColumnAcc,
#endif
}

/** The invocation's columns kv0 .. kv0 + 15, four per vec4; those past the group's columns reread column kv0. */
struct Columns {
  k0: vec4<u32>, k4: vec4<u32>, k8: vec4<u32>, k12: vec4<u32>,
}

fn columnsFrom(kv0: u32, cols: u32) -> Columns {
  let k = vec4<u32>(kv0) + vec4<u32>(0u, 1u, 2u, 3u);
  let z = vec4<u32>(kv0);
  let n = vec4<u32>(cols);
  return Columns(select(z, k, k < n), select(z, k + 4u, k + 4u < n), select(z, k + 8u, k + 8u < n), select(z, k + 12u, k + 12u < n));
}

/** block += weights (row `row`, the invocation's columns from kv0) x inputs `a`, for the JN columns. */
fn accumulateColumns(block: ptr<function, Block>, row: u32, cols: u32, k: Columns, a: Inputs) {
  accumulate(&(*block).c0, loadColumn(row, cols, k.k0.x), a);
#if COLS_2
  if (JN > 1u) { accumulate(&(*block).c1, loadColumn(row, cols, k.k0.y), a); }
#endif
#if COLS_4
  if (JN > 2u) { accumulate(&(*block).c2, loadColumn(row, cols, k.k0.z), a); }
  if (JN > 3u) { accumulate(&(*block).c3, loadColumn(row, cols, k.k0.w), a); }
#endif
#if COLS_8
  if (JN > 4u) { accumulate(&(*block).c4, loadColumn(row, cols, k.k4.x), a); }
  if (JN > 5u) { accumulate(&(*block).c5, loadColumn(row, cols, k.k4.y), a); }
  if (JN > 6u) { accumulate(&(*block).c6, loadColumn(row, cols, k.k4.z), a); }
  if (JN > 7u) { accumulate(&(*block).c7, loadColumn(row, cols, k.k4.w), a); }
#endif
#if COLS_16
  if (JN > 8u) { accumulate(&(*block).c8, loadColumn(row, cols, k.k8.x), a); }
  if (JN > 9u) { accumulate(&(*block).c9, loadColumn(row, cols, k.k8.y), a); }
  if (JN > 10u) { accumulate(&(*block).c10, loadColumn(row, cols, k.k8.z), a); }
  if (JN > 11u) { accumulate(&(*block).c11, loadColumn(row, cols, k.k8.w), a); }
  if (JN > 12u) { accumulate(&(*block).c12, loadColumn(row, cols, k.k12.x), a); }
  if (JN > 13u) { accumulate(&(*block).c13, loadColumn(row, cols, k.k12.y), a); }
  if (JN > 14u) { accumulate(&(*block).c14, loadColumn(row, cols, k.k12.z), a); }
  if (JN > 15u) { accumulate(&(*block).c15, loadColumn(row, cols, k.k12.w), a); }
#endif
}

/** Stores vec4 column kv of the TQ quads: pixels m0 .. m0 + 4*TQ - 1, those below mEnd. */
fn storeColumn(acc: ColumnAcc, m0: u32, mEnd: u32, g: u32, kv: u32) {
  store(acc.q0, m0, mEnd, g, kv);
#if QUADS_2
  if (TQ > 1u) { store(acc.q1, m0 + 4u, mEnd, g, kv); }
#endif
#if QUADS_4
  if (TQ > 2u) { store(acc.q2, m0 + 8u, mEnd, g, kv); }
  if (TQ > 3u) { store(acc.q3, m0 + 12u, mEnd, g, kv); }
#endif
#if QUADS_8
  if (TQ > 4u) { store(acc.q4, m0 + 16u, mEnd, g, kv); }
  if (TQ > 5u) { store(acc.q5, m0 + 20u, mEnd, g, kv); }
  if (TQ > 6u) { store(acc.q6, m0 + 24u, mEnd, g, kv); }
  if (TQ > 7u) { store(acc.q7, m0 + 28u, mEnd, g, kv); }
#endif
}

#if W_F16
/** The layer's weight scale 2^e: the texture holds w / 2^e (so no weight overflows f16), the accumulators sum w / 2^e * x. */
fn weightScale() -> f32 {
  let t = weight((params.biasOffset + 2u * params.G * params.Kgp) / 4u);
  return t.x * t.y;
}
#endif

/** Bias, epilogue and store of one accumulator: pixels m..m+3 (only those < mEnd), vec4 column kv of group g. */
fn store(accumulated: mat4x4<f32>, m: u32, mEnd: u32, g: u32, kv: u32) {
  let bias = params.biasOffset / 4u + g * (params.Kgp / 4u) + kv;   // texel of the column's bias
#if W_F16
  let b = weight(bias) + weight(bias + params.G * params.Kgp / 4u);
  let acc = accumulated * weightScale();
#else
  let b = weight(bias);
  let acc = accumulated;
#endif
  storePixel(acc[0] + b, m, mEnd, g, kv);
  storePixel(acc[1] + b, m + 1u, mEnd, g, kv);
  storePixel(acc[2] + b, m + 2u, mEnd, g, kv);
  storePixel(acc[3] + b, m + 3u, mEnd, g, kv);
}

fn storePixel(v: vec4<f32>, m: u32, mEnd: u32, g: u32, kv: u32) {
  if (m >= mEnd) {
    return;
  }
#if VEC4_OUT
  let o = (m * params.K + g * params.Kg) / 4u + kv;   // vec4 index
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
#else
  let o = m * params.K + g * params.Kg + kv * 4u;     // float index of the column's first channel
  let valid = min(params.Kg - kv * 4u, 4u);           // channels of this column that exist
  for (var l = 0u; l < valid; l++) {
#if RESIDUAL
    let r = v[l] + loadRes1(o + l);
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

#if CHANNEL_LANES
@compute @workgroup_size(WG_Y, WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lanes: vec3<u32>) {
  let lid = lanes.yxz;                            // lid.x along pixel tiles, lid.y along column blocks
#else
@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
#endif
  let tile = (wid.x + wid.z * params.gridX) * WG_X + lid.x;   // pixel tile of this invocation
  let g = wid.y / params.nTiles;
  let cols = params.Kgp / 4u;                     // vec4 columns of this group
  let kv0 = ((wid.y % params.nTiles) * WG_Y + lid.y) * JN;
#if DIRECT
  // The tile is 4*TQ consecutive pixels q0 .. of one output row (n, p); those past Q are not stored.
  let outRow = tile / params.qTiles;              // n*P + p
  let q0 = (tile - outRow * params.qTiles) * 4u * TQ;
  if (outRow >= params.N * params.P || kv0 >= cols) {
    return;
  }
  let m0 = outRow * params.Q + q0;
  let mEnd = outRow * params.Q + params.Q;
  let n = outRow / params.P;
  let p = outRow - n * params.P;
#else
  let m0 = tile * 4u * TQ;
  let mEnd = params.M;
  if (m0 >= params.M || kv0 >= cols) {
    return;
  }
#endif
  let Cg = params.Cg;
  let cOffset = g * Cg;
  let k = columnsFrom(kv0, cols);
  var acc: Block;

#if DIRECT
  // Stride 1, 3 taps wide: for each kernel row r and 4 input channels, the 4*TQ input pixels of tap 0
  // are loaded once; taps 1 and 2 slide the window one pixel right each (one new load instead of 4*TQ).
  // The taps are written out (no loop-carried window): compilers keep the three windows as values.
  let iw0 = i32(q0) - i32(params.pad);
  let tap = Cg * cols;                            // vec4s between the weights of taps s and s + 1
  for (var r = 0u; r < params.R; r++) {
    let ih = i32(p + r) - i32(params.pad);
    if (ih < 0 || ih >= i32(params.H)) {
      continue;
    }
    let rowBase = (n * params.H + u32(ih)) * params.W;   // pixel index of (n, ih, 0)
    let wRow = (g * params.R + r) * 3u * tap;             // vec4 index of w[g, r, 0, 0, 0]
    for (var c = 0u; c < Cg; c += 4u) {
      let ch = cOffset + c;
      let a0 = loadRow(rowBase, iw0, ch);
      accumulateColumns(&acc, wRow + c * cols, cols, k, a0);
      let a1 = shiftRow(a0, loadPixel(rowBase, iw0 + i32(4u * TQ), ch));
      accumulateColumns(&acc, wRow + tap + c * cols, cols, k, a1);
      let a2 = shiftRow(a1, loadPixel(rowBase, iw0 + i32(4u * TQ + 1u), ch));
      accumulateColumns(&acc, wRow + 2u * tap + c * cols, cols, k, a2);
    }
  }
#else
#if GEMM_1X1
#if QUADS_8
  let quads = Quads(quadAt(m0, cOffset), quadAt(m0 + 4u, cOffset), quadAt(m0 + 8u, cOffset), quadAt(m0 + 12u, cOffset),
                    quadAt(m0 + 16u, cOffset), quadAt(m0 + 20u, cOffset), quadAt(m0 + 24u, cOffset), quadAt(m0 + 28u, cOffset));
#elif QUADS_4
  let quads = Quads(quadAt(m0, cOffset), quadAt(m0 + 4u, cOffset), quadAt(m0 + 8u, cOffset), quadAt(m0 + 12u, cOffset));
#elif QUADS_2
  let quads = Quads(quadAt(m0, cOffset), quadAt(m0 + 4u, cOffset));
#else
  let quads = Quads(quadAt(m0, cOffset));
#endif
  {
    let wBase = g * Cg * cols;                    // vec4 index of w[g, 0, 0, 0, 0]
#else
  let corners0 = cornersAt(m0);
#if QUADS_2
  let corners1 = cornersAt(m0 + 4u);
#endif
#if QUADS_4
  let corners2 = cornersAt(m0 + 8u);
  let corners3 = cornersAt(m0 + 12u);
#endif
#if QUADS_8
  let corners4 = cornersAt(m0 + 16u);
  let corners5 = cornersAt(m0 + 20u);
  let corners6 = cornersAt(m0 + 24u);
  let corners7 = cornersAt(m0 + 28u);
#endif
  for (var rs = 0u; rs < params.R * params.S; rs++) {
    let r = rs / params.S;
    let s = rs - r * params.S;
#if QUADS_8
    let quads = Quads(quadAt(corners0, r, s, cOffset), quadAt(corners1, r, s, cOffset), quadAt(corners2, r, s, cOffset),
                      quadAt(corners3, r, s, cOffset), quadAt(corners4, r, s, cOffset), quadAt(corners5, r, s, cOffset),
                      quadAt(corners6, r, s, cOffset), quadAt(corners7, r, s, cOffset));
#elif QUADS_4
    let quads = Quads(quadAt(corners0, r, s, cOffset), quadAt(corners1, r, s, cOffset), quadAt(corners2, r, s, cOffset),
                      quadAt(corners3, r, s, cOffset));
#elif QUADS_2
    let quads = Quads(quadAt(corners0, r, s, cOffset), quadAt(corners1, r, s, cOffset));
#else
    let quads = Quads(quadAt(corners0, r, s, cOffset));
#endif
    let wBase = (g * params.R * params.S + rs) * Cg * cols;
#endif
#if VEC4_IN
    for (var c = 0u; c < Cg; c += 4u) {
#else
    for (var c = 0u; c < Cg; c++) {
#endif
#if PRE_ACT
      accumulateColumns(&acc, wBase + c * cols, cols, k, loadActivatedInputs(quads, c, cOffset + c));
#else
      accumulateColumns(&acc, wBase + c * cols, cols, k, loadInputs(quads, c));
#endif
    }
  }
#endif

  // Only the TQ x JN block, and only existing columns.
  storeColumn(acc.c0, m0, mEnd, g, kv0);
#if COLS_2
  if (JN > 1u && kv0 + 1u < cols) { storeColumn(acc.c1, m0, mEnd, g, kv0 + 1u); }
#endif
#if COLS_4
  if (JN > 2u && kv0 + 2u < cols) { storeColumn(acc.c2, m0, mEnd, g, kv0 + 2u); }
  if (JN > 3u && kv0 + 3u < cols) { storeColumn(acc.c3, m0, mEnd, g, kv0 + 3u); }
#endif
#if COLS_8
  if (JN > 4u && kv0 + 4u < cols) { storeColumn(acc.c4, m0, mEnd, g, kv0 + 4u); }
  if (JN > 5u && kv0 + 5u < cols) { storeColumn(acc.c5, m0, mEnd, g, kv0 + 5u); }
  if (JN > 6u && kv0 + 6u < cols) { storeColumn(acc.c6, m0, mEnd, g, kv0 + 6u); }
  if (JN > 7u && kv0 + 7u < cols) { storeColumn(acc.c7, m0, mEnd, g, kv0 + 7u); }
#endif
#if COLS_16
  if (JN > 8u && kv0 + 8u < cols) { storeColumn(acc.c8, m0, mEnd, g, kv0 + 8u); }
  if (JN > 9u && kv0 + 9u < cols) { storeColumn(acc.c9, m0, mEnd, g, kv0 + 9u); }
  if (JN > 10u && kv0 + 10u < cols) { storeColumn(acc.c10, m0, mEnd, g, kv0 + 10u); }
  if (JN > 11u && kv0 + 11u < cols) { storeColumn(acc.c11, m0, mEnd, g, kv0 + 11u); }
  if (JN > 12u && kv0 + 12u < cols) { storeColumn(acc.c12, m0, mEnd, g, kv0 + 12u); }
  if (JN > 13u && kv0 + 13u < cols) { storeColumn(acc.c13, m0, mEnd, g, kv0 + 13u); }
  if (JN > 14u && kv0 + 14u < cols) { storeColumn(acc.c14, m0, mEnd, g, kv0 + 14u); }
  if (JN > 15u && kv0 + 15u < cols) { storeColumn(acc.c15, m0, mEnd, g, kv0 + 15u); }
#endif
}
