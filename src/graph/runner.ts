// The runner: turns a plan plus folded weights into GPU work.
//
// At load: every conv / fc weight is packed into its kernel's layout and uploaded once.
// Per entry point and batch size (created lazily on first use, then cached): an instance
// (src/graph/instance.ts) holding the ops, activation buffers, dispatches with their uniform
// buffers, the input upload buffer and the readback buffer. Every GPU object carries its step's plan name.
// Per inference: one writeBuffer of the input, ONE command encoder with one compute pass holding
// every dispatch in plan order, one copy of the output into the readback buffer, ONE submit, one
// mapAsync (in Node on SwiftShader, after sleeping through most of the inference's expected time:
// QuietWait in src/gpu/device.ts). Inferences on one runner are serialised (they share buffers).
//
// First use (warmup 'fast-first', the default where compiling the tuned kernels dominates the first
// prediction: fastFirstByDefault in src/ops/conv2d-tuning.ts): each instance is first built on the
// first-use conv pipelines, quick to compile and slower to run; after its first inference the tuned
// instance of the same key is built in the background, its pipelines compiled one at a time so that
// the inferences made meanwhile keep the CPU, and takes the first-use one's place between two
// inferences (upgrade), which frees the first-use instance's buffers. ready() resolves once every
// instance runs on the tuned pipelines. The same upgrade swaps in the on-device tuner's picks
// (src/tuning/): setTuning() gives new picks, and every instance built on other picks is rebuilt on
// them in the background and swapped in between two inferences.
//
// Debug switches: validate() runs the plan step by step and compares each step's output with the
// CPU reference (src/reference/) computed from the GPU's own inputs to that step, so the first
// step that differs is named; profile() times every step with timestamp queries. Both run the
// steps through runSteps (src/graph/instance.ts).

import { checkDevice, keepAlive, type GpuContext } from '../gpu/device.js';
import { BufferUsage, checkBindingSize, elementCount, readTensor, type Precision } from '../gpu/buffers.js';
import { DeviceLostError, withErrorScopes } from '../gpu/errors.js';
import { checkFiniteInput, checkFiniteOutput } from '../finite.js';
import { checkBatch } from './limits.js';
import { buildPlan, hasWeights, type Step } from '../models/plan.js';
import type { ResNetConfig } from '../models/config.js';
import type { FoldedParams } from '../weights/load.js';
import type { ProgressCallback } from '../weights/source.js';
import { fastFirstByDefault, hasFirstUseConv2dTuning } from '../ops/conv2d-tuning.js';
import type { KernelChoice } from '../ops/conv2d.js';
import { createInstance, createOps, destroyInstance, instanceBytes, runSteps, stepFlops, type Instance, type InstanceKey } from './instance.js';
import {
  packedWeightBytes, packStepWeights, planStorage, stepWeightBytes, uploadStepWeights,
  type Normalization, type RgbaImage, type StepWeights, type TuningLookup,
} from './steps.js';

export { DeviceLostError } from '../gpu/errors.js';

export class TimestampQueryUnsupportedError extends Error {
  override name = 'TimestampQueryUnsupportedError';
}

export interface RunnerOptions {
  /** Keep the folded f32 weights on the CPU so validate() can run the reference. */
  keepCpuWeights?: boolean;
  /** Input normalisation for the image entry (from the weights' metadata). */
  normalization: Normalization;
  onProgress?: ProgressCallback;
  /** 'fast-first': instances start on the first-use conv pipelines (see above); default fastFirstByDefault. */
  warmup?: Warmup;
  /**
   * The conv kernel family of every instance: 'auto' (default) the tuning's pick per adapter and layer,
   * else that family forced on every conv (no first-use pipelines then, except for 'register').
   */
  kernels?: KernelChoice;
  /**
   * Storage precision of the weights and activations, 'f32' (default) or 'f16' (README "Precision":
   * half the GPU memory and bytes moved, f32 arithmetic; convolutions on the register family).
   */
  precision?: Precision;
  /**
   * Compile the pipelines of this instance (compile()) while the weights are folded, packed and
   * uploaded: the compilers run on the driver's threads (in a browser, the GPU process), so the two
   * overlap. Its 'compile' progress is reported after the 'upload' phase.
   */
  compile?: InstanceKey;
  /** Conv tunings chosen outside the heuristic (stored tuner picks) for the tuned pipelines; setTuning() replaces them. */
  tuning?: TuningLookup;
}

/**
 * 'fast-first': the first inferences run on quick-to-compile conv pipelines while the tuned ones compile
 * in the background; 'tuned': every pipeline is the tuned one from the start.
 */
export type Warmup = 'fast-first' | 'tuned';

/** What an inference reads: a normalised NCHW batch, or images (preprocessed on the GPU). */
export type RunInput = { nchw: Float32Array; batch: number } | { images: RgbaImage[] };

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

export class Runner {
  private readonly instances = new Map<string, Promise<Instance>>();
  /** Instances built on the first-use pipelines (where the adapter has them) until upgraded. */
  private readonly fastFirst: boolean;
  /** Instance id -> the build and swap-in of its tuned instance on picks `target` (upgrade). */
  private readonly upgrades = new Map<string, { target: TuningLookup | undefined; done: Promise<void> }>();
  /** The tuned pipelines' picks (setTuning). */
  private tuning: TuningLookup | undefined;
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
    warmup: Warmup,
    private readonly kernels: KernelChoice,
    tuning: TuningLookup | undefined,
    /** Storage precision of weights and activations. */
    readonly precision: Precision,
  ) {
    this.fastFirst = warmup === 'fast-first' && hasFirstUseConv2dTuning(ctx) && (kernels === 'auto' || kernels === 'register');
    this.tuning = tuning;
  }

  /** Bytes of all packed weights (textures and buffers). */
  get weightBytes(): number {
    return [...this.weights.values()].reduce((n, w) => n + stepWeightBytes(w), 0);
  }

  /**
   * Folds, packs and uploads every weight once, one step at a time (so at most one layer's f32
   * copies exist besides the checkpoint), and meanwhile compiles the pipelines of `options.compile`.
   * `fold` gives a step's folded PyTorch-layout parameters.
   */
  static async create(ctx: GpuContext, config: ResNetConfig, fold: (step: Step) => FoldedParams, options: RunnerOptions): Promise<Runner> {
    const plan = buildPlan(config);
    const weighted = plan.steps.filter(hasWeights);
    const precision = options.precision ?? 'f32';
    planStorage(plan, precision); // rejects an unknown precision before anything is uploaded
    const total = weighted.reduce((n, s) => n + packedWeightBytes(s, precision), 0);
    const weights = new Map<string, StepWeights>();
    const cpuWeights = options.keepCpuWeights ? new Map<string, FoldedParams>() : undefined;
    const runner = new Runner(ctx, config, weights, cpuWeights, options.normalization,
      options.warmup ?? (fastFirstByDefault(ctx) ? 'fast-first' : 'tuned'), options.kernels ?? 'auto', options.tuning, precision);
    // Compile progress waits for the upload's end (then its start and where it is), so that the
    // phases come in order.
    let uploading = true;
    const compileProgress: Parameters<ProgressCallback>[0][] = [];
    const compiling = options.compile && runner.compile(options.compile, (p) => {
      if (uploading) compileProgress[compileProgress.length ? 1 : 0] = p; // the start, then the latest
      else options.onProgress?.(p);
    });
    compiling?.catch(() => {}); // awaited below
    let loaded = 0;
    options.onProgress?.({ loaded, total, phase: 'upload' });
    // Each layer's texture or buffer is made and written inside error scopes (a weight the device
    // cannot allocate is a GpuOutOfMemoryError naming the layer); the scopes are awaited together.
    const checks: Promise<void>[] = [];
    try {
      for (const s of weighted) {
        const folded = fold(s);
        cpuWeights?.set(s.name, folded);
        const data = await packStepWeights(ctx, s, folded, precision);
        const [w, check] = withErrorScopes(ctx.device, `uploading the weights of ${s.name}`, () => uploadStepWeights(ctx, s, data, precision));
        weights.set(s.name, w);
        checks.push(check);
        loaded += data.byteLength;
        options.onProgress?.({ loaded, total, phase: 'upload' });
      }
      await Promise.all(checks);
      checkDevice(ctx, 'uploading the weights');
      uploading = false;
      for (const p of compileProgress) options.onProgress?.(p);
      await compiling;
    } catch (e) {
      for (const b of weights.values()) b.destroy();
      throw e;
    }
    return runner;
  }

  /** The packed weights of a conv or linear step (the wall-clock step timer binds them). */
  stepWeights(step: string): StepWeights {
    const w = this.weights.get(step);
    if (!w) throw new Error(`no weights for step '${step}'`);
    return w;
  }

  private checkUsable(): void {
    if (this.disposed) throw new Error('this model was disposed; load it again');
    checkDevice(this.ctx, 'the GPU device');
  }

  /**
   * Runs `fn` after every earlier inference on this runner has finished, and before any later one
   * starts (the tuner's measurements run so, not overlapping inferences). A call made after
   * dispose() rejects; one made before it runs (dispose() waits for it). A lost device, or a GPU
   * error no scope caught since the last call, rejects it with the typed error (checkDevice).
   */
  serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('this model was disposed; load it again'));
    const p = this.queue.then(() => { checkDevice(this.ctx, what); return fn(); });
    this.queue = p.catch(() => {});
    return p;
  }

  /**
   * Builds the ops of `key`'s plan, and so compiles their pipelines (the first-use ones under
   * 'fast-first') into the device's cache, without allocating any buffer: the first inference then
   * only creates bind groups.
   */
  async compile(key: InstanceKey, onProgress?: ProgressCallback): Promise<void> {
    this.checkUsable();
    const plan = buildPlan(this.config, { input: key.input, head: key.head, topK: key.topK });
    let done = 0;
    const total = plan.steps.length;
    onProgress?.({ loaded: 0, total, phase: 'compile' });
    await createOps(this.ctx, plan, key.batch, this.normalization, {
      firstUse: this.fastFirst, kernels: this.kernels, tuning: this.tuning, precision: this.precision,
      onOp: () => onProgress?.({ loaded: ++done, total, phase: 'compile' }),
    });
  }

  /** The instance for `key`, created on first use. */
  private instance(key: InstanceKey): Promise<Instance> {
    checkDevice(this.ctx, `batch ${key.batch}`);
    const id = instanceId(key);
    let p = this.instances.get(id);
    if (!p) {
      checkBatch(buildPlan(this.config, { input: key.input, head: key.head, topK: key.topK }), key.batch, this.ctx.device.limits);
      p = createInstance(this.ctx, this.config, key, this.normalization, (step) => this.stepWeights(step),
        { firstUse: this.fastFirst, kernels: this.kernels, tuning: this.tuning, precision: this.precision });
      this.instances.set(id, p);
      p.catch(() => this.instances.delete(id));
    }
    return p;
  }

  /** Whether `inst` is to be replaced by an instance on the tuned pipelines with the current picks. */
  private stale(inst: Instance): boolean {
    return inst.firstUse || inst.tuning !== this.tuning;
  }

  /**
   * Builds the tuned instance of instance `id` on the current picks in the background (its pipelines one
   * at a time; stopped at the next one by dispose()) and swaps it in between two inferences, destroying
   * the instance it replaces. Started once per instance and picks (after the build for earlier picks has
   * settled); rejects (leaving the old instance in place) when the build fails.
   */
  private upgrade(id: string): Promise<void> {
    const target = this.tuning;
    const prev = this.upgrades.get(id);
    if (prev && prev.target === target) return prev.done;
    const done = (async () => {
      await prev?.done.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 0)); // the caller gets the first result first
      this.checkUsable();
      const old = await this.instances.get(id)?.catch(() => undefined);
      if (!old || (!old.firstUse && old.tuning === target)) return;
      const tuned = await createInstance(this.ctx, this.config, old.key, this.normalization, (step) => this.stepWeights(step),
        { oneAtATime: true, beforeEach: () => this.checkUsable(), kernels: this.kernels, tuning: target, precision: this.precision });
      const swap = this.queue.then(async () => {
        if (this.disposed || await this.instances.get(id)?.catch(() => undefined) !== old) {
          destroyInstance(tuned);
          this.checkUsable();
          return;
        }
        this.instances.set(id, Promise.resolve(tuned));
        destroyInstance(old);
      });
      this.queue = swap.catch(() => {});
      await swap;
    })();
    done.catch(() => {}); // reported by ready()
    this.upgrades.set(id, { target, done });
    return done;
  }

  /**
   * New picks for the tuned pipelines (the on-device tuner's): instances made from now on use them,
   * and those made so far are rebuilt on them in the background and swapped in (ready() tells when).
   */
  setTuning(tuning: TuningLookup | undefined): void {
    this.checkUsable();
    this.tuning = tuning;
    for (const [id, p] of this.instances) {
      void p.then((inst) => { if (this.stale(inst) && !this.disposed) void this.upgrade(id); }, () => {});
    }
  }

  /**
   * Resolves once every instance made so far runs on the tuned pipelines with the current picks,
   * starting the upgrade of those that have not run yet; at once under 'tuned' or where the adapter
   * has no first-use pipelines, unless new picks came. Rejects when a tuned build failed, or when the
   * model was disposed before it was done.
   */
  async ready(): Promise<void> {
    for (const [id, p] of [...this.instances]) {
      const inst = await p.catch(() => undefined);
      if (inst && this.stale(inst)) void this.upgrade(id);
    }
    await Promise.all([...this.upgrades.values()].map((u) => u.done));
  }

  // The outputs below are checked for NaN and infinities (NonFiniteOutputError): a NaN weight or
  // input, or an overflow, is an error rather than a result.

  /** Logits (N, classes) for NCHW input (N, C, H, W). */
  runLogits(nchw: Float32Array, batch: number): Promise<Float32Array> {
    return this.serial('logits', async () => {
      const out = new Float32Array(await this.execute(await this.prepare({ nchw, batch }, 'logits')));
      checkFiniteOutput(out, batch, 'the logits');
      return out;
    });
  }

  /** The global average pool's output, (N, C) embeddings: of NCHW input (N, C, H, W), or of images. */
  runFeatures(input: RunInput): Promise<Float32Array> {
    return this.serial('embeddings', async () => {
      const out = new Float32Array(await this.execute(await this.prepare(input, 'features')));
      checkFiniteOutput(out, 'nchw' in input ? input.batch : input.images.length, 'the embeddings');
      return out;
    });
  }

  /** Top-k per image, (N, 2, k) words: k f32 probabilities then k u32 indices (decodeTopK). */
  runImages(images: RgbaImage[], topK: number): Promise<ArrayBuffer> {
    return this.serial('classify', async () => {
      const words = await this.execute(await this.prepare({ images }, 'topk', topK));
      // Per image k probabilities then k indices: the probabilities are checked.
      const values = new Float32Array(words);
      for (let n = 0; n < images.length; n++) {
        checkFiniteOutput(values.subarray(2 * n * topK, (2 * n + 1) * topK), 1, `the probabilities of image ${n}`);
      }
      return words;
    });
  }

  /**
   * The instance of `input`'s kind and batch with plan head `head`, the input written into it inside
   * error scopes; `check` rejects with the typed error when a write failed (awaited after the readback).
   */
  private async prepare(input: RunInput, head: InstanceKey['head'], topK = 0): Promise<{ inst: Instance; check: Promise<void> }> {
    if ('nchw' in input) {
      checkFiniteInput(input.nchw, input.batch);
      const inst = await this.instance({ input: 'nchw', head, topK, batch: input.batch });
      const [, check] = withErrorScopes(this.ctx.device, `writing the input of batch ${input.batch}`, () => this.writeInput(inst, input.nchw));
      return { inst, check };
    }
    const inst = await this.instance({ input: 'image', head, topK, batch: input.images.length });
    const [, check] = withErrorScopes(this.ctx.device, `uploading ${input.images.length} image(s)`, () => this.writeImages(inst, input.images));
    // A pixel buffer that could not be allocated is invalid, whatever its size says: the slots are
    // made anew by the next call.
    return { inst, check: check.catch((e: unknown) => { dropImageSlots(inst); throw e; }) };
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
        checkBindingSize(ctx, bytes, `image ${i} (${img.width} x ${img.height} RGBA pixels)`);
        // A new size: a new dispatch (uniform buffer and bind group); the pixel buffer is kept while it is big
        // enough and not more than twice the size needed (one large photo does not pin its buffer for good).
        const old = slot;
        const buffer = old && old.buffer.size >= bytes && old.buffer.size <= 2 * bytes + 2 ** 20 ? old.buffer
          : ctx.device.createBuffer({ label: `${step.name} image ${i} (RGBA8)`, size: Math.ceil(bytes / 16) * 16,
            usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
        let dispatch;
        try {
          dispatch = op.bindImage!({ buffer, width: img.width, height: img.height }, output, i);
        } catch (e) {
          if (buffer !== old?.buffer) buffer.destroy();
          throw e;
        }
        if (old) {
          // The previous dispatch (and pixel buffer, if replaced) are no longer bound.
          old.dispatch.destroy();
          if (old.buffer !== buffer) old.buffer.destroy();
        }
        slot = { width: img.width, height: img.height, buffer, dispatch };
        inst.slots[i] = slot;
        inst.stepDispatches[0] = inst.slots.map((s) => s!.dispatch);
      }
      ctx.device.queue.writeBuffer(slot.buffer, 0, img.data.buffer, img.data.byteOffset, bytes);
    }
  }

  /**
   * One encoder, one pass, one submit (inside error scopes); reads back the output. Rejects with the
   * typed error when writing the input (`written`) or the submit failed, or when the device reported
   * an error no scope caught meanwhile, so that an inference that did not run never returns a result.
   */
  private async execute({ inst, check: written }: { inst: Instance; check: Promise<void> }): Promise<ArrayBuffer> {
    const { device } = this.ctx;
    const label = `inference batch ${inst.N}`;
    let submitted: Promise<void> = Promise.resolve();
    const result = await inst.wait.run(() => {
      [, submitted] = withErrorScopes(device, label, () => {
        const encoder = device.createCommandEncoder({ label });
        const pass = encoder.beginComputePass({ label });
        for (const ds of inst.stepDispatches) for (const d of ds) d.encode(pass);
        pass.end();
        encoder.copyBufferToBuffer(inst.output.buffer, inst.output.offset ?? 0, inst.readback, 0, inst.readback.size);
        device.queue.submit([encoder.finish()]);
      });
    }, () => this.read(inst.readback, inst.outputBytes));
    await written;
    await submitted;
    checkDevice(this.ctx, label);
    if (this.stale(inst) && !this.disposed) void this.upgrade(instanceId(inst.key));
    return result;
  }

  private async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await keepAlive(buffer.mapAsync(0x1 /* GPUMapMode.READ */));
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
   * it with the CPU reference applied to the GPU's own inputs of that step (f16 tensors widened to f32).
   * A step fails when max |gpu - ref| > atol + rtol * max |ref|. Default rtol: 1e-4 at 'f32'; at 'f16'
   * VALIDATE_F16_RTOL (the reference has the f32 weights, the GPU their f16 rounding, and its f16 outputs
   * are rounded once more).
   */
  validate(nchw: Float32Array, batch: number, tolerance: { rtol?: number; atol?: number } = {}): Promise<ValidationReport> {
    const { rtol = this.precision === 'f16' ? VALIDATE_F16_RTOL : 1e-4, atol = 1e-5 } = tolerance;
    return this.serial('validate', async () => {
      const cpuWeights = this.cpuWeights;
      if (!cpuWeights) throw new Error('validate needs the CPU weights: load the model with { validate: true }');
      // The oracle is loaded only here: a bundle keeps it in a chunk of its own that inference never fetches.
      const { referenceStep } = await import('../reference/steps.js');
      const { inst, check } = await this.prepare({ nchw, batch }, 'logits');
      await check;
      const values = new Map<string, Float32Array>([[inst.plan.input, nchw]]);
      const steps: StepCheck[] = [];
      await runSteps(this.ctx, inst, {
        after: async (_, s) => {
          const gpu = await readTensor(this.ctx, inst.tensors.get(s.output)!);
          values.set(s.output, gpu);
          const ref = referenceStep(s, inst.N, s.inputs.map((t) => values.get(t)!), cpuWeights.get(s.name));
          let maxAbsDiff = 0;
          let maxAbsRef = 0;
          for (let j = 0; j < ref.length; j++) {
            const d = Math.abs(gpu[j] - ref[j]);
            maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
            maxAbsRef = Math.max(maxAbsRef, Math.abs(ref[j]));
          }
          if (gpu.length !== ref.length) maxAbsDiff = Infinity;
          steps.push({ name: s.name, kind: s.kind, maxAbsDiff, maxAbsRef, ok: maxAbsDiff <= atol + rtol * maxAbsRef });
        },
      });
      const bad = steps.find((c) => !c.ok);
      return { ok: !bad, firstMismatch: bad?.name, steps };
    });
  }

  /** Per-step GPU time with timestamp queries: each step in a compute pass and submit of its own (runSteps). */
  profile(input: { nchw: Float32Array; batch: number } | { images: RgbaImage[]; topK: number }): Promise<ProfileResult> {
    return this.serial('profile', async () => {
      if (!this.ctx.hasTimestampQuery || !this.ctx.device.features.has('timestamp-query')) {
        throw new TimestampQueryUnsupportedError('timestamp-query unsupported on this adapter: per-step GPU times are not available');
      }
      const { inst, check } = 'nchw' in input ? await this.prepare(input, 'logits') : await this.prepare(input, 'topk', input.topK);
      await check;
      const { device } = this.ctx;
      const n = inst.plan.steps.length;
      inst.profiler ??= {
        querySet: device.createQuerySet({ label: `profile batch ${inst.N}`, type: 'timestamp', count: 2 * n }),
        resolve: device.createBuffer({ label: `profile resolve batch ${inst.N}`, size: 16 * n,
          usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC }),
        read: device.createBuffer({ label: `profile readback batch ${inst.N}`, size: 16 * n,
          usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
      };
      const { querySet, resolve, read } = inst.profiler;
      await runSteps(this.ctx, inst, {
        timestampWrites: (i) => ({ querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 }),
      });
      const encoder = device.createCommandEncoder({ label: `profile batch ${inst.N}` });
      encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
      device.queue.submit([encoder.finish()]);
      const ns = new BigInt64Array(await this.read(read, 16 * n));
      let totalMs = 0;
      let flops = 0;
      const steps = inst.plan.steps.map((s, i) => {
        const ms = Math.max(0, Number(ns[2 * i + 1] - ns[2 * i])) / 1e6;
        const f = stepFlops(inst, i);
        totalMs += ms;
        flops += f;
        return { name: s.name, kind: s.kind, ms, flops: f };
      });
      return { steps, totalMs, flops, gflops: totalMs > 0 ? flops / totalMs / 1e6 : 0 };
    });
  }

  /** Debugging: how many of the instances made so far run on the first-use pipelines. */
  async firstUseInstances(): Promise<number> {
    let n = 0;
    for (const p of this.instances.values()) if ((await p.catch(() => undefined))?.firstUse) n++;
    return n;
  }

  /** GPU bytes held: weights plus every instance created so far; after dispose(), 0 once its cleanup is done. */
  async totalBytes(): Promise<number> {
    if (this.disposed) {
      await this.cleanup;
      return 0;
    }
    let n = this.weightBytes;
    for (const p of this.instances.values()) {
      const inst = await p.catch(() => undefined);
      if (inst) n += instanceBytes(inst);
    }
    return n;
  }

  /**
   * Destroys every buffer once the inferences already queued (called before dispose()) have
   * finished; calls made after dispose() reject. Safe to call twice.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cleanup = this.queue.then(async () => {
      for (const b of this.weights.values()) b.destroy();
      this.weights.clear();
      const instances = [...this.instances.values()];
      this.instances.clear();
      for (const p of instances) {
        const inst = await p.catch(() => undefined);
        if (inst) destroyInstance(inst);
      }
    });
  }

  /**
   * Resolves when the queued inferences (and, after dispose(), the cleanup and any tuned build it
   * stopped) are done.
   */
  async idle(): Promise<void> {
    await this.queue;
    await this.cleanup;
    if (this.disposed) await Promise.allSettled([...this.upgrades.values()].map((u) => u.done));
  }
}

/** Destroys the image slots of `inst` (pixel buffers and their preprocess dispatches). */
function dropImageSlots(inst: Instance): void {
  for (const slot of inst.slots) {
    slot?.dispatch.destroy();
    slot?.buffer.destroy();
  }
  inst.slots = [];
  inst.stepDispatches[0] = [];
}

/**
 * validate()'s default rtol at 'f16', relative to a step's max |ref|: a conv's error is at most
 * u * sum |w x| (its weights rounded to f16, u = 2^-11) plus u * |y| (the f16 store). With the
 * unit-scale activations of a BatchNorm network, sum |w x| stays within a few times max |y| (the
 * f16 test derives and checks the exact bound per kernel), so 8u (about 0.4%) leaves room without
 * hiding a real mismatch, which is of the order of the values themselves.
 */
export const VALIDATE_F16_RTOL = 8 * 2 ** -11;

function instanceId(key: InstanceKey): string {
  return `${key.input}/${key.head}/${key.topK}/${key.batch}`;
}
