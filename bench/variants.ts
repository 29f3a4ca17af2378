// Kernel variants the microbenchmark (`npm run bench -- --micro`) compares: the production kernel
// (shaders/conv2d.wgsl with the runtime's tuning), the same kernel with forced register blocks, and
// the numbered experiments in bench/kernels/, each with the same contract as shaders/conv2d.wgsl at
// its time (bindings, Params, packed weight layout, grid), so that they run through the same Conv2d op
// (Conv2dOptions.shaderSource). A variant that wins is promoted into shaders/ and its file kept here.
//
//   v0  register-tiled implicit GEMM, up to 16 pixels x 16 channels as 16 separate mat4x4 variables
//   v1  up to 32 x 32: accumulators as one struct of 8 mat4x4 per vec4 column
//   v2  v1 + the direct path (a row of pixels slid across the kernel taps: one input load per tap
//       instead of 4*TQ)
//   v3  v2 + SIMD lanes along output channels where the cost model prefers them (CHANNEL_LANES: layers
//       with few pixels; 2.4x on the 7x7 maps at batch 1 on llvmpipe)
//   v4  v3 with up to 16 vec4 columns (32 x 64 blocks), which the cost model uses with the lanes along
//       channels on llvmpipe
//   v5  v4 with the weights in an rgba32float texture instead of a storage buffer (one texel fetch per
//       vec4; up to 1.35x on both CPU adapters): the production shaders/conv2d.wgsl ('default')
// v0 to v4 read the packed weights from a storage buffer (bufferWeights).

import type { GpuContext } from '../src/gpu/device.js';
import { conv2dOutputSize } from '../src/reference/conv2d.js';
import type { Conv2dDesc, Conv2dTuning } from '../src/ops/conv2d.js';

export interface KernelVariant {
  name: string;
  /** bench/kernels/<file>; undefined = the production shaders/conv2d.wgsl. */
  file?: string;
  /** The kernel reads its weights from a storage buffer (Conv2dOptions.bufferWeights). */
  bufferWeights?: boolean;
  /** Tuning over the runtime's default for the shape (`runtime`); undefined = the default. */
  tuning?: (ctx: GpuContext, desc: Conv2dDesc, runtime: Conv2dTuning) => Partial<Conv2dTuning> | undefined;
  description: string;
}

/** v0's default tuning (before the cost model): 16 x 16 blocks on CPU adapters, 8 pixels below 1024. */
function v0Tuning(ctx: GpuContext, desc: Conv2dDesc): Partial<Conv2dTuning> {
  const cols = Math.ceil(desc.K / desc.groups / 4);
  const maxInv = ctx.device.limits.maxComputeInvocationsPerWorkgroup;
  const [P, Q] = conv2dOutputSize(desc);
  const jn = Math.min(4, cols);
  const colBlocks = Math.ceil(cols / jn);
  const wgY = colBlocks >= 4 ? 4 : colBlocks >= 2 ? 2 : 1;
  return { wgX: Math.min(64, maxInv) / wgY, wgY, tq: desc.N * P * Q >= 1024 ? 4 : 2, jn, direct: false, channelLanes: false };
}

/** The runtime's block with one SIMD batch of lanes along pixels (kernels before v3 know no other way). */
function pixelLanes(ctx: GpuContext): Partial<Conv2dTuning> {
  return { channelLanes: false, wgX: ctx.source === 'llvmpipe' ? 8 : 4, wgY: 1 };
}

/** A forced register block of 4*tq pixels x 4*jn channels, one SIMD batch of lanes along pixels. */
function block(tq: number, jn: number, direct = false) {
  return (ctx: GpuContext, desc: Conv2dDesc): Partial<Conv2dTuning> => ({
    ...pixelLanes(ctx), tq, jn: Math.min(jn, Math.ceil(desc.K / desc.groups / 4)), direct,
  });
}

export const VARIANTS: KernelVariant[] = [
  { name: 'default', description: 'shaders/conv2d.wgsl with the runtime\'s tuning for this adapter and shape' },
  {
    name: 'implicit', description: 'shaders/conv2d.wgsl, the runtime\'s block, the implicit-GEMM path only',
    tuning: () => ({ direct: false }),
  },
  { name: 'v0', file: 'conv2d-v0.wgsl', bufferWeights: true, tuning: v0Tuning, description: 'v0 with its own default tuning (16 x 16 blocks)' },
  { name: 'v1', file: 'conv2d-v1.wgsl', bufferWeights: true, tuning: (ctx) => ({ ...pixelLanes(ctx), direct: false }), description: 'v1 (32 x 32, no direct path), the runtime\'s block, lanes along pixels' },
  { name: 'v2', file: 'conv2d-v2.wgsl', bufferWeights: true, tuning: pixelLanes, description: 'v2 (direct path), the runtime\'s block, lanes along pixels' },
  {
    name: 'v3', file: 'conv2d-v3.wgsl', bufferWeights: true, description: 'v3 (at most 8 columns), the runtime\'s tuning with at most 8 columns',
    tuning: (_ctx, _desc, runtime) => ({ jn: Math.min(runtime.jn, 8) }),
  },
  { name: 'v4', file: 'conv2d-v4.wgsl', bufferWeights: true, description: 'v4 (weights in a storage buffer), the runtime\'s tuning' },
  { name: '32x32', tuning: block(8, 8), description: '32 pixels x 32 channels, implicit' },
  { name: '16x32', tuning: block(4, 8), description: '16 pixels x 32 channels, implicit' },
  { name: '32x16', tuning: block(8, 4), description: '32 pixels x 16 channels, implicit' },
  { name: '8x32', tuning: block(2, 8), description: '8 pixels x 32 channels, implicit' },
  { name: '16x16', tuning: block(4, 4), description: '16 pixels x 16 channels, implicit' },
];

const TUNING_KEYS = { wgX: 'number', wgY: 'number', tq: 'number', jn: 'number', direct: 'boolean', channelLanes: 'boolean' } as const;

/** Parses a --tuning value: a JSON object with some of Conv2dTuning's fields (Conv2d.create checks the values). */
export function parseTuning(text: string): Partial<Conv2dTuning> {
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
  return t as Partial<Conv2dTuning>;
}

/** The production kernel with a given tuning over the runtime's (micro --tuning). */
export function tuningVariant(t: Partial<Conv2dTuning>, n: number): KernelVariant {
  return { name: `tuning${n}`, tuning: () => t, description: `shaders/conv2d.wgsl with ${JSON.stringify(t)}` };
}

export function findVariants(names: string[] | undefined): KernelVariant[] {
  if (!names || names.length === 0) return VARIANTS;
  return names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n);
    if (!v) throw new Error(`unknown kernel variant '${n}'; known: ${VARIANTS.map((x) => x.name).join(', ')}`);
    return v;
  });
}
