// The conv kernel family and tile per layer shape on hardware GPUs: a rule table per GPU vendor
// (recognised from the adapter's info), and the tiled tunings worth timing for a layer (tiledCandidates,
// for a tuner). NOT MEASURED ON A GPU: no GPU was available when this table was written; its entries are
// reasoned from the vendors' documented hardware (SIMD width, registers, workgroup memory) and from what
// ONNX Runtime Web and TF.js ship (32 x 32 tiles of 8 x 8 invocations, 4 x 4 outputs each, K staged 32 at
// a time). Correctness of every entry is tested on the software adapters by forcing the tiled family.
//
// The rules, for every vendor:
// - The tiled family (shaders/conv2d-tiled.wgsl) for every layer: the register family (conv2d.wgsl) keeps
//   no data in workgroup memory, so each input is loaded once per 4 to 64 output channels from memory
//   (what CPU drivers want), where a tile shares each load among a whole workgroup's outputs.
// - Dense layers (Kg > 32): a 64 x 64 tile (8 x 8 outputs per invocation, 64 invocations, K staged 16
//   at a time: 9 KiB of workgroup memory) where the layer has enough such tiles to fill the GPU
//   (`wide64` tiles at least), else 32 x 32 (4 x 4 each, 64 invocations, K 32 at a time: 8.5 KiB).
// - Layers with narrow groups (Kg <= 32: ResNeXt's 3x3 layers, 4 to 32 channels a group): the
//   tile is exactly Kgp channels wide (a tile never spans two groups, so a 32-wide tile would compute
//   mostly zeros for 4-channel groups) and 64 invocations tall (128 to 256 pixels, 1 to 4 per
//   invocation), with the reduction (R*S*Cg = 36 to 288 steps) staged in pieces that divide it.
// - Split-K where the output tiles are too few to fill the GPU (7x7 and 14x14 maps at batch 1, e.g.
//   ResNet-50's layer4 3x3: 2 x 16 tiles of 32 x 32 with a reduction of 4608): the reduction is cut
//   into up to 16 slices of at least 4 stages each until there are `fill` workgroups, then a second
//   small pass adds the slices.
// Per vendor (vendorOf):
//   nvidia   32 lanes a warp, 64K registers per SM, 20 to 140 SMs: 64 x 64 tiles from 64 of them; fill 256.
//   amd      64 lanes (GCN) or 32 (RDNA) a wave, large register files: as nvidia; fill 256.
//   apple    32 lanes a SIMD group, register pressure lowers occupancy quickly: 64 x 64 only from 128 tiles;
//            fill 128 (8 to 40 GPU cores in M1 to M3, of 4 SIMD groups each).
//   intel    SIMD8 to SIMD32 EUs sharing a small register file per thread (integrated GPUs mostly):
//            32 x 32 tiles with K staged 16 at a time; fill 96.
//   qualcomm, arm  mobile GPUs (Adreno waves of 64 to 128 lanes, Mali warps of 16): 32 x 32, K 16;
//            fill 64.
//   unknown  ONNX Runtime Web's choice: 32 x 32, K 32; fill 128.

import type { GpuContext } from '../gpu/device.js';
import { conv2dOutputSize, type Conv2dDesc, type TiledTuning } from './conv2d-geometry.js';
import { tiledStages, tiledTuningProblem } from './conv2d-tiled.js';

export type GpuVendor = 'nvidia' | 'amd' | 'apple' | 'intel' | 'qualcomm' | 'arm' | 'unknown';

/** The vendor named by the adapter's info (vendor, architecture, device, description). */
export function vendorOf(info: Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>): GpuVendor {
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
  if (/nvidia|geforce|quadro|tesla|ampere|turing|lovelace|hopper|blackwell/.test(text)) return 'nvidia';
  if (/\bamd\b|radeon|\bati\b|rdna|gcn/.test(text)) return 'amd';
  if (/apple|metal-3|\bm[1-4]\b/.test(text)) return 'apple';
  if (/intel|\biris\b|\buhd\b|\barc\b|xe/.test(text)) return 'intel';
  if (/qualcomm|adreno/.test(text)) return 'qualcomm';
  if (/\barm\b|mali|valhall|bifrost/.test(text)) return 'arm';
  return 'unknown';
}

/** A vendor's rules (see the header). */
export interface VendorRules {
  /** Dense layers with at least this many 64 x 64 output tiles get that tile (Infinity: never). */
  wide64: number;
  /** K staged per barrier in 32 x 32 tiles. */
  bk32: number;
  /** Workgroups wanted before split-K stops splitting. */
  fill: number;
}

export const VENDOR_RULES: Record<GpuVendor, VendorRules> = {
  nvidia: { wide64: 64, bk32: 32, fill: 256 },
  amd: { wide64: 64, bk32: 32, fill: 256 },
  apple: { wide64: 128, bk32: 32, fill: 128 },
  intel: { wide64: Infinity, bk32: 16, fill: 96 },
  qualcomm: { wide64: Infinity, bk32: 16, fill: 64 },
  arm: { wide64: Infinity, bk32: 16, fill: 64 },
  unknown: { wide64: Infinity, bk32: 32, fill: 128 },
};

/** Largest split-K and fewest stages a slice gets. */
const MAX_SPLIT_K = 16;
const MIN_STAGES_PER_SPLIT = 4;
/** Layers with fewer output tiles than this get split-K candidates. */
const SPLIT_K_CANDIDATE_TILES = 512;

const TILE_32: Omit<TiledTuning, 'bk' | 'splitK'> = { family: 'tiled', bm: 32, bn: 32, tm: 4, tn: 4 };
const TILE_64: Omit<TiledTuning, 'splitK'> = { family: 'tiled', bm: 64, bn: 64, bk: 16, tm: 8, tn: 8 };

/** Reduction length R*S*C/G. */
function reduction(desc: Conv2dDesc): number {
  return desc.R * desc.S * (desc.C / desc.groups);
}

/** The tiles of a narrow-group layer: Kgp wide, 64 invocations, tm pixels each; K staged by a divisor of Kred. */
function narrowTile(desc: Conv2dDesc, tm: number, maxBk: number, maxBytes: number): TiledTuning {
  const Kgp = Math.ceil(desc.K / desc.groups / 4) * 4;
  const nx = Kgp / 4;
  const bm = Math.max(1, Math.floor(64 / nx)) * tm;
  const Kred = reduction(desc);
  let bk = 16;
  for (let b = 4 * Math.floor(maxBk / 4); b >= 12; b -= 4) {
    if (Kred % b === 0 && 16 * (bm * (b / 4 + 1) + (b * Kgp) / 4) <= maxBytes) { bk = b; break; }
  }
  return { family: 'tiled', bm, bn: Kgp, bk, tm, tn: 4, splitK: 1 };
}

/** Split-K so that tiles x splits reaches `fill` workgroups, with slices of at least MIN_STAGES_PER_SPLIT stages. */
function withSplitK(desc: Conv2dDesc, t: TiledTuning, fill: number): TiledTuning {
  const [P, Q] = conv2dOutputSize(desc);
  const tiles = Math.ceil((desc.N * P * Q) / t.bm) * Math.ceil(Math.ceil(desc.K / desc.groups / 4) * 4 / t.bn) * desc.groups;
  const stages = tiledStages(desc, t.bk);
  if (tiles >= fill) return t;
  const splitK = Math.max(1, Math.min(MAX_SPLIT_K, Math.ceil(fill / tiles), Math.floor(stages / MIN_STAGES_PER_SPLIT)));
  return { ...t, splitK };
}

/** The rule table's tiled tuning of `desc` on `ctx`'s vendor (see the header). */
export function hardwareConv2dTuning(ctx: GpuContext, desc: Conv2dDesc): TiledTuning {
  const rules = VENDOR_RULES[vendorOf(ctx.adapterInfo)];
  const maxBytes = ctx.device.limits.maxComputeWorkgroupStorageSize;
  const Kg = desc.K / desc.groups;
  const [P, Q] = conv2dOutputSize(desc);
  const M = desc.N * P * Q;
  let t: TiledTuning;
  if (Kg <= 32) {
    t = narrowTile(desc, Kg <= 8 ? 2 : 4, 36, maxBytes);
  } else {
    const tiles64 = Math.ceil(M / 64) * Math.ceil(Kg / 64) * desc.groups;
    t = tiles64 >= rules.wide64 ? { ...TILE_64, splitK: 1 } : { ...TILE_32, bk: rules.bk32, splitK: 1 };
  }
  const fitted = tiledTuningProblem(ctx, desc, t) ? { ...TILE_32, bk: 16, tm: 4, splitK: 1 } as TiledTuning : t;
  return withSplitK(desc, fitted, rules.fill);
}

/**
 * Tiled tunings worth timing for `desc` on `ctx` (each valid there): the rule table's pick first, then
 * 32 x 32 and 64 x 64 tiles, 64 x 32 and 32 x 64, narrow-group tiles (Kgp wide) for grouped layers, K staged
 * 16 or 32 at a time, and split-K 2 to 16 where the layer has few output tiles.
 */
export function tiledCandidates(ctx: GpuContext, desc: Conv2dDesc): TiledTuning[] {
  const base: TiledTuning[] = [
    hardwareConv2dTuning(ctx, desc),
    { ...TILE_32, bk: 32, splitK: 1 },
    { ...TILE_32, bk: 16, splitK: 1 },
    { ...TILE_64, splitK: 1 },
    { family: 'tiled', bm: 64, bn: 32, bk: 32, tm: 8, tn: 4, splitK: 1 },
    { family: 'tiled', bm: 32, bn: 64, bk: 32, tm: 4, tn: 8, splitK: 1 },
    { family: 'tiled', bm: 64, bn: 64, bk: 16, tm: 4, tn: 8, splitK: 1 },
  ];
  const Kg = desc.K / desc.groups;
  if (Kg <= 32) {
    const maxBytes = ctx.device.limits.maxComputeWorkgroupStorageSize;
    for (const tm of [1, 2, 4]) for (const maxBk of [16, 36]) base.push(narrowTile(desc, tm, maxBk, maxBytes));
  }
  const out: TiledTuning[] = [];
  const seen = new Set<string>();
  const add = (t: TiledTuning) => {
    const id = JSON.stringify(t);
    if (!seen.has(id) && !tiledTuningProblem(ctx, desc, t)) { seen.add(id); out.push(t); }
  };
  const [P, Q] = conv2dOutputSize(desc);
  for (const t of base) {
    add(t);
    const tiles = Math.ceil((desc.N * P * Q) / t.bm) * Math.ceil(Kg / t.bn) * desc.groups;
    if (tiles >= SPLIT_K_CANDIDATE_TILES) continue;
    const stages = tiledStages(desc, t.bk);
    for (const splitK of [2, 4, 8, 16]) if (stages / splitK >= MIN_STAGES_PER_SPLIT / 2) add({ ...t, splitK });
  }
  return out;
}
