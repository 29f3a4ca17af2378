// An instance: one plan (entry, head, batch) made concrete on the GPU, and the step-by-step loop over it.
//
// Built once per (entry, head, batch) and reused by every inference of that kind: the ops (pipelines
// from the shared cache), the activation buffers assigned by liveness (src/graph/memory.ts), the
// NCHW input upload buffer, every step's Dispatch (each owns the uniform buffer its bind() made),
// and the readback buffer. Every GPU object carries its step's plan name. The instance owns all of
// them: instanceBytes() counts them, destroyInstance() frees them.
//
// An instance built on the first-use conv pipelines (OpOptions.firstUse: quick to compile, slower to
// run) serves a model's first inferences while its tuned twin is built (Runner, warmup 'fast-first').
//
// runSteps() is the one step-by-step execution loop, shared by the runner's validate() and profile()
// and the bench's wall-clock step timer.

import { QuietWait, type GpuContext } from '../gpu/device.js';
import { gpuScope } from '../gpu/errors.js';
import { BufferUsage, elementCount, f32Bytes, STORAGE_COPY, type GpuTensor, type Precision } from '../gpu/buffers.js';
import type { Dispatch } from '../gpu/dispatch.js';
import type { KernelChoice } from '../ops/conv2d.js';
import { buildPlan, hasWeights, type Plan, type Step } from '../models/plan.js';
import type { ResNetConfig } from '../models/config.js';
import { planBuffers, type MemoryPlan } from './memory.js';
import { createStepOp, planStorage, stepTensorBytes, stepTensorShape, type Normalization, type StepOp, type StepWeights, type TuningLookup } from './steps.js';

/** Which plan an instance runs: the entry (NCHW floats or images), the head, k and the batch. */
export interface InstanceKey {
  input: 'nchw' | 'image';
  head: 'logits' | 'topk' | 'features';
  topK: number;
  batch: number;
}

/** One batch slot of the image entry: the image's pixels and the preprocess dispatch bound to them. */
export interface ImageSlot {
  width: number;
  height: number;
  /** RGBA8 pixels of the image in this batch slot, (height, width) u32 words. */
  buffer: GPUBuffer;
  dispatch: Dispatch;
}

/** Everything one (entry, head, batch) needs, created once. */
export interface Instance {
  key: InstanceKey;
  /** Built on the first-use conv pipelines (OpOptions.firstUse). */
  firstUse: boolean;
  /** The tuning lookup its convs were built with (OpOptions.tuning). */
  tuning?: TuningLookup;
  plan: Plan;
  N: number;
  memory: MemoryPlan;
  /** Tensor name -> its buffer, with the batch shape the producing op writes. */
  tensors: Map<string, GpuTensor>;
  ops: Map<string, StepOp>;
  /** Dispatches of each step in plan order (preprocess: one per image slot, bound when the image size is known). */
  stepDispatches: Dispatch[][];
  /** The buffers the instance made itself: activations, NCHW input, readback. */
  buffers: GPUBuffer[];
  /** 'input.nchw' upload buffer, (N, C, H, W). */
  input?: GpuTensor;
  /** Batch-slot image buffers for the image entry. */
  slots: (ImageSlot | undefined)[];
  output: GpuTensor;
  outputBytes: number;
  readback: GPUBuffer;
  /** Sleeps through most of an inference before its readback is awaited (Node on SwiftShader). */
  wait: QuietWait;
  /** The same, per step, for runSteps (made on its first use). */
  stepWaits?: QuietWait[];
  /** Timestamp queries of Runner.profile() (made on its first use). */
  profiler?: { querySet: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer };
}

/** How createOps builds a plan's ops. */
export interface OpOptions {
  /** Convs on the first-use tuning (createStepOp). */
  firstUse?: boolean;
  /** The conv kernel family (createStepOp); default 'auto'. */
  kernels?: KernelChoice;
  /** Otherwise, convs on these picks where it has one for their shape (the on-device tuner's), else the heuristic's. */
  tuning?: TuningLookup;
  /**
   * One op (so at most one pipeline compilation) at a time, `beforeEach()` called before each (it may
   * throw to stop): a background build that leaves the CPU to the inferences running meanwhile.
   * Default: all at once.
   */
  oneAtATime?: boolean;
  beforeEach?(): void;
  /** Called after each op is made. */
  onOp?(): void;
  /** Storage precision of weights and activations (planStorage); default 'f32'. The weights must have been packed at it. */
  precision?: Precision;
}

/** The ops of `plan`'s steps at batch N, by step name; their pipelines compiled into the shared cache. */
export async function createOps(ctx: GpuContext, plan: Plan, N: number, normalization: Normalization, o: OpOptions = {}): Promise<Map<string, StepOp>> {
  const ops = new Map<string, StepOp>();
  const storage = planStorage(plan, o.precision);
  const make = async (s: Step) => {
    o.beforeEach?.();
    ops.set(s.name, await createStepOp(ctx, s, N, normalization, o.firstUse, o.kernels, o.tuning, storage));
    o.onOp?.();
  };
  if (o.oneAtATime) {
    for (const s of plan.steps) await make(s);
  } else {
    await Promise.all(plan.steps.map(make));
  }
  return ops;
}

/**
 * Builds the instance of `config`'s plan for `key`. `weightsOf(step)` gives the packed weights of a
 * conv or linear step (uploadStepWeights); `normalization` is the image entry's preprocessing; `ops`
 * how its ops are made (createOps).
 */
export async function createInstance(ctx: GpuContext, config: ResNetConfig, key: InstanceKey, normalization: Normalization,
  weightsOf: (step: string) => StepWeights, opOptions: OpOptions = {}): Promise<Instance> {
  const { device } = ctx;
  const N = key.batch;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`batch must be a positive integer, got ${N}`);
  const plan = buildPlan(config, { input: key.input, head: key.head, topK: key.topK });
  const shapeOf = (name: string) => stepTensorShape(plan, name, N);
  const storage = planStorage(plan, opOptions.precision);
  const memory = planBuffers(plan, (name) => stepTensorBytes(plan, name, N, storage));

  // Ops (pipelines) first: the only asynchronous part.
  const ops = await createOps(ctx, plan, N, normalization, opOptions);

  const buffers: GPUBuffer[] = [];
  const stepDispatches: Dispatch[][] = [];
  const buffer = (label: string, size: number, usage: number) => {
    const b = device.createBuffer({ label, size, usage });
    buffers.push(b);
    return b;
  };
  const destroyAll = () => {
    for (const b of buffers) b.destroy();
    for (const d of stepDispatches.flat()) d.destroy();
  };
  // Every buffer and bind group in one stretch inside error scopes: a buffer the device cannot
  // allocate is a GpuOutOfMemoryError here, not an inference that reads back zeros.
  let made;
  try {
    made = await gpuScope(device, `creating the GPU buffers of batch ${N}`, () => {
      const slots = memory.slotBytes.map((bytes, i) => buffer(`activations ${i} (batch ${N})`, Math.max(16, bytes), STORAGE_COPY));
      const tensors = new Map<string, GpuTensor>();
      for (const [name, slot] of memory.slotOf) tensors.set(name, { buffer: slots[slot], shape: shapeOf(name), dtype: storage.dtypeOf(name) });
      let input: GpuTensor | undefined;
      if (key.input === 'nchw') {
        const shape = shapeOf(plan.input);
        input = { buffer: buffer(`input (N, C, H, W) batch ${N}`, f32Bytes(shape), BufferUsage.STORAGE | BufferUsage.COPY_DST), shape };
        tensors.set(plan.input, input);
      }
      for (const s of plan.steps) {
        if (s.kind === 'preprocess') { stepDispatches.push([]); continue; } // bound per image: its size is known then
        const weights = hasWeights(s) ? weightsOf(s.name) : undefined;
        stepDispatches.push([ops.get(s.name)!.bind(s.inputs.map((t) => tensors.get(t)!), tensors.get(s.output)!, weights)]);
      }
      const output = tensors.get(plan.output)!;
      const outputBytes = elementCount(output.shape) * 4;
      const readback = buffer(`readback ${plan.output} (batch ${N})`, Math.ceil(outputBytes / 4) * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
      return { tensors, input, output, outputBytes, readback };
    });
  } catch (e) {
    destroyAll();
    throw e;
  }
  return { key, firstUse: !!opOptions.firstUse, tuning: opOptions.tuning, plan, N, memory, ops, stepDispatches, buffers, slots: [], wait: new QuietWait(ctx), ...made };
}

/** Every buffer `inst` owns: its own, its image slots', its dispatches' and its profiler's. */
function ownedBuffers(inst: Instance): GPUBuffer[] {
  return [
    ...inst.buffers,
    ...inst.slots.flatMap((s) => (s ? [s.buffer] : [])),
    ...inst.stepDispatches.flat().flatMap((d) => d.buffers),
    ...(inst.profiler ? [inst.profiler.resolve, inst.profiler.read] : []),
  ];
}

/** GPU bytes `inst` holds. */
export function instanceBytes(inst: Instance): number {
  return ownedBuffers(inst).reduce((n, b) => n + b.size, 0);
}

/** Destroys every GPU object `inst` owns. */
export function destroyInstance(inst: Instance): void {
  for (const b of ownedBuffers(inst)) b.destroy();
  inst.profiler?.querySet.destroy();
}

/** Floating-point operations of step i (2 per multiply-add). */
export function stepFlops(inst: Instance, i: number): number {
  return inst.stepDispatches[i].reduce((a, d) => a + (d.flops ?? 0), 0);
}

/** What runSteps does around each step. */
export interface StepHooks {
  /** Called just before step i is encoded. */
  before?(i: number): void;
  /** Awaited once the queue has finished step i, before step i + 1 is encoded. */
  after?(i: number, step: Step): Promise<void> | void;
  /** Timestamp writes of step i's compute pass. */
  timestampWrites?(i: number): GPUComputePassTimestampWrites;
}

/**
 * Runs `inst`'s plan one step at a time: each step's dispatches in a compute pass and command buffer
 * of their own, submitted alone and waited for (a QuietWait per step), then `hooks.after(i)`. The
 * inputs must already be written.
 */
export async function runSteps(ctx: GpuContext, inst: Instance, hooks: StepHooks): Promise<void> {
  const { device } = ctx;
  const waits = inst.stepWaits ??= inst.plan.steps.map(() => new QuietWait(ctx));
  for (let i = 0; i < inst.plan.steps.length; i++) {
    const step = inst.plan.steps[i];
    const label = step.name;
    hooks.before?.(i);
    await waits[i].run(() => {
      const encoder = device.createCommandEncoder({ label });
      const timestampWrites = hooks.timestampWrites?.(i);
      const pass = encoder.beginComputePass(timestampWrites ? { label, timestampWrites } : { label });
      for (const d of inst.stepDispatches[i]) d.encode(pass);
      pass.end();
      device.queue.submit([encoder.finish()]);
    }, () => device.queue.onSubmittedWorkDone());
    await hooks.after?.(i, step);
  }
}
