// Plain-loop CPU convolution: the oracle for shaders/conv2d.wgsl. Written to be obviously right,
// not fast: one output value at a time, every index spelled out.

import type { Conv2dDesc } from '../ops/conv2d-geometry.js';

/**
 * out[n, p, q, k] = epilogue(bias[k] + sum over (c, r, s) of
 *   input[n, p*stride - pad + r, q*stride - pad + s, g*C/G + c] * weight[k, c, r, s]),  g = floor(k / (K/G)),
 * with out-of-range input positions read as zero. Epilogues: none; relu; residual-relu =
 * relu(conv + bias + residual[n, p, q, k]).
 *
 * input    (N, H, W, C)
 * weight   (K, C/G, R, S)   PyTorch order
 * bias     (K), optional (zeros)
 * residual (N, P, Q, K), required by 'residual-relu' only
 * returns  (N, P, Q, K)
 */
export function conv2dRef(input: Float32Array, desc: Conv2dDesc, weight: Float32Array,
  bias?: Float32Array, residual?: Float32Array): Float32Array {
  const { N, H, W, C, K, R, S, stride, pad, groups: G, epilogue } = desc;
  const Cg = C / G;
  const Kg = K / G;
  if (!Number.isInteger(Cg) || !Number.isInteger(Kg)) throw new Error(`conv2dRef: groups ${G} must divide C ${C} and K ${K}`);
  // The output size by the oracle's own arithmetic (the GPU op's is conv2dOutputSize).
  const P = Math.floor((H + 2 * pad - R) / stride) + 1;
  const Q = Math.floor((W + 2 * pad - S) / stride) + 1;
  if (input.length !== N * H * W * C) throw new Error(`conv2dRef: input has ${input.length} values, expected N*H*W*C = ${N * H * W * C}`);
  if (weight.length !== K * Cg * R * S) throw new Error(`conv2dRef: weight has ${weight.length} values, expected K*C/G*R*S = ${K * Cg * R * S}`);
  if (bias && bias.length !== K) throw new Error(`conv2dRef: bias has ${bias.length} values, expected K = ${K}`);
  if (epilogue === 'residual-relu' && (!residual || residual.length !== N * P * Q * K)) {
    throw new Error(`conv2dRef: residual-relu needs a residual of N*P*Q*K = ${N * P * Q * K} values`);
  }

  const out = new Float32Array(N * P * Q * K);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        for (let k = 0; k < K; k++) {
          const g = Math.floor(k / Kg);
          let sum = bias ? bias[k] : 0;
          for (let c = 0; c < Cg; c++) {
            for (let r = 0; r < R; r++) {
              for (let s = 0; s < S; s++) {
                const h = p * stride - pad + r;
                const w = q * stride - pad + s;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                const x = input[((n * H + h) * W + w) * C + g * Cg + c];
                const wt = weight[((k * Cg + c) * R + r) * S + s];
                sum += x * wt;
              }
            }
          }
          const o = ((n * P + p) * Q + q) * K + k;
          if (epilogue === 'residual-relu') sum += residual![o];
          if (epilogue !== 'none') sum = Math.max(0, sum);
          out[o] = sum;
        }
      }
    }
  }
  return out;
}
