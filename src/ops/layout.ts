// TS twin of shaders/layout.wgsl: NCHW <-> NHWC conversion.

import type { GpuContext } from '../gpu/device.js';
import { elementCount, checkBindingSize, type GpuTensor } from '../gpu/buffers.js';
import { ELEMENTWISE_WG, checkInts, checkNoAlias, checkShape, grid1d, shapeText, tensorBinding } from './common.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';

export type LayoutDirection = 'nchw-to-nhwc' | 'nhwc-to-nchw';

export interface LayoutDesc {
  direction: LayoutDirection;
  /** Input shape: [N, C, H, W] for 'nchw-to-nhwc', [N, H, W, C] for 'nhwc-to-nchw'. */
  input: readonly number[];
}

export class Layout {
  /** [N, H, W, C] or [N, C, H, W]: the other layout of the input. */
  readonly outputShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: LayoutDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
    private readonly nchw: readonly [number, number, number, number],
  ) {
    const [N, C, H, W] = nchw;
    this.outputShape = desc.direction === 'nchw-to-nhwc' ? [N, H, W, C] : [N, C, H, W];
  }

  static async create(ctx: GpuContext, desc: LayoutDesc, label: string): Promise<Layout> {
    if (desc.direction !== 'nchw-to-nhwc' && desc.direction !== 'nhwc-to-nchw') {
      throw new Error(`${label}: direction must be 'nchw-to-nhwc' or 'nhwc-to-nchw', got '${String(desc.direction)}'`);
    }
    if (desc.input.length !== 4) throw new Error(`${label}: input shape ${shapeText(desc.input)} is not 4D`);
    const [a, b, c, d] = desc.input;
    const nchw: [number, number, number, number] = desc.direction === 'nchw-to-nhwc' ? [a, b, c, d] : [a, d, b, c];
    checkInts(label, { N: nchw[0], C: nchw[1], H: nchw[2], W: nchw[3] });
    checkBindingSize(ctx, elementCount(desc.input) * 4, `${label} tensor`);
    const pipeline = await getPipeline(ctx, {
      shader: 'layout',
      entryPoint: desc.direction === 'nchw-to-nhwc' ? 'nchw_to_nhwc' : 'nhwc_to_nchw',
      overrides: { WG: ELEMENTWISE_WG },
    });
    return new Layout(ctx, desc, label, pipeline, nchw);
  }

  /** input in the desc's layout -> output in the other one. */
  bind(input: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    checkShape(label, 'input', input.shape, this.desc.input);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkNoAlias(label, input, output);
    const [N, C, H, W] = this.nchw;
    const total = N * C * H * W;
    const [gx, gy] = grid1d(ctx, Math.ceil(total / ELEMENTWISE_WG), label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, C, H, W, total]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy]);
  }
}
