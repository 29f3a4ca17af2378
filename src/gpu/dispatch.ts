// The unit the runner encodes: one compute dispatch with its pipeline and bind groups made once.
// A Dispatch owns the GPU objects its op's bind() created for it (its uniform buffer): whoever
// keeps the Dispatch counts them (`buffers`) and frees them with destroy().

import { BufferUsage } from './buffers.js';
import type { GpuContext } from './device.js';

export interface Dispatch {
  /** Plan name of the step, e.g. `layer3.1.conv2`. */
  label: string;
  /** Sets pipeline and bind groups and dispatches; creates nothing. */
  encode(pass: GPUComputePassEncoder): void;
  /** Floating-point operations of one run (2 per multiply-add), for GFLOP/s figures. */
  flops?: number;
  /** The buffers created for this dispatch alone (its uniform buffer). */
  readonly buffers: readonly GPUBuffer[];
  /** Destroys `buffers`; the dispatch must not be encoded afterwards. */
  destroy(): void;
}

/** Encodes `dispatches` in order into one compute pass and submits them. */
export function submitDispatches(ctx: GpuContext, label: string, dispatches: readonly Dispatch[]): void {
  const encoder = ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  for (const d of dispatches) d.encode(pass);
  pass.end();
  ctx.device.queue.submit([encoder.finish()]);
}

/** Writes `data` into a new uniform buffer (padded to 16 bytes); the Dispatch that binds it owns it. */
export function uniformBuffer(ctx: GpuContext, label: string, data: Uint32Array | Float32Array | ArrayBuffer): GPUBuffer {
  const bytes = data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const buffer = ctx.device.createBuffer({ label: `${label} params`, size: Math.max(16, Math.ceil(bytes.byteLength / 16) * 16),
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  ctx.device.queue.writeBuffer(buffer, 0, bytes);
  return buffer;
}

/**
 * A Dispatch of `pipeline` with `bindGroup` at group 0 over `grid` (workgroups per dimension),
 * owning `buffers` (what its bind created).
 */
export function boundDispatch(label: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup,
  grid: readonly [number, number?, number?], buffers: readonly GPUBuffer[], flops?: number): Dispatch {
  const [x, y = 1, z = 1] = grid;
  return {
    label,
    flops,
    buffers,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
    },
    destroy() {
      for (const b of buffers) b.destroy();
    },
  };
}

/**
 * A Dispatch over `pipeline` with one bind group made now: binding 0 is a new uniform buffer
 * holding `params` (owned by the Dispatch), bindings 1.. are `resources` in order. `grid` is the
 * workgroup count per dimension.
 */
export function pipelineDispatch(ctx: GpuContext, label: string, pipeline: GPUComputePipeline,
  params: Uint32Array | Float32Array | ArrayBuffer, resources: readonly GPUBufferBinding[],
  grid: readonly [number, number?, number?], flops?: number): Dispatch {
  const uniform = uniformBuffer(ctx, label, params);
  const bindGroup = ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: uniform } },
      ...resources.map((resource, i) => ({ binding: i + 1, resource })),
    ],
  });
  return boundDispatch(label, pipeline, bindGroup, grid, [uniform], flops);
}
