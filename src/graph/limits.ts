// The device's limits against a plan's batch size: every tensor of an inference lives in one
// storage binding, so the largest one bounds the batch. Checked before anything is allocated.

import { elementCount, GpuLimitError } from '../gpu/buffers.js';
import type { Plan } from '../models/plan.js';
import { stepTensorShape } from './steps.js';

/** The limits that bound one storage binding. */
export interface BindingLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** Bytes per image of `plan`'s largest tensor, and that tensor's name. */
export function largestTensorPerImage(plan: Plan): { name: string; bytes: number } {
  let largest = { name: plan.input, bytes: 0 };
  for (const name of plan.tensors.keys()) {
    const bytes = elementCount(stepTensorShape(plan, name, 1)) * 4;
    if (bytes > largest.bytes) largest = { name, bytes };
  }
  return largest;
}

/** The largest batch of `plan` whose every tensor fits one storage binding under `limits` (0: not even one image). */
export function maxBatch(plan: Plan, limits: BindingLimits): number {
  const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return Math.floor(max / largestTensorPerImage(plan).bytes);
}

/** Throws GpuLimitError, saying the largest batch that fits, when batch `N` of `plan` does not fit `limits`. */
export function checkBatch(plan: Plan, N: number, limits: BindingLimits): void {
  const most = maxBatch(plan, limits);
  if (N <= most) return;
  const { name, bytes } = largestTensorPerImage(plan);
  const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const size = plan.config.inputSize;
  throw new GpuLimitError(`batch ${N} of ${plan.config.name} (${size} x ${size} input) needs ${N * bytes} bytes for tensor ` +
    `'${name}' (${bytes} per image) in one storage binding, but this device allows ${max}: ` +
    (most > 0 ? `use a batch of at most ${most}` : 'not even one image fits'));
}
