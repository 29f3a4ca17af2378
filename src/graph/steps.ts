// What each kind of plan step is on the GPU (an op from src/ops/), for the runner (its CPU
// reference for validate() is src/reference/steps.ts). Plan shapes are per sample; here they get the batch N.
//
// Batch shapes of plan tensors: activations (N, H, W, C); the NCHW input (N, C, H, W); vectors
// (avgpool, fc, softmax) (N, K); top-k (N, 2, k) 32-bit words: k f32 probabilities, then k u32
// indices (src/ops/topk.ts).

import type { GpuContext } from '../gpu/device.js';
import { elementCount, tensorBytes, uploadBuffer, type Dtype, type GpuTensor, type Precision } from '../gpu/buffers.js';
import type { Dispatch } from '../gpu/dispatch.js';
import type { Plan, Step } from '../models/plan.js';
import type { FoldedParams } from '../weights/load.js';
import { Conv2d, hasF16Storage, kernelOverride, type Conv2dDesc, type Conv2dTuning, type KernelChoice } from '../ops/conv2d.js';
import { tuningFamily } from '../ops/conv2d-geometry.js';
import { Conv2dWeights, conv2dWeightLayout, packConv2dWeights } from '../ops/conv2d-weights.js';
import { firstUseConv2dTuning } from '../ops/conv2d-tuning.js';
import { Layout } from '../ops/layout.js';
import { Linear } from '../ops/linear.js';
import { packPreAct, Pool2d } from '../ops/pool2d.js';
import { Preprocess, type GpuImage, type Resample } from '../ops/preprocess.js';
import { Eca, packSqueezeExciteWeights, ScaleResidualRelu, SqueezeExcite, squeezeExciteWeightCount } from '../ops/se.js';
import { Softmax } from '../ops/softmax.js';
import { TopK } from '../ops/topk.js';

/** How image pixels become network input (from the weights' metadata). */
export interface Normalization {
  /** Pixels are scaled from [0, 255] to [lo, hi] before the mean and std. */
  inputRange: [number, number];
  mean: number[];
  std: number[];
  /** The shorter image side is resized to this before the centre crop (metadata 'resize_size'). */
  resizeTo: number;
  /** The resize filter (metadata 'interpolation'; default 'tensor-bilinear'). */
  resample?: Resample;
}

/** An RGBA8 image, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/**
 * A weighted step's packed weights on the GPU: a conv layer's texture (with its layout), linear's and
 * squeeze-excite's buffer, a pre-activated avgpool's (2, C) scale-and-shift buffer.
 */
export type StepWeights = Conv2dWeights | GPUBuffer;

/** A plan step bound to an op for one batch size. */
export interface StepOp {
  /** inputs in the step's order; weights for steps with weights (hasWeights, uploadStepWeights). Not for preprocess. */
  bind(inputs: GpuTensor[], output: GpuTensor, weights?: StepWeights): Dispatch;
  /** Preprocess only: one image into batch slot `slot` of the output. */
  bindImage?(image: GpuImage, output: GpuTensor, slot: number): Dispatch;
}

/** The batch shape of a plan tensor as the producing step writes it. */
export function stepTensorShape(plan: Plan, name: string, N: number): number[] {
  const t = plan.tensors.get(name);
  if (!t) throw new Error(`plan has no tensor '${name}'`);
  return [N, ...t.shape];
}

/**
 * How a plan's weights and tensors are stored at a precision (README "Precision"). At 'f16' the conv
 * weights are f16 textures and the NHWC activations that conv, max pool and the SE store write are f16
 * where their channels allow vec4 stores (C % 4 == 0; a conv's K/G % 4 == 0 too); the plan's input (the
 * preprocess or layout output), the pooled features, the SE scales, logits and probabilities stay f32.
 */
export interface PlanStorage {
  /** The conv weights' precision. */
  weights: Precision;
  /** Each tensor's storage (default 'f32'). */
  dtypeOf(tensor: string): Dtype;
}

export const F32_STORAGE: PlanStorage = { weights: 'f32', dtypeOf: () => 'f32' };

export function planStorage(plan: Plan, precision: Precision = 'f32'): PlanStorage {
  if (precision !== 'f32' && precision !== 'f16') throw new Error(`precision must be 'f32' or 'f16', got '${String(precision)}'`);
  if (precision === 'f32') return F32_STORAGE;
  const f16 = new Set<string>();
  for (const s of plan.steps) {
    const vec4 = (s.kind === 'conv' && s.K % 4 === 0 && (s.K / s.groups) % 4 === 0) || (s.kind === 'maxpool' && s.C % 4 === 0) ||
      (s.kind === 'scale-residual' && s.K % 4 === 0);
    if (vec4) f16.add(s.output);
  }
  return { weights: precision, dtypeOf: (t) => (f16.has(t) ? 'f16' : 'f32') };
}

/** Bytes of plan tensor `name` at batch N as `storage` keeps it (the memory planner's sizes). */
export function stepTensorBytes(plan: Plan, name: string, N: number, storage: PlanStorage = F32_STORAGE): number {
  return tensorBytes(stepTensorShape(plan, name, N), storage.dtypeOf(name));
}

/** The same bytes seen with another shape of equal element count. */
function view(t: GpuTensor, shape: number[]): GpuTensor {
  if (elementCount(shape) !== elementCount(t.shape)) {
    throw new Error(`cannot view [${t.shape}] as [${shape}]: element counts differ`);
  }
  return { ...t, shape };
}

export function convDesc(s: Extract<Step, { kind: 'conv' }>, N: number): Conv2dDesc {
  return { N, H: s.H, W: s.W, C: s.C, K: s.K, R: s.R, S: s.S, stride: s.stride, pad: s.pad, groups: s.groups, epilogue: s.epilogue,
    preAct: s.preNorm !== null };
}

/** The packed weight layout of a conv step at a weight precision. */
function convWeightLayout(s: Extract<Step, { kind: 'conv' }>, precision: Precision) {
  return conv2dWeightLayout({ ...convDesc(s, 1), weightDtype: precision });
}

/** Bytes of a weighted step's packed weights (packStepWeights' output). */
export function packedWeightBytes(s: Step, precision: Precision = 'f32'): number {
  if (s.kind === 'conv') return convWeightLayout(s, precision).length * (precision === 'f16' ? 2 : 4);
  if (s.kind === 'linear') return (s.K * s.C + s.K) * 4;
  if (s.kind === 'squeeze-excite') return squeezeExciteWeightCount(s.K, s.hidden) * 4;
  if (s.kind === 'eca') return s.kernel * 4;
  if (s.kind === 'avgpool' && s.norm) return 2 * s.C * 4;
  return 0;
}

/**
 * Packs a weighted step's folded PyTorch-layout weights for its kernel (bias and prologue appended, one
 * buffer); conv weights at `precision` (f16: a Uint16Array, conv2d-weights.ts), the others f32.
 */
export async function packStepWeights(ctx: GpuContext, s: Step, p: FoldedParams, precision: Precision = 'f32'): Promise<Float32Array | Uint16Array> {
  if (s.kind === 'conv') return packConv2dWeights(convWeightLayout(s, precision), p.weight, p.bias, p.pre);
  if (s.kind === 'squeeze-excite') {
    if (!p.fc2) throw new Error(`${s.name}: squeeze-excite weights need fc2`);
    return packSqueezeExciteWeights(s.K, s.hidden, p.weight, p.bias, p.fc2.weight, p.fc2.bias);
  }
  if (s.kind === 'eca') return p.weight;
  if (s.kind === 'linear') {
    const op = await Linear.create(ctx, { batch: 1, inFeatures: s.C, outFeatures: s.K }, s.name);
    return op.packWeights(p.weight, p.bias);
  }
  if (s.kind === 'avgpool' && s.norm) return packPreAct(p.weight, p.bias);
  throw new Error(`step ${s.name} (${s.kind}) has no weights`);
}

/** Uploads a weighted step's packed weights (packStepWeights) into the GPU object its kernel reads. */
export function uploadStepWeights(ctx: GpuContext, s: Step, packed: Float32Array | Uint16Array, precision: Precision = 'f32'): StepWeights {
  const label = `${s.name} weights`;
  if (s.kind === 'conv') return Conv2dWeights.upload(ctx, label, convWeightLayout(s, precision), packed);
  if (s.kind === 'linear' || s.kind === 'squeeze-excite' || s.kind === 'eca' || (s.kind === 'avgpool' && s.norm)) return uploadBuffer(ctx, label, packed);
  throw new Error(`step ${s.name} (${s.kind}) has no weights`);
}

/** GPU bytes of uploaded step weights. */
export function stepWeightBytes(w: StepWeights): number {
  return w instanceof Conv2dWeights ? w.bytes : w.size;
}

/** A conv layer's tuning chosen outside the heuristic (the on-device tuner's picks); undefined: the heuristic's. */
export type TuningLookup = (desc: Conv2dDesc) => Conv2dTuning | undefined;

/**
 * Creates the op for step `s` at batch N (pipelines come from the shared cache). `firstUse`: a conv gets
 * the quick-to-compile first-use tuning where the adapter has one (firstUseConv2dTuning), else `tuning`'s
 * pick for its shape, else the heuristic's (defaultConv2dTuning).
 * `kernels`: the conv kernel family, 'auto' the tuning's per adapter and layer, else that family forced
 * (first-use tunings are register ones: they apply under 'auto' and 'register' only; a pick of another
 * family than the forced one is not used, nor one of another family than 'register' for f16 storage).
 * `storage`: the precision of its weights and tensors (planStorage).
 */
export async function createStepOp(ctx: GpuContext, s: Step, N: number, norm: Normalization, firstUse = false,
  kernels: KernelChoice = 'auto', tuning?: TuningLookup, storage: PlanStorage = F32_STORAGE): Promise<StepOp> {
  const label = s.name;
  const dtype = (t: string) => storage.dtypeOf(t);
  switch (s.kind) {
    case 'conv': {
      const desc = { ...convDesc(s, N), inputDtype: dtype(s.inputs[0]), outputDtype: dtype(s.output),
        residualDtype: s.inputs[1] === undefined ? undefined : dtype(s.inputs[1]), weightDtype: storage.weights };
      const forced = kernelOverride(kernels);
      const quick = firstUse && (!forced || forced.family === 'register') ? firstUseConv2dTuning(ctx, desc) : undefined;
      const pick = firstUse ? undefined : tuning?.(desc);
      const family = forced?.family ?? (hasF16Storage(desc) ? 'register' : undefined);
      const picked = pick && (!family || tuningFamily(pick) === family) ? pick : undefined;
      const op = await Conv2d.create(ctx, desc, label, quick ?? picked ?? forced);
      return {
        bind: ([x, residual], out, w) => {
          if (!(w instanceof Conv2dWeights)) throw new Error(`${label}: conv weights must be the layer's Conv2dWeights`);
          return op.bind(x, w, out, residual);
        },
      };
    }
    case 'layout': {
      const op = await Layout.create(ctx, { direction: 'nchw-to-nhwc', input: [N, s.C, s.H, s.W] }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'maxpool': {
      const op = await Pool2d.create(ctx, { mode: 'max', input: [N, s.H, s.W, s.C], kernel: s.kernel, stride: s.stride,
        pad: s.pad, ceilMode: s.ceil, inputDtype: dtype(s.inputs[0]), outputDtype: dtype(s.output) }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'avgpool2d': {
      const op = await Pool2d.create(ctx, { mode: 'avg', input: [N, s.H, s.W, s.C], kernel: s.kernel, stride: s.stride,
        pad: s.pad, ceilMode: s.ceil, countIncludePad: s.countIncludePad, inputDtype: dtype(s.inputs[0]), outputDtype: dtype(s.output) }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'avgpool': {
      const preAct = s.norm !== null;
      const dtypes = { inputDtype: dtype(s.inputs[0]), outputDtype: dtype(s.output) };
      const op = s.window === 'global'
        ? await Pool2d.create(ctx, { mode: 'avg', input: [N, s.H, s.W, s.C], global: true, preAct, ...dtypes }, label)
        : await Pool2d.create(ctx, { mode: 'avg', input: [N, s.H, s.W, s.C], kernel: s.window, stride: 1, preAct, ...dtypes }, label);
      return {
        bind: ([x], out, w) => {
          if (w instanceof Conv2dWeights) throw new Error(`${label}: the pool's norm must be a buffer`);
          return op.bind(x, view(out, [N, 1, 1, s.C]), w && { buffer: w, shape: [2, s.C] });
        },
      };
    }
    case 'linear': {
      const op = await Linear.create(ctx, { batch: N, inFeatures: s.C, outFeatures: s.K }, label);
      return {
        bind: ([x], out, w) => {
          if (!w || w instanceof Conv2dWeights) throw new Error(`${label}: linear weights must be a buffer`);
          return op.bind(x, { buffer: w, shape: op.weightsShape }, out);
        },
      };
    }
    case 'squeeze-excite': {
      const op = await SqueezeExcite.create(ctx, { N, H: s.H, W: s.W, K: s.K, hidden: s.hidden, dtype: dtype(s.inputs[0]) }, label);
      return {
        bind: ([x], out, w) => {
          if (!w || w instanceof Conv2dWeights) throw new Error(`${label}: squeeze-excite weights must be a buffer`);
          return op.bind(x, { buffer: w, shape: op.weightsShape }, out);
        },
      };
    }
    case 'eca': {
      const op = await Eca.create(ctx, { N, H: s.H, W: s.W, K: s.K, kernel: s.kernel, dtype: dtype(s.inputs[0]) }, label);
      return {
        bind: ([x], out, w) => {
          if (!w || w instanceof Conv2dWeights) throw new Error(`${label}: eca weights must be a buffer`);
          return op.bind(x, { buffer: w, shape: op.weightsShape }, out);
        },
      };
    }
    case 'scale-residual': {
      const op = await ScaleResidualRelu.create(ctx, { N, H: s.H, W: s.W, K: s.K, dtype: dtype(s.output) }, label);
      return { bind: ([x, scales, residual], out) => op.bind(x, scales, residual, out) };
    }
    case 'softmax': {
      const op = await Softmax.create(ctx, { input: [N, s.K] }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'topk': {
      const op = await TopK.create(ctx, { input: [N, s.K], k: s.k }, label);
      return { bind: ([x], out) => op.bind(x, out) };
    }
    case 'preprocess': {
      const op = await Preprocess.create(ctx, {
        size: s.size, resizeTo: norm.resizeTo, channels: s.channels as 1 | 3, batch: N,
        range: norm.inputRange, mean: norm.mean, std: norm.std, resample: norm.resample,
      }, label);
      return {
        bind: () => { throw new Error(`${label}: bind images with bindImage()`); },
        bindImage: (image, out, slot) => op.bind(image, out, slot),
      };
    }
  }
}
