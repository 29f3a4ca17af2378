// From a .safetensors checkpoint to folded f32 weights for a plan: choose the config, check every
// tensor against it (before any data is read or uploaded), fold each BatchNorm into its conv.
// Packing into kernel layouts and the upload are the runner's (src/graph/runner.ts), since the
// layout belongs to the kernel.

import { ARCHITECTURES, expectedTensors, getArchitecture, type ResNetConfig } from '../models/config.js';
import type { Plan, Step } from '../models/plan.js';
import { foldBatchNorm } from './fold.js';
import { decodeMetadata, WeightsFormatError, type ModelMetadata, type SafetensorsHeader } from './safetensors.js';

export class WeightsMismatchError extends WeightsFormatError {
  override name = 'WeightsMismatchError';
  constructor(
    message: string,
    /** Expected tensors the file lacks. */
    readonly missing: string[],
    /** Tensors in the file the architecture has no use for. */
    readonly unexpected: string[],
    /** Tensors present under the right name with the wrong shape or a non-float dtype. */
    readonly misshaped: { name: string; expected: number[]; actual: number[]; dtype: string }[],
  ) {
    super(message);
  }
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** How many names an error message lists per category before '... and N more'. */
const LIST_LIMIT = 8;

function list<T>(items: T[], show: (t: T) => string): string {
  const shown = items.slice(0, LIST_LIMIT).map(show).join(', ');
  return items.length > LIST_LIMIT ? `${shown}, ... and ${items.length - LIST_LIMIT} more` : shown;
}

/**
 * Checks the file's tensor list against `config` by name, dtype and shape. Throws a
 * WeightsMismatchError naming every missing, unexpected and mis-shaped tensor.
 */
export function checkTensors(header: SafetensorsHeader, config: ResNetConfig, what: string): void {
  const expected = expectedTensors(config);
  const names = new Set(expected.map((t) => t.name));
  const missing: string[] = [];
  const misshaped: WeightsMismatchError['misshaped'] = [];
  for (const t of expected) {
    const e = header.tensors.get(t.name);
    if (!e) { missing.push(t.name); continue; }
    const sameShape = e.shape.length === t.shape.length && e.shape.every((d, i) => d === t.shape[i]);
    if (!sameShape || !FLOAT_DTYPES.has(e.dtype)) misshaped.push({ name: t.name, expected: t.shape, actual: e.shape, dtype: e.dtype });
  }
  const unexpected = [...header.tensors.keys()].filter((n) => !names.has(n));
  if (missing.length + unexpected.length + misshaped.length === 0) return;
  const parts: string[] = [];
  if (misshaped.length) {
    parts.push(`${misshaped.length} mis-shaped: ` + list(misshaped, (m) =>
      `${m.name} is ${m.dtype} [${m.actual.join(', ')}], expected [${m.expected.join(', ')}]`));
  }
  if (missing.length) parts.push(`${missing.length} missing: ${list(missing, (s) => s)}`);
  if (unexpected.length) parts.push(`${unexpected.length} unexpected: ${list(unexpected, (s) => s)}`);
  const fileArch = header.metadata.arch;
  const hint = fileArch && fileArch !== config.name && fileArch !== 'custom'
    ? ` (the file's metadata says arch '${fileArch}')` : '';
  throw new WeightsMismatchError(`${what} does not hold ${config.name} weights${hint}: ${parts.join('; ')}`,
    missing, unexpected, misshaped);
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

export function metadataOf(header: SafetensorsHeader): ModelMetadata {
  return decodeMetadata(header.metadata);
}

/** Folded parameters of one conv or linear step, PyTorch layouts. */
export interface FoldedParams {
  /** conv: (K, C/G, R, S) with BN folded in; linear: (K, C). */
  weight: Float32Array;
  /** (K): conv bias (if any) and BN shift folded together; linear bias. */
  bias: Float32Array;
}

/**
 * The folded f32 parameters of one conv or linear step: the conv weight with its BatchNorm (and
 * conv bias, if any) folded in, or the fc weight and bias as they are. `tensor` decodes a tensor
 * of the checkpoint by name.
 */
export function foldStepWeights(step: Step, tensor: (name: string) => Float32Array, eps: number): FoldedParams {
  if (step.kind === 'conv') {
    const s = step;
    const bias = s.convBias ? tensor(`${s.conv}.bias`) : undefined;
    return foldBatchNorm(tensor(`${s.conv}.weight`), bias, tensor(`${s.bn}.weight`), tensor(`${s.bn}.bias`),
      tensor(`${s.bn}.running_mean`), tensor(`${s.bn}.running_var`), eps);
  }
  if (step.kind === 'linear') return { weight: tensor(`${step.weights}.weight`), bias: tensor(`${step.weights}.bias`) };
  throw new Error(`step ${step.name} (${step.kind}) has no weights`);
}

/** Folds the weights of every conv and linear step of `plan`. */
export function foldPlanWeights(plan: Plan, tensor: (name: string) => Float32Array): Map<string, FoldedParams> {
  const out = new Map<string, FoldedParams>();
  for (const s of plan.steps) {
    if (s.kind === 'conv' || s.kind === 'linear') out.set(s.name, foldStepWeights(s, tensor, plan.config.bnEps));
  }
  return out;
}
