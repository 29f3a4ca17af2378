// TS twin of shaders/softmax.wgsl: softmax over the last dim of (N, K), one workgroup per row.

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkInts, checkNoAlias, checkShape, grid1d, shapeText, tensorBinding } from './common.js';

export interface SoftmaxDesc {
  /** Input shape [N, K]; softmax runs over K. */
  input: readonly number[];
}

/** Invocations per row (WGSL override WG; a power of two for the tree reduction). */
const WG = 64;

export class Softmax {
  /** [N, K]. */
  readonly outputShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: SoftmaxDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
  ) {
    this.outputShape = [...desc.input];
  }

  static async create(ctx: GpuContext, desc: SoftmaxDesc, label: string): Promise<Softmax> {
    if (desc.input.length !== 2) throw new Error(`${label}: input shape ${shapeText(desc.input)} is not 2D [N, K]`);
    const [N, K] = desc.input;
    checkInts(label, { N, K });
    checkBindingSize(ctx, N * K * 4, `${label} tensor`);
    const pipeline = await getPipeline(ctx, { shader: 'softmax', overrides: { WG } });
    return new Softmax(ctx, desc, label, pipeline);
  }

  /** input (N, K) -> output (N, K); the two must not overlap. */
  bind(input: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    checkShape(label, 'input', input.shape, this.desc.input);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkNoAlias(label, input, output);
    const [N, K] = this.desc.input;
    const [gx, gy] = grid1d(ctx, N, label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, K]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy]);
  }
}
