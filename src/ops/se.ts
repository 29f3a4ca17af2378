// TS twin of shaders/se.wgsl: the channel attention of a bottleneck, squeeze-and-excitation
// (SqueezeExcite) or efficient channel attention (Eca), and the block's store (ScaleResidualRelu).
// The shader's header gives the math, the dispatch count and why.

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, GpuLimitError, type Dtype, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkDtype, checkInts, checkNoAlias, checkShape, grid1d, shaderF16, tensorBinding } from './common.js';

export interface SqueezeExciteDesc extends ChannelScalesDesc {
  /** fc1's outputs (K / reduction). */
  hidden: number;
}

/** The shader defines of f16 activations. */
function f16Defines(ctx: GpuContext, dtype: Dtype | undefined): Record<string, boolean> {
  const f16 = dtype === 'f16';
  return { F16: f16, SHADER_F16: f16 && shaderF16(ctx) };
}

/** Invocations per workgroup of every entry point (WGSL override WG). */
const WG = 256;
/** Channels per vec4 in scale_residual_relu. */
const VEC = 4;

/** Values of the packed SE weights: w1 (hidden, K), b1 (hidden), w2 (K, hidden), b2 (K). */
export function squeezeExciteWeightCount(K: number, hidden: number): number {
  return 2 * K * hidden + hidden + K;
}

/**
 * Packs fc1 (hidden, K, 1, 1) + bias (hidden) and fc2 (K, hidden, 1, 1) + bias (K), PyTorch's
 * layouts, into the one buffer squeeze_excite reads.
 */
export function packSqueezeExciteWeights(K: number, hidden: number, w1: Float32Array, b1: Float32Array,
  w2: Float32Array, b2: Float32Array): Float32Array {
  const expect = (what: string, a: Float32Array, n: number) => {
    if (a.length !== n) throw new Error(`squeeze-excite ${what} has ${a.length} values, expected ${n}`);
  };
  expect('fc1 weight', w1, hidden * K);
  expect('fc1 bias', b1, hidden);
  expect('fc2 weight', w2, K * hidden);
  expect('fc2 bias', b2, K);
  const packed = new Float32Array(squeezeExciteWeightCount(K, hidden));
  packed.set(w1, 0);
  packed.set(b1, hidden * K);
  packed.set(w2, hidden * K + hidden);
  packed.set(b2, 2 * hidden * K + hidden);
  return packed;
}

/** What squeeze_excite and eca share: the channel means of x in workgroup memory, scales (N, K) out. */
interface ChannelScalesDesc {
  /** Batch N, spatial size H x W and channels K of the block's last conv output (N, H, W, K). */
  N: number; H: number; W: number; K: number;
  /** Storage of the input activations (default 'f32'); the scales are f32. */
  dtype?: Dtype;
}

/**
 * The pipeline of entry point `entry`, checked first: the shapes, `sharedWords` f32 of workgroup
 * memory against the adapter's limit, the input and weights against the binding limit.
 */
async function channelScalesPipeline(ctx: GpuContext, d: ChannelScalesDesc, label: string, entry: 'squeeze_excite' | 'eca',
  what: string, sharedWords: number, weightWords: number, overrides: Record<string, number>): Promise<GPUComputePipeline> {
  const { N, H, W, K } = d;
  checkInts(label, { N, H, W, K });
  const limit = ctx.device.limits.maxComputeWorkgroupStorageSize;
  if (sharedWords * 4 > limit) {
    throw new GpuLimitError(`${label}: ${what} (${sharedWords * 4} bytes) in workgroup memory; the adapter allows ${limit} bytes`);
  }
  checkBindingSize(ctx, N * H * W * K * 4, `${label} input`);
  checkBindingSize(ctx, weightWords * 4, `${label} weights`);
  if (d.dtype === 'f16' && K % 2 !== 0) throw new Error(`${label}: f16 activations need an even K, got ${K}`);
  return getPipeline(ctx, { shader: 'se', entryPoint: entry, defines: f16Defines(ctx, d.dtype), overrides: { WG, K_CAP: K, ...overrides } });
}

/** One workgroup per image: input (N, H, W, K), weights, scales (N, K); `arg` is the params' fourth word. */
function channelScalesDispatch(ctx: GpuContext, d: ChannelScalesDesc, label: string, pipeline: GPUComputePipeline,
  weightsShape: readonly number[], arg: number, flops: number, input: GpuTensor, weights: GpuTensor, output: GpuTensor): Dispatch {
  const { N, H, W, K } = d;
  checkShape(label, 'input', input.shape, [N, H, W, K]);
  checkShape(label, 'weights', weights.shape, weightsShape);
  checkShape(label, 'output', output.shape, [N, K]);
  checkDtype(label, 'input', input, d.dtype ?? 'f32');
  checkDtype(label, 'output', output, 'f32');
  checkNoAlias(label, input, output);
  checkNoAlias(label, weights, output);
  const [gx, gy] = grid1d(ctx, N, label);
  return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, H * W, K, arg]), [
    tensorBinding(ctx, label, 'input', input),
    tensorBinding(ctx, label, 'weights', weights),
    tensorBinding(ctx, label, 'output', output),
  ], [gx, gy], flops);
}

export class SqueezeExcite {
  /** [N, K]. */
  readonly outputShape: readonly number[];
  /** [2 * K * hidden + hidden + K] (packSqueezeExciteWeights). */
  readonly weightsShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: SqueezeExciteDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
  ) {
    this.outputShape = [desc.N, desc.K];
    this.weightsShape = [squeezeExciteWeightCount(desc.K, desc.hidden)];
  }

  static async create(ctx: GpuContext, desc: SqueezeExciteDesc, label: string): Promise<SqueezeExcite> {
    const { K, hidden } = desc;
    checkInts(label, { hidden });
    const pipeline = await channelScalesPipeline(ctx, desc, label, 'squeeze_excite',
      `squeeze-excite keeps K + hidden = ${K + hidden} f32`, K + hidden, squeezeExciteWeightCount(K, hidden), { HIDDEN_CAP: hidden });
    return new SqueezeExcite(ctx, desc, label, pipeline);
  }

  /** input (N, H, W, K); weights from packSqueezeExciteWeights; output scales (N, K). */
  bind(input: GpuTensor, weights: GpuTensor, output: GpuTensor): Dispatch {
    const { N, K, hidden } = this.desc;
    return channelScalesDispatch(this.ctx, this.desc, this.label, this.pipeline, this.weightsShape, hidden, N * 2 * 2 * K * hidden,
      input, weights, output);
  }
}

export interface EcaDesc extends ChannelScalesDesc {
  /** Taps of the 1-D conv across channels (odd). */
  kernel: number;
}

/** Efficient channel attention's scales (timm's EcaModule): the eca entry point of se.wgsl. */
export class Eca {
  /** [N, K]. */
  readonly outputShape: readonly number[];
  /** [kernel]. */
  readonly weightsShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: EcaDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
  ) {
    this.outputShape = [desc.N, desc.K];
    this.weightsShape = [desc.kernel];
  }

  static async create(ctx: GpuContext, desc: EcaDesc, label: string): Promise<Eca> {
    const { K, kernel } = desc;
    checkInts(label, { kernel });
    if (kernel % 2 !== 1) throw new Error(`${label}: the ECA kernel must be odd, got ${kernel}`);
    const pipeline = await channelScalesPipeline(ctx, desc, label, 'eca', `ECA keeps K = ${K} f32`, K, kernel, {});
    return new Eca(ctx, desc, label, pipeline);
  }

  /** input (N, H, W, K); weights the conv's (kernel) taps; output scales (N, K). */
  bind(input: GpuTensor, weights: GpuTensor, output: GpuTensor): Dispatch {
    const { N, K, kernel } = this.desc;
    return channelScalesDispatch(this.ctx, this.desc, this.label, this.pipeline, this.weightsShape, kernel, N * 2 * K * kernel,
      input, weights, output);
  }
}

export interface ScaleResidualReluDesc {
  /** Batch N, spatial size H x W and channels K (a multiple of 4) of every tensor. */
  N: number; H: number; W: number; K: number;
  /** Storage of x, the residual and the output (default 'f32'); the scales are f32. */
  dtype?: Dtype;
}

export class ScaleResidualRelu {
  /** [N, H, W, K]. */
  readonly outputShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: ScaleResidualReluDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
  ) {
    const { N, H, W, K } = desc;
    this.outputShape = [N, H, W, K];
  }

  static async create(ctx: GpuContext, desc: ScaleResidualReluDesc, label: string): Promise<ScaleResidualRelu> {
    const { N, H, W, K } = desc;
    checkInts(label, { N, H, W, K });
    if (K % VEC !== 0) throw new Error(`${label}: K = ${K} must be a multiple of ${VEC} (vec4 loads and stores)`);
    checkBindingSize(ctx, N * H * W * K * 4, `${label} tensor`);
    const pipeline = await getPipeline(ctx, { shader: 'se', entryPoint: 'scale_residual_relu', defines: f16Defines(ctx, desc.dtype), overrides: { WG } });
    return new ScaleResidualRelu(ctx, desc, label, pipeline);
  }

  /** y = relu(x * scales[n, k] + residual): x, residual, output (N, H, W, K); scales (N, K). */
  bind(x: GpuTensor, scales: GpuTensor, residual: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    const { N, H, W, K } = this.desc;
    checkShape(label, 'x', x.shape, this.outputShape);
    checkShape(label, 'scales', scales.shape, [N, K]);
    checkShape(label, 'residual', residual.shape, this.outputShape);
    checkShape(label, 'output', output.shape, this.outputShape);
    for (const t of [x, residual, output]) checkDtype(label, t === x ? 'x' : t === residual ? 'residual' : 'output', t, this.desc.dtype ?? 'f32');
    checkDtype(label, 'scales', scales, 'f32');
    for (const t of [x, scales, residual]) checkNoAlias(label, t, output);
    const vec4s = N * H * W * (K / VEC);
    const [gx, gy] = grid1d(ctx, Math.ceil(vec4s / WG), label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, H * W, K / VEC]), [
      tensorBinding(ctx, label, 'x', x),
      tensorBinding(ctx, label, 'scales', scales),
      tensorBinding(ctx, label, 'residual', residual),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy]);
  }
}
