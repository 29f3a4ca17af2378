// What the commands that read .safetensors weights share: the header checked against the
// architecture before any tensor data is read, then the model loaded with a progress bar. Weights
// are a file or a Hugging Face Hub id (hf-hub:timm/resnet50.a1_in1k, converted as it downloads).

import { stat } from 'node:fs/promises';
import { loadModel, type Model, type Resolution } from '../src/classify.js';
import { GpuLimitError, type Precision } from '../src/gpu/buffers.js';
import { acquireDevice, type AdapterChoice } from '../src/gpu/device.js';
import { checkBatch } from '../src/graph/limits.js';
import { isHubId } from '../src/hub/id.js';
import { toRgba, type RgbaImage } from '../src/image/decode.js';
import type { KernelChoice } from '../src/ops/conv2d.js';
import type { TuningMode } from '../src/tuning/model-tuning.js';
import { ARCHITECTURES, type ResNetConfig } from '../src/models/config.js';
import { DEFAULT_WEIGHTS } from '../src/models/default-model.js';
import { buildPlan, PlanError, type Plan } from '../src/models/plan.js';
import { checkTensors, resolveConfig } from '../src/weights/load.js';
import { decodeMetadata, resizeSizeFor, WeightsFormatError, type ModelMetadata, type SafetensorsHeader } from '../src/weights/safetensors.js';
import { openSafetensors } from '../src/weights/source.js';
import { asUserError, checkFile, CliError, userErrors } from './errors.js';
import { loadProgressBar } from './progress.js';

function checkArch(arch: string | undefined): void {
  if (arch !== undefined && !(arch in ARCHITECTURES)) {
    throw new CliError(`unknown architecture '${arch}'; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  }
}

/** The parts of a weights file's header the commands report and check (no tensor data is read). */
export interface WeightsSummary {
  header: SafetensorsHeader;
  fileBytes: number;
  /** The architecture to build with its plan, or the reason there is none. */
  network: { config: ResNetConfig; plan: Plan } | { error: string };
  metadata: ModelMetadata | { error: string };
  /** null when every tensor matches the network's config; else the mismatch. */
  mismatch: string | null;
}

export async function readWeightsSummary(path: string, arch?: string): Promise<WeightsSummary> {
  const hub = isHubId(path); // a Hub model: config.json and the weights' header are fetched, converted, checked
  if (!hub) await checkFile(path, 'weights');
  checkArch(arch);
  let reader;
  try {
    reader = await openSafetensors(path);
  } catch (e) {
    const u = asUserError(e);
    if (!(u instanceof CliError)) throw u;
    const hint = /\.(pth|pt|ckpt|tar)$/i.test(path)
      ? ` (a PyTorch checkpoint? convert it first: webgpu-resnext convert ${path} out.safetensors)` : '';
    throw new CliError(`${u.message.includes(path) ? '' : `${path}: `}${u.message}${hint}`);
  }
  await reader.close();
  const { header } = reader;
  const fileBytes = hub ? header.dataOffset + reader.dataBytes : (await stat(path)).size;
  const attempt = <T>(f: () => T): T | { error: string } => {
    try {
      return f();
    } catch (e) {
      if (asUserError(e) instanceof CliError) return { error: (e as Error).message };
      throw e;
    }
  };
  const network = attempt(() => {
    const config = resolveConfig(header.metadata, path, arch, undefined, header.tensors.size);
    try {
      return { config, plan: buildPlan(config) }; // a config that builds no network fails here
    } catch (e) {
      // A hand-made metadata 'config' may lack fields the builder reads (a TypeError then).
      if (e instanceof PlanError || arch !== undefined) throw e;
      throw new WeightsFormatError(`${path}: metadata 'config' does not describe a network: ${(e as Error).message}`);
    }
  });
  const metadata = attempt(() => decodeMetadata(header.metadata, 'config' in network ? network.config : undefined));
  let mismatch: string | null = null;
  if ('config' in network) {
    try {
      checkTensors(header, network.config, path);
    } catch (e) {
      if (!(e instanceof WeightsFormatError)) throw e;
      mismatch = e.message;
    }
  }
  return { header, fileBytes, network, metadata, mismatch };
}

/**
 * What the commands that decode image files pass to toRgba: the model's images are reduced right
 * after decoding to a shorter side of 2 x its resize size (as loadModel's classify() does).
 */
export function imageBound(s: WeightsSummary): { maxShorterSide: number } {
  const config = runnableConfig(s);
  return { maxShorterSide: 2 * resizeSizeFor(s.metadata as ModelMetadata, config.inputSize) };
}

/** Decodes image files one at a time (each reduced as `bound` says), turning bad images into CliErrors. */
export async function decodeFiles(files: readonly string[], bound: { maxShorterSide: number }): Promise<RgbaImage[]> {
  const out: RgbaImage[] = [];
  for (const f of files) out.push(await userErrors(() => toRgba(f, bound)));
  return out;
}

/** The config to run, or a CliError saying why the file cannot be run (wrong architecture ...). */
export function runnableConfig(s: WeightsSummary): ResNetConfig {
  if ('error' in s.network) throw new CliError(s.network.error);
  if (s.mismatch !== null) throw new CliError(s.mismatch); // the tensors first: metadata is checked against that network
  if ('error' in s.metadata) throw new CliError(s.metadata.error);
  return s.network.config;
}

export interface ModelCliOptions {
  weights?: string;
  arch?: string;
  adapter?: AdapterChoice;
  /** The convolution kernel family (--kernels). */
  kernels?: KernelChoice;
  /** classify: 'test' runs at the weights' evaluation size (loadModel's resolution). */
  resolution?: Resolution;
  /** The on-device tuner (--tuning). */
  tuning?: TuningMode;
  /** Storage of weights and activations on the GPU (--precision). */
  precision?: Precision;
}

/** The weights file the options name: --weights, else the embedded model. */
export function weightsOf(opts: ModelCliOptions): string {
  return opts.weights ?? DEFAULT_WEIGHTS;
}

/**
 * Loads the model of `config` (from runnableConfig) with a progress bar on a terminal (for the
 * load: the tuner, which runs after it, reports nothing there). The device is acquired first and
 * `batch` images checked against its limits (checkBatch) before any weight is read; `option` names
 * where the batch size comes from ('--batch 6000'). Close it with closeModel().
 */
export async function openModel(opts: ModelCliOptions, config: ResNetConfig, batch: number, option?: string): Promise<Model> {
  const ctx = await userErrors(() => acquireDevice({ adapter: opts.adapter }));
  try {
    checkBatch(buildPlan(config), batch, ctx.device.limits);
  } catch (e) {
    ctx.device.destroy();
    if (e instanceof GpuLimitError) throw new CliError(`${option ? `${option}: ` : ''}${e.message}`);
    throw e;
  }
  const bar = loadProgressBar();
  try {
    return await userErrors(() => loadModel({
      weights: weightsOf(opts), arch: opts.arch, device: ctx, kernels: opts.kernels, tuning: opts.tuning, resolution: opts.resolution,
      precision: opts.precision,
      onProgress: (p) => { if (p.phase !== 'tune') bar.update(p); },
    }));
  } catch (e) {
    ctx.device.destroy();
    throw e;
  } finally {
    bar.stop();
  }
}

/**
 * Lets the on-device tuner finish (so that its picks are stored for the next run), then disposes of
 * `model` once its calls are done, then of the device openModel() acquired for it.
 */
export async function closeModel(model: Model): Promise<void> {
  try {
    await model.tuning();
  } finally {
    model.dispose();
    await model.gpuBytes(); // resolves once the model's buffers are freed
    model.context.device.destroy();
  }
}

/** The adapter in one line: the first line of describeDevice(). */
export function adapterLine(model: Model): string {
  return model.info.adapter.split('\n')[0].replace(/^adapter: /, '');
}
