// One measurement of the on-device tuner: the time of one conv layer with one tuning, on the layer's own
// packed weights and scratch activations of its shape.
//
// The op is built with the candidate tuning (its pipeline compiled, or found in the device's cache),
// run once untimed (llvmpipe compiles a pipeline when it first runs), then `reps` times: with
// timestamp queries where the device has them (each run a compute pass of its own, the GPU time between
// its two timestamps), else by the wall clock around each submit and its onSubmittedWorkDone. The
// result is the median run, in ms. The scratch buffers are destroyed afterwards; the pipeline stays in
// the device's cache (the tuned instance will want the winner's).

import { keepAlive, type GpuContext } from '../gpu/device.js';
import { BufferUsage, createTensor, type GpuTensor } from '../gpu/buffers.js';
import { Conv2d } from '../ops/conv2d.js';
import { hasResidual, type Conv2dDesc, type Conv2dTuning } from '../ops/conv2d-geometry.js';
import type { Conv2dWeights } from '../ops/conv2d-weights.js';
import { median } from './tuner.js';

/** Timed runs per measurement (after one untimed run). */
export const MEASURE_REPS = 3;

/** Runs `fn` alone on the device's queue (Runner.serial: between a model's inferences). */
export type Exclusive = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * The median time in ms of `reps` runs of `desc` with `tuning` and `weights` (the layer's, packed for its
 * shape). The pipeline is compiled first, then the runs are made inside `exclusive`.
 */
export async function measureConv2d(ctx: GpuContext, desc: Conv2dDesc, tuning: Conv2dTuning, weights: Conv2dWeights,
  label: string, exclusive: Exclusive = (fn) => fn(), reps = MEASURE_REPS): Promise<number> {
  const op = await Conv2d.create(ctx, desc, `${label} (tuning)`, tuning);
  return exclusive(() => timeConv2d(ctx, op, weights, reps));
}

async function timeConv2d(ctx: GpuContext, op: Conv2d, weights: Conv2dWeights, reps: number): Promise<number> {
  const { device } = ctx;
  const { desc, label } = op;
  const owned: { destroy(): void }[] = [];
  const tensor = (what: string, shape: readonly number[]): GpuTensor => {
    const t = createTensor(ctx, `${label} ${what}`, shape);
    owned.push(t.buffer);
    return t;
  };
  try {
    const x = tensor('input', [desc.N, desc.H, desc.W, desc.C]);
    const y = tensor('output', op.outputShape);
    const residual = hasResidual(desc.epilogue) ? tensor('residual', op.outputShape) : undefined;
    const dispatch = op.bind(x, weights, y, residual);
    owned.push(dispatch);
    const run = (timestampWrites?: GPUComputePassTimestampWrites) => {
      const encoder = device.createCommandEncoder({ label: op.label });
      const pass = encoder.beginComputePass(timestampWrites ? { label: op.label, timestampWrites } : { label: op.label });
      dispatch.encode(pass);
      pass.end();
      return encoder;
    };
    device.queue.submit([run().finish()]);
    await keepAlive(device.queue.onSubmittedWorkDone());
    if (ctx.hasTimestampQuery && device.features.has('timestamp-query')) {
      const querySet = device.createQuerySet({ label: `${op.label} timestamps`, type: 'timestamp', count: 2 * reps });
      owned.push(querySet);
      const resolve = device.createBuffer({ label: `${op.label} resolve`, size: 16 * reps, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
      const read = device.createBuffer({ label: `${op.label} read`, size: 16 * reps, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      owned.push(resolve, read);
      const buffers = [];
      for (let i = 0; i < reps; i++) buffers.push(run({ querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 }).finish());
      const encoder = device.createCommandEncoder({ label: `${op.label} resolve` });
      encoder.resolveQuerySet(querySet, 0, 2 * reps, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, 16 * reps);
      device.queue.submit([...buffers, encoder.finish()]);
      await keepAlive(read.mapAsync(0x1 /* GPUMapMode.READ */));
      const ns = new BigInt64Array(read.getMappedRange().slice(0));
      read.unmap();
      const times = [];
      for (let i = 0; i < reps; i++) times.push(Math.max(0, Number(ns[2 * i + 1] - ns[2 * i])) / 1e6);
      // Some drivers report zero for every pass (timestamps quantised away): the wall clock then.
      if (times.some((t) => t > 0)) return median(times);
    }
    const times = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      device.queue.submit([run().finish()]);
      await keepAlive(device.queue.onSubmittedWorkDone());
      times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    for (const o of owned) o.destroy();
  }
}
