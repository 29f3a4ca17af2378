// The TypeScript twin of shaders/conv2d-tiled.wgsl, the conv family for hardware GPUs: checks a
// TiledTuning against the shader's assumptions and the device's limits, and gives the launch (pipeline
// keys, the uniform Params, the grids and, with split-K, the scratch buffer of partial sums) that
// Conv2d (conv2d.ts) builds and binds. The tile sizes come from conv2d-hardware.ts.

import type { GpuContext } from '../gpu/device.js';
import { GpuLimitError } from '../gpu/buffers.js';
import { grid1d } from './common.js';
import { conv2dOutputSize, convShapeWords, hasResidual, pixelTileGrid, type Conv2dDesc, type TiledTuning } from './conv2d-geometry.js';
import type { Conv2dWeightLayout } from './conv2d-weights.js';
import type { PipelineKey } from '../gpu/shaders.js';

/** Words in the uniform struct `Params` of conv2d-tiled.wgsl. */
const PARAMS_WORDS = 24;
/** Invocations per workgroup of the `reduce` entry point. */
const REDUCE_WG = 64;
/** The register block the shader declares: TM <= 8 pixels, TN <= 8 channels. */
const MAX_TM = 8;
const TN_CHOICES = [4, 8];

/** A pipeline of conv2d-tiled.wgsl. */
export type TiledPipelineKey = Required<Pick<PipelineKey, 'defines' | 'overrides'>> & PipelineKey & { shader: 'conv2d-tiled' };

/** How Conv2d launches a tiled convolution. */
export interface TiledLaunch {
  main: TiledPipelineKey;
  /** Split-K's second pass (entry point `reduce`), only when t.splitK > 1. */
  reduce?: TiledPipelineKey;
  params: Uint32Array;
  grid: [number, number, number];
  reduceGrid?: [number, number, number];
  /** Bytes of the scratch buffer of partial sums (split-K), 0 without. */
  scratchBytes: number;
}

/** Bytes of workgroup memory a tile uses: the A tile (rows padded by a vec4) and the B tile. */
export function tiledWorkgroupBytes(t: Pick<TiledTuning, 'bm' | 'bn' | 'bk'>): number {
  return 16 * (t.bm * (t.bk / 4 + 1) + (t.bk * t.bn) / 4);
}

/** Reduction stages of BK steps (Kred = R*S*C/G). */
export function tiledStages(desc: Conv2dDesc, bk: number): number {
  return Math.ceil((desc.R * desc.S * (desc.C / desc.groups)) / bk);
}

/** Why `t` cannot run on `ctx` for `desc`, or undefined when it can. */
export function tiledTuningProblem(ctx: GpuContext, desc: Conv2dDesc, t: TiledTuning): string | undefined {
  const l = ctx.device.limits;
  const ints = { bm: t.bm, bn: t.bn, bk: t.bk, tm: t.tm, tn: t.tn, splitK: t.splitK };
  for (const [k, v] of Object.entries(ints)) if (!Number.isInteger(v) || v < 1) return `tuning ${k} must be a positive integer, got ${v}`;
  if (t.tm > MAX_TM || !TN_CHOICES.includes(t.tn)) return `tuning tm ${t.tm} / tn ${t.tn} must be 1 to ${MAX_TM} / one of ${TN_CHOICES.join(', ')}`;
  if (t.bm % t.tm !== 0 || t.bn % t.tn !== 0) return `tuning tm ${t.tm} must divide bm ${t.bm} and tn ${t.tn} bn ${t.bn}`;
  if (t.bk % 4 !== 0 || t.bk > 64) return `tuning bk ${t.bk} must be a multiple of 4 up to 64`;
  const nx = t.bn / t.tn;
  const my = t.bm / t.tm;
  if (nx * my > l.maxComputeInvocationsPerWorkgroup || nx > l.maxComputeWorkgroupSizeX || my > l.maxComputeWorkgroupSizeY) {
    return `tile ${t.bm}x${t.bn} with ${t.tm}x${t.tn} per invocation needs a ${nx}x${my} workgroup; this device allows ` +
      `${l.maxComputeInvocationsPerWorkgroup} invocations`;
  }
  const bytes = tiledWorkgroupBytes(t);
  if (bytes > l.maxComputeWorkgroupStorageSize) {
    return `tile ${t.bm}x${t.bn}x${t.bk} needs ${bytes} bytes of workgroup memory; this device allows ${l.maxComputeWorkgroupStorageSize}`;
  }
  if (t.splitK > tiledStages(desc, t.bk)) return `split-K ${t.splitK} exceeds the ${tiledStages(desc, t.bk)} reduction stages of ${t.bk}`;
  return undefined;
}

/**
 * The launch of `desc` with tiled tuning `t` (checked: tiledTuningProblem). Split-K slices are whole
 * stages, recounted so that none is empty: the launch's splits may be fewer than t.splitK.
 */
export function tiledLaunch(ctx: GpuContext, desc: Conv2dDesc, layout: Conv2dWeightLayout, t: TiledTuning, label: string): TiledLaunch {
  const d = desc;
  const bad = (msg: string): never => { throw new Error(`conv2d ${label}: ${msg}`); };
  const problem = tiledTuningProblem(ctx, d, t);
  if (problem) bad(problem);
  const [P, Q] = conv2dOutputSize(d);
  const M = d.N * P * Q;
  const Kred = d.R * d.S * layout.Cg;
  const stages = tiledStages(d, t.bk);
  const stagesPerSplit = Math.ceil(stages / t.splitK);
  const splits = Math.ceil(stages / stagesPerSplit);

  const maxDim = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const nTiles = Math.ceil(layout.Kgp / t.bn);
  const gridY = splits * d.groups * nTiles;
  if (gridY > maxDim) bad(`splits * G * column tiles = ${gridY} workgroups exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
  const [gridX, gridZ] = pixelTileGrid(Math.ceil(M / t.bm), maxDim, bad);

  const vec4Out = layout.Kg % 4 === 0;
  const total = vec4Out ? (M * d.K) / 4 : M * d.K;
  const params = new Uint32Array(PARAMS_WORDS);
  params.set([
    ...convShapeWords(d, layout),
    nTiles, gridX, layout.biasOffset, Math.log2(layout.width),
    Kred, splits, stagesPerSplit, total,
  ]);

  const split = splits > 1;
  const defines = {
    VEC4_IN: layout.Cg % 4 === 0,
    VEC4_OUT: vec4Out,
    GEMM_1X1: d.R === 1 && d.S === 1 && d.stride === 1 && d.pad === 0,
    RELU: d.epilogue === 'relu' || d.epilogue === 'residual-relu',
    RESIDUAL: hasResidual(d.epilogue),
    PRE_ACT: d.preAct ?? false,
  };
  const overrides = { BM: t.bm, BN: t.bn, BK: t.bk, TM: t.tm, TN: t.tn };
  const launch: TiledLaunch = {
    main: { shader: 'conv2d-tiled', defines: { ...defines, PARTIAL: split }, overrides },
    params,
    grid: [gridX, gridY, gridZ],
    scratchBytes: 0,
  };
  if (split) {
    const scratchBytes = splits * M * d.K * 4;
    if (scratchBytes > ctx.device.limits.maxStorageBufferBindingSize) {
      throw new GpuLimitError(`conv2d ${label}: split-K ${splits} needs ${scratchBytes} bytes of partial sums; ` +
        `this device's maxStorageBufferBindingSize is ${ctx.device.limits.maxStorageBufferBindingSize}`);
    }
    // The reduce pass does not depend on the tile: one pipeline per define set.
    launch.reduce = { shader: 'conv2d-tiled', defines: { ...defines, PARTIAL: false }, overrides: {}, entryPoint: 'reduce' };
    const [x, y] = grid1d(ctx, Math.ceil(total / REDUCE_WG), `conv2d ${label} split-K reduce`);
    launch.reduceGrid = [x, y, 1];
    launch.scratchBytes = scratchBytes;
  }
  return launch;
}
