// TS twin of shaders/linear.wgsl: the classifier's fully connected layer (PyTorch nn.Linear).

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkInts, checkNoAlias, checkShape, grid1d, shapeText, tensorBinding } from './common.js';

export interface LinearDesc {
  /** Batch N. */
  batch: number;
  /** Input features C. */
  inFeatures: number;
  /** Outputs K. */
  outFeatures: number;
}

/** Invocations per workgroup (WGSL override WG). */
const WG = 64;
/** Rows and outputs per invocation: the vec4 width the shader's register block is built from. */
const BLOCK = 4;

export class Linear {
  /** [N, K]. */
  readonly outputShape: readonly number[];
  /** Shape of the packed weights tensor: [K * C + K] (weight (K, C) row-major, then bias (K)). */
  readonly weightsShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: LinearDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
    private readonly vec4: boolean,
  ) {
    const { batch: N, inFeatures: C, outFeatures: K } = desc;
    this.outputShape = [N, K];
    this.weightsShape = [K * C + K];
  }

  static async create(ctx: GpuContext, desc: LinearDesc, label: string): Promise<Linear> {
    const { batch: N, inFeatures: C, outFeatures: K } = desc;
    checkInts(label, { batch: N, inFeatures: C, outFeatures: K });
    checkBindingSize(ctx, (K * C + K) * 4, `${label} weights`);
    const vec4 = C % 4 === 0;
    const pipeline = await getPipeline(ctx, { shader: 'linear', defines: { VEC4: vec4 }, overrides: { WG } });
    return new Linear(ctx, desc, label, pipeline, vec4);
  }

  /**
   * Packs PyTorch's fc.weight (K, C) and fc.bias (K) into the one buffer the kernel reads:
   * (K, C) row-major, then K biases (zeros when `bias` is omitted).
   */
  packWeights(weight: Float32Array, bias?: Float32Array): Float32Array {
    const { inFeatures: C, outFeatures: K } = this.desc;
    if (weight.length !== K * C) throw new Error(`${this.label}: weight has ${weight.length} values, expected K * C = ${K} * ${C}`);
    if (bias && bias.length !== K) throw new Error(`${this.label}: bias has ${bias.length} values, expected K = ${K}`);
    const packed = new Float32Array(K * C + K);
    packed.set(weight, 0);
    if (bias) packed.set(bias, K * C);
    return packed;
  }

  /** input (N, C) or (N, 1, 1, C); weights [K * C + K] from packWeights; output (N, K). */
  bind(input: GpuTensor, weights: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    const { batch: N, inFeatures: C, outFeatures: K } = this.desc;
    const s = input.shape;
    const flatOk = (s.length === 2 && s[0] === N && s[1] === C) ||
      (s.length === 4 && s[0] === N && s[1] === 1 && s[2] === 1 && s[3] === C);
    if (!flatOk) throw new Error(`${label}: input has shape ${shapeText(s)}, expected [${N}, ${C}] or [${N}, 1, 1, ${C}]`);
    checkShape(label, 'weights', weights.shape, this.weightsShape);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkNoAlias(label, input, output);
    checkNoAlias(label, weights, output);
    const kBlocks = Math.ceil(K / BLOCK);
    const total = Math.ceil(N / BLOCK) * kBlocks;
    const [gx, gy] = grid1d(ctx, Math.ceil(total / WG), label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, K, this.vec4 ? C / 4 : C, kBlocks, total, K * C]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'weights', weights),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy], 2 * N * K * C);
  }
}
