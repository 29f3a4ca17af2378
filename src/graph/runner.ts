// The runner: turns a plan plus folded weights into GPU work.
//
// At load: every conv / fc weight is packed into its kernel's layout and uploaded once.
// Per entry point and batch size (created lazily on first use, then cached): the ops, activation
// buffers (assigned by liveness, src/graph/memory.ts), uniform buffers, bind groups, the input
// upload buffer and the readback buffer. Every GPU object carries its step's plan name.
// Per inference: one writeBuffer of the input, ONE command encoder with one compute pass holding
// every dispatch in plan order, one copy of the output into the readback buffer, ONE submit, one
// mapAsync (in Node on SwiftShader, after sleeping through most of the inference's expected time:
// QuietWait in src/gpu/device.ts). Inferences on one runner are serialised (they share buffers).
//
// Debug switches: validate() runs the plan step by step and compares each step's output with the
// CPU reference (src/reference/) computed from the GPU's own inputs to that step, so the first
// step that differs is named; profile() times every step with timestamp queries.

import { keepAlive, QuietWait, type GpuContext } from '../gpu/device.js';
import { elementCount, f32Bytes, readBuffer, type GpuTensor } from '../gpu/buffers.js';
import type { Dispatch } from '../gpu/dispatch.js';
import { buildPlan, type Plan, type PlanOptions, type Step } from '../models/plan.js';
import type { ResNetConfig } from '../models/config.js';
import type { FoldedParams } from '../weights/load.js';
import type { ProgressCallback } from '../weights/source.js';
import { planBuffers, type MemoryPlan } from './memory.js';
import {
  createStepOp, packedWeightBytes, packStepWeights, referenceStep, stepTensorShape, stepWeightBytes, uploadStepWeights,
  type Normalization, type RgbaImage, type StepOp, type StepWeights,
} from './steps.js';

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

export class TimestampQueryUnsupportedError extends Error {
  override name = 'TimestampQueryUnsupportedError';
}

const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const STORAGE = 0x80;
const QUERY_RESOLVE = 0x200;

/** Which plan an instance runs: the entry (NCHW floats or images), the head, k and the batch. */
export interface InstanceKey {
  input: 'nchw' | 'image';
  head: 'logits' | 'topk';
  topK: number;
  batch: number;
}

interface ImageSlot {
  width: number;
  height: number;
  /** RGBA8 pixels of the image in this batch slot, (height, width) u32 words. */
  buffer: GPUBuffer;
  /** The uniform buffer of this slot's preprocess dispatch. */
  params: GPUBuffer;
  dispatch: Dispatch;
}

/** Everything one (entry, head, batch) needs, created once. */
interface Instance {
  key: InstanceKey;
  plan: Plan;
  N: number;
  memory: MemoryPlan;
  /** Tensor name -> its buffer, with the batch shape the producing op writes. */
  tensors: Map<string, GpuTensor>;
  ops: Map<string, StepOp>;
  /** Dispatches of each step in plan order (preprocess: filled per call, one per slot). */
  stepDispatches: Dispatch[][];
  /** Every buffer this instance created (activations, uniforms, input, readback): destroyed on dispose. */
  buffers: GPUBuffer[];
  bytes: number;
  /** 'input.nchw' upload buffer, (N, C, H, W). */
  input?: GpuTensor;
  /** Batch-slot image buffers for the image entry. */
  slots: (ImageSlot | undefined)[];
  output: GpuTensor;
  outputBytes: number;
  readback: GPUBuffer;
  /** Sleeps through most of an inference before its readback is awaited (Node on SwiftShader). */
  wait: QuietWait;
  profiler?: { querySet: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer };
}

export interface RunnerOptions {
  /** Keep the folded f32 weights on the CPU so validate() can run the reference. */
  keepCpuWeights?: boolean;
  /** Input normalisation for the image entry (from the weights' metadata). */
  normalization: Normalization;
  onProgress?: ProgressCallback;
}

export interface StepCheck {
  name: string;
  kind: Step['kind'];
  maxAbsDiff: number;
  maxAbsRef: number;
  ok: boolean;
}

export interface ValidationReport {
  ok: boolean;
  /** Name of the first step whose output differs from the CPU reference beyond tolerance. */
  firstMismatch?: string;
  steps: StepCheck[];
}

export interface StepTiming {
  name: string;
  kind: Step['kind'];
  ms: number;
  flops: number;
}

export interface ProfileResult {
  steps: StepTiming[];
  /** Sum of the steps' GPU times. */
  totalMs: number;
  /** Floating-point operations of the whole run (2 per multiply-add), and the GFLOP/s they give. */
  flops: number;
  gflops: number;
}

/**
 * Calls `fn` (synchronous) and returns every buffer created on `device` meanwhile. The ops create
 * their uniform buffers inside bind(); wrapping createBuffer lets the runner own (account for and
 * destroy) every buffer of an instance without each op reporting its own.
 */
function trackBuffers<T>(device: GPUDevice, fn: () => T): { result: T; buffers: GPUBuffer[] } {
  const buffers: GPUBuffer[] = [];
  const own = Object.getOwnPropertyDescriptor(device, 'createBuffer'); // someone else's wrapper, if any
  const original = device.createBuffer;
  Object.defineProperty(device, 'createBuffer', {
    configurable: true, writable: true,
    value: (desc: GPUBufferDescriptor) => {
      const b = original.call(device, desc);
      buffers.push(b);
      return b;
    },
  });
  try {
    return { result: fn(), buffers };
  } finally {
    if (own) Object.defineProperty(device, 'createBuffer', own);
    else delete (device as { createBuffer?: unknown }).createBuffer; // the prototype's method shows through again
  }
}

export class Runner {
  /** Bytes of all packed weights (textures and buffers). */
  readonly weightBytes: number;
  private readonly instances = new Map<string, Promise<Instance>>();
  /** Serialises inferences: instances share their activation and readback buffers. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private cleanup?: Promise<void>;

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ResNetConfig,
    private readonly weights: Map<string, StepWeights>,
    private readonly cpuWeights: Map<string, FoldedParams> | undefined,
    private readonly normalization: Normalization,
  ) {
    this.weightBytes = [...weights.values()].reduce((n, w) => n + stepWeightBytes(w), 0);
  }

  /**
   * Folds, packs and uploads every weight once, one step at a time (so at most one layer's f32
   * copies exist besides the checkpoint). `fold` gives a step's folded PyTorch-layout parameters.
   */
  static async create(ctx: GpuContext, config: ResNetConfig, fold: (step: Step) => FoldedParams, options: RunnerOptions): Promise<Runner> {
    const plan = buildPlan(config);
    const weighted = plan.steps.filter((s) => s.kind === 'conv' || s.kind === 'linear');
    const total = weighted.reduce((n, s) => n + packedWeightBytes(s), 0);
    const weights = new Map<string, StepWeights>();
    const cpuWeights = options.keepCpuWeights ? new Map<string, FoldedParams>() : undefined;
    let loaded = 0;
    options.onProgress?.({ loaded, total, phase: 'upload' });
    try {
      for (const s of weighted) {
        const folded = fold(s);
        cpuWeights?.set(s.name, folded);
        const data = await packStepWeights(ctx, s, folded);
        weights.set(s.name, uploadStepWeights(ctx, s, data));
        loaded += data.byteLength;
        options.onProgress?.({ loaded, total, phase: 'upload' });
      }
    } catch (e) {
      for (const b of weights.values()) b.destroy();
      throw e;
    }
    return new Runner(ctx, config, weights, cpuWeights, options.normalization);
  }

  /** The packed weights of a conv or linear step (the wall-clock step timer binds them). */
  stepWeights(step: string): StepWeights {
    const w = this.weights.get(step);
    if (!w) throw new Error(`no weights for step '${step}'`);
    return w;
  }

  private checkUsable(): void {
    if (this.disposed) throw new Error('this model was disposed; load it again');
    if (this.ctx.lostReason) {
      throw new DeviceLostError(`the GPU device was lost (${this.ctx.lostReason}); load the model again on a new device`);
    }
  }

  /** Runs `fn` after every earlier inference on this runner has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(() => { this.checkUsable(); return fn(); });
    this.queue = p.catch(() => {});
    return p;
  }

  /**
   * Builds the ops of `key`'s plan, and so compiles their pipelines into the device's cache,
   * without allocating any buffer: the first inference then only creates bind groups.
   */
  async compile(key: InstanceKey, onProgress?: ProgressCallback): Promise<void> {
    this.checkUsable();
    const plan = buildPlan(this.config, { input: key.input, head: key.head, topK: key.topK });
    let done = 0;
    const total = plan.steps.length;
    onProgress?.({ loaded: 0, total, phase: 'compile' });
    await Promise.all(plan.steps.map(async (s) => {
      await createStepOp(this.ctx, s, key.batch, this.normalization);
      onProgress?.({ loaded: ++done, total, phase: 'compile' });
    }));
  }

  /** The instance for `key`, created on first use. */
  private instance(key: InstanceKey): Promise<Instance> {
    this.checkUsable();
    const id = `${key.input}/${key.head}/${key.topK}/${key.batch}`;
    let p = this.instances.get(id);
    if (!p) {
      p = this.createInstance(key);
      this.instances.set(id, p);
      p.catch(() => this.instances.delete(id));
    }
    return p;
  }

  private async createInstance(key: InstanceKey): Promise<Instance> {
    const { ctx } = this;
    const N = key.batch;
    if (!Number.isInteger(N) || N < 1) throw new RangeError(`batch must be a positive integer, got ${N}`);
    const options: PlanOptions = { input: key.input, head: key.head, topK: key.topK };
    const plan = buildPlan(this.config, options);
    const shapeOf = (name: string) => stepTensorShape(plan, name, N);
    const memory = planBuffers(plan, (name) => f32Bytes(shapeOf(name)));

    // Ops (pipelines) first: the only asynchronous part.
    const ops = new Map<string, StepOp>();
    await Promise.all(plan.steps.map(async (s) => {
      ops.set(s.name, await createStepOp(ctx, s, N, this.normalization));
    }));

    ctx.device.pushErrorScope('validation');
    const { result, buffers } = trackBuffers(ctx.device, () => {
      const slots = memory.slotBytes.map((bytes, i) => ctx.device.createBuffer({
        label: `activations ${i} (batch ${N})`, size: Math.max(16, bytes), usage: STORAGE | COPY_SRC | COPY_DST,
      }));
      const tensors = new Map<string, GpuTensor>();
      for (const [name, slot] of memory.slotOf) tensors.set(name, { buffer: slots[slot], shape: shapeOf(name) });
      let input: GpuTensor | undefined;
      if (key.input === 'nchw') {
        const shape = shapeOf(plan.input);
        input = { buffer: ctx.device.createBuffer({ label: `input (N, C, H, W) batch ${N}`, size: f32Bytes(shape), usage: STORAGE | COPY_DST }), shape };
        tensors.set(plan.input, input);
      }
      const stepDispatches = plan.steps.map((s) => {
        if (s.kind === 'preprocess') return []; // bound per call: the image size is known then
        const inputs = s.inputs.map((t) => tensors.get(t)!);
        return [ops.get(s.name)!.bind(inputs, tensors.get(s.output)!, this.weights.get(s.name))];
      });
      const output = tensors.get(plan.output)!;
      const outputBytes = elementCount(output.shape) * 4;
      const readback = ctx.device.createBuffer({ label: `readback ${plan.output} (batch ${N})`, size: Math.ceil(outputBytes / 4) * 4, usage: MAP_READ | COPY_DST });
      return { tensors, input, stepDispatches, output, outputBytes, readback };
    });
    const error = await ctx.device.popErrorScope();
    if (error) {
      for (const b of buffers) b.destroy();
      throw new Error(`creating the GPU objects for batch ${N} failed: ${error.message}`);
    }
    const bytes = buffers.reduce((n, b) => n + b.size, 0);
    return { key, plan, N, memory, ops, buffers, bytes, slots: [], wait: new QuietWait(ctx), ...result };
  }

  /** Logits (N, classes) for NCHW input (N, C, H, W). */
  runLogits(nchw: Float32Array, batch: number): Promise<Float32Array> {
    return this.serial(async () => {
      const inst = await this.instance({ input: 'nchw', head: 'logits', topK: 0, batch });
      this.writeInput(inst, nchw);
      return new Float32Array(await this.execute(inst));
    });
  }

  /** Top-k per image, (N, 2, k) words: k f32 probabilities then k u32 indices (decodeTopK). */
  runImages(images: RgbaImage[], topK: number): Promise<ArrayBuffer> {
    return this.serial(async () => {
      const inst = await this.instance({ input: 'image', head: 'topk', topK, batch: images.length });
      this.writeImages(inst, images);
      return this.execute(inst);
    });
  }

  private writeInput(inst: Instance, nchw: Float32Array): void {
    const t = inst.input!;
    const n = elementCount(t.shape);
    if (!(nchw instanceof Float32Array) || nchw.length !== n) {
      throw new RangeError(`input must be a Float32Array of N*C*H*W = ${t.shape.join('*')} = ${n} values ` +
        `(NCHW), got ${nchw instanceof Float32Array ? nchw.length + ' values' : Object.prototype.toString.call(nchw)}`);
    }
    this.ctx.device.queue.writeBuffer(t.buffer, 0, nchw.buffer, nchw.byteOffset, nchw.byteLength);
  }

  /** Uploads each image into its batch slot, re-binding the slot's preprocess dispatch when its size changed. */
  private writeImages(inst: Instance, images: RgbaImage[]): void {
    const { ctx } = this;
    const step = inst.plan.steps[0];
    if (step.kind !== 'preprocess') throw new Error('runner: the image plan does not start with preprocess');
    const op = inst.ops.get(step.name)!;
    const output = inst.tensors.get(step.output)!;
    for (let i = 0; i < images.length; i++) {
      const img = images[i];
      let slot = inst.slots[i];
      const bytes = img.width * img.height * 4;
      if (!slot || slot.width !== img.width || slot.height !== img.height) {
        // A new size: a new uniform buffer and bind group; the pixel buffer is kept while it is big enough.
        const old = slot;
        const { result, buffers } = trackBuffers(ctx.device, () => {
          const buffer = old && old.buffer.size >= bytes ? old.buffer
            : ctx.device.createBuffer({ label: `${step.name} image ${i} (RGBA8)`, size: Math.ceil(bytes / 16) * 16, usage: STORAGE | COPY_DST });
          const dispatch = op.bindImage!({ buffer, width: img.width, height: img.height }, output, i);
          return { buffer, dispatch };
        });
        if (old) {
          // The previous uniform buffer (and pixel buffer, if replaced) are no longer bound.
          const stale = new Set([old.params, ...(old.buffer !== result.buffer ? [old.buffer] : [])]);
          for (const b of stale) { b.destroy(); inst.bytes -= b.size; }
          inst.buffers = inst.buffers.filter((b) => !stale.has(b));
        }
        const params = buffers.find((b) => b !== result.buffer)!;
        inst.buffers.push(...buffers);
        inst.bytes += buffers.reduce((n, b) => n + b.size, 0);
        slot = { width: img.width, height: img.height, params, ...result };
        inst.slots[i] = slot;
        inst.stepDispatches[0] = inst.slots.map((s) => s!.dispatch);
      }
      ctx.device.queue.writeBuffer(slot.buffer, 0, img.data.buffer, img.data.byteOffset, bytes);
    }
  }

  /** One encoder, one pass, one submit; reads back the output. */
  private async execute(inst: Instance): Promise<ArrayBuffer> {
    const { device } = this.ctx;
    const label = `inference batch ${inst.N}`;
    const encoder = device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label });
    for (const ds of inst.stepDispatches) for (const d of ds) d.encode(pass);
    pass.end();
    encoder.copyBufferToBuffer(inst.output.buffer, inst.output.offset ?? 0, inst.readback, 0, inst.readback.size);
    return inst.wait.run(() => device.queue.submit([encoder.finish()]), () => this.read(inst.readback, inst.outputBytes));
  }

  private async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await keepAlive(buffer.mapAsync(MAP_READ));
    } catch (e) {
      if (this.ctx.lostReason) throw new DeviceLostError(`the GPU device was lost during inference (${this.ctx.lostReason})`);
      throw new Error(`reading back ${buffer.label} failed: ${(e as Error).message}`);
    }
    const out = buffer.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
    buffer.unmap();
    return out;
  }

  /**
   * Runs the NCHW -> logits plan step by step; after each step reads its output back and compares
   * it with the CPU reference applied to the GPU's own inputs of that step. A step fails when
   * max |gpu - ref| > atol + rtol * max |ref|.
   */
  validate(nchw: Float32Array, batch: number, tolerance: { rtol?: number; atol?: number } = {}): Promise<ValidationReport> {
    const { rtol = 1e-4, atol = 1e-5 } = tolerance;
    return this.serial(async () => {
      if (!this.cpuWeights) throw new Error('validate needs the CPU weights: load the model with { validate: true }');
      const inst = await this.instance({ input: 'nchw', head: 'logits', topK: 0, batch });
      this.writeInput(inst, nchw);
      const { device } = this.ctx;
      const values = new Map<string, Float32Array>([[inst.plan.input, nchw]]);
      const steps: StepCheck[] = [];
      for (let i = 0; i < inst.plan.steps.length; i++) {
        const s = inst.plan.steps[i];
        const encoder = device.createCommandEncoder({ label: `validate ${s.name}` });
        const pass = encoder.beginComputePass({ label: `validate ${s.name}` });
        for (const d of inst.stepDispatches[i]) d.encode(pass);
        pass.end();
        device.queue.submit([encoder.finish()]);
        const out = inst.tensors.get(s.output)!;
        const gpu = new Float32Array(await readBuffer(this.ctx, out.buffer, elementCount(out.shape) * 4, out.offset ?? 0));
        values.set(s.output, gpu);
        const ref = referenceStep(s, inst.N, s.inputs.map((t) => values.get(t)!), this.cpuWeights.get(s.name));
        let maxAbsDiff = 0;
        let maxAbsRef = 0;
        for (let j = 0; j < ref.length; j++) {
          const d = Math.abs(gpu[j] - ref[j]);
          maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
          maxAbsRef = Math.max(maxAbsRef, Math.abs(ref[j]));
        }
        if (gpu.length !== ref.length) maxAbsDiff = Infinity;
        steps.push({ name: s.name, kind: s.kind, maxAbsDiff, maxAbsRef, ok: maxAbsDiff <= atol + rtol * maxAbsRef });
      }
      const bad = steps.find((c) => !c.ok);
      return { ok: !bad, firstMismatch: bad?.name, steps };
    });
  }

  /** Per-step GPU time with timestamp queries: one compute pass per step. */
  profile(input: { nchw: Float32Array; batch: number } | { images: RgbaImage[]; topK: number }): Promise<ProfileResult> {
    return this.serial(async () => {
      if (!this.ctx.hasTimestampQuery || !this.ctx.device.features.has('timestamp-query')) {
        throw new TimestampQueryUnsupportedError('timestamp-query unsupported on this adapter: per-step GPU times are not available');
      }
      let inst: Instance;
      if ('nchw' in input) {
        inst = await this.instance({ input: 'nchw', head: 'logits', topK: 0, batch: input.batch });
        this.writeInput(inst, input.nchw);
      } else {
        inst = await this.instance({ input: 'image', head: 'topk', topK: input.topK, batch: input.images.length });
        this.writeImages(inst, input.images);
      }
      const { device } = this.ctx;
      const n = inst.plan.steps.length;
      if (!inst.profiler) {
        const { result, buffers } = trackBuffers(device, () => ({
          querySet: device.createQuerySet({ label: `profile batch ${inst.N}`, type: 'timestamp', count: 2 * n }),
          resolve: device.createBuffer({ label: `profile resolve batch ${inst.N}`, size: 16 * n, usage: QUERY_RESOLVE | COPY_SRC }),
          read: device.createBuffer({ label: `profile readback batch ${inst.N}`, size: 16 * n, usage: MAP_READ | COPY_DST }),
        }));
        inst.profiler = result;
        inst.buffers.push(...buffers);
        inst.bytes += buffers.reduce((a, b) => a + b.size, 0);
      }
      const { querySet, resolve, read } = inst.profiler;
      const encoder = device.createCommandEncoder({ label: `profile batch ${inst.N}` });
      inst.plan.steps.forEach((s, i) => {
        const pass = encoder.beginComputePass({
          label: s.name,
          timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
        });
        for (const d of inst.stepDispatches[i]) d.encode(pass);
        pass.end();
      });
      encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
      // The same wait as an inference's (one compute pass per step costs little more than one pass).
      const ns = new BigInt64Array(await inst.wait.run(() => device.queue.submit([encoder.finish()]), () => this.read(read, 16 * n)));
      let totalMs = 0;
      let flops = 0;
      const steps = inst.plan.steps.map((s, i) => {
        const ms = Math.max(0, Number(ns[2 * i + 1] - ns[2 * i])) / 1e6;
        const f = inst.stepDispatches[i].reduce((a, d) => a + (d.flops ?? 0), 0);
        totalMs += ms;
        flops += f;
        return { name: s.name, kind: s.kind, ms, flops: f };
      });
      return { steps, totalMs, flops, gflops: totalMs > 0 ? flops / totalMs / 1e6 : 0 };
    });
  }

  /** GPU bytes held: weights plus every instance created so far. */
  async totalBytes(): Promise<number> {
    let n = this.weightBytes;
    for (const p of this.instances.values()) n += (await p.catch(() => undefined))?.bytes ?? 0;
    return n;
  }

  /**
   * Destroys every buffer once the inferences already queued have finished; calls made after
   * dispose() throw. Safe to call twice.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const instances = [...this.instances.values()];
    this.instances.clear();
    this.cleanup = this.queue.then(async () => {
      for (const b of this.weights.values()) b.destroy();
      this.weights.clear();
      for (const p of instances) {
        const inst = await p.catch(() => undefined);
        for (const b of inst?.buffers ?? []) b.destroy();
        inst?.profiler?.querySet.destroy();
      }
    });
  }

  /** Resolves when the queued inferences (and, after dispose(), the cleanup) are done. */
  async idle(): Promise<void> {
    await this.queue;
    await this.cleanup;
  }
}
