// A traffic / roofline model of a convolution on paper: for one layer (Conv2dDesc) and one kernel family
// with its launch geometry, the FLOPs, the bytes the kernel's loads and stores ask of global memory,
// hence the arithmetic intensity, and a roofline time on a device given its peak FLOP/s, bandwidth and
// compute units. Estimates, not measurements: nothing here runs a kernel.
//
// What is counted (floats x 4 bytes), per family:
//   input     activations: every in-image (pixel, tap, channel) is read once per column tile that needs
//             it (taps on the zero padding are not loads). A register block re-reads a pixel's inputs
//             for each block of columns an invocation holds; a workgroup-memory tile for each column tile.
//   weights   the packed weights (Kg padded to 4, conv2d-weights.ts), read once per pixel tile, plus the
//             bias (and, with the pre-activation prologue, the BatchNorm scale and shift) as the kernel reads them.
//   output    N*P*Q*K floats written once; residual: read once with a residual epilogue.
//   partials  split-K only: every split writes its partial sums (N*P*Q*K floats) and the reduce pass reads them.
// These are the bytes requested by the kernel from the memory hierarchy beyond registers and workgroup
// memory, with no credit for caches: an upper bound on DRAM traffic (an L1/L2 that keeps a tile's
// re-reads lowers it). `compulsoryBytes` is the lower bound: every tensor read or written once.
// `executedFlops` is the work the kernel's tiles do, padding included (a 64-column tile on a group of
// 4 channels does 16x the useful work); `flops` the useful work (conv2dFlops).
//
// Roofline: time = max(executed FLOPs / (peak x busy), bytes / bandwidth), where busy = min(1,
// workgroups / computeUnits) is the share of compute units that have a workgroup at all (one
// workgroup keeps one unit busy: optimistic for small workgroups). Both terms are bounds of a
// well-scheduled kernel; a real kernel adds latency, instruction overhead and occupancy limits.

import { conv2dFlops, conv2dOutputSize, hasResidual, pixelTileCount, type Conv2dDesc, type RegisterTuning } from './conv2d-geometry.js';

/** A kernel family and its launch geometry, as far as traffic is concerned. */
export type TrafficFamily =
  /** shaders/conv2d.wgsl: a register block of 4*tq pixels x 4*jn channels per invocation, no workgroup memory. */
  | { family: 'register'; tuning: RegisterTuning }
  /**
   * A workgroup-memory tiled implicit GEMM: a workgroup computes bm pixels x bn channels of one group,
   * staging bm x bk inputs and bk x bn weights per step of the reduction through workgroup memory.
   */
  | { family: 'tiled'; bm: number; bn: number; bk: number }
  /** The tiled GEMM with the reduction split `splits` ways, partial sums through global memory, then a reduce pass. */
  | { family: 'split-k'; bm: number; bn: number; bk: number; splits: number }
  /**
   * The subgroup register block (shaders/conv2d-subgroup.wgsl): as 'register' with the lanes along pixels,
   * but each weight row is loaded by one lane of a subgroup of `subgroupSize` and shuffled to the others.
   */
  | { family: 'subgroup'; tq: number; jn: number; wg: number; subgroupSize: number };

export interface Conv2dTraffic {
  /** Useful FLOPs (2 x multiply-adds). */
  flops: number;
  /** FLOPs the tiles execute, padding included. */
  executedFlops: number;
  /** Bytes by operand (see the header), and their sum. */
  bytes: { input: number; weights: number; output: number; residual: number; partials: number; total: number };
  /** Every tensor read or written exactly once. */
  compulsoryBytes: number;
  /** flops / bytes.total (FLOP per byte). */
  intensity: number;
  workgroups: number;
  /** Workgroup memory per workgroup, bytes (0 for the register families). */
  workgroupBytes: number;
  /** subgroup only: vec4 shuffles of all lanes together. */
  shuffles: number;
}

/** A device for the roofline: peak FLOP/s, memory bandwidth in bytes/s, and compute units (SMs, cores, CUs). */
export interface RooflineDevice {
  name: string;
  peakFlops: number;
  bandwidth: number;
  computeUnits: number;
}

/** Assumed devices of the roofline tables (bench/roofline.ts): nominal f32 peaks and bandwidths, not measurements. */
export const ROOFLINE_DEVICES: readonly RooflineDevice[] = [
  { name: 'M1-class (8 GPU cores)', peakFlops: 2.6e12, bandwidth: 68e9, computeUnits: 8 },
  { name: 'RTX 3060-class (28 SMs)', peakFlops: 12.7e12, bandwidth: 360e9, computeUnits: 28 },
];

export interface RooflineEstimate {
  computeMs: number;
  memoryMs: number;
  /** max(computeMs, memoryMs). */
  ms: number;
  bound: 'compute' | 'memory';
  /** The same with compulsoryBytes: the floor for any kernel with these executed FLOPs. */
  floorMs: number;
}

const F32 = 4;

/**
 * In-image (output position, kernel tap) pairs along one axis: sum over taps t < T of the outputs
 * o < O whose input o*stride - pad + t lies in [0, size).
 */
export function insideTaps(size: number, O: number, T: number, stride: number, pad: number): number {
  let n = 0;
  for (let t = 0; t < T; t++) {
    // o*stride + t - pad in [0, size)  <=>  o in [ceil((pad - t) / stride), floor((size - 1 + pad - t) / stride)]
    const lo = Math.max(0, Math.ceil((pad - t) / stride));
    const hi = Math.min(O - 1, Math.floor((size - 1 + pad - t) / stride));
    if (hi >= lo) n += hi - lo + 1;
  }
  return n;
}

/** Shape facts every family uses. */
function shapeOf(d: Conv2dDesc) {
  const [P, Q] = conv2dOutputSize(d);
  const M = d.N * P * Q;
  const Cg = d.C / d.groups;
  const Kg = d.K / d.groups;
  const Kgp = 4 * Math.ceil(Kg / 4);
  const Rd = d.R * d.S * Cg;
  const rowsIn = insideTaps(d.H, P, d.R, d.stride, d.pad);
  const colsIn = insideTaps(d.W, Q, d.S, d.stride, d.pad);
  // Input floats one full read of the input by every output (per column tile): in-image (pixel, tap) pairs x C.
  const inputOnce = d.N * rowsIn * colsIn * d.C;
  return { P, Q, M, Cg, Kg, Kgp, cols: Kgp / 4, Rd, rowsIn, colsIn, inputOnce };
}

/** The traffic of `desc` run by `family`; throws on a geometry the family cannot have. */
export function conv2dTraffic(desc: Conv2dDesc, family: TrafficFamily): Conv2dTraffic {
  const s = shapeOf(desc);
  const G = desc.groups;
  const output = s.M * desc.K;
  const residual = hasResidual(desc.epilogue) ? output : 0;
  const preAct = desc.preAct ?? false;
  let input: number, weights: number, partials = 0, executed: number, workgroups: number, workgroupBytes = 0, shuffles = 0;
  const positive = (what: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`conv2dTraffic: ${what} must be a positive integer, got ${v}`);
  };

  if (family.family === 'register' || family.family === 'subgroup') {
    const t: RegisterTuning = family.family === 'register' ? family.tuning
      : { wgX: family.wg, wgY: 1, tq: family.tq, jn: family.jn, direct: false, channelLanes: false };
    positive('tq', t.tq); positive('jn', t.jn); positive('wgX', t.wgX); positive('wgY', t.wgY);
    const colInv = Math.ceil(s.cols / t.jn);                    // column blocks (invocations) per group
    const pixelTiles = pixelTileCount(desc.N, s.P, s.Q, t);
    let invocations = pixelTiles * colInv * G;                  // those that do work
    // Weight rows (of Kgp floats, the kernel reads 4*jn per block) read per pixel tile, and the input.
    let weightRowsPerTile: number;
    if (t.direct) {
      // Per tile (4*tq pixels of one output row) and in-image kernel row: 4*tq + S - 1 input pixels, S taps of weights.
      const qTiles = Math.ceil(s.Q / (4 * t.tq));
      input = colInv * G * s.Cg * desc.N * qTiles * s.rowsIn * (4 * t.tq + desc.S - 1);
      weightRowsPerTile = (s.rowsIn / s.P) * desc.S * s.Cg;     // averaged over the output rows
      executed = 2 * desc.N * qTiles * 4 * t.tq * s.rowsIn * desc.S * s.Cg * G * colInv * 4 * t.jn;
    } else {
      input = colInv * s.inputOnce;
      weightRowsPerTile = s.Rd;
      executed = 2 * pixelTiles * 4 * t.tq * G * colInv * 4 * t.jn * s.Rd;
    }
    if (family.family === 'register') {
      weights = invocations * weightRowsPerTile * 4 * t.jn;
      // The bias: one vec4 per stored quad and column; the prologue: scale and shift per 4 input channels.
      weights += invocations * t.tq * t.jn * 4;
      if (preAct) weights += t.direct ? 2 * input : invocations * 2 * s.Rd;
      workgroups = Math.ceil(pixelTiles / t.wgX) * G * Math.ceil(s.cols / (t.jn * t.wgY));
    } else {
      positive('subgroupSize', family.subgroupSize);
      if (family.wg % family.subgroupSize !== 0) {
        throw new Error(`conv2dTraffic: workgroup ${family.wg} is not a multiple of the subgroup size ${family.subgroupSize}`);
      }
      // Every lane of a workgroup runs (no early return); each subgroup reads a weight row once.
      const wgs = Math.ceil(pixelTiles / family.wg);
      const subgroups = wgs * (family.wg / family.subgroupSize) * colInv * G;
      invocations = wgs * family.wg * colInv * G;
      weights = subgroups * s.Rd * 4 * t.jn;
      weights += invocations * t.jn * 4;                         // the bias: once per column per lane
      if (preAct) weights += invocations * 2 * s.Rd;
      executed = 2 * wgs * family.wg * 4 * t.tq * G * colInv * 4 * t.jn * s.Rd;
      shuffles = invocations * s.Rd * t.jn;
      workgroups = wgs * colInv * G;
    }
  } else {
    const { bm, bn, bk } = family;
    positive('bm', bm); positive('bn', bn); positive('bk', bk);
    const splits = family.family === 'split-k' ? family.splits : 1;
    positive('splits', splits);
    const mTiles = Math.ceil(s.M / bm);
    const nTiles = Math.ceil(s.Kgp / bn);
    input = nTiles * s.inputOnce;
    // Weights (Kgp columns) once per pixel tile; the bias once per column per pixel tile (split-K: in the
    // reduce pass, once); the prologue's scale and shift once per reduction row per tile.
    weights = mTiles * G * s.Rd * s.Kgp + (splits > 1 ? desc.K : mTiles * G * s.Kgp);
    if (preAct) weights += mTiles * nTiles * G * 2 * s.Rd;
    const rdPerSplit = Math.ceil(s.Rd / splits);
    executed = 2 * mTiles * bm * nTiles * bn * G * splits * Math.ceil(rdPerSplit / bk) * bk;
    workgroups = mTiles * nTiles * G * splits;
    workgroupBytes = (bm + bn) * bk * F32;
    if (splits > 1) partials = 2 * splits * output;
  }
  const bytes = {
    input: input * F32, weights: weights * F32, output: output * F32, residual: residual * F32, partials: partials * F32, total: 0,
  };
  bytes.total = bytes.input + bytes.weights + bytes.output + bytes.residual + bytes.partials;
  const flops = conv2dFlops(desc);
  const packedWeights = G * s.Rd * s.Kgp + G * s.Kgp + (preAct ? 2 * desc.C : 0);
  const compulsoryBytes = F32 * (desc.N * desc.H * desc.W * desc.C + packedWeights + output + residual);
  return { flops, executedFlops: executed, bytes, compulsoryBytes, intensity: flops / bytes.total, workgroups, workgroupBytes, shuffles };
}

/** The roofline time of `t` on `device` (see the header). */
export function rooflineEstimate(t: Conv2dTraffic, device: RooflineDevice): RooflineEstimate {
  const busy = Math.min(1, t.workgroups / device.computeUnits);
  const computeMs = (1e3 * t.executedFlops) / (device.peakFlops * busy);
  const memoryMs = (1e3 * t.bytes.total) / device.bandwidth;
  const floorMs = Math.max(computeMs, (1e3 * t.compulsoryBytes) / device.bandwidth);
  return { computeMs, memoryMs, ms: Math.max(computeMs, memoryMs), bound: computeMs >= memoryMs ? 'compute' : 'memory', floorMs };
}

/**
 * The families of the roofline tables: today's hardware pick and the candidates of issue 24 (the tiled
 * tiles of 32x32 and 64x64 with 16 and 32 reduction rows staged, split 4 ways for split-K; the subgroup
 * block at 8 pixels x 16 channels, 64 lanes, subgroups of 32 as on NVIDIA and Apple GPUs).
 */
export function rooflineFamilies(hardwarePick: RegisterTuning): { name: string; family: TrafficFamily }[] {
  return [
    { name: `register ${4 * hardwarePick.tq}x${4 * hardwarePick.jn}`, family: { family: 'register', tuning: hardwarePick } },
    { name: 'tiled 32x32 k16', family: { family: 'tiled', bm: 32, bn: 32, bk: 16 } },
    { name: 'tiled 64x64 k32', family: { family: 'tiled', bm: 64, bn: 64, bk: 32 } },
    { name: 'split-k 64x64 k32 /4', family: { family: 'split-k', bm: 64, bn: 64, bk: 32, splits: 4 } },
    { name: 'subgroup 8x16 sg32', family: { family: 'subgroup', tq: 2, jn: 4, wg: 64, subgroupSize: 32 } },
  ];
}
