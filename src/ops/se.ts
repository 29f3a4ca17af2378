// TS twin of shaders/se.wgsl: squeeze-and-excitation (SqueezeExcite) and the SE bottleneck's
// store (ScaleResidualRelu). The shader's header gives the math, the dispatch count and why.

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, GpuLimitError, type Dtype, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkDtype, checkInts, checkNoAlias, checkShape, grid1d, shaderF16, tensorBinding } from './common.js';

export interface SqueezeExciteDesc {
  /** Batch N, spatial size H x W and channels K of conv3's output (N, H, W, K). */
  N: number; H: number; W: number; K: number;
  /** fc1's outputs (K / reduction). */
  hidden: number;
  /** Storage of the input activations (default 'f32'); the scales are f32. */
  dtype?: Dtype;
}

/** The shader defines of f16 activations. */
function f16Defines(ctx: GpuContext, dtype: Dtype | undefined): Record<string, boolean> {
  const f16 = dtype === 'f16';
  return { F16: f16, SHADER_F16: f16 && shaderF16(ctx) };
}

/** Invocations per workgroup of both entry points (WGSL override WG). */
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
    const { N, H, W, K, hidden } = desc;
    checkInts(label, { N, H, W, K, hidden });
    const shared = (K + hidden) * 4;
    const limit = ctx.device.limits.maxComputeWorkgroupStorageSize;
    if (shared > limit) {
      throw new GpuLimitError(`${label}: squeeze-excite keeps K + hidden = ${K + hidden} f32 (${shared} bytes) in workgroup ` +
        `memory; the adapter allows ${limit} bytes`);
    }
    checkBindingSize(ctx, N * H * W * K * 4, `${label} input`);
    checkBindingSize(ctx, squeezeExciteWeightCount(K, hidden) * 4, `${label} weights`);
    if (desc.dtype === 'f16' && K % 2 !== 0) throw new Error(`${label}: f16 activations need an even K, got ${K}`);
    const pipeline = await getPipeline(ctx, { shader: 'se', entryPoint: 'squeeze_excite', defines: f16Defines(ctx, desc.dtype),
      overrides: { WG, K_CAP: K, HIDDEN_CAP: hidden } });
    return new SqueezeExcite(ctx, desc, label, pipeline);
  }

  /** input (N, H, W, K); weights from packSqueezeExciteWeights; output scales (N, K). */
  bind(input: GpuTensor, weights: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    const { N, H, W, K, hidden } = this.desc;
    checkShape(label, 'input', input.shape, [N, H, W, K]);
    checkShape(label, 'weights', weights.shape, this.weightsShape);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkDtype(label, 'input', input, this.desc.dtype ?? 'f32');
    checkDtype(label, 'output', output, 'f32');
    checkNoAlias(label, input, output);
    checkNoAlias(label, weights, output);
    const [gx, gy] = grid1d(ctx, N, label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, H * W, K, hidden]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'weights', weights),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy], N * 2 * 2 * K * hidden);
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
