// TS twin of shaders/eca.wgsl: efficient channel attention's channel scales (timm's EcaModule). The
// block's store is ScaleResidualRelu (src/ops/se.ts). The shader's header gives the math.

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, GpuLimitError, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkInts, checkNoAlias, checkShape, grid1d, tensorBinding } from './common.js';

export interface EcaDesc {
  /** Batch N, spatial size H x W and channels K of the block's last conv output (N, H, W, K). */
  N: number; H: number; W: number; K: number;
  /** Taps of the 1-D conv across channels (odd). */
  kernel: number;
}

/** Invocations per workgroup (WGSL override WG). */
const WG = 256;

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
    const { N, H, W, K, kernel } = desc;
    checkInts(label, { N, H, W, K, kernel });
    if (kernel % 2 !== 1) throw new Error(`${label}: the ECA kernel must be odd, got ${kernel}`);
    const shared = K * 4;
    const limit = ctx.device.limits.maxComputeWorkgroupStorageSize;
    if (shared > limit) {
      throw new GpuLimitError(`${label}: ECA keeps K = ${K} f32 (${shared} bytes) in workgroup memory; the adapter allows ${limit} bytes`);
    }
    checkBindingSize(ctx, N * H * W * K * 4, `${label} input`);
    const pipeline = await getPipeline(ctx, { shader: 'eca', overrides: { WG, K_CAP: K } });
    return new Eca(ctx, desc, label, pipeline);
  }

  /** input (N, H, W, K); weights the conv's (kernel) taps; output scales (N, K). */
  bind(input: GpuTensor, weights: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    const { N, H, W, K, kernel } = this.desc;
    checkShape(label, 'input', input.shape, [N, H, W, K]);
    checkShape(label, 'weights', weights.shape, this.weightsShape);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkNoAlias(label, input, output);
    checkNoAlias(label, weights, output);
    const [gx, gy] = grid1d(ctx, N, label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, H * W, K, kernel]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'weights', weights),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy], N * 2 * K * kernel);
  }
}
