// What the commands that read .safetensors weights share: the header checked against the
// architecture before any tensor data is read, then the model loaded with a progress bar.

import { stat } from 'node:fs/promises';
import { loadModel, type Model } from '../src/classify.js';
import type { AdapterChoice } from '../src/gpu/device.js';
import type { Precision } from '../src/gpu/buffers.js';
import { ARCHITECTURES, type ResNetConfig } from '../src/models/config.js';
import { DEFAULT_WEIGHTS } from '../src/models/default-model.js';
import { buildPlan, PlanError, type Plan } from '../src/models/plan.js';
import { checkTensors, resolveConfig } from '../src/weights/load.js';
import { decodeMetadata, WeightsFormatError, type ModelMetadata, type SafetensorsHeader } from '../src/weights/safetensors.js';
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
  await checkFile(path, 'weights');
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
  const fileBytes = (await stat(path)).size;
  const attempt = <T>(f: () => T): T | { error: string } => {
    try {
      return f();
    } catch (e) {
      if (asUserError(e) instanceof CliError) return { error: (e as Error).message };
      throw e;
    }
  };
  const network = attempt(() => {
    const config = resolveConfig(header.metadata, path, arch);
    try {
      return { config, plan: buildPlan(config) }; // a config that builds no network fails here
    } catch (e) {
      // A hand-made metadata 'config' may lack fields the builder reads (a TypeError then).
      if (e instanceof PlanError || arch !== undefined) throw e;
      throw new WeightsFormatError(`${path}: metadata 'config' does not describe a network: ${(e as Error).message}`);
    }
  });
  const metadata = attempt(() => decodeMetadata(header.metadata));
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

/** The config to run, or a CliError saying why the file cannot be run (wrong architecture ...). */
export function runnableConfig(s: WeightsSummary): ResNetConfig {
  if ('error' in s.network) throw new CliError(s.network.error);
  if ('error' in s.metadata) throw new CliError(s.metadata.error);
  if (s.mismatch !== null) throw new CliError(s.mismatch);
  return s.network.config;
}

export interface ModelCliOptions {
  weights?: string;
  arch?: string;
  adapter?: AdapterChoice;
  precision?: Precision;
}

/** The weights file the options name: --weights, else the embedded model. */
export function weightsOf(opts: ModelCliOptions): string {
  return opts.weights ?? DEFAULT_WEIGHTS;
}

/** Loads the model (its header checked first with runnableConfig), with a progress bar on a terminal. */
export async function openModel(opts: ModelCliOptions): Promise<Model> {
  const bar = loadProgressBar();
  try {
    return await userErrors(() => loadModel({ weights: weightsOf(opts), arch: opts.arch, adapter: opts.adapter, precision: opts.precision,
      onProgress: bar.update }));
  } finally {
    bar.stop();
  }
}

/** The adapter in one line: the first line of describeDevice(). */
export function adapterLine(model: Model): string {
  return model.info.adapter.split('\n')[0].replace(/^adapter: /, '');
}
