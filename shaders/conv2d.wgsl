// conv2d.wgsl: 2D convolution (grouped, strided, zero-padded) with a fused bias + ReLU / residual epilogue,
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
// One invocation computes TM consecutive pixels x JN vec4 columns (4*JN consecutive channels of one
// group) of y, accumulating in registers; columns always come from the padded Kgp, so the weight
// loads are vec4 in every variant.
// Workgroup (WG_X, WG_Y): WG_X invocations along pixels, WG_Y along column blocks.
// Grid: x * z = ceil(M / (WG_X*TM)) pixel tiles, split as x = min(tiles, 65535), z = ceil(tiles / x)
// (gridX = x in params); y = G * nTiles with nTiles = ceil(Kgp/4 / (WG_Y*JN)), y = g*nTiles + column tile.
// Invocations past M or past Kgp/4 return early (there are no barriers).
// Assumes TM <= TM_MAX and JN <= JN_MAX (checked in src/ops/conv2d.ts).

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  K: u32, P: u32, Q: u32, M: u32,       // M = N*P*Q
  R: u32, S: u32, stride: u32, pad: u32,
  G: u32, Cg: u32, Kg: u32, Kgp: u32,
  nTiles: u32, gridX: u32, biasOffset: u32, _unused: u32,
}

override WG_X: u32 = 32u;
override WG_Y: u32 = 2u;
/** Pixels per invocation. */
override TM: u32 = 8u;
/** vec4 output-channel columns per invocation. */
override JN: u32 = 2u;

const TM_MAX = 8u;
const JN_MAX = 4u;

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

fn epilogue(v: vec4<f32>, resIndex: u32) -> vec4<f32> {
#if RESIDUAL
#if VEC4_OUT
  return max(v + res[resIndex], vec4<f32>(0.0));
#else
  // resIndex is the float index of the first of 4 channels, all known to be < K here.
  return max(v + vec4<f32>(res[resIndex], res[resIndex + 1u], res[resIndex + 2u], res[resIndex + 3u]), vec4<f32>(0.0));
#endif
#elif RELU
  return max(v, vec4<f32>(0.0));
#else
  return v;
#endif
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = params.M;
  let mTile = wid.x + wid.z * params.gridX;
  let m0 = (mTile * WG_X + lid.x) * TM;
  let g = wid.y / params.nTiles;
  let cols = params.Kgp / 4u;                     // vec4 columns of this group
  let kv0 = ((wid.y % params.nTiles) * WG_Y + lid.y) * JN;
  if (m0 >= M || kv0 >= cols) {
    return;
  }
  let Cg = params.Cg;
  let C = params.C;

  var acc: array<vec4<f32>, TM_MAX * JN_MAX>;
  for (var i = 0u; i < TM * JN; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  // Columns past this group's Kgp/4 read the last valid column (their results are not stored).
  var col: array<u32, JN_MAX>;
  for (var j = 0u; j < JN; j++) {
    col[j] = min(kv0 + j, cols - 1u);
  }

#if GEMM_1X1
  // x is an (M, C) matrix; this group's slice starts at channel g*Cg. Pixels past M reread row M-1.
  var rowStart: array<u32, TM_MAX>;
  for (var i = 0u; i < TM; i++) {
    rowStart[i] = min(m0 + i, M - 1u) * C + g * Cg;
  }
  let wBase = g * Cg * cols;                      // vec4 index of w[g, 0, 0, 0, 0]
#if VEC4_IN
  for (var c = 0u; c < Cg; c += 4u) {
    var a: array<vec4<f32>, TM_MAX>;
    for (var i = 0u; i < TM; i++) {
      a[i] = x[(rowStart[i] + c) / 4u];
    }
    for (var cc = 0u; cc < 4u; cc++) {
      let wRow = wBase + (c + cc) * cols;
      for (var j = 0u; j < JN; j++) {
        let wv = wts[wRow + col[j]];
        for (var i = 0u; i < TM; i++) {
          acc[i * JN_MAX + j] = fma(vec4<f32>(a[i][cc]), wv, acc[i * JN_MAX + j]);
        }
      }
    }
  }
#else
  for (var c = 0u; c < Cg; c++) {
    let wRow = wBase + c * cols;
    for (var j = 0u; j < JN; j++) {
      let wv = wts[wRow + col[j]];
      for (var i = 0u; i < TM; i++) {
        acc[i * JN_MAX + j] = fma(vec4<f32>(x[rowStart[i] + c]), wv, acc[i * JN_MAX + j]);
      }
    }
  }
#endif

#else
  // Implicit GEMM: for each pixel keep its top-left input corner (ih0, iw0) and image row base.
  let H = params.H;
  let W = params.W;
  let PQ = params.P * params.Q;
  var ih0: array<i32, TM_MAX>;
  var iw0: array<i32, TM_MAX>;
  var imageBase: array<u32, TM_MAX>;              // n*H*W
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, M - 1u);
    let n = m / PQ;
    let pq = m - n * PQ;
    let p = pq / params.Q;
    let q = pq - p * params.Q;
    ih0[i] = i32(p * params.stride) - i32(params.pad);
    iw0[i] = i32(q * params.stride) - i32(params.pad);
    imageBase[i] = n * H * W;
  }
  let cOffset = g * Cg;
  for (var r = 0u; r < params.R; r++) {
    for (var s = 0u; s < params.S; s++) {
      // Where each pixel's input row (n, ih, iw, g*Cg ...) starts, and whether it is inside the image.
      var start: array<u32, TM_MAX>;
      var inside: array<bool, TM_MAX>;
      for (var i = 0u; i < TM; i++) {
        let ih = ih0[i] + i32(r);
        let iw = iw0[i] + i32(s);
        inside[i] = ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W);
        start[i] = select(0u, (imageBase[i] + u32(ih) * W + u32(iw)) * C + cOffset, inside[i]);
      }
      let wBase = ((g * params.R + r) * params.S + s) * Cg * cols;
#if VEC4_IN
      for (var c = 0u; c < Cg; c += 4u) {
        var a: array<vec4<f32>, TM_MAX>;
        for (var i = 0u; i < TM; i++) {
          a[i] = select(vec4<f32>(0.0), x[(start[i] + c) / 4u], inside[i]);
        }
        for (var cc = 0u; cc < 4u; cc++) {
          let wRow = wBase + (c + cc) * cols;
          for (var j = 0u; j < JN; j++) {
            let wv = wts[wRow + col[j]];
            for (var i = 0u; i < TM; i++) {
              acc[i * JN_MAX + j] = fma(vec4<f32>(a[i][cc]), wv, acc[i * JN_MAX + j]);
            }
          }
        }
      }
#else
      for (var c = 0u; c < Cg; c++) {
        let wRow = wBase + c * cols;
        var a: array<f32, TM_MAX>;
        for (var i = 0u; i < TM; i++) {
          a[i] = select(0.0, x[start[i] + c], inside[i]);
        }
        for (var j = 0u; j < JN; j++) {
          let wv = wts[wRow + col[j]];
          for (var i = 0u; i < TM; i++) {
            acc[i * JN_MAX + j] = fma(vec4<f32>(a[i]), wv, acc[i * JN_MAX + j]);
          }
        }
      }
#endif
    }
  }
#endif

  // Epilogue and store: bias, residual / ReLU, then only the pixels < M and channels < Kg.
  let K = params.K;
  let biasBase = params.biasOffset / 4u + g * cols;
  for (var j = 0u; j < JN; j++) {
    let kv = kv0 + j;
    if (kv >= cols) {
      break;
    }
    let b = wts[biasBase + kv];
    for (var i = 0u; i < TM; i++) {
      let m = m0 + i;
      if (m >= M) {
        break;
      }
#if VEC4_OUT
      let o = (m * K + g * params.Kg) / 4u + kv;  // vec4 index
      y[o] = epilogue(acc[i * JN_MAX + j] + b, o);
#else
      let o = m * K + g * params.Kg + kv * 4u;    // float index of the column's first channel
      let valid = min(params.Kg - kv * 4u, 4u);   // channels of this column that exist
      if (valid == 4u) {
        let v = epilogue(acc[i * JN_MAX + j] + b, o);
        y[o] = v.x;
        y[o + 1u] = v.y;
        y[o + 2u] = v.z;
        y[o + 3u] = v.w;
      } else {
        var v = acc[i * JN_MAX + j] + b;
        for (var l = 0u; l < valid; l++) {
#if RESIDUAL
          v[l] = max(v[l] + res[o + l], 0.0);
#elif RELU
          v[l] = max(v[l], 0.0);
#endif
          y[o + l] = v[l];
        }
      }
#endif
    }
  }
}
