// Kernel variants the microbenchmark (`npm run bench -- --micro`) compares: the production kernel
// (shaders/conv2d.wgsl with the runtime's tuning) and numbered experiments in bench/kernels/, each
// with the same contract as shaders/conv2d.wgsl (bindings, Params, packed weight layout, grid), so
// that they run through the same Conv2d op (Conv2dOptions.shaderSource). A variant that wins is
// promoted into shaders/ and its file kept here as the record.

import type { GpuContext } from '../src/gpu/device.js';
import type { Conv2dDesc, Conv2dTuning } from '../src/ops/conv2d.js';

export interface KernelVariant {
  name: string;
  /** bench/kernels/<file>; undefined = the production shaders/conv2d.wgsl. */
  file?: string;
  /** Tuning over the runtime's default for the shape; undefined = the default. */
  tuning?: (ctx: GpuContext, desc: Conv2dDesc) => Partial<Conv2dTuning> | undefined;
  description: string;
}

const fixed = (t: Partial<Conv2dTuning>) => () => t;

export const VARIANTS: KernelVariant[] = [
  { name: 'default', description: 'shaders/conv2d.wgsl, the runtime\'s tuning for this adapter and shape' },
  { name: 'v0', file: 'conv2d-v0.wgsl', description: 'register-tiled implicit GEMM, up to 16 pixels x 16 channels (the kernel as first written)' },
  { name: 'v0 8x8', file: 'conv2d-v0.wgsl', tuning: fixed({ tq: 2, jn: 2, wgX: 32, wgY: 2 }), description: 'v0, 8 pixels x 8 channels' },
  { name: 'v0 8x16', file: 'conv2d-v0.wgsl', tuning: fixed({ tq: 2, jn: 4, wgX: 32, wgY: 2 }), description: 'v0, 8 pixels x 16 channels' },
  { name: 'v0 16x16 wg64x1', file: 'conv2d-v0.wgsl', tuning: fixed({ tq: 4, jn: 4, wgX: 64, wgY: 1 }), description: 'v0, 16x16, one column block per workgroup' },
];

export function findVariants(names: string[] | undefined): KernelVariant[] {
  if (!names || names.length === 0) return VARIANTS;
  return names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n);
    if (!v) throw new Error(`unknown kernel variant '${n}'; known: ${VARIANTS.map((x) => x.name).join(', ')}`);
    return v;
  });
}
