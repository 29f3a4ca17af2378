// From a .safetensors checkpoint to folded f32 weights for a plan: choose the config, check every
// tensor against it (before any data is read or uploaded), fold each BatchNorm into its conv.
// Packing into kernel layouts and the upload are the runner's (src/graph/runner.ts), since the
// layout belongs to the kernel.

import { ARCHITECTURES, getArchitecture, type ResNetConfig } from '../models/config.js';
import { buildPlan, tensorMismatch, type Plan, type Step, type TensorMismatch } from '../models/plan.js';
import type { PreActParams } from '../ops/conv2d-weights.js';
import { firstNonFinite } from '../finite.js';
import { batchNormAffine, foldBatchNorm } from './fold.js';
import { WeightsFormatError, type SafetensorsHeader } from './safetensors.js';

export class WeightsMismatchError extends WeightsFormatError {
  override name = 'WeightsMismatchError';
  constructor(
    message: string,
    /** Expected tensors the file lacks. */
    readonly missing: string[],
    /** Tensors in the file the architecture has no use for. */
    readonly unexpected: string[],
    /** Tensors present under the right name with the wrong shape. */
    readonly misshaped: TensorMismatch['misshaped'],
  ) {
    super(message);
  }
}

/**
 * A tensor holds NaN or an infinity (or folding a BatchNorm gave one: a negative running_var, say).
 * Such weights make every output NaN, so loading stops; there is no option to load them anyway.
 */
export class NonFiniteWeightsError extends WeightsFormatError {
  override name = 'NonFiniteWeightsError';
  constructor(message: string, /** The checkpoint tensor, or the step whose folded weights, holding the value. */ readonly tensor: string) {
    super(message);
  }
}

/** Throws NonFiniteWeightsError naming `name` (of `what`, the file) when `data` holds NaN or an infinity. */
export function checkFiniteTensor(data: ArrayLike<number>, name: string, what: string): void {
  const i = firstNonFinite(data);
  if (i >= 0) {
    throw new NonFiniteWeightsError(`${what}: tensor ${name} holds ${data[i]} (at flat index ${i}): the weights are ` +
      'corrupt or diverged in training; they cannot give finite outputs', name);
  }
}

/**
 * Checks the file's tensor list against the network (its plan, or the config to build it from) by
 * name and shape (tensorMismatch). Throws a WeightsMismatchError naming every missing, unexpected
 * and mis-shaped tensor. The dtypes need no check: the safetensors reader accepts only float ones.
 */
export function checkTensors(header: SafetensorsHeader, network: Plan | ResNetConfig, what: string): void {
  const plan = 'steps' in network ? network : buildPlan(network);
  const mismatch = tensorMismatch(plan, header.tensors);
  if (!mismatch) return;
  const name = plan.config.name;
  const fileArch = header.metadata.arch;
  const hint = fileArch && fileArch !== name && fileArch !== 'custom' ? ` (the file's metadata says arch '${fileArch}')` : '';
  throw new WeightsMismatchError(`${what} does not hold ${name} weights${hint}: ${mismatch.details}`,
    mismatch.missing, mismatch.unexpected, mismatch.misshaped);
}

/**
 * Why a config from the input cannot be built for a file of `tensorCount` tensors, before its plan
 * is built (building the plan of `layers: [1, 2, 3000000]` would take gigabytes): every residual
 * block has at least two conv weights, so a file with fewer than 2 tensors per block cannot hold
 * the network. undefined when the count fits (or the config lists no layers: the plan's own
 * validator reports that).
 */
export function blockCountProblem(config: unknown, tensorCount: number): string | undefined {
  const layers = (config as { layers?: unknown } | null)?.layers;
  if (!Array.isArray(layers)) return undefined;
  let blocks = 0;
  for (const n of layers) if (typeof n === 'number' && n > 0) blocks += n;
  if (!(2 * blocks <= tensorCount)) {
    return `config layers ${JSON.stringify(layers).slice(0, 80)} give ${blocks} residual blocks, more than ${tensorCount} tensors can hold ` +
      '(each block has at least two conv weights)';
  }
  return undefined;
}

/**
 * The config to build: `config` if given, else the named `arch`, else the file's metadata
 * (its 'config' JSON when arch is 'custom' or not a known name, else the table entry). A config
 * from the metadata is bounded by the file's `tensorCount` first (blockCountProblem).
 */
export function resolveConfig(meta: Record<string, string>, what: string, arch?: string, config?: ResNetConfig,
  tensorCount?: number): ResNetConfig {
  if (config) return structuredClone(config);
  if (arch) return getArchitecture(arch);
  const fileArch = meta.arch;
  if (fileArch && fileArch !== 'custom' && fileArch in ARCHITECTURES) return getArchitecture(fileArch);
  if (meta.config !== undefined) {
    let c: ResNetConfig;
    try {
      c = JSON.parse(meta.config) as ResNetConfig;
    } catch (e) {
      throw new WeightsFormatError(`${what}: metadata 'config' is not valid JSON (${(e as Error).message})`);
    }
    if (typeof c !== 'object' || c === null) throw new WeightsFormatError(`${what}: metadata 'config' is not an object`);
    const problem = tensorCount === undefined ? undefined : blockCountProblem(c, tensorCount);
    if (problem) throw new WeightsFormatError(`${what}: metadata 'config' does not fit the file: ${problem}`);
    return c;
  }
  throw new WeightsFormatError(`${what}: no architecture given and the file's metadata names none we know ` +
    `(arch '${fileArch ?? ''}', no 'config'); name the architecture (one of ${Object.keys(ARCHITECTURES).join(', ')}) ` +
    `or give a full config`);
}

/** Folded parameters of one step with weights (hasWeights), PyTorch layouts. */
export interface FoldedParams {
  /** conv: (K, C/G, R, S) with BN folded in; linear: (K, C); squeeze-excite: fc1 (hidden, K, 1, 1); avgpool: the norm's scale (C). */
  weight: Float32Array;
  /** (K): conv bias (if any) and BN shift folded together; linear bias; squeeze-excite: fc1's (hidden); avgpool: the norm's shift (C). */
  bias: Float32Array;
  /** conv with preNorm: the prologue's scale and shift (C each). */
  pre?: PreActParams;
  /** squeeze-excite only: fc2's weight (K, hidden, 1, 1) and bias (K). */
  fc2?: { weight: Float32Array; bias: Float32Array };
}

/**
 * The folded f32 parameters of one step with weights (hasWeights): the conv weight with its
 * BatchNorm (and conv bias, if any) folded in and its preNorm as a scale and shift; the fc weight and
 * bias as they are (a 1x1 conv's weight has the same values); SE's fc1 and fc2 as they are; the
 * avgpool's norm as a scale and shift. `read` decodes a tensor of the checkpoint by name. Every tensor
 * read and every folded array is checked for NaN and infinities (NonFiniteWeightsError naming the
 * tensor, or the step; `what` names the file).
 */
export function foldStepWeights(step: Step, read: (name: string) => Float32Array, eps: number, what = 'the weights'): FoldedParams {
  // A conv's or linear's weight (nearly all the bytes) is checked once, in its folded form: a non-finite
  // weight always folds to a non-finite one (w * scale; NaN where an infinite w meets a scale of 0). Only
  // when the folded weight is not finite is the raw one scanned, to name it.
  const big = step.kind === 'conv' ? `${step.conv}.weight` : step.kind === 'linear' ? `${step.weights}.weight` : undefined;
  let bigData: Float32Array | undefined;
  const tensor = (name: string) => {
    const data = read(name);
    if (name === big) bigData = data;
    else checkFiniteTensor(data, name, what);
    return data;
  };
  const folded = foldChecked(step, tensor, eps);
  for (const [part, data] of [['weight', folded.weight], ['bias', folded.bias], ['pre.scale', folded.pre?.scale],
    ['pre.shift', folded.pre?.shift]] as const) {
    if (!data) continue;
    const i = firstNonFinite(data);
    if (i >= 0) {
      if (bigData) checkFiniteTensor(bigData, big!, what);
      throw new NonFiniteWeightsError(`${what}: folding ${step.name}'s BatchNorm gives ${data[i]} in its ${part} (at ${i}): ` +
        'a running_var below -eps, or values that overflow float32', step.name);
    }
  }
  return folded;
}

function foldChecked(step: Step, tensor: (name: string) => Float32Array, eps: number): FoldedParams {
  const affine = (bn: string) => batchNormAffine(tensor(`${bn}.weight`), tensor(`${bn}.bias`), tensor(`${bn}.running_mean`),
    tensor(`${bn}.running_var`), eps);
  if (step.kind === 'conv') {
    const s = step;
    const weight = tensor(`${s.conv}.weight`);
    const bias = s.convBias ? tensor(`${s.conv}.bias`) : undefined;
    const folded = s.bn
      ? foldBatchNorm(weight, bias, tensor(`${s.bn}.weight`), tensor(`${s.bn}.bias`), tensor(`${s.bn}.running_mean`),
        tensor(`${s.bn}.running_var`), eps)
      : { weight, bias: bias ?? new Float32Array(s.K) };
    return s.preNorm ? { ...folded, pre: affine(s.preNorm) } : folded;
  }
  if (step.kind === 'linear') return { weight: tensor(`${step.weights}.weight`), bias: tensor(`${step.weights}.bias`) };
  if (step.kind === 'squeeze-excite') {
    const { se } = step;
    return { weight: tensor(`${se}.fc1.weight`), bias: tensor(`${se}.fc1.bias`),
      fc2: { weight: tensor(`${se}.fc2.weight`), bias: tensor(`${se}.fc2.bias`) } };
  }
  if (step.kind === 'eca') return { weight: tensor(`${step.eca}.conv.weight`), bias: new Float32Array(0) };
  if (step.kind === 'avgpool' && step.norm) {
    const { scale, shift } = affine(step.norm);
    return { weight: scale, bias: shift };
  }
  throw new Error(`step ${step.name} (${step.kind}) has no weights`);
}
