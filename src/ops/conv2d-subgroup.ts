// The TypeScript twin of shaders/conv2d-subgroup.wgsl: the subgroup kernel family's default launch
// geometry (SubgroupTuning, conv2d-geometry.ts), its checks against the shader's assumptions and the device, and its pipeline key,
// uniform params and grid. conv2d.ts validates the convolution itself, binds the tensors and the packed
// weight texture (the same as every family's) and dispatches.

import type { GpuContext } from '../gpu/device.js';
import type { Defines } from '../gpu/shaders.js';
import { conv2dOutputSize, convShapeWords, hasResidual, pixelTileGrid, type Conv2dDesc, type SubgroupTuning } from './conv2d-geometry.js';
import type { Conv2dWeightLayout } from './conv2d-weights.js';

export const SUBGROUP_TQ_CHOICES = [1, 2];
export const SUBGROUP_JN_CHOICES = [1, 2, 3, 4];
/** Words in the uniform struct `Params` of conv2d-subgroup.wgsl. */
const PARAMS_WORDS = 20;
/** The largest subgroup size WebGPU allows, assumed where the adapter does not say its own. */
const MAX_SUBGROUP_SIZE = 128;

/** Whether the device was created with the 'subgroups' feature (src/gpu/device.ts requests it where the adapter has it). */
export function hasSubgroups(ctx: GpuContext): boolean {
  return ctx.device.features.has('subgroups' as GPUFeatureName);
}

/** The adapter's largest subgroup size (GPUAdapterInfo.subgroupMaxSize), or WebGPU's upper bound where it is not given. */
export function maxSubgroupSize(ctx: GpuContext): number {
  return ctx.adapterInfo.subgroupMaxSize ?? MAX_SUBGROUP_SIZE;
}

/**
 * The default subgroup tuning: 8 pixels x 16 channels a lane (fewer columns where the group has fewer), and
 * 64 lanes a workgroup, or the adapter's largest subgroup size where that is more. Not measured on a GPU:
 * the block that the traffic model (conv2d-traffic.ts) rates at 6 to 7 FLOP per byte on dense layers.
 */
export function defaultSubgroupTuning(ctx: GpuContext, desc: Conv2dDesc): SubgroupTuning {
  const cols = Math.ceil(desc.K / desc.groups / 4);
  return { family: 'subgroup', tq: 2, jn: Math.min(4, cols), wg: Math.max(64, maxSubgroupSize(ctx)) };
}

/** What is wrong with tuning `t` for this shader and device, or undefined. */
export function subgroupTuningProblem(ctx: GpuContext, t: SubgroupTuning): string | undefined {
  if (!SUBGROUP_TQ_CHOICES.includes(t.tq) || !SUBGROUP_JN_CHOICES.includes(t.jn)) {
    return `subgroup tuning tq ${t.tq} / jn ${t.jn} must be in ${SUBGROUP_TQ_CHOICES.join(', ')} / ${SUBGROUP_JN_CHOICES.join(', ')}`;
  }
  const l = ctx.device.limits;
  if (!Number.isInteger(t.wg) || t.wg < 1 || t.wg > l.maxComputeInvocationsPerWorkgroup || t.wg > l.maxComputeWorkgroupSizeX) {
    return `subgroup workgroup ${t.wg} exceeds this device's limits (${l.maxComputeInvocationsPerWorkgroup} invocations)`;
  }
  const sg = maxSubgroupSize(ctx);
  if (t.wg % sg !== 0) return `subgroup workgroup ${t.wg} is not a multiple of the adapter's largest subgroup size ${sg} (every subgroup must be full)`;
  return undefined;
}

/** The subgroup family's launch of one convolution: pipeline key, uniform params, grid. */
export interface SubgroupLaunch {
  key: { shader: 'conv2d-subgroup'; defines: Defines; overrides: Record<string, number> };
  params: Uint32Array;
  grid: [number, number, number];
}

/**
 * The launch of `d` (already validated as a convolution) with tuning `t`; `bad` throws the caller's
 * one-line error for a tuning or a grid this device cannot run.
 */
export function subgroupLaunch(ctx: GpuContext, d: Conv2dDesc, layout: Conv2dWeightLayout, t: SubgroupTuning,
  bad: (msg: string) => never): SubgroupLaunch {
  const problem = subgroupTuningProblem(ctx, t);
  if (problem) bad(problem);
  const [P, Q] = conv2dOutputSize(d);
  const M = d.N * P * Q;
  const maxDim = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const nTiles = Math.ceil(layout.Kgp / 4 / t.jn);
  const gridY = d.groups * nTiles;
  if (gridY > maxDim) bad(`G * column blocks = ${gridY} workgroups exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
  const [gridX, gridZ] = pixelTileGrid(Math.ceil(Math.ceil(M / (4 * t.tq)) / t.wg), maxDim, bad);
  const params = new Uint32Array(PARAMS_WORDS);
  params.set([...convShapeWords(d, layout), nTiles, gridX, layout.biasOffset, Math.log2(layout.width)]);
  return {
    key: {
      shader: 'conv2d-subgroup',
      defines: {
        VEC4_IN: layout.Cg % 4 === 0,
        VEC4_OUT: layout.Kg % 4 === 0,
        RELU: d.epilogue === 'relu' || d.epilogue === 'residual-relu',
        RESIDUAL: hasResidual(d.epilogue),
        PRE_ACT: d.preAct ?? false,
        QUADS_2: t.tq > 1,
        COLS_2: t.jn > 1, COLS_4: t.jn > 2,
      },
      overrides: { WG: t.wg, TQ: t.tq, JN: t.jn },
    },
    params,
    grid: [gridX, gridY, gridZ],
  };
}
