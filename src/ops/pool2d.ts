// TS twin of shaders/pool2d.wgsl: MaxPool2d / AvgPool2d (fixed window or global) on NHWC tensors.

import type { GpuContext } from '../gpu/device.js';
import { elementCount, type Dtype, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { ELEMENTWISE_WG, checkDtype, checkInts, checkNoAlias, checkShape, grid1d, shaderF16, shapeText, tensorBinding, windowOutputSize } from './common.js';

export interface Pool2dDesc {
  mode: 'max' | 'avg';
  /** Input shape [N, H, W, C]. */
  input: readonly number[];
  /** Average (or max) over the whole H x W map: output [N, 1, 1, C]. kernel/stride/pad must be omitted. */
  global?: boolean;
  /** Window R x S (a number means square). Required unless `global`. */
  kernel?: number | readonly [number, number];
  /** Default: the kernel size (PyTorch's default). */
  stride?: number | readonly [number, number];
  /** Zero-size implicit padding on each side; default 0. Must be <= kernel / 2. */
  pad?: number | readonly [number, number];
  /** PyTorch ceil_mode (default false). */
  ceilMode?: boolean;
  /** AvgPool2d count_include_pad (default true, PyTorch's default). Ignored for max. */
  countIncludePad?: boolean;
  /**
   * Average only: the input goes through max(0, x * scale[c] + shift[c]) (a BatchNorm + ReLU) before
   * pooling; bind() then takes the (2, C) scale-then-shift buffer (packPreAct). Default false.
   */
  preAct?: boolean;
  /** Storage of the input and the output (default 'f32'); f16 needs C % 4 == 0. The pre-activation stays f32. */
  inputDtype?: Dtype;
  outputDtype?: Dtype;
}

/** The (2, C) buffer contents of a pool's pre-activation: scale (C) then shift (C). */
export function packPreAct(scale: Float32Array, shift: Float32Array): Float32Array {
  if (scale.length !== shift.length) throw new Error(`pool2d pre-activation: scale has ${scale.length} values, shift ${shift.length}`);
  const out = new Float32Array(2 * scale.length);
  out.set(scale);
  out.set(shift, scale.length);
  return out;
}

/** Resolved window geometry. */
export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  pad: [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
}

function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

export class Pool2d {
  /** [N, P, Q, C]. */
  readonly outputShape: readonly number[];
  readonly geometry: PoolGeometry;

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: Pool2dDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
    private readonly vec4: boolean,
    geometry: PoolGeometry,
    outputShape: number[],
  ) {
    this.geometry = geometry;
    this.outputShape = outputShape;
  }

  static async create(ctx: GpuContext, desc: Pool2dDesc, label: string): Promise<Pool2d> {
    if (desc.mode !== 'max' && desc.mode !== 'avg') throw new Error(`${label}: mode must be 'max' or 'avg', got '${String(desc.mode)}'`);
    if (desc.input.length !== 4) throw new Error(`${label}: input shape ${shapeText(desc.input)} is not 4D [N, H, W, C]`);
    const [N, H, W, C] = desc.input;
    checkInts(label, { N, H, W, C });
    let kernel: [number, number], stride: [number, number], pad: [number, number];
    if (desc.global) {
      if (desc.kernel !== undefined || desc.stride !== undefined || desc.pad !== undefined || desc.ceilMode) {
        throw new Error(`${label}: a global pool takes no kernel, stride, pad or ceilMode`);
      }
      kernel = [H, W]; stride = [1, 1]; pad = [0, 0];
    } else {
      if (desc.kernel === undefined) throw new Error(`${label}: kernel is required unless global is set`);
      kernel = pair(desc.kernel);
      stride = pair(desc.stride ?? desc.kernel);
      pad = pair(desc.pad ?? 0);
      checkInts(label, { kernelH: kernel[0], kernelW: kernel[1], strideH: stride[0], strideW: stride[1] });
      checkInts(label, { padH: pad[0], padW: pad[1] }, true);
      if (2 * pad[0] > kernel[0] || 2 * pad[1] > kernel[1]) {
        throw new Error(`${label}: pad ${shapeText(pad)} must be at most half the kernel ${shapeText(kernel)} (PyTorch's rule)`);
      }
    }
    const ceilMode = desc.ceilMode ?? false;
    const P = windowOutputSize(H, kernel[0], stride[0], pad[0], ceilMode);
    const Q = windowOutputSize(W, kernel[1], stride[1], pad[1], ceilMode);
    if (P < 1 || Q < 1) {
      throw new Error(`${label}: kernel ${shapeText(kernel)} with pad ${shapeText(pad)} does not fit the ${H}x${W} input`);
    }
    if (desc.preAct && desc.mode !== 'avg') throw new Error(`${label}: the pre-activation prologue is for average pooling only`);
    const vec4 = C % 4 === 0;
    const xF16 = desc.inputDtype === 'f16', yF16 = desc.outputDtype === 'f16';
    if ((xF16 || yF16) && !vec4) throw new Error(`${label}: f16 storage needs C % 4 == 0, got C = ${C}`);
    const pipeline = await getPipeline(ctx, {
      shader: 'pool2d',
      defines: { MAX: desc.mode === 'max', VEC4: vec4, PRE_ACT: desc.preAct ?? false,
        X_F16: xF16, Y_F16: yF16, F16: xF16 || yF16, SHADER_F16: (xF16 || yF16) && shaderF16(ctx) },
      overrides: { WG: ELEMENTWISE_WG },
    });
    const geometry = { kernel, stride, pad, ceilMode, countIncludePad: desc.countIncludePad ?? true };
    return new Pool2d(ctx, desc, label, pipeline, vec4, geometry, [N, P, Q, C]);
  }

  /** input (N, H, W, C) -> output (N, P, Q, C); with preAct, `pre` is the (2, C) scale and shift (packPreAct). */
  bind(input: GpuTensor, output: GpuTensor, pre?: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    checkShape(label, 'input', input.shape, this.desc.input);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkNoAlias(label, input, output);
    checkDtype(label, 'input', input, this.desc.inputDtype ?? 'f32');
    checkDtype(label, 'output', output, this.desc.outputDtype ?? 'f32');
    if (this.desc.preAct) {
      if (!pre) throw new Error(`${label}: the pre-activation prologue needs its (2, C) scale and shift`);
      checkShape(label, 'pre-activation (2, C)', pre.shape, [2, this.desc.input[3]]);
    } else if (pre) {
      throw new Error(`${label}: a pre-activation was given but the pool has no prologue`);
    }
    const [N, H, W, C] = this.desc.input;
    const [, P, Q] = this.outputShape;
    const Cu = this.vec4 ? C / 4 : C;
    const { kernel, stride, pad, countIncludePad } = this.geometry;
    const total = N * P * Q * Cu;
    const [gx, gy] = grid1d(ctx, Math.ceil(total / ELEMENTWISE_WG), label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([
      N, H, W, Cu, P, Q, kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1],
      countIncludePad ? 1 : 0, total,
    ]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'output', output),
      ...(pre ? [tensorBinding(ctx, label, 'pre-activation', pre)] : []),
    ], [gx, gy], elementCount(this.outputShape) * kernel[0] * kernel[1] /* one compare or add per window element */);
  }
}
