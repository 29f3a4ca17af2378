// The launch geometry of shaders/conv2d.wgsl per adapter and shape (Conv2dTuning): on the CPU-backed
// adapters (llvmpipe, SwiftShader) the pick of a cost model whose constants were fitted to
// `npm run bench -- --micro` runs (bench/RESULTS.md, "The cost model's constants"); the picks for
// ResNet-50 and ResNeXt-101 layers are pinned by test/conv2d-tuning.test.ts. Also the CPU threads
// such an adapter runs workgroups on.

import type { GpuContext } from '../gpu/device.js';
import { nodePlatform } from '../platform.js';
import { conv2dFlops, conv2dOutputSize, pixelTileCount, type Conv2dDesc, type Conv2dTuning, type RegisterTuning } from './conv2d-geometry.js';
import { hardwareConv2dTuning } from './conv2d-hardware.js';

/**
 * Relative costs of conv2d.wgsl's operations on the CPU-backed adapters, fitted to bench --micro runs of
 * a 1024^3 GEMM at register blocks from 8 x 8 to 32 x 32. On these drivers every storage-buffer load
 * or store is a loop over the SIMD lanes (bench/RESULTS.md), so memory operations, not arithmetic,
 * dominate: `input` is a vec4 load of an activation and `weight` one of a weight with the lanes along
 * pixels (cpuDispatchCost swaps the two for lanes along channels), `mm` one 4x4 by 4x4 matrix product
 * (16 vec4 multiply-adds), `store` one vec4 store with its epilogue.
 */
export interface CpuCosts {
  simd: number; input: number; weight: number; mm: number; store: number; invocation: number;
  /**
   * Largest TQ tried (except for the large 1x1 layers below). On SwiftShader 4: Subzero takes minutes and
   * GiBs to compile the direct path's sliding window with more quads (bench/RESULTS.md, "28-pixel blocks
   * for SwiftShader's 1x1 layers").
   */
  maxTq: number;
  /**
   * Largest TQ tried for 1x1 layers (any stride) of at least `largeBlockFlops` per image (2 x
   * multiply-adds; per image, so that a model's choice does not change with the batch): on SwiftShader
   * such a block compiles a second or two longer than a 16-pixel one, which only large layers win back
   * (bench/RESULTS.md, "28-pixel blocks for SwiftShader's 1x1 layers").
   */
  maxTq1x1: number;
  largeBlockFlops: number;
  /** Largest JN tried: 16 (32 x 64 blocks) on llvmpipe; SwiftShader stays at 8 (Subzero, as for maxTq). */
  maxJn: number;
  /**
   * Largest JN tried with the lanes along pixels: on llvmpipe more than 8 columns measured faster only with
   * the lanes along them (outputs of 512 channels or more), while this linear model overrates them with the
   * lanes along pixels (bench/RESULTS.md).
   */
  pixelLanesMaxJn: number;
  /**
   * Largest JN with which the direct path is tried: on SwiftShader it beats the implicit path only with
   * few channels per invocation, up to 16 (bench/RESULTS.md, "Direct path with 16 channels on SwiftShader").
   */
  directMaxJn: number;
}
export const LLVMPIPE_COSTS: CpuCosts = { simd: 8, input: 2.7, weight: 1.0, mm: 2.0, store: 8, invocation: 20, maxTq: 8, maxTq1x1: 8, largeBlockFlops: 0, maxJn: 16, pixelLanesMaxJn: 8, directMaxJn: 8 };
export const SWIFTSHADER_COSTS: CpuCosts = { simd: 4, input: 14, weight: 4, mm: 23, store: 28, invocation: 400, maxTq: 4, maxTq1x1: 8, largeBlockFlops: 50e6, maxJn: 8, pixelLanesMaxJn: 8, directMaxJn: 4 };

/** A 'residual-relu' store also loads the residual vec4 from a storage buffer: rated at 1.5 stores. */
const RESIDUAL_STORE_COST = 1.5;
/**
 * A candidate replaces the best one so far only when it is estimated more than 1% faster: within that
 * the model cannot tell them apart, and the earlier candidate (implicit path, smaller block, lanes along
 * pixels, smaller workgroup) compiles faster.
 */
const TIE_MARGIN = 0.99;

/**
 * Logical CPUs: the threads a CPU-backed adapter runs workgroups on (in Node the platform's count,
 * LP_NUM_THREADS for llvmpipe; in a browser navigator.hardwareConcurrency).
 */
export function cpuThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Promise.resolve(nodePlatform()?.cpuThreads() ?? nav?.hardwareConcurrency ?? 4);
}

/**
 * Estimated time of one dispatch with tuning `t` on a CPU-backed adapter, in the units of `c`: every
 * SIMD batch of lanes costs what its slowest invocation costs (idle lanes included), and the
 * workgroups are shared among `threads` threads.
 */
export function cpuDispatchCost(desc: Conv2dDesc, t: RegisterTuning, costs: CpuCosts, threads: number): number {
  // As fitted: a load of the operand the lanes run along (a different address per lane) costs more than
  // one of the other operand (the same address in every lane).
  const c = t.channelLanes ? { ...costs, input: costs.weight, weight: costs.input } : costs;
  const [P, Q] = conv2dOutputSize(desc);
  const Cg = desc.C / desc.groups;
  const Kg = desc.K / desc.groups;
  const cols = Math.ceil(Kg / 4);     // vec4 columns per group
  const vec4In = Cg % 4 === 0;
  let perInvocation: number;
  if (t.direct) {
    // Per kernel row and 4 input channels: one row of 4*tq + S - 1 pixels, S taps of weights.
    const chunks = desc.R * (Cg / 4);
    perInvocation = chunks * (c.input * (4 * t.tq + desc.S - 1) + c.weight * 4 * t.jn * desc.S + c.mm * t.tq * t.jn * desc.S);
  } else if (vec4In) {
    const chunks = desc.R * desc.S * (Cg / 4);
    perInvocation = chunks * (c.input * 4 * t.tq + c.weight * 4 * t.jn + c.mm * t.tq * t.jn);
  } else {
    // One channel at a time: 4 scalar loads per quad, one vec4 weight per column, outer products.
    const chunks = desc.R * desc.S * Cg;
    perInvocation = chunks * (c.input * 4 * t.tq + c.weight * t.jn + c.mm * t.tq * t.jn / 4);
  }
  const storesPerPixel = Kg % 4 === 0 ? 1 : 4;
  perInvocation += c.store * 4 * t.tq * t.jn * storesPerPixel * (desc.epilogue === 'residual-relu' ? RESIDUAL_STORE_COST : 1) + c.invocation;
  const pixelTiles = pixelTileCount(desc.N, P, Q, t);
  const colTiles = Math.ceil(cols / (t.jn * t.wgY));
  const workgroups = Math.ceil(pixelTiles / t.wgX) * colTiles * desc.groups;
  const batchesPerWorkgroup = Math.ceil((t.wgX * t.wgY) / c.simd);
  return Math.ceil(workgroups / threads) * batchesPerWorkgroup * perInvocation;
}

/**
 * Default launch geometry: on the CPU-backed adapters the register family's (registerConv2dTuning), on
 * hardware GPUs the tiled family's per vendor rule table (hardwareConv2dTuning, src/ops/conv2d-hardware.ts).
 */
export function defaultConv2dTuning(ctx: GpuContext, desc: Conv2dDesc, threads = 4): Conv2dTuning {
  return ctx.cpuBacked ? registerConv2dTuning(ctx, desc, threads) : hardwareConv2dTuning(ctx, desc);
}

/**
 * Launch geometry of the register family (shaders/conv2d.wgsl).
 * CPU-backed adapters (SwiftShader, llvmpipe): the tuning with the least estimated time
 * (cpuDispatchCost) among register blocks of 4 to 32 pixels x 4 to 32 channels (64 with the lanes along
 * channels on llvmpipe), the direct path where it applies (stride 1, C/G % 4 == 0, a kernel 3 wide), and 1 to 4 SIMD batches of lanes per workgroup, along pixels or along channels.
 * Large layers get 32 x 32 blocks, or 32 x 64 on llvmpipe where the output has 512 channels or more;
 * the 7x7 / 14x14 / 28x28 maps get 28-pixel tiles that divide them;
 * few-pixel layers (7x7 at batch 1) smaller tiles so that the SIMD lanes are not idle.
 * Hardware GPUs (where the register family is forced: kernels 'register') get a small block and 64
 * invocations (more invocations in flight); untuned.
 */
export function registerConv2dTuning(ctx: GpuContext, desc: Conv2dDesc, threads = 4): RegisterTuning {
  const cols = Math.ceil(desc.K / desc.groups / 4);     // vec4 columns per group
  const l = ctx.device.limits;
  const maxInv = l.maxComputeInvocationsPerWorkgroup;
  if (!ctx.cpuBacked) {
    return { wgX: Math.min(64, maxInv), wgY: 1, tq: 1, jn: Math.min(2, cols), direct: false, channelLanes: false };
  }
  // The search weighs a few hundred tunings; a model asks again for every layer of a shape seen before.
  let memo = searched.get(ctx.device);
  if (!memo) searched.set(ctx.device, memo = new Map());
  const key = `${threads} ${JSON.stringify(desc)}`;
  let best = memo.get(key);
  if (!best) {
    const costs = cpuCosts(ctx);
    let bestCost = Infinity;
    for (const t of cpuConv2dTunings(ctx, desc)) {
      const cost = cpuDispatchCost(desc, t, costs, threads);
      if (cost < bestCost * TIE_MARGIN) {
        best = t;
        bestCost = cost;
      }
    }
    memo.set(key, best!);
  }
  return { ...best! };
}

/** registerConv2dTuning's picks on the CPU-backed adapters, per device and (threads, desc). */
const searched = new WeakMap<GPUDevice, Map<string, RegisterTuning>>();

/** The cost constants of a CPU-backed adapter. */
export function cpuCosts(ctx: GpuContext): CpuCosts {
  return ctx.source === 'llvmpipe' ? LLVMPIPE_COSTS : SWIFTSHADER_COSTS;
}

/**
 * Every tuning registerConv2dTuning weighs on a CPU-backed adapter, in the order it weighs them (an
 * earlier one wins a tie): register blocks up to the adapter's maxTq / maxJn, the direct path where it
 * applies, lanes along pixels or channels, 1 to 4 SIMD batches of lanes per workgroup. The on-device
 * tuner (src/tuning/) draws its CPU candidates from the same space.
 */
export function* cpuConv2dTunings(ctx: GpuContext, desc: Conv2dDesc): Generator<RegisterTuning> {
  const costs = cpuCosts(ctx);
  const l = ctx.device.limits;
  const maxInv = l.maxComputeInvocationsPerWorkgroup;
  const cols = Math.ceil(desc.K / desc.groups / 4);     // vec4 columns per group
  const Cg = desc.C / desc.groups;
  const directOk = desc.stride === 1 && Cg % 4 === 0 && desc.S === 3;
  const large1x1 = desc.R === 1 && desc.S === 1 && Cg % 4 === 0 && conv2dFlops(desc) / desc.N >= costs.largeBlockFlops;
  for (const direct of directOk ? [false, true] : [false]) {
    for (let tq = 1; tq <= (large1x1 ? costs.maxTq1x1 : costs.maxTq); tq++) {
      for (let jn = 1; jn <= Math.min(costs.maxJn, cols); jn++) {
        if (direct && jn > costs.directMaxJn) continue;
        for (const channelLanes of [false, true]) {
          if (!channelLanes && jn > costs.pixelLanesMaxJn) continue;
          for (const batches of [1, 2, 4]) {
            const lanes = costs.simd * batches;
            if (lanes > maxInv || lanes > l.maxComputeWorkgroupSizeX) continue;
            yield channelLanes ? { wgX: 1, wgY: lanes, tq, jn, direct, channelLanes } : { wgX: lanes, wgY: 1, tq, jn, direct, channelLanes };
          }
        }
      }
    }
  }
}

/**
 * Register blocks of the first-use pipelines (firstUseConv2dTuning). 4 x 4 (1 pixel quad x 1 vec4 column
 * per invocation) is the block that compiles fastest on SwiftShader, whose compiler (Subzero) is the
 * first prediction's cost (conv2d.wgsl then declares no wider block: QUADS_n, COLS_n off). Layers of at
 * least FIRST_USE_LARGE_FLOPS an image (2 x multiply-adds) get 8 x 8 instead: there its faster run wins
 * back its longer compile within the first inference (bench/RESULTS.md, "First prediction: a bounded
 * register block").
 */
const FIRST_USE_BLOCK = { tq: 1, jn: 1 };
const FIRST_USE_LARGE_BLOCK = { tq: 2, jn: 2 };
const FIRST_USE_LARGE_FLOPS = 50e6;

/**
 * The tuning of the pipelines that serve a model's first inferences while its tuned pipelines
 * (defaultConv2dTuning) compile in the background (Runner, warmup 'fast-first'): on the CPU-backed
 * adapters a small implicit-GEMM block, one for small layers and one for large ones, so that a model
 * needs one conv pipeline per define set and block (a handful) instead of one per tuning, each quick to
 * compile. Undefined on hardware GPUs, whose tuned block is already that small.
 */
export function firstUseConv2dTuning(ctx: GpuContext, desc: Conv2dDesc): RegisterTuning | undefined {
  if (!hasFirstUseConv2dTuning(ctx)) return undefined;
  const costs = ctx.source === 'llvmpipe' ? LLVMPIPE_COSTS : SWIFTSHADER_COSTS;
  const cols = Math.ceil(desc.K / desc.groups / 4);
  const block = conv2dFlops(desc) / desc.N >= FIRST_USE_LARGE_FLOPS ? FIRST_USE_LARGE_BLOCK : FIRST_USE_BLOCK;
  return { wgX: costs.simd, wgY: 1, tq: block.tq, jn: Math.min(block.jn, cols), direct: false, channelLanes: false };
}

/** Whether `ctx` has first-use conv tunings (firstUseConv2dTuning): the CPU-backed adapters. */
export function hasFirstUseConv2dTuning(ctx: GpuContext): boolean {
  return ctx.cpuBacked;
}

/**
 * Whether a model starts on first-use kernels by default (LoadModelOptions.warmup): where compiling
 * the tuned pipelines dominates the time to the first prediction. SwiftShader: yes (above).
 */
export function fastFirstByDefault(ctx: GpuContext): boolean {
  return ctx.cpuBacked && ctx.source !== 'llvmpipe';
}
