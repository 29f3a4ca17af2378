// A conv layer's weights as shaders/conv2d.wgsl reads them: the packed layout (computed once per
// layer), the repacking of PyTorch's order into it, and the rgba32float texture they are uploaded to
// (rgba16float with weightDtype 'f16': half the bytes; see packConv2dWeights for how the f16 layout
// keeps the bias exact and no weight overflows).
// One Conv2dWeights per layer serves the layer's Conv2d ops at every batch size (Conv2d.bind checks
// that it was packed for the op's shape). BatchNorm folding, before packing: src/weights/fold.ts.

import type { GpuContext } from '../gpu/device.js';
import { GpuLimitError, type Dtype } from '../gpu/buffers.js';
import { f32ToF16Bits } from '../weights/safetensors.js';
import type { Conv2dDesc } from './conv2d-geometry.js';

/** The fields of a convolution its packed weights depend on. */
export type Conv2dWeightShape = Pick<Conv2dDesc, 'C' | 'K' | 'R' | 'S' | 'groups' | 'preAct' | 'weightDtype'>;

/** Packed weight geometry for a shape (see packConv2dWeights). */
export interface Conv2dWeightLayout extends Readonly<Omit<Conv2dWeightShape, 'weightDtype'>> {
  /** Element type of the texture: 'f32' (rgba32float) or 'f16' (rgba16float). */
  readonly dtype: Dtype;
  /** Input and output channels per group; Kgp = Kg rounded up to a multiple of 4. */
  readonly Cg: number;
  readonly Kg: number;
  readonly Kgp: number;
  /** Element index of the bias, after the weights (f16: the bias hi, then the bias lo). */
  readonly biasOffset: number;
  /** f16 only: element index of the texel holding the weight scale (2^e1, 2^e2, 0, 0), after the bias lo. */
  readonly scaleOffset: number;
  /**
   * With preAct: element index of the prologue's scale (C), followed by its shift (C), after the bias
   * (f16: after the scale texel; scale hi, shift hi, then scale lo, shift lo).
   */
  readonly preActOffset: number;
  /** Elements of the packed array: weights and bias, zero-padded to whole texture rows. */
  readonly length: number;
  /** Bytes of one texel: 16 (rgba32float) or 8 (rgba16float). */
  readonly texelBytes: number;
  /** The weight texture: `width` (a power of two) texels a row, `rows` rows. */
  readonly width: number;
  readonly rows: number;
}

/**
 * Weight textures: a power-of-two width (the shader splits a texel index with a shift and a mask), the
 * narrowest from 16 texels (256-byte rows) up that needs at most 4096 rows (the compatibility feature
 * level's maxTextureDimension2D), so that the zero padding of the last row stays under 1 row; 4096 x 4096
 * texels hold 64M floats, 16x ResNeXt-101 64x4d's largest layer.
 */
const WEIGHT_TEXTURE_MIN_WIDTH = 16;
const WEIGHT_TEXTURE_ROWS = 4096;
const WEIGHT_TEXTURE_MAX_WIDTH = 4096;

export function conv2dWeightLayout({ C, K, R, S, groups, preAct = false, weightDtype = 'f32' }: Conv2dWeightShape): Conv2dWeightLayout {
  const Cg = C / groups;
  const Kg = K / groups;
  const Kgp = Math.ceil(Kg / 4) * 4;
  const f16 = weightDtype === 'f16';
  const biasOffset = groups * R * S * Cg * Kgp;
  const scaleOffset = biasOffset + 2 * groups * Kgp;   // f16: after bias hi and bias lo
  const preActOffset = f16 ? scaleOffset + 4 : biasOffset + groups * Kgp;
  const texels = Math.ceil((preActOffset + (preAct ? (f16 ? 4 : 2) * C : 0)) / 4);
  const width = Math.min(WEIGHT_TEXTURE_MAX_WIDTH,
    Math.max(WEIGHT_TEXTURE_MIN_WIDTH, 2 ** Math.ceil(Math.log2(Math.ceil(texels / WEIGHT_TEXTURE_ROWS)))));
  const rows = Math.ceil(texels / width);
  return { C, K, R, S, groups, preAct, dtype: weightDtype, Cg, Kg, Kgp, biasOffset, scaleOffset: f16 ? scaleOffset : -1, preActOffset,
    length: width * rows * 4, texelBytes: f16 ? 8 : 16, width, rows };
}

/** The largest finite f16. */
export const F16_MAX = 65504;

/**
 * The f16 layout's weight scale: the power of two 2^e that brings the layer's largest |weight| into
 * [2^14, 2^15) (weights are stored divided by it), e within [-28, 30], the range of two f16 powers of two.
 * BatchNorm folding can make a layer's weights large (a channel with a tiny running variance) or
 * small; after the scale no stored weight overflows f16 (max 65504) and weights down to 2^-28 of the
 * largest stay normal f16 numbers (full precision). 0 for an all-zero layer.
 */
export function f16WeightExponent(weight: Float32Array): number {
  let max = 0;
  for (const v of weight) max = Math.max(max, Math.abs(v));
  if (!(max > 0) || !Number.isFinite(max)) return 0;
  return Math.min(30, Math.max(-28, Math.floor(Math.log2(max)) - 14));
}

/** f32 value v as two f16 (hi, lo) with hi + lo = v to about 22 significant bits; hi saturates at +-F16_MAX. */
function splitF16(v: number): [number, number] {
  const hi = f32ToF16Bits(Math.max(-F16_MAX, Math.min(F16_MAX, v)));
  const rest = v - f16Value(hi);
  return [hi, f32ToF16Bits(Math.max(-F16_MAX, Math.min(F16_MAX, rest)))];
}

/** The number an f16 bit pattern holds (finite patterns only: splitF16 never makes others). */
function f16Value(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const mag = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -mag : mag;
}

/** The pre-activation prologue of a conv's input: relu(x * scale[c] + shift[c]), each (C). */
export interface PreActParams {
  scale: Float32Array;
  shift: Float32Array;
}

/**
 * Repacks PyTorch conv weights for conv2d.wgsl, bias appended:
 *   weight (K, C/G, R, S) -> (G, R, S, Cg, Kgp) at element 0, then bias (G, Kgp) at element biasOffset,
 * where Kgp = K/G rounded up to a multiple of 4 and the padding channels are zero, then (layout.preAct)
 * the prologue's scale (C) and shift (C) at preActOffset; the array is zero-padded to whole rows of the
 * weight texture. A missing bias packs as zeros.
 *
 * The f16 layout (a Uint16Array of f16 bit patterns, round to nearest even): the weights divided by the
 * layer's power-of-two scale 2^e (f16WeightExponent; exact, undone in f32 in the kernel's store), the
 * bias and the prologue's scale and shift each as two f16 sections, hi and lo (splitF16): their sum is
 * the f32 value to about 22 significant bits, so the bias, which BatchNorm folding makes comparable to
 * the output itself, loses nothing to f16; the scale texel (2^e1, 2^e2, 0, 0) with e1 + e2 = e.
 */
export function packConv2dWeights(layout: Conv2dWeightLayout & { dtype: 'f32' }, weight: Float32Array, bias?: Float32Array, pre?: PreActParams): Float32Array;
export function packConv2dWeights(layout: Conv2dWeightLayout, weight: Float32Array, bias?: Float32Array, pre?: PreActParams): Float32Array | Uint16Array;
export function packConv2dWeights(layout: Conv2dWeightLayout, weight: Float32Array, bias?: Float32Array, pre?: PreActParams): Float32Array | Uint16Array {
  const { C, R, S, K, Cg, biasOffset, preActOffset, length } = layout;
  if (layout.preAct !== (pre !== undefined)) {
    throw new Error(`conv2d weights: the layout ${layout.preAct ? 'has' : 'has no'} pre-activation prologue but its scale and shift were ${pre ? '' : 'not '}given`);
  }
  if (pre && (pre.scale.length !== C || pre.shift.length !== C)) {
    throw new Error(`conv2d pre-activation: scale ${pre.scale.length} and shift ${pre.shift.length} values, expected C = ${C} each`);
  }
  if (weight.length !== K * Cg * R * S) {
    throw new Error(`conv2d weights: ${weight.length} values, expected K*C/G*R*S = ${K}*${Cg}*${R}*${S} = ${K * Cg * R * S}`);
  }
  if (bias && bias.length !== K) throw new Error(`conv2d bias: ${bias.length} values, expected K = ${K}`);
  if (layout.dtype === 'f16') return packF16(layout, weight, bias, pre);
  const out = new Float32Array(length);
  reorderWeights(layout, weight, out);
  if (bias) for (let k = 0; k < K; k++) out[biasOffset + biasIndex(layout, k)] = bias[k];
  if (pre) {
    out.set(pre.scale, preActOffset);
    out.set(pre.shift, preActOffset + C);
  }
  return out;
}

/**
 * Writes the weights into `out` in the packed order, PyTorch's (K, C/G, R, S) -> (G, R, S, Cg, Kgp), at
 * index 0 (padding columns untouched). A plain store, not a callback: this loop is a large part of a
 * model's load time.
 */
function reorderWeights(layout: Conv2dWeightLayout, weight: Float32Array, out: Float32Array): void {
  const { R, S, groups: G, Cg, Kg, Kgp } = layout;
  for (let g = 0; g < G; g++) {
    for (let kk = 0; kk < Kg; kk++) {
      const k = g * Kg + kk;
      for (let c = 0; c < Cg; c++) {
        for (let r = 0; r < R; r++) {
          for (let s = 0; s < S; s++) out[(((g * R + r) * S + s) * Cg + c) * Kgp + kk] = weight[((k * Cg + c) * R + r) * S + s];
        }
      }
    }
  }
}

/** Output channel k's place in a (G, Kgp) bias section. */
function biasIndex(layout: Conv2dWeightLayout, k: number): number {
  return Math.floor(k / layout.Kg) * layout.Kgp + (k % layout.Kg);
}

function packF16(layout: Conv2dWeightLayout, weight: Float32Array, bias?: Float32Array, pre?: PreActParams): Uint16Array {
  const { C, K, groups: G, Kgp, biasOffset, scaleOffset, preActOffset, length } = layout;
  const e = f16WeightExponent(weight);
  const inv = 2 ** -e;
  const out = new Uint16Array(length);
  const loBias = biasOffset + G * Kgp;
  const ordered = new Float32Array(biasOffset);   // the weights section
  reorderWeights(layout, weight, ordered);
  for (let i = 0; i < ordered.length; i++) out[i] = f32ToF16Bits(Math.max(-F16_MAX, Math.min(F16_MAX, ordered[i] * inv)));
  if (bias) {
    for (let k = 0; k < K; k++) [out[biasOffset + biasIndex(layout, k)], out[loBias + biasIndex(layout, k)]] = splitF16(bias[k]);
  }
  const e1 = Math.max(-14, Math.min(15, e));   // 2^e1 and 2^e2 are normal f16 (|e2| <= 15)
  out[scaleOffset] = f32ToF16Bits(2 ** e1);
  out[scaleOffset + 1] = f32ToF16Bits(2 ** (e - e1));
  if (pre) {
    for (let c = 0; c < C; c++) {
      [out[preActOffset + c], out[preActOffset + 2 * C + c]] = splitF16(pre.scale[c]);
      [out[preActOffset + C + c], out[preActOffset + 3 * C + c]] = splitF16(pre.shift[c]);
    }
  }
  return out;
}

function checkTextureSize(ctx: GpuContext, label: string, layout: Conv2dWeightLayout): void {
  const maxSize = ctx.device.limits.maxTextureDimension2D;
  if (layout.rows > maxSize) {
    throw new GpuLimitError(`${label}: packed conv2d weights need a texture of ${layout.width} x ${layout.rows} texels; ` +
      `this device's maxTextureDimension2D is ${maxSize}`);
  }
}

/** One layer's packed weights on the GPU: an rgba32float (f16: rgba16float) texture of `layout`'s geometry. */
export class Conv2dWeights {
  private constructor(readonly layout: Conv2dWeightLayout, readonly texture: GPUTexture) {}

  /**
   * Uploads packed weights (packConv2dWeights with `layout`) into a new texture labelled `label`.
   * Throws a GpuLimitError when the texture is taller than this device allows.
   */
  static upload(ctx: GpuContext, label: string, layout: Conv2dWeightLayout, packed: Float32Array | Uint16Array): Conv2dWeights {
    checkTextureSize(ctx, label, layout);
    if (packed.length !== layout.length) throw new Error(`${label}: ${packed.length} values, the packed layout has ${layout.length}`);
    const f16 = layout.dtype === 'f16';
    if (f16 !== packed instanceof Uint16Array) {
      throw new Error(`${label}: ${f16 ? 'f16 weights are packed as a Uint16Array' : 'f32 weights are packed as a Float32Array'}`);
    }
    const texture = ctx.device.createTexture({
      label, size: [layout.width, layout.rows], format: f16 ? 'rgba16float' : 'rgba32float',
      usage: 0x4 /* TEXTURE_BINDING */ | 0x2 /* COPY_DST */ | 0x1, /* COPY_SRC */
    });
    ctx.device.queue.writeTexture({ texture }, packed.buffer, { offset: packed.byteOffset, bytesPerRow: layout.width * layout.texelBytes, rowsPerImage: layout.rows },
      [layout.width, layout.rows]);
    return new Conv2dWeights(layout, texture);
  }

  /** Packs PyTorch-order weight (K, C/G, R, S), bias (K) and (shape.preAct) the prologue for `shape` (and its weightDtype) and uploads them. */
  static create(ctx: GpuContext, label: string, shape: Conv2dWeightShape, weight: Float32Array, bias?: Float32Array,
    pre?: PreActParams): Conv2dWeights {
    const layout = conv2dWeightLayout(shape);
    checkTextureSize(ctx, label, layout);
    return Conv2dWeights.upload(ctx, label, layout, packConv2dWeights(layout, weight, bias, pre));
  }

  get label(): string {
    return this.texture.label;
  }

  /** GPU bytes: 16 a texel (f16: 8). */
  get bytes(): number {
    return this.layout.width * this.layout.rows * this.layout.texelBytes;
  }

  destroy(): void {
    this.texture.destroy();
  }
}
