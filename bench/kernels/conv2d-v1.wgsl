// conv2d-v1.wgsl (bench variant): conv2d-v0 with register blocks up to 32 pixels x 32 channels.
// Same contract as shaders/conv2d.wgsl at the time (bindings, Params, packed weights, grid); TQ and JN
// range over 1 to 8. The accumulators of one quad of pixels are a struct of 8 mat4x4 (one per vec4
// column), updated through a pointer; the compilers split the struct into registers (or stack slots)
// and drop the members and loads past JN, as with separate variables.

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  K: u32, P: u32, Q: u32, M: u32,       // M = N*P*Q
  R: u32, S: u32, stride: u32, pad: u32,
  G: u32, Cg: u32, Kg: u32, Kgp: u32,
  nTiles: u32, gridX: u32, biasOffset: u32, _unused: u32,
}

override WG_X: u32 = 32u;
override WG_Y: u32 = 2u;
/** Pixel quads per invocation: 1 to 8. */
override TQ: u32 = 2u;
/** vec4 output-channel columns per invocation: 1 to 8. */
override JN: u32 = 2u;

@group(0) @binding(0) var<uniform> params: Params;
#if VEC4_IN
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> wts: array<vec4<f32>>;
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

/** Where 4 pixels' input rows start (float index of channel g*Cg) and whether each lies inside the image. */
struct Quad {
  start: vec4<u32>,
  inside: vec4<bool>,
}

#if VEC4_IN
/** Input channels c..c+3 of a quad's 4 pixels: column i = pixel i, zero outside the image. */
fn loadInput(quad: Quad, c: u32) -> mat4x4<f32> {
  let z = vec4<f32>(0.0);
  return mat4x4<f32>(select(z, x[(quad.start.x + c) / 4u], quad.inside.x),
                     select(z, x[(quad.start.y + c) / 4u], quad.inside.y),
                     select(z, x[(quad.start.z + c) / 4u], quad.inside.z),
                     select(z, x[(quad.start.w + c) / 4u], quad.inside.w));
}

/** Weights of input channels c..c+3 for vec4 column `col`: matrix column i = channel c+i (4 outputs). */
fn loadWeights(row: u32, cols: u32, col: u32) -> mat4x4<f32> {
  return mat4x4<f32>(wts[row + col], wts[row + cols + col], wts[row + 2u * cols + col], wts[row + 3u * cols + col]);
}
#else
/** Input channel c of a quad's 4 pixels, zero outside the image. */
fn loadInput(quad: Quad, c: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(x[quad.start.x + c], x[quad.start.y + c], x[quad.start.z + c], x[quad.start.w + c]),
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
  q0: mat4x4<f32>, q1: mat4x4<f32>, q2: mat4x4<f32>, q3: mat4x4<f32>,
  q4: mat4x4<f32>, q5: mat4x4<f32>, q6: mat4x4<f32>, q7: mat4x4<f32>,
}

/** The invocation's 8 pixel quads at one kernel tap. */
struct Quads {
  q0: Quad, q1: Quad, q2: Quad, q3: Quad, q4: Quad, q5: Quad, q6: Quad, q7: Quad,
}

#if VEC4_IN
/** Input channels c..c+3 of the TQ quads (4 channels x 4 pixels each). */
struct Inputs {
  q0: mat4x4<f32>, q1: mat4x4<f32>, q2: mat4x4<f32>, q3: mat4x4<f32>,
  q4: mat4x4<f32>, q5: mat4x4<f32>, q6: mat4x4<f32>, q7: mat4x4<f32>,
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
  q0: vec4<f32>, q1: vec4<f32>, q2: vec4<f32>, q3: vec4<f32>,
  q4: vec4<f32>, q5: vec4<f32>, q6: vec4<f32>, q7: vec4<f32>,
}
alias Weight = vec4<f32>;

fn loadColumn(row: u32, cols: u32, col: u32) -> Weight {
  return wts[row + col];
}

fn mac(w: Weight, a: vec4<f32>) -> mat4x4<f32> {
  return outer(w, a);
}
#endif

fn loadInputs(q: Quads, c: u32) -> Inputs {
  var a: Inputs;
  a.q0 = loadInput(q.q0, c);
  if (TQ > 1u) { a.q1 = loadInput(q.q1, c); }
  if (TQ > 2u) { a.q2 = loadInput(q.q2, c); }
  if (TQ > 3u) { a.q3 = loadInput(q.q3, c); }
  if (TQ > 4u) { a.q4 = loadInput(q.q4, c); }
  if (TQ > 5u) { a.q5 = loadInput(q.q5, c); }
  if (TQ > 6u) { a.q6 = loadInput(q.q6, c); }
  if (TQ > 7u) { a.q7 = loadInput(q.q7, c); }
  return a;
}

/** acc.qi += w x a.qi for the TQ quads. */
fn accumulate(acc: ptr<function, ColumnAcc>, w: Weight, a: Inputs) {
  (*acc).q0 += mac(w, a.q0);
  if (TQ > 1u) { (*acc).q1 += mac(w, a.q1); }
  if (TQ > 2u) { (*acc).q2 += mac(w, a.q2); }
  if (TQ > 3u) { (*acc).q3 += mac(w, a.q3); }
  if (TQ > 4u) { (*acc).q4 += mac(w, a.q4); }
  if (TQ > 5u) { (*acc).q5 += mac(w, a.q5); }
  if (TQ > 6u) { (*acc).q6 += mac(w, a.q6); }
  if (TQ > 7u) { (*acc).q7 += mac(w, a.q7); }
}

/** Stores vec4 column kv of the TQ quads: pixels m0 .. m0 + 4*TQ - 1. */
fn storeColumn(acc: ColumnAcc, m0: u32, g: u32, kv: u32) {
  store(acc.q0, m0, g, kv);
  if (TQ > 1u) { store(acc.q1, m0 + 4u, g, kv); }
  if (TQ > 2u) { store(acc.q2, m0 + 8u, g, kv); }
  if (TQ > 3u) { store(acc.q3, m0 + 12u, g, kv); }
  if (TQ > 4u) { store(acc.q4, m0 + 16u, g, kv); }
  if (TQ > 5u) { store(acc.q5, m0 + 20u, g, kv); }
  if (TQ > 6u) { store(acc.q6, m0 + 24u, g, kv); }
  if (TQ > 7u) { store(acc.q7, m0 + 28u, g, kv); }
}

/** Bias, epilogue and store of one accumulator: pixels m..m+3 (only those < M), vec4 column kv of group g. */
fn store(acc: mat4x4<f32>, m: u32, g: u32, kv: u32) {
  let b = wts[params.biasOffset / 4u + g * (params.Kgp / 4u) + kv];
  storePixel(acc[0] + b, m, g, kv);
  storePixel(acc[1] + b, m + 1u, g, kv);
  storePixel(acc[2] + b, m + 2u, g, kv);
  storePixel(acc[3] + b, m + 3u, g, kv);
}

fn storePixel(v: vec4<f32>, m: u32, g: u32, kv: u32) {
  if (m >= params.M) {
    return;
  }
#if VEC4_OUT
  let o = (m * params.K + g * params.Kg) / 4u + kv;   // vec4 index
#if RESIDUAL
  y[o] = max(v + res[o], vec4<f32>(0.0));
#elif RELU
  y[o] = max(v, vec4<f32>(0.0));
#else
  y[o] = v;
#endif
#else
  let o = m * params.K + g * params.Kg + kv * 4u;     // float index of the column's first channel
  let valid = min(params.Kg - kv * 4u, 4u);           // channels of this column that exist
  for (var l = 0u; l < valid; l++) {
#if RESIDUAL
    y[o + l] = max(v[l] + res[o + l], 0.0);
#elif RELU
    y[o + l] = max(v[l], 0.0);
#else
    y[o + l] = v[l];
#endif
  }
#endif
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let mTile = wid.x + wid.z * params.gridX;
  let m0 = (mTile * WG_X + lid.x) * 4u * TQ;
  let g = wid.y / params.nTiles;
  let cols = params.Kgp / 4u;                     // vec4 columns of this group
  let kv0 = ((wid.y % params.nTiles) * WG_Y + lid.y) * JN;
  if (m0 >= params.M || kv0 >= cols) {
    return;
  }
  let Cg = params.Cg;
  let cOffset = g * Cg;
  // Columns past this group's Kgp/4 reread column kv0 (their results are not stored).
  let lo = vec4<u32>(kv0) + vec4<u32>(0u, 1u, 2u, 3u);
  let hi = vec4<u32>(kv0) + vec4<u32>(4u, 5u, 6u, 7u);
  let kLo = select(vec4<u32>(kv0), lo, lo < vec4<u32>(cols));
  let kHi = select(vec4<u32>(kv0), hi, hi < vec4<u32>(cols));

  // Accumulators of vec4 columns 0..7; columns past JN and quads past TQ are never touched.
  var acc0: ColumnAcc; var acc1: ColumnAcc; var acc2: ColumnAcc; var acc3: ColumnAcc;
  var acc4: ColumnAcc; var acc5: ColumnAcc; var acc6: ColumnAcc; var acc7: ColumnAcc;

#if GEMM_1X1
  let quads = Quads(quadAt(m0, cOffset), quadAt(m0 + 4u, cOffset), quadAt(m0 + 8u, cOffset), quadAt(m0 + 12u, cOffset),
                    quadAt(m0 + 16u, cOffset), quadAt(m0 + 20u, cOffset), quadAt(m0 + 24u, cOffset), quadAt(m0 + 28u, cOffset));
  {
    let wBase = g * Cg * cols;                    // vec4 index of w[g, 0, 0, 0, 0]
#else
  let corners0 = cornersAt(m0);
  let corners1 = cornersAt(m0 + 4u);
  let corners2 = cornersAt(m0 + 8u);
  let corners3 = cornersAt(m0 + 12u);
  let corners4 = cornersAt(m0 + 16u);
  let corners5 = cornersAt(m0 + 20u);
  let corners6 = cornersAt(m0 + 24u);
  let corners7 = cornersAt(m0 + 28u);
  for (var rs = 0u; rs < params.R * params.S; rs++) {
    let r = rs / params.S;
    let s = rs - r * params.S;
    let quads = Quads(quadAt(corners0, r, s, cOffset), quadAt(corners1, r, s, cOffset), quadAt(corners2, r, s, cOffset),
                      quadAt(corners3, r, s, cOffset), quadAt(corners4, r, s, cOffset), quadAt(corners5, r, s, cOffset),
                      quadAt(corners6, r, s, cOffset), quadAt(corners7, r, s, cOffset));
    let wBase = (g * params.R * params.S + rs) * Cg * cols;
#endif
#if VEC4_IN
    for (var c = 0u; c < Cg; c += 4u) {
#else
    for (var c = 0u; c < Cg; c++) {
#endif
      let row = wBase + c * cols;
      let a = loadInputs(quads, c);
      accumulate(&acc0, loadColumn(row, cols, kLo.x), a);
      if (JN > 1u) { accumulate(&acc1, loadColumn(row, cols, kLo.y), a); }
      if (JN > 2u) { accumulate(&acc2, loadColumn(row, cols, kLo.z), a); }
      if (JN > 3u) { accumulate(&acc3, loadColumn(row, cols, kLo.w), a); }
      if (JN > 4u) { accumulate(&acc4, loadColumn(row, cols, kHi.x), a); }
      if (JN > 5u) { accumulate(&acc5, loadColumn(row, cols, kHi.y), a); }
      if (JN > 6u) { accumulate(&acc6, loadColumn(row, cols, kHi.z), a); }
      if (JN > 7u) { accumulate(&acc7, loadColumn(row, cols, kHi.w), a); }
    }
  }

  // Only the TQ x JN block, and only existing columns.
  storeColumn(acc0, m0, g, kLo.x);
  if (JN > 1u && kv0 + 1u < cols) { storeColumn(acc1, m0, g, kLo.y); }
  if (JN > 2u && kv0 + 2u < cols) { storeColumn(acc2, m0, g, kLo.z); }
  if (JN > 3u && kv0 + 3u < cols) { storeColumn(acc3, m0, g, kLo.w); }
  if (JN > 4u && kv0 + 4u < cols) { storeColumn(acc4, m0, g, kHi.x); }
  if (JN > 5u && kv0 + 5u < cols) { storeColumn(acc5, m0, g, kHi.y); }
  if (JN > 6u && kv0 + 6u < cols) { storeColumn(acc6, m0, g, kHi.z); }
  if (JN > 7u && kv0 + 7u < cols) { storeColumn(acc7, m0, g, kHi.w); }
}
