// Kernel variants the microbenchmark (`npm run bench -- --micro`) compares: the production kernel
// (shaders/conv2d.wgsl with the runtime's tuning), the same kernel with forced register blocks, and
// the numbered experiments kept in bench/kernels/ (index of all of them, kept or not, with their
// commits: bench/kernels/README.md). A kept variant has the contract of shaders/conv2d.wgsl except
// that it reads the packed weights from a storage buffer; bench/micro.ts builds its pipeline with the
// production Conv2d's defines, overrides, Params and grid for the same shape and tuning.

import type { GpuContext } from '../src/gpu/device.js';
import type { Conv2dDesc, Conv2dTuning, Conv2dTuningOverride, RegisterTuning } from '../src/ops/conv2d.js';

export interface KernelVariant {
  name: string;
  /** bench/kernels/<file> (weights in a storage buffer); undefined = the production shaders/conv2d.wgsl. */
  file?: string;
  /** Tuning over the runtime's default for the shape (`runtime`); undefined = the default. */
  tuning?: (ctx: GpuContext, desc: Conv2dDesc, runtime: Conv2dTuning) => Conv2dTuningOverride | undefined;
  description: string;
}

/** One SIMD batch of lanes along pixels. */
function pixelLanes(ctx: GpuContext): Partial<RegisterTuning> {
  return { channelLanes: false, wgX: ctx.source === 'llvmpipe' ? 8 : 4, wgY: 1 };
}

/** A forced register block of 4*tq pixels x 4*jn channels, one SIMD batch of lanes along pixels. */
function block(tq: number, jn: number, direct = false) {
  return (ctx: GpuContext, desc: Conv2dDesc): Partial<RegisterTuning> => ({
    ...pixelLanes(ctx), tq, jn: Math.min(jn, Math.ceil(desc.K / desc.groups / 4)), direct,
  });
}

export const VARIANTS: KernelVariant[] = [
  { name: 'default', description: 'shaders/conv2d.wgsl with the runtime\'s tuning for this adapter and shape' },
  {
    name: 'implicit', description: 'shaders/conv2d.wgsl, the runtime\'s block, the implicit-GEMM path only',
    tuning: () => ({ direct: false }),
  },
  { name: 'v4', file: 'conv2d-v4.wgsl', description: 'v4 (weights in a storage buffer), the runtime\'s tuning' },
  { name: '32x32', tuning: block(8, 8), description: '32 pixels x 32 channels, implicit' },
  { name: '16x32', tuning: block(4, 8), description: '16 pixels x 32 channels, implicit' },
  { name: '32x16', tuning: block(8, 4), description: '32 pixels x 16 channels, implicit' },
  { name: '8x32', tuning: block(2, 8), description: '8 pixels x 32 channels, implicit' },
  { name: '16x16', tuning: block(4, 4), description: '16 pixels x 16 channels, implicit' },
];

const TUNING_KEYS = {
  family: 'string', wgX: 'number', wgY: 'number', tq: 'number', jn: 'number', direct: 'boolean', channelLanes: 'boolean',
  bm: 'number', bn: 'number', bk: 'number', tm: 'number', tn: 'number', splitK: 'number',
} as const;

/**
 * Parses a --tuning value: a JSON object with some of Conv2dTuning's fields, those of the register family
 * or, with "family": "tiled", the tiled family's (Conv2d.create checks the values).
 */
export function parseTuning(text: string): Conv2dTuningOverride {
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch {
    throw new Error(`--tuning '${text}' is not JSON`);
  }
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new Error(`--tuning '${text}' is not a JSON object`);
  for (const [k, v] of Object.entries(t)) {
    const type = TUNING_KEYS[k as keyof typeof TUNING_KEYS];
    if (!type) throw new Error(`--tuning: unknown field '${k}'; known: ${Object.keys(TUNING_KEYS).join(', ')}`);
    if (typeof v !== type) throw new Error(`--tuning: ${k} must be a ${type}, got ${JSON.stringify(v)}`);
  }
  return t as Conv2dTuningOverride;
}

/** The production kernel with a given tuning over the runtime's (micro --tuning). */
export function tuningVariant(t: Conv2dTuningOverride, n: number): KernelVariant {
  return { name: `tuning${n}`, tuning: () => t, description: `${t.family === 'tiled' ? 'shaders/conv2d-tiled.wgsl' : 'shaders/conv2d.wgsl'} with ${JSON.stringify(t)}` };
}

export function findVariants(names: string[] | undefined): KernelVariant[] {
  if (!names || names.length === 0) return VARIANTS;
  return names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n);
    if (!v) throw new Error(`unknown kernel variant '${n}'; known: ${VARIANTS.map((x) => x.name).join(', ')}`);
    return v;
  });
}
