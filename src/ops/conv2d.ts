// The TypeScript twin of shaders/conv2d.wgsl: validates a convolution, packs its weights into the
// kernel's layout (an rgba32float texture), builds the (cached) pipeline and binds tensors into a Dispatch.

import { isNode, type GpuContext } from '../gpu/device.js';
import { checkBindingSize, elementCount, f32Bytes, GpuLimitError, isTexture, uploadBuffer, type GpuTensor } from '../gpu/buffers.js';
import { boundDispatch, uniformBuffer, type Dispatch } from '../gpu/dispatch.js';
import { getPipeline, preprocess, type Defines } from '../gpu/shaders.js';
import { conv2dOutputSize, type Conv2dEpilogue } from '../reference/conv2d.js';

export type { Conv2dEpilogue } from '../reference/conv2d.js';

export interface Conv2dDesc {
  /** Batch. */
  N: number;
  /** Input height and width. */
  H: number;
  W: number;
  /** Input channels. */
  C: number;
  /** Output channels. */
  K: number;
  /** Kernel height and width. */
  R: number;
  S: number;
  stride: number;
  /** Zero padding on every side. */
  pad: number;
  /** G: groups; 1 = dense, C = K = G depthwise. Must divide C and K. */
  groups: number;
  /** 'residual-relu': out = relu(conv + bias + residual), the bottleneck's last conv. */
  epilogue: Conv2dEpilogue;
}

/** Launch geometry of the kernel (the WGSL `override`s). */
export interface Conv2dTuning {
  /** Invocations per workgroup along pixels and along channel-column blocks. */
  wgX: number;
  wgY: number;
  /** Quads of 4 pixels per invocation: 1 to 8. */
  tq: number;
  /** vec4 output-channel columns (4 channels each) per invocation: 1 to 16. */
  jn: number;
  /**
   * The direct path (define DIRECT): a pixel tile is 4*tq consecutive pixels of one output row, and the
   * input row is loaded once per kernel row and slid across the taps. Stride 1, S = 3, C/G % 4 == 0 only.
   */
  direct: boolean;
  /**
   * The SIMD lanes of CPU drivers run along column blocks (define CHANNEL_LANES) rather than along pixel
   * tiles: for layers with too few pixels to fill the lanes, and on llvmpipe for blocks of more than 32
   * channels.
   */
  channelLanes: boolean;
}

/** The register block sizes the shader has accumulators for. */
const TQ_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8];
const JN_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
/** Words in the uniform struct `Params` of conv2d.wgsl. */
const PARAMS_WORDS = 21;
/**
 * Weight textures: a power-of-two width (the shader splits a texel index with a shift and a mask), the
 * narrowest from 16 texels (256-byte rows) up that needs at most 4096 rows (the compatibility feature
 * level's maxTextureDimension2D), so that the zero padding of the last row stays under 1 row; 4096 x 4096
 * texels hold 64M floats, 16x ResNeXt-101 64x4d's largest layer.
 */
const WEIGHT_TEXTURE_MIN_WIDTH = 16;
const WEIGHT_TEXTURE_ROWS = 4096;
const WEIGHT_TEXTURE_MAX_WIDTH = 4096;

const EPILOGUES: readonly Conv2dEpilogue[] = ['none', 'relu', 'residual-relu'];

/** Packed weight geometry for `desc` (see packConv2dWeights). */
export interface Conv2dWeightLayout {
  /** Input and output channels per group; Kgp = Kg rounded up to a multiple of 4. */
  Cg: number;
  Kg: number;
  Kgp: number;
  /** Float index of the bias, after the weights. */
  biasOffset: number;
  /** Floats of the packed array: weights and bias, zero-padded to whole texture rows. */
  length: number;
  /** The weight texture: `width` (a power of two) rgba32float texels a row, `rows` rows. */
  width: number;
  rows: number;
}

/** 2 x the multiply-adds of `desc` (all N images). */
export function conv2dFlops(desc: Conv2dDesc): number {
  const [P, Q] = conv2dOutputSize(desc);
  return 2 * desc.N * P * Q * desc.K * desc.R * desc.S * (desc.C / desc.groups);
}

export function conv2dWeightLayout(desc: Conv2dDesc): Conv2dWeightLayout {
  const Cg = desc.C / desc.groups;
  const Kg = desc.K / desc.groups;
  const Kgp = Math.ceil(Kg / 4) * 4;
  const biasOffset = desc.groups * desc.R * desc.S * Cg * Kgp;
  const texels = (biasOffset + desc.groups * Kgp) / 4;
  const width = Math.min(WEIGHT_TEXTURE_MAX_WIDTH,
    Math.max(WEIGHT_TEXTURE_MIN_WIDTH, 2 ** Math.ceil(Math.log2(Math.ceil(texels / WEIGHT_TEXTURE_ROWS)))));
  const rows = Math.ceil(texels / width);
  return { Cg, Kg, Kgp, biasOffset, length: width * rows * 4, width, rows };
}

/**
 * Repacks PyTorch conv weights for conv2d.wgsl, bias appended:
 *   weight (K, C/G, R, S) -> (G, R, S, Cg, Kgp) at float 0, then bias (G, Kgp) at float biasOffset,
 * where Kgp = K/G rounded up to a multiple of 4 and the padding channels are zero; the array is
 * zero-padded to whole rows of the weight texture (conv2dWeightLayout). A missing bias packs as zeros.
 */
export function packConv2dWeights(desc: Conv2dDesc, weight: Float32Array, bias?: Float32Array): Float32Array {
  const { R, S, K, groups: G } = desc;
  const { Cg, Kg, Kgp, biasOffset, length } = conv2dWeightLayout(desc);
  if (weight.length !== K * Cg * R * S) {
    throw new Error(`conv2d weights: ${weight.length} values, expected K*C/G*R*S = ${K}*${Cg}*${R}*${S} = ${K * Cg * R * S}`);
  }
  if (bias && bias.length !== K) throw new Error(`conv2d bias: ${bias.length} values, expected K = ${K}`);
  const out = new Float32Array(length);
  for (let g = 0; g < G; g++) {
    for (let kk = 0; kk < Kg; kk++) {
      const k = g * Kg + kk;
      for (let c = 0; c < Cg; c++) {
        for (let r = 0; r < R; r++) {
          for (let s = 0; s < S; s++) {
            out[(((g * R + r) * S + s) * Cg + c) * Kgp + kk] = weight[((k * Cg + c) * R + r) * S + s];
          }
        }
      }
      if (bias) out[biasOffset + g * Kgp + kk] = bias[k];
    }
  }
  return out;
}

/**
 * Folds an inference-mode BatchNorm that follows a conv into the conv:
 *   bn(conv(x) + b) = conv'(x) + b'  with  scale[k] = gamma[k] / sqrt(var[k] + eps),
 *   weight'[k, ...] = weight[k, ...] * scale[k],  b'[k] = (b[k] - mean[k]) * scale[k] + beta[k].
 * weight is (K, C/G, R, S) (any trailing layout with K outermost); every other array is (K).
 */
export function foldBatchNorm(weight: Float32Array, bias: Float32Array | undefined, gamma: Float32Array, beta: Float32Array,
  runningMean: Float32Array, runningVar: Float32Array, eps: number): { weight: Float32Array; bias: Float32Array } {
  const K = gamma.length;
  for (const [name, a] of [['beta', beta], ['running_mean', runningMean], ['running_var', runningVar], ['bias', bias]] as const) {
    if (a && a.length !== K) throw new Error(`foldBatchNorm: ${name} has ${a.length} values, gamma has ${K}`);
  }
  if (K === 0 || weight.length % K !== 0) throw new Error(`foldBatchNorm: weight length ${weight.length} is not a multiple of K = ${K}`);
  const perK = weight.length / K;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    const scale = gamma[k] / Math.sqrt(runningVar[k] + eps);
    for (let i = 0; i < perK; i++) w[k * perK + i] = weight[k * perK + i] * scale;
    b[k] = ((bias ? bias[k] : 0) - runningMean[k]) * scale + beta[k];
  }
  return { weight: w, bias: b };
}

/**
 * Relative costs of conv2d.wgsl's operations on the CPU-backed adapters, fitted to bench --micro runs of
 * a 1024^3 GEMM at register blocks from 8 x 8 to 32 x 32. On these drivers every storage-buffer load
 * or store is a loop over the SIMD lanes (bench/RESULTS.md), so memory operations, not arithmetic,
 * dominate: `input` is a vec4 load of an activation and `weight` one of a weight with the lanes along
 * pixels (cpuDispatchCost swaps the two for lanes along channels), `mm` one 4x4 by 4x4 matrix product
 * (16 vec4 multiply-adds), `store` one vec4 store with its epilogue.
 */
interface CpuCosts {
  simd: number; input: number; weight: number; mm: number; store: number; invocation: number;
  /**
   * Largest TQ tried (except for the large 1x1 layers below). On SwiftShader 4: Subzero takes minutes and
   * GiBs to compile the direct path's sliding window with more quads (a ResNet-50 with 28-pixel blocks
   * everywhere had not finished compiling after 15 minutes, at 10 GB; a grouped direct layer alone, not
   * after 60 s), and every larger block compiles slower.
   */
  maxTq: number;
  /**
   * Largest TQ tried for 1x1 layers (any stride) of at least `largeBlockFlops` per image (2 x
   * multiply-adds; per image, so that a model's choice does not change with the batch): they compile in
   * seconds, but on SwiftShader a second or two longer per pipeline than 16-pixel blocks, more than
   * small layers could save (the embedded Fashion-MNIST model, whose layers are all under 7 MFLOP an
   * image, took 25 s instead of 12 to classify its samples in a new process). (The dense 3x3 layers
   * also compile and gain with 28-pixel blocks on SwiftShader, 1.13x to 1.41x: not taken yet,
   * bench/RESULTS.md.)
   */
  maxTq1x1: number;
  largeBlockFlops: number;
  /** Largest JN tried: 16 (32 x 64 blocks) on llvmpipe; SwiftShader stays at 8 (Subzero, as for maxTq). */
  maxJn: number;
  /**
   * Largest JN tried with the lanes along pixels: on llvmpipe more than 8 columns measured faster only with
   * the lanes along them (outputs of 512 channels or more), while this linear model overrates them with the
   * lanes along pixels (bench/RESULTS.md).
   */
  pixelLanesMaxJn: number;
  /**
   * Largest JN with which the direct path is tried: on SwiftShader it ran at half the implicit path's rate
   * with 32 channels per invocation (dense 3x3) but 1.5x faster with 4 (ResNeXt's 4 channels per group),
   * and with 16 (JN 4) 1.16x faster on ResNeXt's 14x14 grouped layers at batch 4 (bench/RESULTS.md).
   */
  directMaxJn: number;
}
const LLVMPIPE_COSTS: CpuCosts = { simd: 8, input: 2.7, weight: 1.0, mm: 2.0, store: 8, invocation: 20, maxTq: 8, maxTq1x1: 8, largeBlockFlops: 0, maxJn: 16, pixelLanesMaxJn: 8, directMaxJn: 8 };
const SWIFTSHADER_COSTS: CpuCosts = { simd: 4, input: 14, weight: 4, mm: 23, store: 28, invocation: 400, maxTq: 4, maxTq1x1: 8, largeBlockFlops: 50e6, maxJn: 8, pixelLanesMaxJn: 8, directMaxJn: 4 };

/** Logical CPUs: the threads a CPU-backed adapter runs workgroups on (LP_NUM_THREADS for llvmpipe). */
let threadCount: Promise<number> | undefined;
export function cpuThreads(): Promise<number> {
  threadCount ??= (async () => {
    const env = typeof process !== 'undefined' ? process.env?.LP_NUM_THREADS : undefined;
    if (env && Number(env) >= 1) return Number(env);
    const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
    if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
    if (isNode) {
      const os = await import('node:os');
      return os.availableParallelism?.() ?? os.cpus().length;
    }
    return 4;
  })();
  return threadCount;
}

/**
 * Pixel tiles of the grid: 4*tq consecutive pixels of the N*P*Q, or (direct path) of one output row,
 * ceil(Q / (4*tq)) per row.
 */
function pixelTileCount(N: number, P: number, Q: number, t: Conv2dTuning): number {
  return t.direct ? N * P * Math.ceil(Q / (4 * t.tq)) : Math.ceil((N * P * Q) / (4 * t.tq));
}

/**
 * Estimated time of one dispatch with tuning `t` on a CPU-backed adapter, in the units of `c`: every
 * SIMD batch of lanes costs what its slowest invocation costs (idle lanes included), and the
 * workgroups are shared among `threads` threads.
 */
export function cpuDispatchCost(desc: Conv2dDesc, t: Conv2dTuning, costs: CpuCosts, threads: number): number {
  // As fitted: a load of the operand the lanes run along (a different address per lane) costs more than
  // one of the other operand (the same address in every lane).
  const c = t.channelLanes ? { ...costs, input: costs.weight, weight: costs.input } : costs;
  const [P, Q] = conv2dOutputSize(desc);
  const { Cg, Kg, Kgp } = conv2dWeightLayout(desc);
  const cols = Kgp / 4;
  const vec4In = Cg % 4 === 0;
  let perInvocation: number;
  if (t.direct) {
    // Per kernel row and 4 input channels: one row of 4*tq + S - 1 pixels, S taps of weights.
    const chunks = desc.R * (Cg / 4);
    perInvocation = chunks * (c.input * (4 * t.tq + desc.S - 1) + c.weight * 4 * t.jn * desc.S + c.mm * t.tq * t.jn * desc.S);
  } else if (vec4In) {
    const chunks = desc.R * desc.S * (Cg / 4);
    perInvocation = chunks * (c.input * 4 * t.tq + c.weight * 4 * t.jn + c.mm * t.tq * t.jn);
  } else {
    // One channel at a time: 4 scalar loads per quad, one vec4 weight per column, outer products.
    const chunks = desc.R * desc.S * Cg;
    perInvocation = chunks * (c.input * 4 * t.tq + c.weight * t.jn + c.mm * t.tq * t.jn / 4);
  }
  const storesPerPixel = Kg % 4 === 0 ? 1 : 4;
  perInvocation += c.store * 4 * t.tq * t.jn * storesPerPixel * (desc.epilogue === 'residual-relu' ? 1.5 : 1) + c.invocation;
  const pixelTiles = pixelTileCount(desc.N, P, Q, t);
  const colTiles = Math.ceil(cols / (t.jn * t.wgY));
  const workgroups = Math.ceil(pixelTiles / t.wgX) * colTiles * desc.groups;
  const batchesPerWorkgroup = Math.ceil((t.wgX * t.wgY) / c.simd);
  return Math.ceil(workgroups / threads) * batchesPerWorkgroup * perInvocation;
}

/**
 * Default launch geometry.
 * CPU-backed adapters (SwiftShader, llvmpipe): the tuning with the least estimated time
 * (cpuDispatchCost) among register blocks of 4 to 32 pixels x 4 to 32 channels (64 with the lanes along
 * channels on llvmpipe), the direct path where it applies (stride 1, C/G % 4 == 0, a kernel wider than
 * 1), and 1 to 4 SIMD batches of lanes per workgroup, along pixels or along channels.
 * Large layers get 32 x 32 blocks, or 32 x 64 on llvmpipe where the output has 512 channels or more;
 * the 7x7 / 14x14 / 28x28 maps get 28-pixel tiles that divide them;
 * few-pixel layers (7x7 at batch 1) smaller tiles so that the SIMD lanes are not idle.
 * Hardware GPUs get a small block and 64 invocations (more invocations in flight); untuned so far.
 */
export function defaultConv2dTuning(ctx: GpuContext, desc: Conv2dDesc, threads = 4): Conv2dTuning {
  const cols = Math.ceil(desc.K / desc.groups / 4);     // vec4 columns per group
  const l = ctx.device.limits;
  const maxInv = l.maxComputeInvocationsPerWorkgroup;
  if (!ctx.cpuBacked) {
    return { wgX: Math.min(64, maxInv), wgY: 1, tq: 1, jn: Math.min(2, cols), direct: false, channelLanes: false };
  }
  const costs = ctx.source === 'llvmpipe' ? LLVMPIPE_COSTS : SWIFTSHADER_COSTS;
  const Cg = desc.C / desc.groups;
  const directOk = desc.stride === 1 && Cg % 4 === 0 && desc.S === 3;
  const large1x1 = desc.R === 1 && desc.S === 1 && Cg % 4 === 0 && conv2dFlops(desc) / desc.N >= costs.largeBlockFlops;
  let best: Conv2dTuning | undefined;
  let bestCost = Infinity;
  for (const direct of directOk ? [false, true] : [false]) {
    for (let tq = 1; tq <= (large1x1 ? costs.maxTq1x1 : costs.maxTq); tq++) {
      for (let jn = 1; jn <= Math.min(costs.maxJn, cols); jn++) {
        if (direct && jn > costs.directMaxJn) continue;
        for (const channelLanes of [false, true]) {
          if (!channelLanes && jn > costs.pixelLanesMaxJn) continue;
          for (const batches of [1, 2, 4]) {
            const lanes = costs.simd * batches;
            if (lanes > maxInv || lanes > l.maxComputeWorkgroupSizeX) continue;
            const t = channelLanes ? { wgX: 1, wgY: lanes, tq, jn, direct, channelLanes } : { wgX: lanes, wgY: 1, tq, jn, direct, channelLanes };
            const cost = cpuDispatchCost(desc, t, costs, threads);
            // Ties (within 1%) keep the earlier candidate: implicit, smaller blocks, pixel lanes, smaller workgroups.
            if (cost < bestCost * 0.99) {
              best = t;
              bestCost = cost;
            }
          }
        }
      }
    }
  }
  return best!;
}

/** Options for benchmarks (bench/). */
export interface Conv2dOptions {
  /**
   * WGSL to compile instead of shaders/conv2d.wgsl: a kernel variant with the same contract (bindings,
   * Params, weight layout, overrides, grid), e.g. bench/kernels/conv2d-v1.wgsl. Not cached.
   */
  shaderSource?: string;
  /**
   * The variant reads the packed weights from a storage buffer (`array<vec4<f32>>`), as the kernels up
   * to bench/kernels/conv2d-v4.wgsl do, instead of a texture: uploadWeights and bind use a buffer.
   */
  bufferWeights?: boolean;
}

/** Packed weights as conv2d.wgsl reads them (uploadWeights), or a buffer for `bufferWeights` variants. */
export type Conv2dWeights = GPUTexture | GPUBuffer;

async function variantPipeline(ctx: GpuContext, source: string, defines: Defines, overrides: Record<string, number>,
  label: string): Promise<GPUComputePipeline> {
  const module = ctx.device.createShaderModule({ label: `${label} variant`, code: preprocess(source, defines, `${label} variant`) });
  return ctx.device.createComputePipelineAsync({ label: `${label} variant`, layout: 'auto', compute: { module, entryPoint: 'main', constants: overrides } });
}

function bad(label: string, msg: string): never {
  throw new Error(`conv2d ${label}: ${msg}`);
}

export class Conv2d {
  readonly outputShape: readonly [number, number, number, number];
  /** 2 x multiply-adds of one run. */
  readonly flops: number;
  readonly layout: Conv2dWeightLayout;

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: Readonly<Conv2dDesc>,
    readonly label: string,
    readonly tuning: Readonly<Conv2dTuning>,
    private readonly pipeline: GPUComputePipeline,
    private readonly bufferWeights: boolean,
  ) {
    const [P, Q] = conv2dOutputSize(desc);
    this.outputShape = [desc.N, P, Q, desc.K];
    this.layout = conv2dWeightLayout(desc);
    this.flops = conv2dFlops(desc);
  }

  /** Validates `desc` against the kernel's assumptions and the device's limits; fetches the pipeline. */
  static async create(ctx: GpuContext, desc: Conv2dDesc, label: string, tuning?: Partial<Conv2dTuning>,
    options: Conv2dOptions = {}): Promise<Conv2d> {
    const d = { ...desc };
    for (const f of ['N', 'H', 'W', 'C', 'K', 'R', 'S', 'stride', 'groups'] as const) {
      if (!Number.isInteger(d[f]) || d[f] < 1) bad(label, `${f} must be a positive integer, got ${d[f]}`);
    }
    if (!Number.isInteger(d.pad) || d.pad < 0) bad(label, `pad must be a non-negative integer, got ${d.pad}`);
    if (!EPILOGUES.includes(d.epilogue)) bad(label, `epilogue '${d.epilogue}' is not one of ${EPILOGUES.join(', ')}`);
    if (d.C % d.groups !== 0 || d.K % d.groups !== 0) {
      bad(label, `groups ${d.groups} must divide both C ${d.C} and K ${d.K}`);
    }
    if (d.R > d.H + 2 * d.pad || d.S > d.W + 2 * d.pad) {
      bad(label, `kernel ${d.R}x${d.S} is larger than the padded input ${d.H + 2 * d.pad}x${d.W + 2 * d.pad}`);
    }
    const [P, Q] = conv2dOutputSize(d);
    const layout = conv2dWeightLayout(d);
    const M = d.N * P * Q;
    checkBindingSize(ctx, f32Bytes([d.N, d.H, d.W, d.C]), `conv2d ${label}: input (N, H, W, C) [${d.N}, ${d.H}, ${d.W}, ${d.C}]`);
    checkBindingSize(ctx, f32Bytes([M, d.K]), `conv2d ${label}: output (N, P, Q, K) [${d.N}, ${P}, ${Q}, ${d.K}]`);
    if (options.bufferWeights) {
      checkBindingSize(ctx, layout.length * 4, `conv2d ${label}: packed weights (${layout.length} floats)`);
    } else if (layout.rows > ctx.device.limits.maxTextureDimension2D) {
      throw new GpuLimitError(`conv2d ${label}: packed weights need a texture of ${layout.width} x ${layout.rows} texels; ` +
        `this device's maxTextureDimension2D is ${ctx.device.limits.maxTextureDimension2D}`);
    }
    // All indices in the shader are u32 float offsets.
    if (Math.max(d.N * d.H * d.W * d.C, M * d.K, layout.length) >= 2 ** 32) bad(label, 'a tensor has 2^32 or more elements');

    const t = { ...defaultConv2dTuning(ctx, d, ctx.cpuBacked ? await cpuThreads() : undefined), ...tuning };
    const l = ctx.device.limits;
    if (!TQ_CHOICES.includes(t.tq) || !JN_CHOICES.includes(t.jn)) {
      bad(label, `tuning tq ${t.tq} / jn ${t.jn} must be in ${TQ_CHOICES.join(', ')} / ${JN_CHOICES.join(', ')}`);
    }
    const [sizeX, sizeY] = t.channelLanes ? [t.wgY, t.wgX] : [t.wgX, t.wgY];   // as declared in the shader
    if (t.wgX * t.wgY > l.maxComputeInvocationsPerWorkgroup || sizeX > l.maxComputeWorkgroupSizeX || sizeY > l.maxComputeWorkgroupSizeY) {
      bad(label, `workgroup ${t.wgX}x${t.wgY} exceeds this device's limits (${l.maxComputeInvocationsPerWorkgroup} invocations)`);
    }
    if (t.direct && (d.stride !== 1 || layout.Cg % 4 !== 0 || d.S !== 3)) {
      bad(label, `the direct path needs stride 1, a kernel 3 wide and C/G % 4 == 0 (stride ${d.stride}, S ${d.S}, C/G ${layout.Cg})`);
    }
    const nTiles = Math.ceil(layout.Kgp / 4 / (t.wgY * t.jn));
    if (d.groups * nTiles > l.maxComputeWorkgroupsPerDimension) {
      bad(label, `G * column tiles = ${d.groups * nTiles} workgroups exceeds maxComputeWorkgroupsPerDimension ${l.maxComputeWorkgroupsPerDimension}`);
    }

    const residual = d.epilogue === 'residual-relu';
    const key = {
      shader: 'conv2d' as const,
      defines: {
        VEC4_IN: layout.Cg % 4 === 0,
        VEC4_OUT: layout.Kg % 4 === 0,
        GEMM_1X1: d.R === 1 && d.S === 1 && d.stride === 1 && d.pad === 0,
        DIRECT: t.direct,
        CHANNEL_LANES: t.channelLanes,
        RELU: d.epilogue === 'relu' || residual,
        RESIDUAL: residual,
      },
      overrides: { WG_X: t.wgX, WG_Y: t.wgY, TQ: t.tq, JN: t.jn },
    };
    const pipeline = options.shaderSource === undefined ? await getPipeline(ctx, key)
      : await variantPipeline(ctx, options.shaderSource, key.defines, key.overrides, label);
    return new Conv2d(ctx, d, label, t, pipeline, !!options.bufferWeights);
  }

  /** Packs PyTorch-order weight (K, C/G, R, S) and bias (K) into this kernel's layout (packConv2dWeights). */
  packWeights(weight: Float32Array, bias?: Float32Array): Float32Array {
    return packConv2dWeights(this.desc, weight, bias);
  }

  /** Uploads packed weights into a texture (or a buffer, Conv2dOptions.bufferWeights) labelled `${label} weights`. */
  uploadWeights(packed: Float32Array, label = this.label): Conv2dWeights {
    if (packed.length !== this.layout.length) {
      bad(this.label, `packed weights have ${packed.length} floats, expected ${this.layout.length}`);
    }
    if (this.bufferWeights) return uploadBuffer(this.ctx, `${label} weights`, packed);
    return uploadConv2dWeights(this.ctx, `${label} weights`, this.layout, packed);
  }

  /**
   * Binds input (N, H, W, C), packed weights, output (N, P, Q, K) and, for 'residual-relu', a residual
   * (N, P, Q, K). Creates the uniform buffer (owned by the Dispatch) and bind group once; the Dispatch only records commands.
   */
  bind(input: GpuTensor, weights: Conv2dWeights, output: GpuTensor, residual?: GpuTensor): Dispatch {
    const { desc: d, label, layout, tuning: t } = this;
    const ctx = this.ctx;
    const [N, P, Q, K] = this.outputShape;
    const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
    const inShape = [d.N, d.H, d.W, d.C];
    if (!sameShape(input.shape, inShape)) bad(label, `input shape [${input.shape}] != (N, H, W, C) [${inShape}]`);
    if (!sameShape(output.shape, this.outputShape)) bad(label, `output shape [${output.shape}] != (N, P, Q, K) [${this.outputShape}]`);
    if (d.epilogue === 'residual-relu') {
      if (!residual) bad(label, `epilogue residual-relu needs a residual tensor of shape [${this.outputShape}]`);
      if (!sameShape(residual.shape, this.outputShape)) bad(label, `residual shape [${residual.shape}] != output shape [${this.outputShape}]`);
    } else if (residual) {
      bad(label, `a residual was given but the epilogue is '${d.epilogue}'`);
    }
    let weightResource: GPUBindingResource;
    if (this.bufferWeights) {
      if (isTexture(weights)) bad(label, 'this kernel variant reads its weights from a buffer; got a texture');
      if (weights.size < layout.length * 4) bad(label, `weights buffer ${weights.label} has ${weights.size} bytes, the packed layout needs ${layout.length * 4}`);
      weightResource = { buffer: weights, size: layout.length * 4 };
    } else {
      if (!isTexture(weights)) bad(label, 'the weights must be the texture from uploadWeights(), not a buffer');
      if (weights.format !== 'rgba32float' || weights.width !== layout.width || weights.height !== layout.rows) {
        bad(label, `weights texture ${weights.label} is ${weights.format} ${weights.width} x ${weights.height}, ` +
          `the packed layout needs rgba32float ${layout.width} x ${layout.rows}`);
      }
      weightResource = weights.createView();
    }
    const align = ctx.device.limits.minStorageBufferOffsetAlignment;
    const tensors: [string, GpuTensor | undefined][] = [['input', input], ['output', output], ['residual', residual]];
    for (const [what, tensor] of tensors) {
      if (!tensor) continue;
      const off = tensor.offset ?? 0;
      const bytes = elementCount(tensor.shape) * 4;
      if (off % align !== 0) bad(label, `${what} offset ${off} is not a multiple of minStorageBufferOffsetAlignment ${align}`);
      if (off + bytes > tensor.buffer.size) bad(label, `${what} needs ${bytes} bytes at offset ${off}, buffer ${tensor.buffer.label} has ${tensor.buffer.size}`);
      checkBindingSize(ctx, bytes, `conv2d ${label}: ${what}`);
    }
    if (output.buffer === input.buffer || output.buffer === residual?.buffer || output.buffer === weights) {
      bad(label, 'the output must not share a buffer with the input, residual or weights');
    }

    const M = N * P * Q;
    const qTiles = Math.ceil(Q / (4 * t.tq));     // direct path: pixel tiles per output row
    const mTiles = Math.ceil(pixelTileCount(N, P, Q, t) / t.wgX);
    const maxDim = ctx.device.limits.maxComputeWorkgroupsPerDimension;
    const gridX = Math.min(mTiles, maxDim);
    const gridZ = Math.ceil(mTiles / gridX);
    if (gridZ > maxDim) bad(label, `${mTiles} pixel tiles do not fit a ${maxDim} x ${maxDim} grid`);
    const nTiles = Math.ceil(layout.Kgp / 4 / (t.wgY * t.jn));
    const gridY = d.groups * nTiles;

    const params = new Uint32Array(PARAMS_WORDS);
    params.set([
      d.N, d.H, d.W, d.C,
      K, P, Q, M,
      d.R, d.S, d.stride, d.pad,
      d.groups, layout.Cg, layout.Kg, layout.Kgp,
      nTiles, gridX, layout.biasOffset, t.direct ? qTiles : 0,
      Math.log2(layout.width),
    ]);
    const uniform = uniformBuffer(ctx, label, params);
    const binding = (b: number, tensor: GpuTensor) => ({
      binding: b,
      resource: { buffer: tensor.buffer, offset: tensor.offset ?? 0, size: elementCount(tensor.shape) * 4 },
    });
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: uniform } },
      binding(1, input),
      { binding: 2, resource: weightResource },
      binding(4, output),
    ];
    if (residual) entries.push(binding(3, residual));
    const bindGroup = ctx.device.createBindGroup({ label, layout: this.pipeline.getBindGroupLayout(0), entries });
    return boundDispatch(label, this.pipeline, bindGroup, [gridX, gridY, gridZ], [uniform], this.flops);
  }
}

/** Uploads packed conv weights (packConv2dWeights) into a new rgba32float texture of `layout`'s geometry. */
export function uploadConv2dWeights(ctx: GpuContext, label: string, layout: Conv2dWeightLayout, packed: Float32Array): GPUTexture {
  if (packed.length !== layout.length) throw new Error(`${label}: ${packed.length} floats, the packed layout has ${layout.length}`);
  const texture = ctx.device.createTexture({
    label, size: [layout.width, layout.rows], format: 'rgba32float',
    usage: 0x4 /* TEXTURE_BINDING */ | 0x2 /* COPY_DST */ | 0x1, /* COPY_SRC */
  });
  ctx.device.queue.writeTexture({ texture }, packed.buffer, { offset: packed.byteOffset, bytesPerRow: layout.width * 16, rowsPerImage: layout.rows },
    [layout.width, layout.rows]);
  return texture;
}
