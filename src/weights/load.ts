// From a .safetensors checkpoint to folded f32 weights for a plan: choose the config, check every
// tensor against it (before any data is read or uploaded), fold each BatchNorm into its conv.
// Packing into kernel layouts and the upload are the runner's (src/graph/runner.ts), since the
// layout belongs to the kernel.

import { ARCHITECTURES, getArchitecture, type ResNetConfig } from '../models/config.js';
import { buildPlan, tensorMismatch, type Plan, type Step, type TensorMismatch } from '../models/plan.js';
import type { PreActParams } from '../ops/conv2d-weights.js';
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
 * The config to build: `config` if given, else the named `arch`, else the file's metadata
 * (its 'config' JSON when arch is 'custom' or not a known name, else the table entry).
 */
export function resolveConfig(meta: Record<string, string>, what: string, arch?: string, config?: ResNetConfig): ResNetConfig {
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
 * avgpool's norm as a scale and shift. `tensor` decodes a tensor of the checkpoint by name.
 */
export function foldStepWeights(step: Step, tensor: (name: string) => Float32Array, eps: number): FoldedParams {
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
