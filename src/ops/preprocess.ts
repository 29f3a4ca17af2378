// TS twin of shaders/preprocess.wgsl: RGBA8 image -> one batch slot of the model's NHWC input
// (Resize shorter side to resizeTo, CenterCrop S, range scaling, Normalize), on the GPU.
// The resize is either PyTorch's bilinear on a float tensor (no antialiasing; this project's own
// models) or Pillow's antialiased BILINEAR / BICUBIC (timm's evaluation transform on PIL images),
// whose fixed-point filter coefficients are computed here exactly as Pillow's ImagingResample does
// and read by the shader, so that its integer arithmetic gives Pillow's bytes.

import type { GpuContext } from '../gpu/device.js';
import { BufferUsage, checkBindingSize, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkInts, checkShape, shapeText, tensorBinding } from './common.js';

export interface PreprocessDesc {
  /** Output side S (the centre crop). */
  size: number;
  /** The shorter image side is resized to this (torchvision Resize(int)); must be >= size. */
  resizeTo: number;
  /** 3: RGB; 1: grey (luminance 0.299 R + 0.587 G + 0.114 B). */
  channels: 1 | 3;
  /** Batch N of the output tensor (N, S, S, C). */
  batch: number;
  /** The model's input range [lo, hi]: pixel / 255 * (hi - lo) + lo. Default [0, 1]. */
  range?: readonly [number, number];
  /** Per channel, applied after the range: (x - mean[c]) / std[c]. */
  mean: readonly number[];
  std: readonly number[];
  /**
   * The resize filter: 'tensor-bilinear' (default): PyTorch's bilinear on a float tensor, no
   * antialiasing; 'pil-bilinear' / 'pil-bicubic': Pillow's Image.resize with that filter (support
   * scaled by the downscale factor, 8-bit rounding after each pass), as timm evaluates.
   */
  resample?: Resample;
}

export type Resample = 'tensor-bilinear' | 'pil-bilinear' | 'pil-bicubic';
export const RESAMPLES: readonly Resample[] = ['tensor-bilinear', 'pil-bilinear', 'pil-bicubic'];

/** An RGBA8 image in a GPU storage buffer: (height, width) u32 words, bytes R, G, B, A. */
export interface GpuImage {
  buffer: GPUBuffer;
  width: number;
  height: number;
}

export interface PreprocessGeometry {
  /** Size after Resize(resizeTo). */
  resizedW: number;
  resizedH: number;
  /** CenterCrop offsets in the resized image. */
  top: number;
  left: number;
  /** Source pixels per resized pixel (f32, as PyTorch computes them). */
  scaleX: number;
  scaleY: number;
}

/** Python's round(): halves to even (torchvision's CenterCrop uses it). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d === 0.5) return f % 2 === 0 ? f : f + 1;
  return d < 0.5 ? f : f + 1;
}

/** torchvision's Resize(int) output size and CenterCrop offsets for a width x height image. */
export function preprocessGeometry(width: number, height: number, resizeTo: number, size: number): PreprocessGeometry {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.floor((resizeTo * long) / short);
  const [resizedW, resizedH] = width <= height ? [resizeTo, newLong] : [newLong, resizeTo];
  return {
    resizedW, resizedH,
    top: roundHalfEven((resizedH - size) / 2),
    left: roundHalfEven((resizedW - size) / 2),
    scaleX: Math.fround(width / resizedW),
    scaleY: Math.fround(height / resizedH),
  };
}

/** Output pixels per workgroup side (WGSL override TILE). */
const TILE = 8;

/** Pillow's fixed-point coefficient precision (PRECISION_BITS = 32 - 8 - 2 in Resample.c). */
export const PILLOW_PRECISION_BITS = 22;

/** Pillow's filters (Resample.c): support radius and kernel. */
const PILLOW_FILTERS: Record<'pil-bilinear' | 'pil-bicubic', { support: number; filter(x: number): number }> = {
  'pil-bilinear': {
    support: 1,
    filter(x) { x = Math.abs(x); return x < 1 ? 1 - x : 0; },
  },
  'pil-bicubic': {
    support: 2,
    filter(x) {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

/** Pillow's filter coefficients for a resize of one axis, for the output indices first .. first + count - 1. */
export interface PillowCoefficients {
  /** Taps per output index (Pillow's ksize): the row length in `weights`. */
  taps: number;
  /** Per output index: the first input index its taps read. */
  start: Int32Array;
  /** Per output index: how many taps are used (at most `taps`). */
  used: Int32Array;
  /** (count, taps) fixed-point weights (value * 2^22, rounded half away from zero), zero past `used`. */
  weights: Int32Array;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc (Resample.c) for resizing `inSize` to `outSize`
 * with `resample`, restricted to output indices [first, first + count): the centre crop's.
 */
export function pillowCoefficients(inSize: number, outSize: number, resample: 'pil-bilinear' | 'pil-bicubic',
  first = 0, count = outSize): PillowCoefficients {
  const { support: radius, filter } = PILLOW_FILTERS[resample];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = radius * filterscale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const used = new Int32Array(count);
  const weights = new Int32Array(count * taps);
  const k = new Float64Array(taps);
  for (let i = 0; i < count; i++) {
    const xx = first + i;
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[i * taps + x] = Math.trunc(w * 2 ** PILLOW_PRECISION_BITS + (w < 0 ? -0.5 : 0.5));
    }
    start[i] = xmin;
    used[i] = xmax;
  }
  return { taps, start, used, weights };
}

/**
 * The coefficient table the shader reads (binding 3, i32): per crop column x, [start, used, taps
 * weights]; then from word `rowTable`, per crop row y, [start, used, taps weights]. Also the source
 * rows the vertical taps read (rowFirst, rowCount): the rows the horizontal pass resamples.
 */
function coefficientTable(g: PreprocessGeometry, width: number, height: number, S: number, resample: 'pil-bilinear' | 'pil-bicubic'):
  { table: Int32Array; kx: number; ky: number; rowTable: number; rowFirst: number; rowCount: number } {
  const cols = pillowCoefficients(width, g.resizedW, resample, g.left, S);
  const rows = pillowCoefficients(height, g.resizedH, resample, g.top, S);
  const rowTable = S * (2 + cols.taps);
  const table = new Int32Array(rowTable + S * (2 + rows.taps));
  for (const [c, base] of [[cols, 0], [rows, rowTable]] as const) {
    for (let i = 0; i < S; i++) {
      const o = base + i * (2 + c.taps);
      table[o] = c.start[i];
      table[o + 1] = c.used[i];
      table.set(c.weights.subarray(i * c.taps, (i + 1) * c.taps), o + 2);
    }
  }
  // The source rows the crop's vertical taps read (starts rise with the output row; so do the ends).
  const rowFirst = rows.start[0];
  const rowCount = rows.start[S - 1] + rows.used[S - 1] - rowFirst;
  return { table, kx: cols.taps, ky: rows.taps, rowTable, rowFirst, rowCount };
}

export class Preprocess {
  /** [N, S, S, C]. */
  readonly outputShape: readonly number[];
  private staging?: GPUBuffer;

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: PreprocessDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
    /** Pillow's horizontal pass (HPASS), for the pil-* filters. */
    private readonly horizontal?: GPUComputePipeline,
  ) {
    this.outputShape = [desc.batch, desc.size, desc.size, desc.channels];
  }

  static async create(ctx: GpuContext, desc: PreprocessDesc, label: string): Promise<Preprocess> {
    checkInts(label, { size: desc.size, resizeTo: desc.resizeTo, batch: desc.batch });
    if (desc.channels !== 1 && desc.channels !== 3) throw new Error(`${label}: channels must be 1 or 3, got ${desc.channels}`);
    if (desc.resizeTo < desc.size) throw new Error(`${label}: resizeTo ${desc.resizeTo} is smaller than the crop size ${desc.size}`);
    if (desc.mean.length !== desc.channels || desc.std.length !== desc.channels) {
      throw new Error(`${label}: mean ${shapeText(desc.mean)} and std ${shapeText(desc.std)} need ${desc.channels} values each`);
    }
    if (desc.std.some((s) => !(Number.isFinite(s) && s !== 0))) throw new Error(`${label}: std ${shapeText(desc.std)} must be finite and non-zero`);
    if (Math.ceil(desc.size / TILE) > ctx.device.limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(`${label}: size ${desc.size} needs more than maxComputeWorkgroupsPerDimension workgroups per side`);
    }
    const [lo, hi] = desc.range ?? [0, 1];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`${label}: range [${lo}, ${hi}] must be finite`);
    const resample = desc.resample ?? 'tensor-bilinear';
    if (!RESAMPLES.includes(resample)) throw new Error(`${label}: resample must be one of ${RESAMPLES.join(', ')}, got ${String(resample)}`);
    const pillow = resample !== 'tensor-bilinear';
    const [pipeline, horizontal] = await Promise.all([
      getPipeline(ctx, { shader: 'preprocess', defines: { GREY: desc.channels === 1, PILLOW: pillow, HPASS: false }, overrides: { TILE } }),
      pillow ? getPipeline(ctx, { shader: 'preprocess', defines: { GREY: false, PILLOW: true, HPASS: true }, overrides: { TILE } }) : undefined,
    ]);
    return new Preprocess(ctx, desc, label, pipeline, horizontal);
  }

  /**
   * Uploads RGBA bytes (height, width, 4) into this op's image buffer and returns it. The buffer is
   * reused while it is large enough; a larger image replaces it (destroying the old one, so
   * Dispatches bound to an earlier image must be bound again).
   */
  upload(pixels: Uint8Array | Uint8ClampedArray, width: number, height: number): GpuImage {
    const { ctx, label } = this;
    checkInts(label, { width, height });
    if (pixels.length !== width * height * 4) {
      throw new Error(`${label}: ${pixels.length} bytes are not a ${width}x${height} RGBA image (${width * height * 4} bytes)`);
    }
    const bytes = width * height * 4;
    checkBindingSize(ctx, bytes, `${label} image`);
    if (!this.staging || this.staging.size < bytes) {
      this.staging?.destroy();
      this.staging = ctx.device.createBuffer({ label: `${label} image`, size: Math.ceil(bytes / 16) * 16,
        usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    }
    ctx.device.queue.writeBuffer(this.staging, 0, pixels.buffer, pixels.byteOffset, bytes);
    return { buffer: this.staging, width, height };
  }

  /**
   * image (height, width) RGBA8 -> output (N, S, S, C), batch slot `batchIndex`. With a Pillow
   * filter the Dispatch runs the horizontal and the vertical pass and owns the image size's
   * coefficient table and the intermediate rows.
   */
  bind(image: GpuImage, output: GpuTensor, batchIndex = 0): Dispatch {
    const { ctx, label, pipeline, desc } = this;
    const { width, height } = image;
    checkInts(label, { width, height });
    if (image.buffer.size < width * height * 4) {
      throw new Error(`${label}: image buffer '${image.buffer.label}' has ${image.buffer.size} bytes, a ${width}x${height} RGBA image needs ${width * height * 4}`);
    }
    checkShape(label, 'output', output.shape, this.outputShape);
    if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= desc.batch) {
      throw new Error(`${label}: batchIndex ${batchIndex} is outside the batch of ${desc.batch}`);
    }
    const S = desc.size;
    const g = preprocessGeometry(width, height, desc.resizeTo, S);
    if (g.resizedW < S || g.resizedH < S) {
      throw new Error(`${label}: a ${width}x${height} image resized to ${g.resizedW}x${g.resizedH} is smaller than the ${S}x${S} crop`);
    }
    const [lo, hi] = desc.range ?? [0, 1];
    const data = new ArrayBuffer(112);
    const u = new Uint32Array(data);
    const f = new Float32Array(data);
    u.set([width, height, g.resizedW, g.resizedH, S, g.top, g.left, batchIndex, desc.resizeTo, 0]);
    f.set([g.scaleX, g.scaleY, lo, hi], 10);
    f.set(desc.mean, 16);
    f.set(desc.std, 20);
    if (desc.channels === 1) { f.fill(1, 21, 24); } else { f[23] = 1; }  // unused std lanes: 1, never 0
    const groups = Math.ceil(S / TILE);
    const resources: GPUBufferBinding[] = [
      { buffer: image.buffer, offset: 0, size: Math.min(Math.ceil((width * height * 4) / 16) * 16, image.buffer.size) },
      tensorBinding(ctx, label, 'output', output),
    ];
    const resample = desc.resample ?? 'tensor-bilinear';
    if (resample === 'tensor-bilinear') return pipelineDispatch(ctx, label, pipeline, data, resources, [groups, groups]);
    const { table, kx, ky, rowTable, rowFirst, rowCount } = coefficientTable(g, width, height, S, resample);
    u[9] = kx;
    u[14] = ky;
    u[15] = rowTable;
    u[24] = rowFirst;
    u[25] = rowCount;
    checkBindingSize(ctx, table.byteLength, `${label} filter coefficients`);
    checkBindingSize(ctx, rowCount * S * 4, `${label} resized rows`);
    const coefficients = ctx.device.createBuffer({ label: `${label} filter coefficients`, size: Math.ceil(table.byteLength / 16) * 16,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    ctx.device.queue.writeBuffer(coefficients, 0, table.buffer as ArrayBuffer, table.byteOffset, table.byteLength);
    const rows = ctx.device.createBuffer({ label: `${label} resized rows`, size: Math.ceil((rowCount * S * 4) / 16) * 16,
      usage: BufferUsage.STORAGE });
    const h = pipelineDispatch(ctx, `${label} (horizontal)`, this.horizontal!, data, [resources[0], { buffer: rows }, { buffer: coefficients }],
      [groups, Math.ceil(rowCount / TILE)]);
    const v = pipelineDispatch(ctx, label, pipeline, data, [{ buffer: rows }, resources[1], { buffer: coefficients }], [groups, groups]);
    const buffers = [...h.buffers, ...v.buffers, coefficients, rows];
    return {
      label,
      buffers,
      // Two dispatches of one pass: WebGPU makes the first one's writes visible to the second.
      encode(pass) { h.encode(pass); v.encode(pass); },
      destroy() { for (const b of buffers) b.destroy(); },
    };
  }

  /** Frees the image buffer made by upload(). */
  dispose(): void {
    this.staging?.destroy();
    this.staging = undefined;
  }
}
