// What the on-device tuner times per conv layer shape: the heuristic pick first (what Conv2d.create would
// use: defaultConv2dTuning, or the forced family's default under `kernels`), then a few rivals.
//
// CPU-backed adapters (SwiftShader, llvmpipe): register-family rivals, the cost model's best tunings of
// other register blocks, drawn from the space the heuristic weighs (cpuConv2dTunings), ranked by
// cpuDispatchCost; one per block (tq, jn, path, lane direction), with its best workgroup. Where the model
// is unsure between blocks, the measurement decides. Each candidate is a pipeline to compile, seconds
// each on SwiftShader, so there are few (CPU_CANDIDATES). The tiled family is timed there only where
// `kernels` forces it (the register family is what these adapters run fastest).
// Hardware GPUs: every family: the tiled family's candidates (tiledCandidates, src/ops/conv2d-hardware.ts),
// the subgroup family's (SUBGROUP_BLOCKS, where the device has 'subgroups'), and a rule table of register
// blocks and workgroup shapes (GPU_BLOCKS, with the direct path for stride-1 3x3 layers), at most
// GPU_CANDIDATES in all; a compile takes milliseconds there. `kernels` other than 'auto' keeps to its family.
// Every candidate fits the device's limits and the layer (fitsDevice), as a stored pick must.

import type { GpuContext } from '../gpu/device.js';
import { conv2dOutputSize, pixelTileCount, pixelTilesFit, tuningFamily, type Conv2dDesc, type Conv2dTuning, type RegisterTuning } from '../ops/conv2d-geometry.js';
import { cpuConv2dTunings, cpuCosts, cpuDispatchCost, defaultConv2dTuning, registerConv2dTuning } from '../ops/conv2d-tuning.js';
import { hardwareConv2dTuning, tiledCandidates } from '../ops/conv2d-hardware.js';
import { defaultSubgroupTuning, hasSubgroups, maxSubgroupSize, subgroupTuningProblem } from '../ops/conv2d-subgroup.js';
import { tiledTuningProblem } from '../ops/conv2d-tiled.js';
import type { KernelChoice } from '../ops/conv2d.js';

/** Candidates per layer shape on a CPU-backed adapter, the heuristic's included. */
export const CPU_CANDIDATES = 3;
/** Candidates per layer shape on a hardware GPU, the heuristic's included. */
export const GPU_CANDIDATES = 12;
/** Of those, register-family ones. */
const GPU_REGISTER_CANDIDATES = 4;
/** Of those, subgroup-family ones where the device has subgroups (the rest tiled). */
const GPU_SUBGROUP_CANDIDATES = 3;

/** The subgroup family's blocks tried on hardware GPUs (the default's workgroup, at least the subgroup size). */
export const SUBGROUP_BLOCKS: readonly { tq: number; jn: number }[] = [
  { tq: 2, jn: 4 },
  { tq: 1, jn: 4 },
  { tq: 2, jn: 2 },
];

/** The hardware-GPU rule table of the register family: launch geometries tried beside the tiled ones. */
export const GPU_BLOCKS: readonly Omit<RegisterTuning, 'direct' | 'channelLanes' | 'family'>[] = [
  { wgX: 64, wgY: 1, tq: 1, jn: 2 },
  { wgX: 64, wgY: 1, tq: 2, jn: 2 },
  { wgX: 64, wgY: 1, tq: 1, jn: 4 },
  { wgX: 64, wgY: 1, tq: 2, jn: 4 },
  { wgX: 128, wgY: 1, tq: 1, jn: 2 },
  { wgX: 32, wgY: 2, tq: 2, jn: 2 },
  { wgX: 32, wgY: 1, tq: 4, jn: 4 },
];

/** Whether conv2d.ts would take tuning `t` for `desc` on this device (its checks on limits, path and grid). */
export function fitsDevice(ctx: GpuContext, desc: Conv2dDesc, t: Conv2dTuning): boolean {
  if (t.family === 'tiled') return tiledTuningProblem(ctx, desc, t) === undefined;
  const l = ctx.device.limits;
  const Cg = desc.C / desc.groups;
  const cols = Math.ceil(desc.K / desc.groups / 4);
  const maxDim = l.maxComputeWorkgroupsPerDimension;
  const [P, Q] = conv2dOutputSize(desc);
  if (t.family === 'subgroup') {
    if (!hasSubgroups(ctx) || subgroupTuningProblem(ctx, t) !== undefined || t.jn > cols) return false;
    if (desc.groups * Math.ceil(cols / t.jn) > maxDim) return false;
    return pixelTilesFit(Math.ceil(Math.ceil(desc.N * P * Q / (4 * t.tq)) / t.wg), maxDim);
  }
  const [sizeX, sizeY] = t.channelLanes ? [t.wgY, t.wgX] : [t.wgX, t.wgY];
  if (t.wgX * t.wgY > l.maxComputeInvocationsPerWorkgroup || sizeX > l.maxComputeWorkgroupSizeX || sizeY > l.maxComputeWorkgroupSizeY) return false;
  if (t.direct && (desc.stride !== 1 || Cg % 4 !== 0 || desc.S !== 3)) return false;
  if (t.jn > cols) return false; // columns past the layer's only idle
  if (desc.groups * Math.ceil(cols / (t.wgY * t.jn)) > maxDim) return false;
  return pixelTilesFit(Math.ceil(pixelTileCount(desc.N, P, Q, t) / t.wgX), maxDim);
}

/** The same launch geometry (same family and fields; an absent family is 'register'). */
export function sameTuning(a: Conv2dTuning, b: Conv2dTuning): boolean {
  const norm = (t: Conv2dTuning) => Object.entries({ ...t, family: tuningFamily(t) }).sort(([x], [y]) => (x < y ? -1 : 1));
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

/** The pick Conv2d.create makes for `desc` under kernel choice `kernels` (resolveTuning without an override's fields). */
export function heuristicTuning(ctx: GpuContext, desc: Conv2dDesc, threads: number, kernels: KernelChoice = 'auto'): Conv2dTuning {
  if (kernels === 'subgroup') return defaultSubgroupTuning(ctx, desc);
  const base = defaultConv2dTuning(ctx, desc, threads);
  if (kernels === 'register') return base.family === 'tiled' ? registerConv2dTuning(ctx, desc, threads) : base;
  if (kernels === 'tiled') return base.family === 'tiled' ? base : hardwareConv2dTuning(ctx, desc);
  return base;
}

/** The heuristic's pick and the rivals the tuner times for `desc` (the heuristic first, no two alike). */
export function conv2dCandidates(ctx: GpuContext, desc: Conv2dDesc, threads: number, kernels: KernelChoice = 'auto'): Conv2dTuning[] {
  const heuristic = heuristicTuning(ctx, desc, threads, kernels);
  const out = [heuristic];
  const max = ctx.cpuBacked ? CPU_CANDIDATES : GPU_CANDIDATES;
  const add = (t: Conv2dTuning) => {
    if (out.length < max && fitsDevice(ctx, desc, t) && !out.some((o) => sameTuning(o, t))) out.push(t);
  };
  const register = kernels === 'auto' || kernels === 'register';
  const tiled = kernels === 'tiled' || (kernels === 'auto' && !ctx.cpuBacked);
  const subgroup = kernels === 'subgroup' || (kernels === 'auto' && !ctx.cpuBacked && hasSubgroups(ctx));
  if (subgroup) {
    const room = kernels === 'subgroup' ? max : out.length + GPU_SUBGROUP_CANDIDATES;
    const cols = Math.ceil(desc.K / desc.groups / 4);
    const wg = Math.max(64, maxSubgroupSize(ctx));
    for (const b of SUBGROUP_BLOCKS) {
      for (const w of [wg, 2 * wg]) if (out.length < room) add({ family: 'subgroup', tq: b.tq, jn: Math.min(b.jn, cols), wg: w });
    }
  }
  if (tiled) {
    const room = register ? max - GPU_REGISTER_CANDIDATES : max;
    for (const t of tiledCandidates(ctx, desc)) if (out.length < room) add(t);
  }
  if (register && ctx.cpuBacked) {
    const costs = cpuCosts(ctx);
    const blockOf = (t: RegisterTuning) => `${t.tq},${t.jn},${t.direct},${t.channelLanes}`;
    const best = new Map<string, { t: RegisterTuning; cost: number }>();
    for (const t of cpuConv2dTunings(ctx, desc)) {
      const cost = cpuDispatchCost(desc, t, costs, threads);
      const b = best.get(blockOf(t));
      if (!b || cost < b.cost) best.set(blockOf(t), { t, cost });
    }
    if (heuristic.family === undefined || heuristic.family === 'register') best.delete(blockOf(heuristic));
    for (const { t } of [...best.values()].sort((a, b) => a.cost - b.cost)) add(t);
  } else if (register) {
    for (const b of GPU_BLOCKS) {
      add({ ...b, direct: false, channelLanes: false });
      add({ ...b, direct: true, channelLanes: false });
    }
  }
  return out;
}
