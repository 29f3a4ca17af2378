// GPU buffers and tensors: creation, upload and readback.

import { keepAlive, type GpuContext } from './device.js';

/** A tensor in a GPU buffer. Activations are NHWC, shape [N, H, W, C], f32, densely packed. */
export interface GpuTensor {
  buffer: GPUBuffer;
  shape: readonly number[];
  /** Byte offset into `buffer` (a multiple of the device's minStorageBufferOffsetAlignment). */
  offset?: number;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Size in bytes of an f32 tensor, rounded up to 16 so vec4 views stay in bounds. */
export function f32Bytes(shape: readonly number[]): number {
  return Math.ceil((elementCount(shape) * 4) / 16) * 16;
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

export function uploadTensor(ctx: GpuContext, label: string, data: Float32Array, shape: readonly number[]): GpuTensor {
  if (data.length !== elementCount(shape)) {
    throw new Error(`${label}: ${data.length} values do not fill shape [${shape.join(', ')}]`);
  }
  return { buffer: uploadBuffer(ctx, label, data), shape };
}

export function createTensor(ctx: GpuContext, label: string, shape: readonly number[]): GpuTensor {
  return { buffer: createBuffer(ctx, label, f32Bytes(shape)), shape };
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

export async function readTensor(ctx: GpuContext, t: GpuTensor): Promise<Float32Array> {
  return new Float32Array(await readBuffer(ctx, t.buffer, elementCount(t.shape) * 4, t.offset ?? 0));
}
