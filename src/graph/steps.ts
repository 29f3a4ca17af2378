// What each kind of plan step is on the GPU (an op from src/ops/) and on the CPU (its reference
// from src/reference/), for the runner. Plan shapes are per sample; here they get the batch N.
//
// Batch shapes of plan tensors: activations (N, H, W, C); the NCHW input (N, C, H, W); vectors
// (avgpool, fc, softmax) (N, K); top-k (N, k, 2) as (probability, index) f32 pairs.

import type { GpuContext } from '../gpu/device.js';
import { elementCount, type GpuTensor } from '../gpu/buffers.js';
import type { Dispatch } from '../gpu/dispatch.js';
import type { Plan, Step } from '../models/plan.js';
import type { FoldedParams } from '../weights/load.js';
import { Conv2d, packConv2dWeights, type Conv2dDesc } from '../ops/conv2d.js';
import { Layout } from '../ops/layout.js';
import { Pool2d } from '../ops/pool2d.js';
import { conv2dRef } from '../reference/conv2d.js';
import { nchwToNhwc } from '../reference/layout.js';
import { pool2d } from '../reference/pool2d.js';

/** How image pixels become network input (from the weights' metadata). */
export interface Normalization {
  /** Pixels are scaled from [0, 255] to [lo, hi] before the mean and std. */
  inputRange: [number, number];
  mean: number[];
  std: number[];
}

/** An RGBA8 image, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** A plan step bound to an op for one batch size. */
export interface StepOp {
  /** inputs in the step's order; weights for conv and linear steps. */
  bind(inputs: GpuTensor[], output: GpuTensor, weights?: GPUBuffer): Dispatch;
}

/** The batch shape of a plan tensor as the producing step writes it. */
export function stepTensorShape(plan: Plan, name: string, N: number): number[] {
  const t = plan.tensors.get(name);
  if (!t) throw new Error(`plan has no tensor '${name}'`);
  return [N, ...t.shape];
}

/** The same bytes seen with another shape of equal element count. */
function view(t: GpuTensor, shape: number[]): GpuTensor {
  if (elementCount(shape) !== elementCount(t.shape)) {
    throw new Error(`cannot view [${t.shape}] as [${shape}]: element counts differ`);
  }
  return { ...t, shape };
}

function convDesc(s: Extract<Step, { kind: 'conv' }>, N: number): Conv2dDesc {
  return { N, H: s.H, W: s.W, C: s.C, K: s.K, R: s.R, S: s.S, stride: s.stride, pad: s.pad, groups: s.groups, epilogue: s.epilogue };
}

/** The fc layer as a 1x1 convolution over a 1x1 map: (N, 1, 1, C) -> (N, 1, 1, K). */
function fcAsConvDesc(s: Extract<Step, { kind: 'linear' }>, N: number): Conv2dDesc {
  return { N, H: 1, W: 1, C: s.C, K: s.K, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'none' };
}

/** Packs a conv or linear step's folded PyTorch-layout weights for its kernel (bias appended). */
export function packStepWeights(s: Step, p: FoldedParams): Float32Array {
  if (s.kind === 'conv') return packConv2dWeights(convDesc(s, 1), p.weight, p.bias);
  if (s.kind === 'linear') return packConv2dWeights(fcAsConvDesc(s, 1), p.weight, p.bias);
  throw new Error(`step ${s.name} (${s.kind}) has no weights`);
}

/** Creates the op for step `s` at batch N (pipelines come from the shared cache). */
export async function createStepOp(ctx: GpuContext, plan: Plan, s: Step, N: number, norm: Normalization,
  image?: { width: number; height: number; slot: number }): Promise<StepOp> {
  const label = s.name;
  switch (s.kind) {
    case 'conv': {
      const op = await Conv2d.create(ctx, convDesc(s, N), label);
      return {
        bind: ([x, residual], out, w) => op.bind(x, w!, out, residual),
      };
    }
    case 'layout': {
      const op = await Layout.create(ctx, { direction: 'nchw-to-nhwc', input: [N, s.C, s.H, s.W] }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'maxpool': {
      const op = await Pool2d.create(ctx, { mode: 'max', input: [N, s.H, s.W, s.C], kernel: s.kernel, stride: s.stride,
        pad: s.pad, ceilMode: s.ceil }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'avgpool': {
      const op = s.window === 'global'
        ? await Pool2d.create(ctx, { mode: 'avg', input: [N, s.H, s.W, s.C], global: true }, label)
        : await Pool2d.create(ctx, { mode: 'avg', input: [N, s.H, s.W, s.C], kernel: s.window, stride: 1 }, label);
      return { bind: ([x], out) => op.bind(x, view(out, [N, 1, 1, s.C])) };
    }
    case 'linear': {
      const op = await Conv2d.create(ctx, fcAsConvDesc(s, N), label);
      return { bind: ([x], out, w) => op.bind(view(x, [N, 1, 1, s.C]), w!, view(out, [N, 1, 1, s.K])) };
    }
    case 'softmax':
    case 'topk':
    case 'preprocess':
      void image; void norm; void plan;
      throw new Error(`step ${s.name}: '${s.kind}' is not wired to an op yet`);
  }
}

/** The CPU reference of step `s` on `inputs` (batch N, the shapes of stepTensorShape). */
export function referenceStep(plan: Plan, s: Step, N: number, inputs: Float32Array[], p: FoldedParams | undefined,
  norm: Normalization): Float32Array {
  void norm;
  switch (s.kind) {
    case 'conv':
      return conv2dRef(inputs[0], convDesc(s, N), p!.weight, p!.bias, inputs[1]);
    case 'layout':
      return nchwToNhwc(inputs[0], [N, s.C, s.H, s.W]);
    case 'maxpool':
      return pool2d(inputs[0], [N, s.H, s.W, s.C], { mode: 'max', kernel: [s.kernel, s.kernel], stride: [s.stride, s.stride],
        pad: [s.pad, s.pad], ceilMode: s.ceil, countIncludePad: true }).data;
    case 'avgpool': {
      const k: [number, number] = s.window === 'global' ? [s.H, s.W] : [s.window, s.window];
      return pool2d(inputs[0], [N, s.H, s.W, s.C], { mode: 'avg', kernel: k, stride: [1, 1], pad: [0, 0], ceilMode: false,
        countIncludePad: true }).data;
    }
    case 'linear':
      return conv2dRef(inputs[0], fcAsConvDesc(s, N), p!.weight, p!.bias);
    default:
      void plan;
      throw new Error(`step ${s.name}: no CPU reference for '${s.kind}' yet`);
  }
}
