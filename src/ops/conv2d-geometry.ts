// What a convolution is and how shaders/conv2d.wgsl is launched on it: the description, the launch
// geometry (the WGSL overrides), the output size, the FLOPs and the pixel tiles of the grid. Shared by
// the twin (conv2d.ts), its packed weights (conv2d-weights.ts) and its tuning (conv2d-tuning.ts).

import type { Dtype } from '../gpu/buffers.js';
import { windowOutputSize } from './common.js';

/**
 * 'residual-relu': out = relu(conv + bias + residual), the bottleneck's last conv; 'residual': out =
 * conv + bias + residual, the last conv of a pre-activation block.
 */
export type Conv2dEpilogue = 'none' | 'relu' | 'residual-relu' | 'residual';

export const CONV2D_EPILOGUES: readonly Conv2dEpilogue[] = ['none', 'relu', 'residual-relu', 'residual'];

/** Whether `epilogue` adds a residual tensor (binding 3). */
export function hasResidual(epilogue: Conv2dEpilogue): boolean {
  return epilogue === 'residual-relu' || epilogue === 'residual';
}

export interface Conv2dDesc {
  /** Batch. */
  N: number;
  /** Input height and width. */
  H: number;
  W: number;
  /** Input channels. */
  C: number;
  /** Output channels. */
  K: number;
  /** Kernel height and width. */
  R: number;
  S: number;
  stride: number;
  /** Zero padding on every side. */
  pad: number;
  /** G: groups; 1 = dense, C = K = G depthwise. Must divide C and K. */
  groups: number;
  epilogue: Conv2dEpilogue;
  /**
   * Pre-activation prologue: the input is read as relu(x * scale[c] + shift[c]) (a BatchNorm + ReLU
   * before the conv), with zero padding still zero. scale and shift (C each) are packed after the bias.
   * Needs C/G % 4 == 0. Default false.
   */
  preAct?: boolean;
  /** Storage of the input, the residual and the output; default 'f32'. An f16 output needs K/G % 4 == 0. */
  inputDtype?: Dtype;
  residualDtype?: Dtype;
  outputDtype?: Dtype;
  /** Storage of the packed weights (conv2d-weights.ts): 'f32' (rgba32float, the default) or 'f16' (rgba16float). */
  weightDtype?: Dtype;
}

/**
 * The conv kernel families: 'register' is shaders/conv2d.wgsl (register blocks, no workgroup memory: what
 * the CPU-backed adapters run fastest), 'tiled' shaders/conv2d-tiled.wgsl (tiles staged through workgroup
 * memory, for hardware GPUs; src/ops/conv2d-tiled.ts), 'subgroup' shaders/conv2d-subgroup.wgsl (register
 * blocks whose weights a subgroup's lanes share by shuffles; adapters with the 'subgroups' feature;
 * src/ops/conv2d-subgroup.ts).
 */
export type Conv2dFamily = 'register' | 'tiled' | 'subgroup';

export const CONV2D_FAMILIES: readonly Conv2dFamily[] = ['register', 'tiled', 'subgroup'];

/** Launch geometry of the register family (shaders/conv2d.wgsl: the WGSL `override`s and the path defines). */
export interface RegisterTuning {
  /** Absent or 'register'. */
  family?: 'register';
  /** Invocations per workgroup along pixels and along channel-column blocks. */
  wgX: number;
  wgY: number;
  /** Quads of 4 pixels per invocation: 1 to 8. */
  tq: number;
  /** vec4 output-channel columns (4 channels each) per invocation: 1 to 16. */
  jn: number;
  /**
   * The direct path (define DIRECT): a pixel tile is 4*tq consecutive pixels of one output row, and the
   * input row is loaded once per kernel row and slid across the taps. Stride 1, S = 3, C/G % 4 == 0 only.
   */
  direct: boolean;
  /**
   * The SIMD lanes of CPU drivers run along column blocks (define CHANNEL_LANES) rather than along pixel
   * tiles: for layers with too few pixels to fill the lanes, and on llvmpipe for blocks of more than 32
   * channels.
   */
  channelLanes: boolean;
}

/**
 * Launch geometry of the tiled family (shaders/conv2d-tiled.wgsl, its overrides): a workgroup computes a
 * bm-pixel x bn-channel output tile of one group, staging bk reduction steps at a time through workgroup
 * memory; each invocation computes tm pixels x tn channels of it ((bm/tm) x (bn/tn) invocations).
 */
export interface TiledTuning {
  family: 'tiled';
  /** Output tile: pixels (1 to 256) and channels (a multiple of 4, at most 128). */
  bm: number;
  bn: number;
  /** Reduction steps staged per barrier: a multiple of 4, 4 to 64. */
  bk: number;
  /** Pixels (1 to 8) and channels (4 or 8) per invocation; tm divides bm, tn divides bn. */
  tm: number;
  tn: number;
  /**
   * Split-K: the reduction is cut into this many slices (1 = none), each a workgroup writing partial sums
   * to a scratch buffer, then a second pass adds them with the bias and the epilogue: for layers with few
   * output tiles (7x7 and 14x14 maps at batch 1), so that the GPU has enough workgroups.
   */
  splitK: number;
}

/**
 * Launch geometry of the subgroup family (shaders/conv2d-subgroup.wgsl, its overrides): each lane computes
 * tq quads of 4 pixels x jn vec4 columns of one group; a workgroup is wg lanes along pixels.
 */
export interface SubgroupTuning {
  family: 'subgroup';
  /** Pixel quads (4 pixels each) per lane: 1 or 2. */
  tq: number;
  /** vec4 output-channel columns (4 channels each) per lane: 1 to 4. */
  jn: number;
  /** Lanes per workgroup (along pixels): a multiple of the adapter's largest subgroup size. */
  wg: number;
}

/** Launch geometry of a convolution: the kernel family and that family's fields. */
export type Conv2dTuning = RegisterTuning | TiledTuning | SubgroupTuning;

/**
 * What Conv2d.create takes to override the default tuning: some register fields (the default family's
 * default filled in), or a family with some of its fields (the rest from that family's default).
 */
export type Conv2dTuningOverride = Partial<RegisterTuning> | (Partial<TiledTuning> & { family: 'tiled' }) |
  (Partial<SubgroupTuning> & { family: 'subgroup' });

/**
 * A tuning in one line, as bench --micro prints it: register '32px x 16ch wg 8x1 direct ch-lanes', tiled
 * 'tiled 32x32 k32 4x4/inv split-K 4'.
 */
export function describeTuning(t: Conv2dTuning): string {
  if (t.family === 'tiled') return `tiled ${t.bm}x${t.bn} k${t.bk} ${t.tm}x${t.tn}/inv${t.splitK > 1 ? ` split-K ${t.splitK}` : ''}`;
  if (t.family === 'subgroup') return `subgroup ${4 * t.tq}px x ${4 * t.jn}ch wg ${t.wg}`;
  return `${4 * t.tq}px x ${4 * t.jn}ch wg ${t.wgX}x${t.wgY}${t.direct ? ' direct' : ''}${t.channelLanes ? ' ch-lanes' : ''}`;
}

/** The family of a tuning ('register' when absent). */
export function tuningFamily(t: { family?: Conv2dFamily }): Conv2dFamily {
  return t.family ?? 'register';
}

/** Output height and width [P, Q]. */
export function conv2dOutputSize(d: Pick<Conv2dDesc, 'H' | 'W' | 'R' | 'S' | 'stride' | 'pad'>): [number, number] {
  return [windowOutputSize(d.H, d.R, d.stride, d.pad), windowOutputSize(d.W, d.S, d.stride, d.pad)];
}

/** 2 x the multiply-adds of `desc` (all N images). */
export function conv2dFlops(desc: Conv2dDesc): number {
  const [P, Q] = conv2dOutputSize(desc);
  return 2 * desc.N * P * Q * desc.K * desc.R * desc.S * (desc.C / desc.groups);
}

/**
 * Pixel tiles of the grid: 4*tq consecutive pixels of the N*P*Q, or (direct path) of one output row,
 * ceil(Q / (4*tq)) per row.
 */
export function pixelTileCount(N: number, P: number, Q: number, t: RegisterTuning): number {
  return t.direct ? N * P * Math.ceil(Q / (4 * t.tq)) : Math.ceil((N * P * Q) / (4 * t.tq));
}

/**
 * Params words 0 to 15, which the three conv shaders declare alike: N, H, W, C, K, P, Q, M = N*P*Q,
 * R, S, stride, pad, G, then the per-group channels of the weight layout (Cg, Kg, Kgp).
 */
export function convShapeWords(d: Conv2dDesc, layout: { Cg: number; Kg: number; Kgp: number }): number[] {
  const [P, Q] = conv2dOutputSize(d);
  return [d.N, d.H, d.W, d.C, d.K, P, Q, d.N * P * Q, d.R, d.S, d.stride, d.pad, d.groups, layout.Cg, layout.Kg, layout.Kgp];
}

/** The grid's x and z over `tiles` pixel tiles: x up to maxComputeWorkgroupsPerDimension, z past it. */
function pixelTileSplit(tiles: number, maxDim: number): [x: number, z: number] {
  const x = Math.min(tiles, maxDim);
  return [x, Math.ceil(tiles / x)];
}

/** Whether `tiles` pixel tiles fit the x * z grid of pixelTileGrid. */
export function pixelTilesFit(tiles: number, maxDim: number): boolean {
  return pixelTileSplit(tiles, maxDim)[1] <= maxDim;
}

/** pixelTileSplit, with `bad` throwing when even x * z cannot hold the tiles. */
export function pixelTileGrid(tiles: number, maxDim: number, bad: (msg: string) => never): [x: number, z: number] {
  if (!pixelTilesFit(tiles, maxDim)) bad(`${tiles} pixel tiles do not fit a ${maxDim} x ${maxDim} grid`);
  return pixelTileSplit(tiles, maxDim);
}
