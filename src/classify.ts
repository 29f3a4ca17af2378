// The public API: load a ResNet / ResNeXt from a .safetensors checkpoint and classify images.
//
//   const model = await loadModel({ weights: 'resnext101_32x4d.safetensors', onProgress });
//   const fashion = await loadModel();                      // the embedded Fashion-MNIST model
//   const top5 = await model.classify(image, { topK: 5 });   // [{ index, label, probability }]
//   const logits = await model.run(nchw, { batch: 2 });     // Float32Array (batch x classes)
//   const features = await model.embed([a, b]);             // Float32Array (2 x C): the pooled features
//   model.useHead(trainHead(features, [0, 1], model.info.embeddingDim, { classNames: ['a', 'b'] }));
//   await model.classify(image);                            // now the head's classes, not the fc's
//   const profile = await model.profile(image);             // per-step GPU ms (timestamp-query)
//   model.dispose();

import { acquireDevice, describeDevice, isSoftwareAdapter, watchDevice, type AdapterChoice, type GpuContext } from './gpu/device.js';
import { f32Bytes, type Precision } from './gpu/buffers.js';
import { planBuffers } from './graph/memory.js';
import { Runner, type ProfileResult, type ValidationReport, type Warmup } from './graph/runner.js';
import { planStorage, stepTensorBytes, type Normalization, type RgbaImage, type StepWeights } from './graph/steps.js';
import { toRgba, type ImageInput } from './image/decode.js';
import { nodePlatform } from './platform.js';
import type { ResNetConfig } from './models/config.js';
import { DEFAULT_WEIGHTS_URL } from './models/default-model.js';
import { labelSet } from './labels/index.js';
import { buildPlan, type Plan } from './models/plan.js';
import { decodeTopK, MAX_TOPK } from './ops/topk.js';
import { checkKernelChoice, checkKernelsOnDevice, KernelChoiceError, type KernelChoice } from './ops/conv2d.js';
import type { Classification } from './classification.js';
import type { Head } from './transfer/head.js';
import { checkTensors, foldStepWeights, resolveConfig } from './weights/load.js';
import { decodeMetadata, defaultResizeSize, resizeSizeFor, WeightsFormatError, type ModelMetadata } from './weights/safetensors.js';
import { openSafetensors, type ProgressCallback, type WeightsSource } from './weights/source.js';
import { cpuThreads } from './ops/conv2d-tuning.js';
import { defaultTuningBudgetMs, defaultTuningMode, ModelTuning, TUNING_MODES, type TuningMode, type TuningReport } from './tuning/model-tuning.js';
import { defaultTuningStore, type TuningStore } from './tuning/store.js';

export interface LoadModelOptions {
  /** A name from ARCHITECTURES; default: the file's metadata. */
  arch?: string;
  /** A full architecture description (overrides `arch` and the metadata). */
  config?: ResNetConfig;
  /**
   * The .safetensors checkpoint: URL or (Node) path string, URL, Response, Blob, ArrayBuffer or
   * bytes. Default: the embedded Fashion-MNIST model (DEFAULT_WEIGHTS_URL).
   */
  weights?: WeightsSource;
  /**
   * Keep weights fetched from a URL in the browser's Cache API (default true), so the next visit
   * reads them from disk; see src/weights/cache.ts for when an entry is reused. clearWeightsCache()
   * empties it.
   */
  cache?: boolean;
  /** A device from acquireDevice() (or a bare GPUDevice) to share; default: acquire one (owned by the model). */
  device?: GpuContext | GPUDevice;
  /** Which adapter to acquire when no device is given (Node: 'default' | 'swiftshader' | 'llvmpipe'). */
  adapter?: AdapterChoice;
  /**
   * Bytes read ('download'), a Hub model's tensors converted ('convert'), bytes uploaded ('upload'),
   * pipelines compiled ('compile').
   */
  onProgress?: ProgressCallback;
  /**
   * Hub models ('hf-hub:owner/name[@revision]'): the endpoint (default: the HF_ENDPOINT environment
   * variable in Node, else https://huggingface.co).
   */
  hubEndpoint?: string;
  /**
   * 'test': run at the larger evaluation size the weights were validated at (a timm model's
   * pretrained_cfg test_input_size and test_crop_pct, metadata 'test_input_size'), for the best
   * accuracy at more compute; 'default': the training size (input_size, crop_pct). Weights without
   * a test size run at their size either way.
   */
  resolution?: Resolution;
  /**
   * Class names, overriding the file's (default: its metadata: 'imagenet' = the shipped ImageNet-1k
   * list, 'imagenet-12k' = timm's ImageNet-12k list, loaded on demand).
   */
  labels?: readonly string[];
  /** Keep the folded weights on the CPU so model.validate() can compare every step with the reference. */
  validate?: boolean;
  /**
   * Compile the GPU pipelines during loadModel (default true), so the first classify() is not
   * slowed by shader compilation; progress phase 'compile'.
   */
  compile?: boolean;
  /**
   * 'fast-first' (default on SwiftShader, whose shader compiler makes the tuned conv kernels take tens
   * of seconds to minutes to compile): loadModel compiles quick, slower-running conv kernels, the first
   * classify() runs on them, and the tuned kernels are compiled in the background after its result and
   * swapped in between two inferences (model.ready() tells when). 'tuned' (default elsewhere): the
   * tuned kernels from the start, compiled before loadModel returns.
   */
  warmup?: Warmup;
  /**
   * The on-device tuner (src/tuning/): 'auto' times a few launch geometries for each conv layer shape
   * that has no stored pick for this adapter and kernel version, in the background after loadModel
   * returns (the first inferences run on the heuristic's picks; progress phase 'tune'), keeps the
   * fastest in `tuningStore` and swaps them in between two inferences (model.tuning() and model.ready()
   * tell when). A later load uses the stored picks from the start and tunes nothing. 'heuristic': the
   * built-in picks (a cost model on CPU-backed adapters, a rule table on GPUs). With `kernels` forcing a
   * family, the tuner times that family's candidates only. Default: 'auto' on hardware
   * GPUs, 'heuristic' on SwiftShader and llvmpipe (where each candidate takes seconds to compile).
   */
  tuning?: TuningMode;
  /** The tuner's time budget in ms (default 2000 on hardware GPUs, 60000 on CPU-backed adapters). */
  tuningBudgetMs?: number;
  /** Stops the tuner before its next measurement (the layers tuned so far are kept); dispose() does too. */
  tuningSignal?: AbortSignal;
  /**
   * Where the tuner's picks are kept: default a file in the user's cache folder in Node
   * ($WEBGPU_RESNEXT_CACHE, else $XDG_CACHE_HOME/webgpu-resnext or ~/.cache/webgpu-resnext; its tuning folder), the Cache API in browsers; null: nowhere.
   */
  tuningStore?: TuningStore | null;
  /**
   * The convolution kernel family: 'auto' (default) picks per adapter and layer (the register family on
   * the CPU-backed adapters, the tiled one on hardware GPUs); 'register' or 'tiled' forces that family on
   * every convolution, on any adapter; 'subgroup' (never picked by 'auto') only where the adapter has the
   * 'subgroups' feature (else a KernelChoiceError). With precision 'f16' every convolution runs on the
   * register family ('tiled' and 'subgroup' are refused with a KernelChoiceError).
   */
  kernels?: KernelChoice;
  /**
   * Storage of weights and activations: 'f32' (default) or 'f16' (half the GPU memory and bytes moved;
   * arithmetic stays f32, pooling, the classifier and softmax stay f32; README "Precision").
   */
  precision?: Precision;
}


export type Resolution = 'default' | 'test';

export interface ModelInfo {
  arch: string;
  config: ResNetConfig;
  /** Learnable parameters. */
  params: number;
  /** FLOPs of one image (2 per multiply-add). */
  flops: number;
  /** Packed weights on the GPU. */
  weightBytes: number;
  /** Activation memory of a batch-1 classification after buffer reuse, and without reuse. */
  peakActivationBytes: number;
  unsharedActivationBytes: number;
  inputSize: number;
  inputChannels: number;
  numClasses: number;
  /** Floats per embedding (model.embed): the channels of the global average pool, fc's input. */
  embeddingDim: number;
  colorSpace: 'RGB' | 'grey';
  /** Adapter, feature level and limits (describeDevice). */
  adapter: string;
  /** Storage of weights and activations (LoadModelOptions.precision). */
  precision: Precision;
}

export interface RunOptions {
  /** Images in the input; default input.length / (C * H * W). */
  batch?: number;
}

export type { Classification };

export interface ClassifyOptions {
  /** Classes per image (default 5, at most the number of classes). */
  topK?: number;
  /**
   * A head trained on this model's embeddings (trainHead) to use instead of the network's fc (labels:
   * its class names); default: the one set with model.useHead(), else the fc. null: the fc.
   */
  head?: Head | null;
}

export interface Model {
  readonly info: ModelInfo;
  readonly labels: readonly string[];
  readonly metadata: ModelMetadata;
  /** The device the model runs on. */
  readonly context: GpuContext;
  /** Top-k classes of one image, or of each image of an array (one batch). */
  classify(image: ImageInput, options?: ClassifyOptions): Promise<Classification[]>;
  classify(images: readonly ImageInput[], options?: ClassifyOptions): Promise<Classification[][]>;
  /**
   * Embeddings, (N x info.embeddingDim) row-major: the global average pool's output (fc's input) of
   * one image (N = 1), of each image of an array (one batch), or of a normalised NCHW input (as run()).
   */
  embed(images: ImageInput | readonly ImageInput[]): Promise<Float32Array>;
  embed(input: Float32Array, options?: RunOptions): Promise<Float32Array>;
  /** The head classify() uses instead of the fc (null: the fc); checked against info.embeddingDim. */
  useHead(head: Head | null): void;
  readonly head: Head | null;
  /** Logits (batch x classes) for a normalised NCHW float input (batch x C x H x W). */
  run(input: Float32Array, options?: RunOptions): Promise<Float32Array>;
  /** Per-step GPU milliseconds (timestamp-query) for one image, or for an NCHW input. */
  profile(input: ImageInput | Float32Array, options?: RunOptions & { topK?: number }): Promise<ProfileResult>;
  /** Step-by-step comparison with the CPU reference (load with { validate: true }). */
  validate(input: Float32Array, options?: RunOptions & { rtol?: number; atol?: number }): Promise<ValidationReport>;
  /**
   * Resolves once the batch sizes used so far run on the tuned kernels (warmup 'fast-first': after their
   * background compilation; at once otherwise). Rejects if that compilation failed or dispose() stopped it.
   */
  ready(): Promise<void>;
  /**
   * What the on-device tuner did (loadModel's `tuning`): resolves once its run is over and its picks are
   * handed to the runner (at once when there was nothing to tune).
   */
  tuning(): Promise<TuningReport>;
  /** GPU bytes held now: weights plus the buffers of every batch size used so far. */
  gpuBytes(): Promise<number>;
  /** Debugging and benchmarks: the packed weights of a conv (Conv2dWeights) or fc (a buffer) step, e.g. 'layer2.0.conv2'. */
  readonly debug: {
    stepWeights(step: string): StepWeights;
    /** How many of the batch sizes used so far still run on the first-use kernels (warmup 'fast-first'). */
    firstUseInstances(): Promise<number>;
  };
  /** Frees the GPU memory (and the device, if the model acquired it). */
  dispose(): void;
}

function contextOf(device: GpuContext | GPUDevice): GpuContext {
  if ('device' in device && 'adapterInfo' in device) return device;
  const d = device as GPUDevice;
  const info = (d as { adapterInfo?: GPUAdapterInfo }).adapterInfo ??
    ({ vendor: '', architecture: '', device: '', description: 'unknown (a GPUDevice was given)' } as GPUAdapterInfo);
  const ctx: GpuContext = {
    device: d, adapterInfo: info,
    featureLevel: d.features.has('core-features-and-limits' as GPUFeatureName) ? 'core' : 'compatibility',
    source: typeof navigator !== 'undefined' && 'gpu' in navigator ? 'browser' : 'hardware',
    cpuBacked: isSoftwareAdapter(info),
    hasTimestampQuery: d.features.has('timestamp-query'),
    quietWait: nodePlatform() !== undefined && /swiftshader/i.test(`${info.vendor} ${info.architecture} ${info.description}`),
    lost: d.lost,
  };
  // The caller's device: its uncaptured errors are recorded for our calls, not silenced.
  watchDevice(ctx, false);
  return ctx;
}

async function labelsFor(meta: ModelMetadata, numClasses: number, override: readonly string[] | undefined, what: string): Promise<readonly string[]> {
  const labels = override ?? (typeof meta.labels === 'string' ? await labelSet(meta.labels) : meta.labels);
  if (labels.length !== numClasses) {
    if (override) throw new RangeError(`labels: ${labels.length} names given for ${numClasses} classes`);
    if (typeof meta.labels === 'string') return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
    throw new WeightsFormatError(`${what}: metadata 'labels' has ${labels.length} names for ${numClasses} classes`);
  }
  return labels;
}

function normalizationFor(meta: ModelMetadata, config: ResNetConfig, what: string, resolution: Resolution): Normalization {
  const channels = config.inputChannels;
  const { mean, std, inputRange } = meta;
  const resample = meta.interpolation ? `pil-${meta.interpolation}` as const : undefined;
  if (resolution === 'test' && meta.testInputSize !== undefined && config.inputSize === meta.testInputSize) {
    return { mean, std, inputRange, resizeTo: meta.testResizeSize ?? defaultResizeSize(meta.testInputSize), resample };
  }
  if (mean.length !== channels || std.length !== channels) {
    throw new WeightsFormatError(`${what}: metadata mean/std have ${mean.length}/${std.length} values for ${channels} input channels`);
  }
  if (std.some((s) => !(s > 0))) throw new WeightsFormatError(`${what}: metadata std ${JSON.stringify(std)} must be positive`);
  const resizeTo = resizeSizeFor(meta, config.inputSize);
  return { mean, std, inputRange, resizeTo, resample };
}

/** `config` at input side `size`: a network that pools globally runs at any size. */
function atTestSize(config: ResNetConfig, size: number, what: string): ResNetConfig {
  if (config.avgpool !== 'global') {
    throw new WeightsFormatError(`${what}: resolution 'test' needs a network that pools globally; ${config.name} pools a fixed window`);
  }
  return { ...config, inputSize: size };
}

/**
 * Loads weights (checked against the architecture before anything is uploaded) and prepares the
 * GPU plan. The device is acquired (or the given one checked) before the weights are opened, so a
 * machine without WebGPU fails at once instead of after the download.
 */
export async function loadModel(options: LoadModelOptions = {}): Promise<Model> {
  if (options.tuning !== undefined && !TUNING_MODES.includes(options.tuning)) {
    throw new RangeError(`tuning must be one of ${TUNING_MODES.join(', ')}, got ${String(options.tuning)}`);
  }
  if (options.tuningBudgetMs !== undefined && !(options.tuningBudgetMs >= 0)) {
    throw new RangeError(`tuningBudgetMs must be a number >= 0, got ${String(options.tuningBudgetMs)}`);
  }
  if (options.kernels !== undefined) checkKernelChoice(options.kernels);   // a bad choice fails before anything loads
  if (options.precision !== undefined && options.precision !== 'f32' && options.precision !== 'f16') {
    throw new RangeError(`precision must be 'f32' or 'f16', got ${String(options.precision)}`);
  }
  if (options.precision === 'f16' && (options.kernels === 'tiled' || options.kernels === 'subgroup')) {
    throw new KernelChoiceError(`kernels '${options.kernels}': that family stores f32 only; precision 'f16' runs on the register family`);
  }
  nodePlatform()?.prepareImageDecoder?.();   // overlaps the model's load, not the first classify()
  const owned = !options.device;
  const ctx = options.device ? contextOf(options.device) : await acquireDevice({ adapter: options.adapter });
  let config: ResNetConfig;
  let plan: Plan;
  let meta: ModelMetadata;
  let labels: readonly string[];
  let runner: Runner;
  let normalization: Normalization;
  let tuner: ModelTuning;
  try {
    checkKernelsOnDevice(ctx, options.kernels);
    const resolution = options.resolution ?? 'default';
    if (resolution !== 'default' && resolution !== 'test') throw new RangeError(`resolution must be 'default' or 'test', got ${String(resolution)}`);
    const reader = await openSafetensors(options.weights ?? DEFAULT_WEIGHTS_URL, options.onProgress,
      { cache: options.cache, hubEndpoint: options.hubEndpoint });
    try {
      config = resolveConfig(reader.header.metadata, reader.what, options.arch, options.config, reader.header.tensors.size);
      // The plan classify() runs (throws PlanError on a config that builds no network); its weights,
      // parameter count and FLOPs are those of every plan of the config.
      plan = buildPlan(config, { input: 'image', head: 'topk', topK: Math.min(5, config.numClasses) });
      checkTensors(reader.header, plan, reader.what);
      meta = decodeMetadata(reader.header.metadata, config);
      if (resolution === 'test' && meta.testInputSize !== undefined && !options.config) {
        config = atTestSize(config, meta.testInputSize, reader.what);
        plan = buildPlan(config, { input: 'image', head: 'topk', topK: Math.min(5, config.numClasses) });
      }
      labels = await labelsFor(meta, config.numClasses, options.labels, reader.what);
      normalization = normalizationFor(meta, config, reader.what, resolution);
    } catch (e) {
      await reader.close();
      throw e;
    }
    const tensor = await reader.readData();
    const c = config;
    tuner = await ModelTuning.prepare(ctx, c, {
      mode: options.tuning ?? defaultTuningMode(ctx),
      store: options.tuningStore === null ? undefined : options.tuningStore ?? defaultTuningStore(),
      threads: await cpuThreads(),
      // f16 storage runs on the register family: its candidates only.
      kernels: options.precision === 'f16' && (options.kernels ?? 'auto') === 'auto' ? 'register' : options.kernels ?? 'auto',
    });
    runner = await Runner.create(ctx, c, (step) => foldStepWeights(step, tensor, c.bnEps, reader.what), {
      keepCpuWeights: options.validate, normalization, onProgress: options.onProgress, warmup: options.warmup, kernels: options.kernels,
      tuning: tuner.lookup, precision: options.precision,
      compile: options.compile ?? true ? { input: 'image', head: 'topk', topK: Math.min(5, config.numClasses), batch: 1 } : undefined,
    });
  } catch (e) {
    if (owned) ctx.device.destroy();
    throw e;
  }

  // The embeddings are the classifier's input (the pooled features, whatever the family names its pool).
  const classifier = plan.steps.find((s) => s.kind === 'linear');
  if (!classifier || classifier.kind !== 'linear') throw new Error(`plan of ${config.name} has no classifier step`);
  const embeddingDim = classifier.C;
  const storage = planStorage(plan, runner.precision);
  const mem = planBuffers(plan, (n) => stepTensorBytes(plan, n, 1, storage));
  const info: ModelInfo = {
    arch: config.name, config, params: plan.params, flops: plan.flops, weightBytes: runner.weightBytes,
    peakActivationBytes: mem.peakBytes, unsharedActivationBytes: mem.unsharedBytes,
    inputSize: config.inputSize, inputChannels: config.inputChannels, numClasses: config.numClasses,
    embeddingDim, colorSpace: meta.colorSpace, adapter: describeDevice(ctx), precision: runner.precision,
  };
  const sampleSize = config.inputChannels * config.inputSize * config.inputSize;

  // The tuner runs after loadModel has returned, its measurements between the inferences. With no
  // shape to tune, its report is made only when asked for (tuning(), ready()), off the first prediction's path.
  const stopTuning = new AbortController();
  let tuning: Promise<TuningReport> | undefined;
  const tuned = (): Promise<TuningReport> => {
    if (tuning) return tuning;
    const userSignal = options.tuningSignal;
    const onAbort = () => stopTuning.abort();
    if (userSignal?.aborted) stopTuning.abort();
    userSignal?.addEventListener('abort', onAbort, { once: true });
    tuning = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => tuner.start(runner, {
      budgetMs: options.tuningBudgetMs ?? defaultTuningBudgetMs(ctx), signal: stopTuning.signal, onProgress: options.onProgress,
    })).finally(() => userSignal?.removeEventListener('abort', onAbort));
    tuning.catch(() => {}); // reported by tuning() and ready()
    return tuning;
  };
  if (tuner.pending.length) void tuned();

  const batchOf = (input: Float32Array, batch?: number): number => {
    if (!(input instanceof Float32Array)) {
      throw new TypeError(`run() takes a Float32Array (NCHW), got ${Object.prototype.toString.call(input)}`);
    }
    const b = batch ?? input.length / sampleSize;
    if (!Number.isInteger(b) || b < 1 || input.length !== b * sampleSize) {
      throw new RangeError(`input has ${input.length} values; batch ${batch ?? '?'} x C ${config.inputChannels} x H ${config.inputSize} ` +
        `x W ${config.inputSize} needs ${Number.isInteger(b) && b >= 1 ? b * sampleSize : `a multiple of ${sampleSize}`}`);
    }
    return b;
  };
  /** The classes to report of `classes`: topK (default 5, a positive integer), at most all of them. */
  const classesOf = (topK: number | undefined, classes: number): number => {
    const k = topK ?? 5;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`topK must be a positive integer, got ${topK}`);
    return Math.min(k, classes);
  };
  /** The same for the network's fc, whose top-k runs on the GPU. */
  const kOf = (topK: number | undefined): number => {
    const k = classesOf(topK, config.numClasses);
    if (k > MAX_TOPK) throw new RangeError(`topK ${topK ?? 5} is more than the GPU top-k supports (${MAX_TOPK}); use model.run() for all logits`);
    return k;
  };
  const toResults = (words: ArrayBuffer, n: number, k: number): Classification[][] =>
    decodeTopK(words, n, k).map((row) => row.map(({ index, value }) => ({ index, label: labels[index], probability: value })));

  /** Decoded images are reduced to a shorter side of at most 2 x the resize size (src/image/resample.ts). */
  const imageBound = { maxShorterSide: 2 * normalization.resizeTo };
  const rgbaOf = async (images: ImageInput | readonly ImageInput[], what: string): Promise<RgbaImage[]> => {
    const list = Array.isArray(images) ? images as readonly ImageInput[] : [images as ImageInput];
    if (list.length === 0) throw new RangeError(`${what}() got an empty array of images`);
    // One image at a time, each reduced right after decoding (memory does not grow with photo size).
    const out: RgbaImage[] = [];
    for (const x of list) out.push(await toRgba(x, imageBound));
    return out;
  };

  let currentHead: Head | null = null;
  const checkHead = (head: Head): Head => {
    if (head.dim !== embeddingDim) {
      throw new RangeError(`the head takes ${head.dim}-float embeddings; ${config.name}'s are ${embeddingDim} floats`);
    }
    return head;
  };

  async function classify(image: ImageInput, o?: ClassifyOptions): Promise<Classification[]>;
  async function classify(images: readonly ImageInput[], o?: ClassifyOptions): Promise<Classification[][]>;
  async function classify(images: ImageInput | readonly ImageInput[], o: ClassifyOptions = {}): Promise<Classification[] | Classification[][]> {
    const head = o.head === undefined ? currentHead : o.head;
    const rgba = await rgbaOf(images, 'classify');
    const results = head ? await classifyWithHead(checkHead(head), rgba, o.topK) : await classifyWithFc(rgba, o.topK);
    return Array.isArray(images) ? results : results[0];
  }

  async function classifyWithFc(rgba: RgbaImage[], topK: number | undefined): Promise<Classification[][]> {
    const k = kOf(topK);
    return toResults(await runner.runImages(rgba, k), rgba.length, k);
  }

  /** The head's top-k of the GPU embeddings (probabilities computed on the CPU: K x embeddingDim per image). */
  async function classifyWithHead(head: Head, rgba: RgbaImage[], topK: number | undefined): Promise<Classification[][]> {
    const k = classesOf(topK, head.numClasses);
    const features = await runner.runFeatures({ images: rgba });
    return head.predict(features, rgba.length, { topK: k });
  }

  async function embed(input: ImageInput | readonly ImageInput[] | Float32Array, o: RunOptions = {}): Promise<Float32Array> {
    if (input instanceof Float32Array) return runner.runFeatures({ nchw: input, batch: batchOf(input, o.batch) });
    return runner.runFeatures({ images: await rgbaOf(input, 'embed') });
  }

  // dispose() lets the calls made before it finish: each call counts as in flight from the moment
  // it is made (its images are decoded before it reaches the runner's queue), and the runner is
  // disposed once none is left.
  let disposed = false;
  let inFlight = 0;
  let drained: () => void = () => {};
  const allDone = new Promise<void>((resolve) => { drained = resolve; });
  const tracked = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    if (disposed) throw new Error('this model was disposed; load it again');
    inFlight++;
    try {
      return await f(...args);
    } finally {
      if (--inFlight === 0 && disposed) drained();
    }
  };

  return {
    info, labels, metadata: meta, context: ctx,
    classify: tracked(classify) as Model['classify'],
    embed: tracked(embed) as Model['embed'],
    useHead(head) { currentHead = head && checkHead(head); },
    get head() { return currentHead; },
    run: tracked(async (input: Float32Array, o: RunOptions = {}) => runner.runLogits(input, batchOf(input, o.batch))),
    profile: tracked(async (input: ImageInput | Float32Array, o: RunOptions & { topK?: number } = {}) => {
      if (input instanceof Float32Array) return runner.profile({ nchw: input, batch: batchOf(input, o.batch) });
      return runner.profile({ images: [await toRgba(input, imageBound)], topK: kOf(o.topK) });
    }),
    validate: tracked(async (input: Float32Array, o: RunOptions & { rtol?: number; atol?: number } = {}) =>
      runner.validate(input, batchOf(input, o.batch), o)),
    ready: async () => {
      await tuned();
      await runner.ready();
    },
    tuning: tuned,
    async gpuBytes() {
      if (disposed) await allDone; // then the runner's cleanup: 0
      return runner.totalBytes();
    },
    debug: { stepWeights: (step) => runner.stepWeights(step), firstUseInstances: () => runner.firstUseInstances() },
    dispose() {
      if (disposed) return;
      disposed = true;
      stopTuning.abort();
      void allDone.then(() => {
        runner.dispose();
        if (owned) void runner.idle().then(() => ctx.device.destroy());
      });
      if (inFlight === 0) drained();
    },
  };
}
