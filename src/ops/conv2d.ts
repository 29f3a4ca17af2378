// The TypeScript twin of shaders/conv2d.wgsl: validates a convolution against the kernel's
// assumptions and the device's limits, builds the (cached) pipeline and binds tensors and a layer's
// packed weights (conv2d-weights.ts) into a Dispatch. The launch geometry comes from conv2d-tuning.ts.
// A convolution runs on one of the kernel families (Conv2dTuning.family): 'register' (conv2d.wgsl,
// launched here), 'tiled' (conv2d-tiled.wgsl, launched by conv2d-tiled.ts) or 'subgroup'
// (conv2d-subgroup.wgsl, conv2d-subgroup.ts; never picked by 'auto', not measured on a GPU); all read the same packed
// weight texture, so a model's weights do not depend on the family.

import type { GpuContext } from '../gpu/device.js';
import { BufferUsage, checkBindingSize, tensorBytes, type GpuTensor } from '../gpu/buffers.js';
import { boundDispatch, uniformBuffer, type Dispatch } from '../gpu/dispatch.js';
import { getPipeline, type Defines } from '../gpu/shaders.js';
import { checkDtype, checkInts, checkShape, shaderF16, shapeText, tensorBinding } from './common.js';
import {
  CONV2D_EPILOGUES, conv2dFlops, hasResidual, conv2dOutputSize, convShapeWords, pixelTileCount, pixelTileGrid, tuningFamily,
  type Conv2dDesc, type Conv2dFamily, type Conv2dTuning, type Conv2dTuningOverride, type RegisterTuning, type TiledTuning,
} from './conv2d-geometry.js';
import { defaultSubgroupTuning, hasSubgroups, subgroupLaunch } from './conv2d-subgroup.js';
import { hardwareConv2dTuning } from './conv2d-hardware.js';
import { tiledLaunch } from './conv2d-tiled.js';
import { cpuThreads, defaultConv2dTuning, registerConv2dTuning } from './conv2d-tuning.js';
import { Conv2dWeights, conv2dWeightLayout, type Conv2dWeightLayout } from './conv2d-weights.js';

export type {
  Conv2dDesc, Conv2dEpilogue, Conv2dFamily, Conv2dTuning, Conv2dTuningOverride, RegisterTuning, SubgroupTuning, TiledTuning,
} from './conv2d-geometry.js';

/** The register block sizes the shader has accumulators for. */
const TQ_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8];
const JN_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
/** Words in the uniform struct `Params` of conv2d.wgsl. */
const PARAMS_WORDS = 21;

/** The shader defines and overrides of a Conv2d's pipeline (bench/ compiles kernel variants with them). */
export interface Conv2dPipelineKey {
  shader: 'conv2d' | 'conv2d-tiled' | 'conv2d-subgroup';
  defines: Defines;
  overrides: Record<string, number>;
  entryPoint?: string;
}

/** A family's launch of one convolution: its pipelines (split-K: a second pass), params, grids and scratch. */
interface Launch {
  key: Conv2dPipelineKey;
  params: Uint32Array;
  grid: [number, number, number];
  /** Split-K's second pass over the partial sums (binding 5), which the first writes at binding 4. */
  reduce?: { key: Conv2dPipelineKey; grid: [number, number, number]; scratchBytes: number };
}

/**
 * Which kernel family a model's convolutions run on: 'auto' the tuning's choice per adapter and layer
 * (defaultConv2dTuning), or one family forced on every convolution, on any adapter.
 */
export type KernelChoice = 'auto' | Conv2dFamily;

export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'register', 'tiled', 'subgroup'];

/** A kernel family that is not a choice, or not available in this build or on this adapter. */
export class KernelChoiceError extends Error {
  override name = 'KernelChoiceError';
}

/** Throws a one-line KernelChoiceError unless `k` is a KernelChoice. */
export function checkKernelChoice(k: unknown): KernelChoice {
  if (!KERNEL_CHOICES.includes(k as KernelChoice)) throw new KernelChoiceError(`kernels: '${String(k)}' is not one of ${KERNEL_CHOICES.join(', ')}`);
  return k as KernelChoice;
}

/**
 * The tuning override that forces kernel choice `k` (undefined for 'auto'). Whether the adapter can run
 * that family is checked with the device (checkKernelsOnDevice, and Conv2d.create).
 */
export function kernelOverride(k: KernelChoice | undefined): Conv2dTuningOverride | undefined {
  if (k === undefined || k === 'auto') return undefined;
  return { family: k } as Conv2dTuningOverride;
}

/** A one-line KernelChoiceError where `ctx` cannot run family choice `k` (subgroup: no 'subgroups' feature). */
export function checkKernelsOnDevice(ctx: GpuContext, k: KernelChoice | undefined): void {
  if (k === 'subgroup' && !hasSubgroups(ctx)) {
    throw new KernelChoiceError("kernels 'subgroup': this adapter has no 'subgroups' feature " +
      `(${ctx.adapterInfo.vendor || ctx.source}); use 'auto', 'register' or 'tiled'`);
  }
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
    /** Split-K's second pass and the bytes of the partial sums between the two (tiled family). */
    private readonly reduce?: { key: Conv2dPipelineKey; pipeline: GPUComputePipeline; grid: [number, number, number]; scratchBytes: number },
  ) {
    const [P, Q] = conv2dOutputSize(desc);
    this.outputShape = [desc.N, P, Q, desc.K];
    this.flops = conv2dFlops(desc);
  }

  /**
   * Validates `desc` against the kernel's assumptions and the device's limits; fills the tuning in
   * from defaultConv2dTuning, or where `tuning` names another family from that family's default
   * (resolveTuning); fetches the pipeline(s).
   */
  static async create(ctx: GpuContext, desc: Conv2dDesc, label: string, tuning?: Conv2dTuningOverride): Promise<Conv2d> {
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

    const t = await resolveTuning(ctx, d, tuning);
    if (hasF16Storage(d) && t.family !== undefined && t.family !== 'register') {
      throw new KernelChoiceError(`${what}: the ${t.family} kernel family stores f32 only; precision 'f16' runs on the register family`);
    }
    const launch: Launch = t.family === 'tiled' ? tiledConvLaunch(ctx, d, layout, t, label)
      : t.family === 'subgroup' ? subgroupLaunch(ctx, d, layout, t, bad)
      : registerLaunch(ctx, d, layout, t, bad);
    const pipeline = await getPipeline(ctx, launch.key);
    const reduce = launch.reduce && { ...launch.reduce, pipeline: await getPipeline(ctx, launch.reduce.key) };
    return new Conv2d(ctx, d, label, t, layout, launch.key, pipeline, launch.params, launch.grid, reduce);
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
    const texture = { binding: 2, resource: weights.texture.createView({ label: `${weights.label} view` }) };
    const residualEntries: GPUBindGroupEntry[] = tensors.residual ? [{ binding: 3, resource: tensors.residual }] : [];
    const { reduce } = this;
    if (!reduce) {
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: uniform } }, { binding: 1, resource: tensors.input }, texture,
        { binding: 4, resource: tensors.output }, ...residualEntries,
      ];
      const bindGroup = ctx.device.createBindGroup({ label, layout: this.pipeline.getBindGroupLayout(0), entries });
      return boundDispatch(label, this.pipeline, bindGroup, this.grid, [uniform], this.flops);
    }
    // Split-K: the first pass writes the partial sums to a scratch buffer the Dispatch owns, the second adds them.
    const scratch = ctx.device.createBuffer({ label: `${label} split-K partial sums`, size: reduce.scratchBytes, usage: BufferUsage.STORAGE });
    const partial = ctx.device.createBindGroup({ label: `${label} split-K`, layout: this.pipeline.getBindGroupLayout(0), entries: [
      { binding: 0, resource: { buffer: uniform } }, { binding: 1, resource: tensors.input }, texture,
      { binding: 4, resource: { buffer: scratch } },
    ] });
    const sum = ctx.device.createBindGroup({ label: `${label} split-K reduce`, layout: reduce.pipeline.getBindGroupLayout(0), entries: [
      { binding: 0, resource: { buffer: uniform } }, texture, { binding: 4, resource: tensors.output },
      { binding: 5, resource: { buffer: scratch } }, ...residualEntries,
    ] });
    const first = boundDispatch(label, this.pipeline, partial, this.grid, [], this.flops);
    const second = boundDispatch(`${label} reduce`, reduce.pipeline, sum, reduce.grid, [], 0);
    const buffers = [uniform, scratch];
    return {
      label, flops: this.flops, buffers,
      encode(pass) { first.encode(pass); second.encode(pass); },
      destroy() { for (const b of buffers) b.destroy(); },
    };
  }
}

/**
 * The tuning of `desc`: defaultConv2dTuning with `tuning`'s fields on top or, where `tuning` names a
 * family other than the default's, that family's default with `tuning`'s fields on top (register:
 * registerConv2dTuning; tiled: the hardware rule table's tile, hardwareConv2dTuning; subgroup:
 * defaultSubgroupTuning, a KernelChoiceError on a device without the 'subgroups' feature).
 */
export async function resolveTuning(ctx: GpuContext, desc: Conv2dDesc, tuning?: Conv2dTuningOverride): Promise<Conv2dTuning> {
  if (tuning?.family === 'subgroup') {
    checkKernelsOnDevice(ctx, 'subgroup');
    return { ...defaultSubgroupTuning(ctx, desc), ...tuning };
  }
  // A whole tuning (a first-use block, the tuner's pick) needs no default: the cost model's search is
  // skipped, which matters on the path to the first prediction.
  if (tuning && isWholeTuning(tuning)) return tuning;   // Conv2d.create still refuses f16 storage off the register family
  const threads = ctx.cpuBacked ? await cpuThreads() : undefined;
  const base = defaultConv2dTuning(ctx, desc, threads);
  // f16 storage runs on the register family only (Conv2d.create refuses it on the others).
  const family = tuning?.family ?? (hasF16Storage(desc) ? 'register' : tuningFamily(base));
  if (family === 'tiled') {
    return { ...(base.family === 'tiled' ? base : hardwareConv2dTuning(ctx, desc)), ...tuning, family: 'tiled' };
  }
  const register = tuningFamily(base) === 'register' ? base as RegisterTuning : registerConv2dTuning(ctx, desc, threads);
  return { ...register, ...(tuning as Partial<RegisterTuning> | undefined) };
}

const WHOLE_FIELDS: Record<Conv2dFamily, readonly string[]> = {
  register: ['wgX', 'wgY', 'tq', 'jn', 'direct', 'channelLanes'],
  tiled: ['bm', 'bn', 'bk', 'tm', 'tn', 'splitK'],
  subgroup: ['tq', 'jn', 'wg'],
};

/** Whether `t` gives every field of its family (so that no default fills any in). */
function isWholeTuning(t: Conv2dTuningOverride): t is Conv2dTuning {
  return WHOLE_FIELDS[tuningFamily(t)].every((f) => (t as Record<string, unknown>)[f] !== undefined);
}

/** Whether any of `desc`'s tensors or its weights are stored as f16 (precision 'f16'). */
export function hasF16Storage(desc: Conv2dDesc): boolean {
  return desc.inputDtype === 'f16' || desc.outputDtype === 'f16' || desc.residualDtype === 'f16' || desc.weightDtype === 'f16';
}

/** The tiled family's launch (conv2d-tiled.ts). */
function tiledConvLaunch(ctx: GpuContext, d: Conv2dDesc, layout: Conv2dWeightLayout, t: TiledTuning, label: string): Launch {
  const l = tiledLaunch(ctx, d, layout, t, label);
  return { key: l.main, params: l.params, grid: l.grid, reduce: l.reduce && { key: l.reduce, grid: l.reduceGrid!, scratchBytes: l.scratchBytes } };
}

/** The register family's launch (conv2d.wgsl): checks the tuning, computes the grid and Params. */
function registerLaunch(ctx: GpuContext, d: Conv2dDesc, layout: Conv2dWeightLayout, t: RegisterTuning, bad: (msg: string) => never): Launch {
  const l = ctx.device.limits;
  const xF16 = d.inputDtype === 'f16', yF16 = d.outputDtype === 'f16', resF16 = d.residualDtype === 'f16';
  const [P, Q] = conv2dOutputSize(d);
  const M = d.N * P * Q;
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
  const [gridX, gridZ] = pixelTileGrid(Math.ceil(pixelTileCount(d.N, P, Q, t) / t.wgX), maxDim, bad);
  const qTiles = Math.ceil(Q / (4 * t.tq));     // direct path: pixel tiles per output row

  const params = new Uint32Array(PARAMS_WORDS);
  params.set([...convShapeWords(d, layout), nTiles, gridX, layout.biasOffset, t.direct ? qTiles : 0, Math.log2(layout.width)]);

  const key: Conv2dPipelineKey = {
    shader: 'conv2d',
    defines: {
      VEC4_IN: layout.Cg % 4 === 0,
      VEC4_OUT: layout.Kg % 4 === 0,
      GEMM_1X1: d.R === 1 && d.S === 1 && d.stride === 1 && d.pad === 0,
      DIRECT: t.direct,
      CHANNEL_LANES: t.channelLanes,
      RELU: d.epilogue === 'relu' || d.epilogue === 'residual-relu',
      RESIDUAL: hasResidual(d.epilogue),
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
  return { key, params, grid: [gridX, gridY, gridZ] };
}
