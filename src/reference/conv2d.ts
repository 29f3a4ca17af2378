// Plain-loop CPU convolution: the oracle for shaders/conv2d.wgsl. Written to be obviously right,
// not fast: one output value at a time, every index spelled out.

import { hasResidual, type Conv2dDesc } from '../ops/conv2d-geometry.js';
import type { PreActParams } from '../ops/conv2d-weights.js';

/**
 * out[n, p, q, k] = epilogue(bias[k] + sum over (c, r, s) of
 *   a(input[n, p*stride - pad + r, q*stride - pad + s, g*C/G + c]) * weight[k, c, r, s]),  g = floor(k / (K/G)),
 * with out-of-range input positions read as zero. Prologue a: identity, or with desc.preAct
 * relu(x * pre.scale[ch] + pre.shift[ch]) (padding stays zero). Epilogues: none; relu; residual-relu =
 * relu(conv + bias + residual[n, p, q, k]); residual = conv + bias + residual[n, p, q, k].
 *
 * input    (N, H, W, C)
 * weight   (K, C/G, R, S)   PyTorch order
 * bias     (K), optional (zeros)
 * residual (N, P, Q, K), required by 'residual-relu' and 'residual' only
 * pre      scale and shift (C each), required by preAct only
 * returns  (N, P, Q, K)
 */
export function conv2dRef(input: Float32Array, desc: Conv2dDesc, weight: Float32Array,
  bias?: Float32Array, residual?: Float32Array, pre?: PreActParams): Float32Array {
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
  if (hasResidual(epilogue) && (!residual || residual.length !== N * P * Q * K)) {
    throw new Error(`conv2dRef: ${epilogue} needs a residual of N*P*Q*K = ${N * P * Q * K} values`);
  }
  if (desc.preAct && (!pre || pre.scale.length !== C || pre.shift.length !== C)) {
    throw new Error(`conv2dRef: preAct needs a scale and a shift of C = ${C} values each`);
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
                const ch = g * Cg + c;
                let x = input[((n * H + h) * W + w) * C + ch];
                if (desc.preAct) x = Math.max(0, x * pre!.scale[ch] + pre!.shift[ch]);
                const wt = weight[((k * Cg + c) * R + r) * S + s];
                sum += x * wt;
              }
            }
          }
          const o = ((n * P + p) * Q + q) * K + k;
          if (hasResidual(epilogue)) sum += residual![o];
          if (epilogue === 'relu' || epilogue === 'residual-relu') sum = Math.max(0, sum);
          out[o] = sum;
        }
      }
    }
  }
  return out;
}
