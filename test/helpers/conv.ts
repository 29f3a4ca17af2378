// The convolution kernels' test scaffolding (test/conv2d*.test.ts): a case's name, a random problem
// drawn from a seed, one GPU run of a Conv2d on it, and the comparison with the plain-loop CPU
// reference (src/reference/conv2d.ts) at a tolerance scaled to the reduction length.

import type { GpuContext } from '../../src/gpu/device.js';
import type { Conv2d, Conv2dDesc } from '../../src/ops/conv2d.js';
import { conv2dOutputSize, hasResidual } from '../../src/ops/conv2d-geometry.js';
import { Conv2dWeights, type PreActParams } from '../../src/ops/conv2d-weights.js';
import { conv2dRef } from '../../src/reference/conv2d.js';
import { createTensor, readTensor, uploadTensor } from '../../src/gpu/buffers.js';
import { submitDispatches } from '../../src/gpu/dispatch.js';
import { assertClose, randomArray, rng } from './compare.js';

/** A test case: a Conv2dDesc whose epilogue defaults to 'none', and the tuning (a kernel family's fields) to force. */
export type ConvCase<Tuning> = Omit<Conv2dDesc, 'epilogue'> & { epilogue?: Conv2dDesc['epilogue']; tuning?: Tuning };

/** Spread first into a case: a dense convolution without epilogue. */
export const dense = { groups: 1, epilogue: 'none' } as const;

/** The case's shape, epilogue and tuning; `untuned` follows the shape where the case forces no tuning. */
export function convCaseName(c: ConvCase<unknown>, untuned = ''): string {
  return `N${c.N} ${c.H}x${c.W} C${c.C}->K${c.K} ${c.R}x${c.S}/${c.stride} pad${c.pad} G${c.groups} ${c.preAct ? 'pre-act ' : ''}${c.epilogue ?? 'none'}` +
    (c.tuning ? ` tuning ${JSON.stringify(c.tuning)}` : untuned);
}

/** Tolerance scaled to the reduction length L = R*S*C/G (outputs are O(1) by the weight scaling). */
export function convTolerance(desc: Conv2dDesc): { atol: number; rtol: number } {
  const L = desc.R * desc.S * (desc.C / desc.groups);
  const scale = Math.max(1, Math.sqrt(L / 16));
  return { atol: 1e-4 * scale, rtol: 1e-4 * scale };
}

/** A convolution's tensors: NHWC input, (K, C/G, R, S) weight, optional bias, residual and pre-activation. */
export interface ConvTensors {
  input: Float32Array;
  weight: Float32Array;
  bias?: Float32Array;
  residual?: Float32Array;
  pre?: PreActParams;
}

/** A case drawn at random: its description (epilogue filled in), tensors and output shape (N, P, Q, K). */
export interface ConvProblem extends ConvTensors {
  desc: Conv2dDesc;
  outputShape: [number, number, number, number];
}

/**
 * The case's tensors from `rng(seed)`, in this order: input in [-1, 1), weight in +-1/sqrt(L) (so outputs are
 * O(1)), bias in [-0.5, 0.5), a residual in [-1, 1) where the epilogue adds one, and for the pre-activation
 * prologue a scale in [-1.5, 1.5) and a shift in [-0.5, 0.5).
 */
export function randomConvProblem(c: ConvCase<unknown>, seed: number): ConvProblem {
  const desc: Conv2dDesc = { ...c, epilogue: c.epilogue ?? 'none' };
  const random = rng(seed);
  const L = desc.R * desc.S * (desc.C / desc.groups);
  const input = randomArray(desc.N * desc.H * desc.W * desc.C, random);
  const weight = randomArray(desc.K * L, random, -1 / Math.sqrt(L), 1 / Math.sqrt(L));
  const bias = randomArray(desc.K, random, -0.5, 0.5);
  const [P, Q] = conv2dOutputSize(desc);
  const residual = hasResidual(desc.epilogue) ? randomArray(desc.N * P * Q * desc.K, random) : undefined;
  // A BatchNorm's scale and shift: about half the prologue's outputs are clamped to zero.
  const pre = desc.preAct ? { scale: randomArray(desc.C, random, -1.5, 1.5), shift: randomArray(desc.C, random, -0.5, 0.5) } : undefined;
  return { desc, input, weight, bias, residual, pre, outputShape: [desc.N, P, Q, desc.K] };
}

export interface ConvRunOptions {
  /** Fill the output with NaN before the run, so that every element must be written. */
  fillNaN?: boolean;
}

/**
 * Runs `conv` once on `t` (GPU objects labelled `${label} input`, `${label} weights`, `${label} output`,
 * `${label} residual`; the submission `label`), reads the output back and frees what it made.
 */
export async function runConv2d(ctx: GpuContext, conv: Conv2d, desc: Conv2dDesc, t: ConvTensors, label: string,
  opts: ConvRunOptions = {}): Promise<{ values: Float32Array; shape: readonly number[] }> {
  const x = uploadTensor(ctx, `${label} input`, t.input, [desc.N, desc.H, desc.W, desc.C]);
  const w = Conv2dWeights.create(ctx, `${label} weights`, desc, t.weight, t.bias, t.pre);
  const y = createTensor(ctx, `${label} output`, conv.outputShape);
  if (opts.fillNaN) ctx.device.queue.writeBuffer(y.buffer, 0, new Float32Array(y.buffer.size / 4).fill(NaN));
  const res = t.residual ? uploadTensor(ctx, `${label} residual`, t.residual, conv.outputShape) : undefined;
  const dispatch = conv.bind(x, w, y, res);
  submitDispatches(ctx, label, [dispatch]);
  const values = await readTensor(ctx, y);
  dispatch.destroy();
  for (const b of [x.buffer, w, y.buffer, res?.buffer]) b?.destroy();
  return { values, shape: y.shape };
}

/** Runs `conv` on the problem and compares the output (shape, then values) with the CPU reference's, as `label`. */
export async function assertConvMatchesReference(ctx: GpuContext, conv: Conv2d, p: ConvProblem, label: string,
  opts: ConvRunOptions = {}): Promise<void> {
  const got = await runConv2d(ctx, conv, p.desc, p, label, opts);
  const expected = conv2dRef(p.input, p.desc, p.weight, p.bias, p.residual, p.pre);
  assertClose(got.values, expected, { ...convTolerance(p.desc), what: label, shape: { actual: got.shape, expected: conv.outputShape } });
}
