// GPU buffers and tensors: creation, upload and readback.

import { keepAlive, type GpuContext } from './device.js';
import { f16ToF32, f32ToF16Bits } from '../weights/safetensors.js';

/**
 * How a tensor's elements are stored: 'f32', or 'f16' (IEEE half, 2 bytes, little-endian; kernels read it
 * as packed u32 pairs, or as f16 where the device has 'shader-f16', and compute in f32).
 */
export type Dtype = 'f32' | 'f16';

/** A model's storage precision for weights and activations (README "Precision"). */
export type Precision = Dtype;

/** A tensor in a GPU buffer. Activations are NHWC, shape [N, H, W, C], densely packed, f32 unless `dtype` says f16. */
export interface GpuTensor {
  buffer: GPUBuffer;
  shape: readonly number[];
  /** Byte offset into `buffer` (a multiple of the device's minStorageBufferOffsetAlignment). */
  offset?: number;
  /** Element storage; default 'f32'. */
  dtype?: Dtype;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes of one element. */
export function dtypeBytes(dtype: Dtype = 'f32'): number {
  return dtype === 'f16' ? 2 : 4;
}

/** Size in bytes of a tensor, rounded up to 16 so vec4 views stay in bounds. */
export function tensorBytes(shape: readonly number[], dtype: Dtype = 'f32'): number {
  return Math.ceil((elementCount(shape) * dtypeBytes(dtype)) / 16) * 16;
}

/** Size in bytes of an f32 tensor, rounded up to 16 so vec4 views stay in bounds. */
export function f32Bytes(shape: readonly number[]): number {
  return tensorBytes(shape, 'f32');
}

export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
}

/** Throws a clear error when `bytes` would not fit one storage binding on this device. */
export function checkBindingSize(ctx: GpuContext, bytes: number, what: string): void {
  const l = ctx.device.limits;
  const max = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
  if (bytes > max) {
    throw new GpuLimitError(
      `${what} needs ${bytes} bytes in one storage binding, but this device allows ${max} ` +
      `(maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize})`);
  }
}

/** GPUBufferUsage flags by value: no WebGPU global is needed where a buffer is described. */
export const BufferUsage = {
  MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200,
} as const;

/** A storage buffer that can also be copied from and written by the queue: tensors and weights. */
export const STORAGE_COPY = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export function createBuffer(ctx: GpuContext, label: string, bytes: number,
  usage: number = STORAGE_COPY): GPUBuffer {
  checkBindingSize(ctx, bytes, label);
  return ctx.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
}

/** Creates a storage buffer holding `data` (padded to 16 bytes). */
export function uploadBuffer(ctx: GpuContext, label: string, data: ArrayBufferView,
  usage: number = STORAGE_COPY): GPUBuffer {
  const buffer = createBuffer(ctx, label, data.byteLength, usage);
  ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/** f32 values as f16 bit patterns (round to nearest even), saturated to +-65504 as the kernels' f16 stores are. */
export function toF16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16Bits(Math.max(-65504, Math.min(65504, data[i])));
  return out;
}

/** A tensor holding `data`, stored as `dtype` (f16: rounded by toF16). */
export function uploadTensor(ctx: GpuContext, label: string, data: Float32Array, shape: readonly number[], dtype: Dtype = 'f32'): GpuTensor {
  if (data.length !== elementCount(shape)) {
    throw new Error(`${label}: ${data.length} values do not fill shape [${shape.join(', ')}]`);
  }
  return { buffer: uploadBuffer(ctx, label, dtype === 'f16' ? toF16(data) : data), shape, dtype };
}

export function createTensor(ctx: GpuContext, label: string, shape: readonly number[], dtype: Dtype = 'f32'): GpuTensor {
  return { buffer: createBuffer(ctx, label, tensorBytes(shape, dtype)), shape, dtype };
}

/** Copies `bytes` from `buffer` (at `offset`) into a fresh mappable buffer and returns them. */
export async function readBuffer(ctx: GpuContext, buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const { device } = ctx;
  const size = Math.ceil(bytes / 4) * 4;
  const staging = device.createBuffer({ label: `readback ${buffer.label}`, size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: `readback ${buffer.label}` });
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  try {
    await keepAlive(staging.mapAsync(0x1 /* GPUMapMode.READ */));
  } catch (e) {
    throw new Error(`reading back ${buffer.label} failed${ctx.lostReason ? ` (device lost: ${ctx.lostReason})` : ''}: ${(e as Error).message}`);
  }
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

/** A tensor's values as f32 (f16 tensors are widened). */
export async function readTensor(ctx: GpuContext, t: GpuTensor): Promise<Float32Array> {
  const n = elementCount(t.shape);
  const bytes = await readBuffer(ctx, t.buffer, n * dtypeBytes(t.dtype), t.offset ?? 0);
  if (t.dtype !== 'f16') return new Float32Array(bytes);
  const halves = new Uint16Array(bytes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16ToF32(halves[i]);
  return out;
}
