// Helpers the op twins share: the 1D grid split, argument and shape checks, tensor bindings.

import type { GpuContext } from '../gpu/device.js';
import { dtypeBytes, elementCount, GpuLimitError, checkBindingSize, type Dtype, type GpuTensor } from '../gpu/buffers.js';

/**
 * Workgroup grid for a kernel that numbers its workgroups 0 .. count-1 as wid.y * nwg.x + wid.x:
 * x stays within maxComputeWorkgroupsPerDimension, the rest goes to y. The shader must ignore the
 * overshoot (x * y may exceed count).
 */
export function grid1d(ctx: GpuContext, count: number, label: string): [number, number] {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [Math.max(1, count), 1];
  const y = Math.ceil(count / max);
  if (y > max) throw new GpuLimitError(`${label}: ${count} workgroups exceed ${max} x ${max}`);
  return [Math.ceil(count / y), y];
}

/**
 * Output size along one axis of a convolution or pooling window, PyTorch's rule (dilation 1): in
 * ceil mode the last window must still start inside the input or the left padding. 0 when the window
 * is larger than the padded input.
 */
export function windowOutputSize(size: number, kernel: number, stride: number, pad: number, ceil = false): number {
  const span = size + 2 * pad - kernel;
  if (span < 0) return 0;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;
  return out;
}

/** Throws unless every value is a positive integer (or a non-negative one when `allowZero`). */
export function checkInts(label: string, values: Record<string, number>, allowZero = false): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
      throw new Error(`${label}: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
    }
  }
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless `shape` is exactly `expected`. */
export function checkShape(label: string, what: string, shape: readonly number[], expected: readonly number[]): void {
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${label}: ${what} has shape ${shapeText(shape)}, expected ${shapeText(expected)}`);
  }
}

/**
 * The binding for a tensor (f32 or f16): its elements from `offset`, sized up to a multiple of 16 bytes
 * where the buffer allows (so vec4 views cover the last element). Throws when the buffer is too small
 * or the offset is not aligned for a storage binding.
 */
export function tensorBinding(ctx: GpuContext, label: string, what: string, t: GpuTensor): GPUBufferBinding {
  const offset = t.offset ?? 0;
  const bytes = elementCount(t.shape) * dtypeBytes(t.dtype);
  const align = ctx.device.limits.minStorageBufferOffsetAlignment;
  if (offset % align !== 0) throw new Error(`${label}: ${what} offset ${offset} is not a multiple of minStorageBufferOffsetAlignment ${align}`);
  if (offset + bytes > t.buffer.size) {
    throw new Error(`${label}: ${what} ${shapeText(t.shape)} needs ${bytes} bytes from offset ${offset}, ` +
      `but buffer '${t.buffer.label}' has ${t.buffer.size}`);
  }
  checkBindingSize(ctx, bytes, `${label} ${what}`);
  const size = Math.min(Math.ceil(bytes / 16) * 16, t.buffer.size - offset);
  return { buffer: t.buffer, offset, size };
}

/** Throws when two tensors share bytes (a kernel's read-only input must not alias its output). */
export function checkNoAlias(label: string, a: GpuTensor, b: GpuTensor): void {
  if (a.buffer !== b.buffer) return;
  const a0 = a.offset ?? 0, a1 = a0 + elementCount(a.shape) * dtypeBytes(a.dtype);
  const b0 = b.offset ?? 0, b1 = b0 + elementCount(b.shape) * dtypeBytes(b.dtype);
  if (a0 < b1 && b0 < a1) throw new Error(`${label}: input and output overlap in buffer '${a.buffer.label}'`);
}

/** Workgroup size of the elementwise kernels (WGSL override WG). */
export const ELEMENTWISE_WG = 64;

/** Throws unless tensor `t` is stored as `dtype` (the precision the op's pipeline was built for). */
export function checkDtype(label: string, what: string, t: GpuTensor, dtype: Dtype): void {
  if ((t.dtype ?? 'f32') !== dtype) throw new Error(`${label}: ${what} is ${t.dtype ?? 'f32'}, this op was built for ${dtype}`);
}

/**
 * SHADER_F16, the define of every shader with f16 storage: true where the device has 'shader-f16' (f16
 * storage arrays and conversions), false for the core-WGSL path (f16 pairs packed in u32s,
 * pack2x16float / unpack2x16float). Either way the arithmetic is f32.
 */
export function shaderF16(ctx: GpuContext): boolean {
  return ctx.device.features.has('shader-f16');
}
