// The TypeScript twin of shaders/conv2d.wgsl: validates a convolution against the kernel's
// assumptions and the device's limits, builds the (cached) pipeline and binds tensors and a layer's
// packed weights (conv2d-weights.ts) into a Dispatch. The launch geometry comes from conv2d-tuning.ts.

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, tensorBytes, type GpuTensor } from '../gpu/buffers.js';
import { boundDispatch, uniformBuffer, type Dispatch } from '../gpu/dispatch.js';
import { getPipeline, type Defines } from '../gpu/shaders.js';
import { checkDtype, checkInts, checkShape, shaderF16, shapeText, tensorBinding } from './common.js';
import { CONV2D_EPILOGUES, conv2dFlops, hasResidual, conv2dOutputSize, pixelTileCount, type Conv2dDesc, type Conv2dTuning } from './conv2d-geometry.js';
import { cpuThreads, defaultConv2dTuning } from './conv2d-tuning.js';
import { Conv2dWeights, conv2dWeightLayout, type Conv2dWeightLayout } from './conv2d-weights.js';

export type { Conv2dDesc, Conv2dEpilogue, Conv2dTuning } from './conv2d-geometry.js';

/** The register block sizes the shader has accumulators for. */
const TQ_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8];
const JN_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
/** Words in the uniform struct `Params` of conv2d.wgsl. */
const PARAMS_WORDS = 21;

/** The shader defines and overrides of a Conv2d's pipeline (bench/ compiles kernel variants with them). */
export interface Conv2dPipelineKey {
  shader: 'conv2d';
  defines: Defines;
  overrides: Record<string, number>;
}

/** The tensors of one dispatch as validated storage bindings (binding 3, the residual, only for 'residual-relu' and 'residual'). */
export interface Conv2dTensorBindings {
  input: GPUBufferBinding;
  output: GPUBufferBinding;
  residual?: GPUBufferBinding;
}

export class Conv2d {
  readonly outputShape: readonly [number, number, number, number];
  /** 2 x multiply-adds of one run. */
  readonly flops: number;

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: Readonly<Conv2dDesc>,
    readonly label: string,
    readonly tuning: Readonly<Conv2dTuning>,
    /** The weight layout `bind` expects (the Conv2dWeights of this layer carry the same). */
    readonly layout: Conv2dWeightLayout,
    readonly pipelineKey: Conv2dPipelineKey,
    private readonly pipeline: GPUComputePipeline,
    /** The uniform `Params` of every dispatch. */
    readonly params: Uint32Array,
    /** Workgroups per dimension. */
    readonly grid: readonly [number, number, number],
  ) {
    const [P, Q] = conv2dOutputSize(desc);
    this.outputShape = [desc.N, P, Q, desc.K];
    this.flops = conv2dFlops(desc);
  }

  /**
   * Validates `desc` against the kernel's assumptions and the device's limits; fills the tuning in
   * from defaultConv2dTuning; fetches the pipeline.
   */
  static async create(ctx: GpuContext, desc: Conv2dDesc, label: string, tuning?: Partial<Conv2dTuning>): Promise<Conv2d> {
    const d = { ...desc };
    const what = `conv2d ${label}`;
    const bad = (msg: string): never => { throw new Error(`${what}: ${msg}`); };
    checkInts(what, { N: d.N, H: d.H, W: d.W, C: d.C, K: d.K, R: d.R, S: d.S, stride: d.stride, groups: d.groups });
    checkInts(what, { pad: d.pad }, true);
    if (!CONV2D_EPILOGUES.includes(d.epilogue)) bad(`epilogue '${d.epilogue}' is not one of ${CONV2D_EPILOGUES.join(', ')}`);
    if (d.C % d.groups !== 0 || d.K % d.groups !== 0) bad(`groups ${d.groups} must divide both C ${d.C} and K ${d.K}`);
    if (d.preAct && (d.C / d.groups) % 4 !== 0) bad(`the pre-activation prologue needs C/G % 4 == 0 (C ${d.C}, G ${d.groups})`);
    if (d.R > d.H + 2 * d.pad || d.S > d.W + 2 * d.pad) {
      bad(`kernel ${d.R}x${d.S} is larger than the padded input ${d.H + 2 * d.pad}x${d.W + 2 * d.pad}`);
    }
    const [P, Q] = conv2dOutputSize(d);
    const layout = conv2dWeightLayout(d);
    const M = d.N * P * Q;
    const xF16 = d.inputDtype === 'f16', yF16 = d.outputDtype === 'f16', resF16 = d.residualDtype === 'f16';
    if (yF16 && layout.Kg % 4 !== 0) bad(`an f16 output needs K/G % 4 == 0 (K ${d.K}, G ${d.groups})`);
    if (resF16 && !hasResidual(d.epilogue)) bad(`residualDtype f16 without a residual (epilogue '${d.epilogue}')`);
    checkBindingSize(ctx, tensorBytes([d.N, d.H, d.W, d.C], d.inputDtype), `${what}: input (N, H, W, C) ${shapeText([d.N, d.H, d.W, d.C])}`);
    checkBindingSize(ctx, tensorBytes([M, d.K], d.outputDtype), `${what}: output (N, P, Q, K) ${shapeText([d.N, P, Q, d.K])}`);
    // All indices in the shader are u32 float offsets.
    if (Math.max(d.N * d.H * d.W * d.C, M * d.K, layout.length) >= 2 ** 32) bad('a tensor has 2^32 or more elements');

    const t = { ...defaultConv2dTuning(ctx, d, ctx.cpuBacked ? await cpuThreads() : undefined), ...tuning };
    const l = ctx.device.limits;
    if (!TQ_CHOICES.includes(t.tq) || !JN_CHOICES.includes(t.jn)) {
      bad(`tuning tq ${t.tq} / jn ${t.jn} must be in ${TQ_CHOICES.join(', ')} / ${JN_CHOICES.join(', ')}`);
    }
    const [sizeX, sizeY] = t.channelLanes ? [t.wgY, t.wgX] : [t.wgX, t.wgY];   // as declared in the shader
    if (t.wgX * t.wgY > l.maxComputeInvocationsPerWorkgroup || sizeX > l.maxComputeWorkgroupSizeX || sizeY > l.maxComputeWorkgroupSizeY) {
      bad(`workgroup ${t.wgX}x${t.wgY} exceeds this device's limits (${l.maxComputeInvocationsPerWorkgroup} invocations)`);
    }
    if (t.direct && (d.stride !== 1 || layout.Cg % 4 !== 0 || d.S !== 3)) {
      bad(`the direct path needs stride 1, a kernel 3 wide and C/G % 4 == 0 (stride ${d.stride}, S ${d.S}, C/G ${layout.Cg})`);
    }

    // The grid: x (and z, past maxComputeWorkgroupsPerDimension) over pixel tiles, y over groups x column tiles.
    const maxDim = l.maxComputeWorkgroupsPerDimension;
    const nTiles = Math.ceil(layout.Kgp / 4 / (t.wgY * t.jn));
    const gridY = d.groups * nTiles;
    if (gridY > maxDim) bad(`G * column tiles = ${gridY} workgroups exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
    const mTiles = Math.ceil(pixelTileCount(d.N, P, Q, t) / t.wgX);
    const gridX = Math.min(mTiles, maxDim);
    const gridZ = Math.ceil(mTiles / gridX);
    if (gridZ > maxDim) bad(`${mTiles} pixel tiles do not fit a ${maxDim} x ${maxDim} grid`);
    const qTiles = Math.ceil(Q / (4 * t.tq));     // direct path: pixel tiles per output row

    const params = new Uint32Array(PARAMS_WORDS);
    params.set([
      d.N, d.H, d.W, d.C,
      d.K, P, Q, M,
      d.R, d.S, d.stride, d.pad,
      d.groups, layout.Cg, layout.Kg, layout.Kgp,
      nTiles, gridX, layout.biasOffset, t.direct ? qTiles : 0,
      Math.log2(layout.width),
    ]);

    const residual = hasResidual(d.epilogue);
    const key: Conv2dPipelineKey = {
      shader: 'conv2d',
      defines: {
        VEC4_IN: layout.Cg % 4 === 0,
        VEC4_OUT: layout.Kg % 4 === 0,
        GEMM_1X1: d.R === 1 && d.S === 1 && d.stride === 1 && d.pad === 0,
        DIRECT: t.direct,
        CHANNEL_LANES: t.channelLanes,
        RELU: d.epilogue === 'relu' || d.epilogue === 'residual-relu',
        RESIDUAL: residual,
        PRE_ACT: d.preAct ?? false,
        X_F16: xF16, Y_F16: yF16, RES_F16: resF16, F16: xF16 || yF16 || resF16,
        SHADER_F16: (xF16 || yF16 || resF16) && shaderF16(ctx),
        W_F16: layout.dtype === 'f16',
        // The register block's declared size: TQ and JN rounded up to powers of two.
        QUADS_2: t.tq > 1, QUADS_4: t.tq > 2, QUADS_8: t.tq > 4,
        COLS_2: t.jn > 1, COLS_4: t.jn > 2, COLS_8: t.jn > 4, COLS_16: t.jn > 8,
      },
      overrides: { WG_X: t.wgX, WG_Y: t.wgY, TQ: t.tq, JN: t.jn },
    };
    const pipeline = await getPipeline(ctx, key);
    return new Conv2d(ctx, d, label, t, layout, key, pipeline, params, [gridX, gridY, gridZ]);
  }

  /**
   * Checks input (N, H, W, C), output (N, P, Q, K) and, for 'residual-relu' and 'residual', a residual (N, P, Q, K)
   * against this convolution; returns their bindings.
   */
  tensorBindings(input: GpuTensor, output: GpuTensor, residual?: GpuTensor): Conv2dTensorBindings {
    const { ctx, desc: d } = this;
    const what = `conv2d ${this.label}`;
    checkShape(what, 'input (N, H, W, C)', input.shape, [d.N, d.H, d.W, d.C]);
    checkShape(what, 'output (N, P, Q, K)', output.shape, this.outputShape);
    checkDtype(what, 'input', input, d.inputDtype ?? 'f32');
    checkDtype(what, 'output', output, d.outputDtype ?? 'f32');
    if (residual) checkDtype(what, 'residual', residual, d.residualDtype ?? 'f32');
    if (hasResidual(d.epilogue)) {
      if (!residual) throw new Error(`${what}: epilogue ${d.epilogue} needs a residual tensor of shape ${shapeText(this.outputShape)}`);
      checkShape(what, 'residual (N, P, Q, K)', residual.shape, this.outputShape);
    } else if (residual) {
      throw new Error(`${what}: a residual was given but the epilogue is '${d.epilogue}'`);
    }
    // A buffer bound read-write must not be bound again in the same dispatch.
    if (output.buffer === input.buffer || output.buffer === residual?.buffer) {
      throw new Error(`${what}: the output must not share a buffer with the input or the residual`);
    }
    return {
      input: tensorBinding(ctx, what, 'input', input),
      output: tensorBinding(ctx, what, 'output', output),
      residual: residual && tensorBinding(ctx, what, 'residual', residual),
    };
  }

  /**
   * Binds input (N, H, W, C), this layer's packed weights, output (N, P, Q, K) and, for 'residual-relu' and 'residual',
   * a residual (N, P, Q, K). Creates the uniform buffer (owned by the Dispatch) and bind group once; the Dispatch only records commands.
   */
  bind(input: GpuTensor, weights: Conv2dWeights, output: GpuTensor, residual?: GpuTensor): Dispatch {
    const { ctx, label, layout: l } = this;
    if (!(weights instanceof Conv2dWeights)) throw new Error(`conv2d ${label}: the weights must be a Conv2dWeights (a texture), not ${String(weights)}`);
    const w = weights.layout;
    if (w.C !== l.C || w.K !== l.K || w.R !== l.R || w.S !== l.S || w.groups !== l.groups || w.preAct !== l.preAct || w.dtype !== l.dtype) {
      const pre = (x: Conv2dWeightLayout) => (x.preAct ? ', pre-activation' : '');
      const format = (x: Conv2dWeightLayout) => (x.dtype === 'f16' ? 'rgba16float' : 'rgba32float');
      throw new Error(`conv2d ${label}: weights '${weights.label}' were packed for C ${w.C}, K ${w.K}, ${w.R}x${w.S}, G ${w.groups}${pre(w)} ` +
        `(${format(w)} ${w.width} x ${w.rows}); this convolution needs C ${l.C}, K ${l.K}, ${l.R}x${l.S}, G ${l.groups}${pre(l)} ` +
        `(${format(l)} ${l.width} x ${l.rows})`);
    }
    const tensors = this.tensorBindings(input, output, residual);
    const uniform = uniformBuffer(ctx, label, this.params);
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: uniform } },
      { binding: 1, resource: tensors.input },
      { binding: 2, resource: weights.texture.createView({ label: `${weights.label} view` }) },
      { binding: 4, resource: tensors.output },
    ];
    if (tensors.residual) entries.push({ binding: 3, resource: tensors.residual });
    const bindGroup = ctx.device.createBindGroup({ label, layout: this.pipeline.getBindGroupLayout(0), entries });
    return boundDispatch(label, this.pipeline, bindGroup, this.grid, [uniform], this.flops);
  }
}
