// A conv layer's weights as shaders/conv2d.wgsl reads them: the packed layout (computed once per
// layer), the repacking of PyTorch's order into it, and the rgba32float texture they are uploaded to.
// One Conv2dWeights per layer serves the layer's Conv2d ops at every batch size (Conv2d.bind checks
// that it was packed for the op's shape). BatchNorm folding, before packing: src/weights/fold.ts.

import type { GpuContext } from '../gpu/device.js';
import { GpuLimitError } from '../gpu/buffers.js';
import type { Conv2dDesc } from './conv2d-geometry.js';

/** The fields of a convolution its packed weights depend on. */
export type Conv2dWeightShape = Pick<Conv2dDesc, 'C' | 'K' | 'R' | 'S' | 'groups' | 'preAct'>;

/** Packed weight geometry for a shape (see packConv2dWeights). */
export interface Conv2dWeightLayout extends Readonly<Conv2dWeightShape> {
  /** Input and output channels per group; Kgp = Kg rounded up to a multiple of 4. */
  readonly Cg: number;
  readonly Kg: number;
  readonly Kgp: number;
  /** Float index of the bias, after the weights. */
  readonly biasOffset: number;
  /** With preAct: float index of the prologue's scale (C), followed by its shift (C), after the bias. */
  readonly preActOffset: number;
  /** Floats of the packed array: weights and bias, zero-padded to whole texture rows. */
  readonly length: number;
  /** The weight texture: `width` (a power of two) rgba32float texels a row, `rows` rows. */
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

export function conv2dWeightLayout({ C, K, R, S, groups, preAct = false }: Conv2dWeightShape): Conv2dWeightLayout {
  const Cg = C / groups;
  const Kg = K / groups;
  const Kgp = Math.ceil(Kg / 4) * 4;
  const biasOffset = groups * R * S * Cg * Kgp;
  const preActOffset = biasOffset + groups * Kgp;
  const texels = Math.ceil((preActOffset + (preAct ? 2 * C : 0)) / 4);
  const width = Math.min(WEIGHT_TEXTURE_MAX_WIDTH,
    Math.max(WEIGHT_TEXTURE_MIN_WIDTH, 2 ** Math.ceil(Math.log2(Math.ceil(texels / WEIGHT_TEXTURE_ROWS)))));
  const rows = Math.ceil(texels / width);
  return { C, K, R, S, groups, preAct, Cg, Kg, Kgp, biasOffset, preActOffset, length: width * rows * 4, width, rows };
}

/** The pre-activation prologue of a conv's input: relu(x * scale[c] + shift[c]), each (C). */
export interface PreActParams {
  scale: Float32Array;
  shift: Float32Array;
}

/**
 * Repacks PyTorch conv weights for conv2d.wgsl, bias appended:
 *   weight (K, C/G, R, S) -> (G, R, S, Cg, Kgp) at float 0, then bias (G, Kgp) at float biasOffset,
 * where Kgp = K/G rounded up to a multiple of 4 and the padding channels are zero, then (layout.preAct)
 * the prologue's scale (C) and shift (C) at preActOffset; the array is zero-padded to whole rows of the
 * weight texture. A missing bias packs as zeros.
 */
export function packConv2dWeights(layout: Conv2dWeightLayout, weight: Float32Array, bias?: Float32Array, pre?: PreActParams): Float32Array {
  const { C, R, S, K, groups: G, Cg, Kg, Kgp, biasOffset, preActOffset, length } = layout;
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
  if (pre) {
    out.set(pre.scale, preActOffset);
    out.set(pre.shift, preActOffset + C);
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

/** One layer's packed weights on the GPU: an rgba32float texture of `layout`'s geometry. */
export class Conv2dWeights {
  private constructor(readonly layout: Conv2dWeightLayout, readonly texture: GPUTexture) {}

  /**
   * Uploads packed weights (packConv2dWeights with `layout`) into a new texture labelled `label`.
   * Throws a GpuLimitError when the texture is taller than this device allows.
   */
  static upload(ctx: GpuContext, label: string, layout: Conv2dWeightLayout, packed: Float32Array): Conv2dWeights {
    checkTextureSize(ctx, label, layout);
    if (packed.length !== layout.length) throw new Error(`${label}: ${packed.length} floats, the packed layout has ${layout.length}`);
    const texture = ctx.device.createTexture({
      label, size: [layout.width, layout.rows], format: 'rgba32float',
      usage: 0x4 /* TEXTURE_BINDING */ | 0x2 /* COPY_DST */ | 0x1, /* COPY_SRC */
    });
    ctx.device.queue.writeTexture({ texture }, packed.buffer, { offset: packed.byteOffset, bytesPerRow: layout.width * 16, rowsPerImage: layout.rows },
      [layout.width, layout.rows]);
    return new Conv2dWeights(layout, texture);
  }

  /** Packs PyTorch-order weight (K, C/G, R, S), bias (K) and (shape.preAct) the prologue for `shape` and uploads them. */
  static create(ctx: GpuContext, label: string, shape: Conv2dWeightShape, weight: Float32Array, bias?: Float32Array,
    pre?: PreActParams): Conv2dWeights {
    const layout = conv2dWeightLayout(shape);
    checkTextureSize(ctx, label, layout);
    return Conv2dWeights.upload(ctx, label, layout, packConv2dWeights(layout, weight, bias, pre));
  }

  get label(): string {
    return this.texture.label;
  }

  /** GPU bytes: 16 a texel. */
  get bytes(): number {
    return this.layout.width * this.layout.rows * 16;
  }

  destroy(): void {
    this.texture.destroy();
  }
}
