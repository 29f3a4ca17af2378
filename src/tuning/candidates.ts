// What the on-device tuner times per conv layer shape: the heuristic pick (defaultConv2dTuning) first,
// then a few rivals.
//
// CPU-backed adapters (SwiftShader, llvmpipe): the cost model's best tunings of other register blocks,
// drawn from the space the heuristic weighs (cpuConv2dTunings), ranked by cpuDispatchCost; one per
// block (tq, jn, path, lane direction), with its best workgroup. Where the model is unsure between
// blocks, the measurement decides. Each candidate is a pipeline to compile, seconds each on
// SwiftShader, so there are few (CPU_CANDIDATES).
// Hardware GPUs: a rule table of register blocks and workgroup shapes (GPU_BLOCKS), with the direct
// path added for stride-1 3x3 layers; a compile takes milliseconds there.
// Every candidate fits the device's limits and the layer (fitsDevice), as a stored pick must.

import type { GpuContext } from '../gpu/device.js';
import { conv2dOutputSize, pixelTileCount, type Conv2dDesc, type Conv2dTuning } from '../ops/conv2d-geometry.js';
import { cpuConv2dTunings, cpuCosts, cpuDispatchCost, defaultConv2dTuning } from '../ops/conv2d-tuning.js';

/** Candidates per layer shape on a CPU-backed adapter, the heuristic's included. */
export const CPU_CANDIDATES = 3;

/** The hardware-GPU rule table: launch geometries tried beside the heuristic's (64 x 1, 4 x 8 block). */
export const GPU_BLOCKS: readonly Omit<Conv2dTuning, 'direct' | 'channelLanes'>[] = [
  { wgX: 64, wgY: 1, tq: 1, jn: 1 },
  { wgX: 64, wgY: 1, tq: 2, jn: 2 },
  { wgX: 64, wgY: 1, tq: 1, jn: 4 },
  { wgX: 64, wgY: 1, tq: 2, jn: 4 },
  { wgX: 128, wgY: 1, tq: 1, jn: 2 },
  { wgX: 32, wgY: 2, tq: 2, jn: 2 },
  { wgX: 32, wgY: 1, tq: 4, jn: 4 },
];

/** Whether conv2d.ts would take tuning `t` for `desc` on this device (its checks on limits, path and grid). */
export function fitsDevice(ctx: GpuContext, desc: Conv2dDesc, t: Conv2dTuning): boolean {
  const l = ctx.device.limits;
  const Cg = desc.C / desc.groups;
  const cols = Math.ceil(desc.K / desc.groups / 4);
  const [sizeX, sizeY] = t.channelLanes ? [t.wgY, t.wgX] : [t.wgX, t.wgY];
  if (t.wgX * t.wgY > l.maxComputeInvocationsPerWorkgroup || sizeX > l.maxComputeWorkgroupSizeX || sizeY > l.maxComputeWorkgroupSizeY) return false;
  if (t.direct && (desc.stride !== 1 || Cg % 4 !== 0 || desc.S !== 3)) return false;
  if (t.jn > cols) return false; // columns past the layer's only idle
  const maxDim = l.maxComputeWorkgroupsPerDimension;
  if (desc.groups * Math.ceil(cols / (t.wgY * t.jn)) > maxDim) return false;
  const [P, Q] = conv2dOutputSize(desc);
  const mTiles = Math.ceil(pixelTileCount(desc.N, P, Q, t) / t.wgX);
  return Math.ceil(mTiles / Math.min(mTiles, maxDim)) <= maxDim;
}

export const sameTuning = (a: Conv2dTuning, b: Conv2dTuning): boolean =>
  a.wgX === b.wgX && a.wgY === b.wgY && a.tq === b.tq && a.jn === b.jn && a.direct === b.direct && a.channelLanes === b.channelLanes;

/** A tuning in a few characters: block pixels x channels, path, lanes, workgroup ('32x32 direct wg 8x1'). */
export function describeTuning(t: Conv2dTuning): string {
  return `${4 * t.tq}x${4 * t.jn}${t.direct ? ' direct' : ''}${t.channelLanes ? ' ch-lanes' : ''} wg ${t.wgX}x${t.wgY}`;
}

/** The heuristic's pick and the rivals the tuner times for `desc` (the heuristic first, no two alike). */
export function conv2dCandidates(ctx: GpuContext, desc: Conv2dDesc, threads: number): Conv2dTuning[] {
  const heuristic = defaultConv2dTuning(ctx, desc, threads);
  const out = [heuristic];
  const add = (t: Conv2dTuning) => { if (fitsDevice(ctx, desc, t) && !out.some((o) => sameTuning(o, t))) out.push(t); };
  if (ctx.cpuBacked) {
    const costs = cpuCosts(ctx);
    const blockOf = (t: Conv2dTuning) => `${t.tq},${t.jn},${t.direct},${t.channelLanes}`;
    const best = new Map<string, { t: Conv2dTuning; cost: number }>();
    for (const t of cpuConv2dTunings(ctx, desc)) {
      const cost = cpuDispatchCost(desc, t, costs, threads);
      const b = best.get(blockOf(t));
      if (!b || cost < b.cost) best.set(blockOf(t), { t, cost });
    }
    best.delete(blockOf(heuristic));
    for (const { t } of [...best.values()].sort((a, b) => a.cost - b.cost)) {
      if (out.length >= CPU_CANDIDATES) break;
      add(t);
    }
    return out;
  }
  for (const b of GPU_BLOCKS) {
    add({ ...b, direct: false, channelLanes: false });
    add({ ...b, direct: true, channelLanes: false });
  }
  return out;
}
