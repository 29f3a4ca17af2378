// conv2d-v0.wgsl (bench record: shaders/conv2d.wgsl before the 32 x 32 blocks): 2D convolution (grouped, strided, zero-padded) with a fused bias + ReLU / residual epilogue,
// as an implicit GEMM with register tiling and no workgroup memory or barriers.
//
// Computes, for every output pixel m = (n, p, q) and output channel k = g*Kg + kk of group g:
//   y[n, p, q, k] = epilogue(bias[k] + sum over (r, s, c < Cg) of
//                   x[n, p*stride - pad + r, q*stride - pad + s, g*Cg + c] * w[g, r, s, c, kk])
// with input positions outside the image read as zero, and
//   epilogue: none | RELU: max(0, .) | RESIDUAL: max(0, . + res[n, p, q, k]).
// Per group g this is a GEMM: M = N*P*Q rows (pixels) x Kg columns (channels), reduction R*S*Cg.
//
// Layouts (f32, dense):
//   x    (N, H, W, C)                                    input activations, C = G*Cg
//   wts  (G, R, S, Cg, Kgp) then bias (G, Kgp)           Kgp = Kg rounded up to a multiple of 4, padding
//                                                         columns zero; bias starts at float biasOffset
//                                                         = G*R*S*Cg*Kgp (a multiple of 4)
//   res  (N, P, Q, K)                                    residual, only with RESIDUAL
//   y    (N, P, Q, K)                                    output, K = G*Kg
//
// Bindings (group 0): 0 params (uniform), 1 x, 2 wts (+ bias), 3 res (RESIDUAL only), 4 y.
//
// Defines:
//   VEC4_IN   Cg % 4 == 0: x is read as vec4 over channels; else one channel at a time.
//   VEC4_OUT  Kg % 4 == 0: y and res are vec4 over channels; else scalar stores masked to k < Kg.
//   GEMM_1X1  R = S = 1, stride 1, pad 0: pixel m reads x row m directly (no spatial indexing).
//   RELU, RESIDUAL  the epilogue (RESIDUAL implies the ReLU after the add).
//
// Register block: one invocation computes TQ quads of 4 consecutive pixels x JN vec4 columns (4 consecutive
// output channels of one group each), i.e. 4*TQ pixels x 4*JN channels, held as TQ*JN mat4x4 accumulators
// (matrix columns = pixels, rows = channels). The accumulators are separate variables, not an array, so
// that CPU-backed drivers keep them in registers; TQ and JN (1 to 4 each) select how many are live.
// Columns always come from the padded Kgp, so weight loads are vec4 in every variant.
//
// Workgroup (WG_X, WG_Y): WG_X invocations along pixels, WG_Y along column blocks.
// Grid: x * z = ceil(M / (WG_X*4*TQ)) pixel tiles, split as x = min(tiles, maxComputeWorkgroupsPerDimension),
// z = ceil(tiles / x)
// (gridX = x in params); y = G * nTiles with nTiles = ceil(Kgp/4 / (WG_Y*JN)), y = g*nTiles + column tile.
// Invocations past M or past Kgp/4 return early (there are no barriers).
//
// This barrier-free path is what CPU-backed adapters (SwiftShader, llvmpipe) run fastest. Hardware GPUs
// would prefer tiles staged through workgroup memory; that would be another define-selected variant
// of this file (not written yet).

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  K: u32, P: u32, Q: u32, M: u32,       // M = N*P*Q
  R: u32, S: u32, stride: u32, pad: u32,
  G: u32, Cg: u32, Kg: u32, Kgp: u32,
  nTiles: u32, gridX: u32, biasOffset: u32, _unused: u32,
}

override WG_X: u32 = 32u;
override WG_Y: u32 = 2u;
/** Pixel quads per invocation: 1 to 4. */
override TQ: u32 = 2u;
/** vec4 output-channel columns per invocation: 1 to 4. */
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

/** Stores the first TQ quads of one vec4 column kv: pixels m0 .. m0 + 4*TQ - 1. */
fn storeColumn(q0: mat4x4<f32>, q1: mat4x4<f32>, q2: mat4x4<f32>, q3: mat4x4<f32>, m0: u32, g: u32, kv: u32) {
  store(q0, m0, g, kv);
  if (TQ > 1u) { store(q1, m0 + 4u, g, kv); }
  if (TQ > 2u) { store(q2, m0 + 8u, g, kv); }
  if (TQ > 3u) { store(q3, m0 + 12u, g, kv); }
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
  let col0 = kv0;
  let col1 = select(kv0, kv0 + 1u, kv0 + 1u < cols);
  let col2 = select(kv0, kv0 + 2u, kv0 + 2u < cols);
  let col3 = select(kv0, kv0 + 3u, kv0 + 3u < cols);

  // Accumulators acc<quad><column>. All sixteen are updated below without conditions; those outside the
  // TQ x JN block are never stored, so the compiler removes them with their loads (TQ, JN are constants).
  var acc00 = mat4x4<f32>(); var acc01 = mat4x4<f32>(); var acc02 = mat4x4<f32>(); var acc03 = mat4x4<f32>();
  var acc10 = mat4x4<f32>(); var acc11 = mat4x4<f32>(); var acc12 = mat4x4<f32>(); var acc13 = mat4x4<f32>();
  var acc20 = mat4x4<f32>(); var acc21 = mat4x4<f32>(); var acc22 = mat4x4<f32>(); var acc23 = mat4x4<f32>();
  var acc30 = mat4x4<f32>(); var acc31 = mat4x4<f32>(); var acc32 = mat4x4<f32>(); var acc33 = mat4x4<f32>();

#if GEMM_1X1
  let quad0 = quadAt(m0, cOffset);
  let quad1 = quadAt(m0 + 4u, cOffset);
  let quad2 = quadAt(m0 + 8u, cOffset);
  let quad3 = quadAt(m0 + 12u, cOffset);
  {
    let wBase = g * Cg * cols;                    // vec4 index of w[g, 0, 0, 0, 0]
#else
  let corners0 = cornersAt(m0);
  let corners1 = cornersAt(m0 + 4u);
  let corners2 = cornersAt(m0 + 8u);
  let corners3 = cornersAt(m0 + 12u);
  for (var rs = 0u; rs < params.R * params.S; rs++) {
    let r = rs / params.S;
    let s = rs - r * params.S;
    let quad0 = quadAt(corners0, r, s, cOffset);
    let quad1 = quadAt(corners1, r, s, cOffset);
    let quad2 = quadAt(corners2, r, s, cOffset);
    let quad3 = quadAt(corners3, r, s, cOffset);
    let wBase = (g * params.R * params.S + rs) * Cg * cols;
#endif
#if VEC4_IN
    for (var c = 0u; c < Cg; c += 4u) {
      let row = wBase + c * cols;
      let a0 = loadInput(quad0, c);
      let a1 = loadInput(quad1, c);
      let a2 = loadInput(quad2, c);
      let a3 = loadInput(quad3, c);
      let w0 = loadWeights(row, cols, col0);
      acc00 += w0 * a0; acc10 += w0 * a1; acc20 += w0 * a2; acc30 += w0 * a3;
      let w1 = loadWeights(row, cols, col1);
      acc01 += w1 * a0; acc11 += w1 * a1; acc21 += w1 * a2; acc31 += w1 * a3;
      let w2 = loadWeights(row, cols, col2);
      acc02 += w2 * a0; acc12 += w2 * a1; acc22 += w2 * a2; acc32 += w2 * a3;
      let w3 = loadWeights(row, cols, col3);
      acc03 += w3 * a0; acc13 += w3 * a1; acc23 += w3 * a2; acc33 += w3 * a3;
    }
#else
    for (var c = 0u; c < Cg; c++) {
      let row = wBase + c * cols;
      let a0 = loadInput(quad0, c);
      let a1 = loadInput(quad1, c);
      let a2 = loadInput(quad2, c);
      let a3 = loadInput(quad3, c);
      let w0 = wts[row + col0];
      acc00 += outer(w0, a0); acc10 += outer(w0, a1); acc20 += outer(w0, a2); acc30 += outer(w0, a3);
      let w1 = wts[row + col1];
      acc01 += outer(w1, a0); acc11 += outer(w1, a1); acc21 += outer(w1, a2); acc31 += outer(w1, a3);
      let w2 = wts[row + col2];
      acc02 += outer(w2, a0); acc12 += outer(w2, a1); acc22 += outer(w2, a2); acc32 += outer(w2, a3);
      let w3 = wts[row + col3];
      acc03 += outer(w3, a0); acc13 += outer(w3, a1); acc23 += outer(w3, a2); acc33 += outer(w3, a3);
    }
#endif
  }

  // Only the TQ x JN block, and only existing columns.
  storeColumn(acc00, acc10, acc20, acc30, m0, g, col0);
  if (JN > 1u && kv0 + 1u < cols) { storeColumn(acc01, acc11, acc21, acc31, m0, g, col1); }
  if (JN > 2u && kv0 + 2u < cols) { storeColumn(acc02, acc12, acc22, acc32, m0, g, col2); }
  if (JN > 3u && kv0 + 3u < cols) { storeColumn(acc03, acc13, acc23, acc33, m0, g, col3); }
}
