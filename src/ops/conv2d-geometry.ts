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

/** Launch geometry of the kernel (the WGSL `override`s and the path defines). */
export interface Conv2dTuning {
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
export function pixelTileCount(N: number, P: number, Q: number, t: Conv2dTuning): number {
  return t.direct ? N * P * Math.ceil(Q / (4 * t.tq)) : Math.ceil((N * P * Q) / (4 * t.tq));
}
