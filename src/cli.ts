#!/usr/bin/env node
// The package's command line: `webgpu-resnext <command> ...` (or `npm run cli -- <command> ...`).
//
// One function per command (`convertCommand`, ...), each registered in buildProgram(). Errors the
// user can fix (bad input file, wrong architecture, missing file, bad option) print one clear line
// and exit with status 1 — no stack trace; anything else is a bug and prints its stack. Usage errors
// found by the parser exit with status 2.
//
// Commands:
//   convert <in.pth|in.safetensors> <out.safetensors> [--arch A] [--config F] [--fp16] [--source S]
//       PyTorch checkpoint (zip, legacy, tar; Cadene or torchvision names) or .safetensors ->
//       this project's .safetensors, written atomically.
//   classify <images...> [--weights W] [--arch A] [--top K] [--json] [--adapter X]
//       top-k classes of JPEG / PNG files (default weights: the embedded Fashion-MNIST model).
//   logits --input x.npy --output y.npy [--weights W] [--arch A] [--batch N] [--adapter X]
//       float32 NCHW .npy in, float32 (N, classes) logits .npy out, for interop with Python.
//   info <weights> [--arch A] [--json]
//       architecture, metadata, tensors, parameters and bytes of a .safetensors (header only).

import { readFile, stat } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { convertCheckpoint, type ConvertProgress } from '../weights-tools/convert.js';
import { CheckpointError } from '../weights-tools/errors.js';
import { removeTempFiles, writeFileAtomic } from '../weights-tools/node-io.js';
import { loadModel, type Classification, type Model } from './classify.js';
import { ADAPTER_CHOICES, WebGPUUnavailableError, type AdapterChoice } from './gpu/device.js';
import { ImageInputError, toRgba } from './image/decode.js';
import { formatShape, NpyFormatError, readNpyFloat32, writeNpyFloat32 } from './io/npy.js';
import { ARCHITECTURES, type ResNetConfig } from './models/config.js';
import { DEFAULT_WEIGHTS } from './models/default-model.js';
import { buildPlan, PlanError } from './models/plan.js';
import { checkTensors, resolveConfig } from './weights/load.js';
import { decodeMetadata, WeightsFormatError, type ModelMetadata, type SafetensorsHeader } from './weights/safetensors.js';
import { openSafetensors, type LoadProgress } from './weights/source.js';

/** An error whose message is the whole story (shown without a stack). */
export class CliError extends Error {
  override name = 'CliError';
}

const FS_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw fsError(e, `cannot read ${what} '${path}'`);
  }
}

function fsError(e: unknown, context: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code && code in FS_MESSAGES ? new CliError(`${context}: ${FS_MESSAGES[code]}`) : e;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A progress bar on stderr, drawn only on a terminal. */
function stderrBar(format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic);
}

/**
 * A progress bar on stderr fed with progress events of several phases, restarted at each new phase;
 * `view` gives an event's phase name, value, total and size text.
 */
function phasedBar<P>(view: (p: P) => { phase: string; value: number; total: number; size: string }):
  { update: (p: P) => void; stop: () => void } {
  const bar = stderrBar('{phase} |{bar}| {percentage}% {size}');
  let phase: string | null = null;
  return {
    update(p) {
      const v = view(p);
      const payload = { phase: v.phase, size: v.size };
      if (phase !== v.phase) {
        if (phase !== null) bar.stop();
        bar.start(v.total, v.value, payload);
        phase = v.phase;
      } else {
        bar.setTotal(v.total);
        bar.update(v.value, payload);
      }
    },
    stop() {
      if (phase !== null) bar.stop();
    },
  };
}

/** The converter's progress bar (ConvertProgress events: reading, then writing). */
function progressBar(): { update: (p: ConvertProgress) => void; stop: () => void } {
  return phasedBar((p: ConvertProgress) => ({
    phase: p.phase === 'read' ? 'reading' : 'writing', value: p.done, total: Math.max(1, p.total),
    size: `${mib(p.done)} / ${mib(p.total)}`,
  }));
}

export interface ConvertCliOptions {
  arch?: string;
  config?: string;
  fp16?: boolean;
  source?: string;
}

/** `convert`: reads a checkpoint, converts it, writes the .safetensors atomically, prints a summary. */
export async function convertCommand(input: string, output: string, opts: ConvertCliOptions): Promise<void> {
  if (opts.arch !== undefined && opts.config !== undefined) throw new CliError('give --arch or --config, not both');
  let config: unknown;
  if (opts.config !== undefined) {
    const text = new TextDecoder().decode(await readInput(opts.config, 'config file'));
    try {
      config = JSON.parse(text);
    } catch (e) {
      throw new CliError(`config file '${opts.config}' is not valid JSON: ${(e as Error).message}`);
    }
  }
  const bytes = await readInput(input, 'checkpoint');
  const bar = progressBar();
  let result;
  try {
    result = convertCheckpoint(bytes, { arch: opts.arch, config, fp16: opts.fp16, source: opts.source, onProgress: bar.update });
  } finally {
    bar.stop();
  }
  try {
    await writeFileAtomic(output, result.bytes);
  } catch (e) {
    throw fsError(e, `cannot write '${output}'`);
  }
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `converted ${basename(input)} (${result.container} checkpoint, ${result.layout} layout) -> ${output}`,
    `  arch        ${result.arch}${result.metadata.config ? ' (custom config)' : ''}`,
    `  source      ${result.metadata.source}`,
    `  tensors     ${n(result.tensors)}`,
    `  parameters  ${n(result.parameters)}`,
    `  dtype       ${result.dtype}`,
    `  bytes       ${n(result.bytes.byteLength)} (${mib(result.bytes.byteLength)})`,
    ...result.notes.map((s) => `  note: ${s}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---- classify, logits, info: the commands that read .safetensors weights -------------------------

/** Images per GPU run in `classify` (one set of GPU buffers per batch size, created on first use). */
const CLASSIFY_BATCH = 16;
/** Default images per GPU run in `logits`. */
const LOGITS_BATCH = 16;

/** Errors of the runtime that mean bad input or a missing driver, not a bug: shown as one line. */
function asUserError(e: unknown): unknown {
  if (e instanceof WeightsFormatError || e instanceof ImageInputError || e instanceof NpyFormatError ||
    e instanceof WebGPUUnavailableError || e instanceof PlanError) {
    return new CliError(e.message);
  }
  return e;
}

async function userErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw asUserError(e);
  }
}

/** Throws a CliError unless `path` is a readable regular file. */
async function checkFile(path: string, what: string): Promise<void> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw fsError(e, `cannot read ${what} '${path}'`);
  }
  if (!s.isFile()) throw new CliError(`cannot read ${what} '${path}': ${s.isDirectory() ? 'is a directory' : 'not a regular file'}`);
}

/** Fails before any long work when `path` cannot be written because its folder is missing. */
async function checkOutputDir(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  let s;
  try {
    s = await stat(dir);
  } catch (e) {
    throw fsError(e, `cannot write '${path}'`);
  }
  if (!s.isDirectory()) throw new CliError(`cannot write '${path}': ${dir} is not a directory`);
}

function checkArch(arch: string | undefined): void {
  if (arch !== undefined && !(arch in ARCHITECTURES)) {
    throw new CliError(`unknown architecture '${arch}'; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  }
}

/** The parts of a weights file's header the commands report and check (no tensor data is read). */
interface WeightsSummary {
  header: SafetensorsHeader;
  fileBytes: number;
  /** The architecture to build, or the reason there is none. */
  config: ResNetConfig | { error: string };
  metadata: ModelMetadata | { error: string };
  /** null when every tensor matches `config`; else the mismatch. */
  mismatch: string | null;
}

async function readWeightsSummary(path: string, arch?: string): Promise<WeightsSummary> {
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
  const config = attempt(() => {
    const c = resolveConfig(header.metadata, path, arch);
    try {
      buildPlan(c); // a config that builds no network fails here
    } catch (e) {
      // A hand-made metadata 'config' may lack fields the builder reads (a TypeError then).
      if (e instanceof PlanError || arch !== undefined) throw e;
      throw new WeightsFormatError(`${path}: metadata 'config' does not describe a network: ${(e as Error).message}`);
    }
    return c;
  });
  const metadata = attempt(() => decodeMetadata(header.metadata));
  let mismatch: string | null = null;
  if ('name' in config) {
    try {
      checkTensors(header, config, path);
    } catch (e) {
      if (!(e instanceof WeightsFormatError)) throw e;
      mismatch = e.message;
    }
  }
  return { header, fileBytes, config, metadata, mismatch };
}

/** The config to run, or a CliError saying why the file cannot be run (wrong architecture ...). */
function runnableConfig(s: WeightsSummary): ResNetConfig {
  if ('error' in s.config) throw new CliError(s.config.error);
  if ('error' in s.metadata) throw new CliError(s.metadata.error);
  if (s.mismatch !== null) throw new CliError(s.mismatch);
  return s.config;
}

/** Progress bars on stderr (drawn only on a terminal) for loading weights and for batches of work. */
function loadProgressBar(): { update: (p: LoadProgress) => void; stop: () => void } {
  const names: Record<string, string> = { download: 'reading weights', upload: 'uploading weights', compile: 'compiling kernels' };
  return phasedBar((p: LoadProgress) => {
    const total = Math.max(1, p.total, p.loaded);
    // 'download' and 'upload' count bytes; other phases ('compile': pipelines) count steps.
    const bytes = p.phase === 'download' || p.phase === 'upload';
    return { phase: names[p.phase] ?? p.phase, value: p.loaded, total, size: bytes ? `${mib(p.loaded)} / ${mib(total)}` : `${p.loaded}/${total}` };
  });
}

function countBar(what: string, total: number): cliProgress.SingleBar {
  const bar = stderrBar(`${what} |{bar}| {value}/{total}`);
  bar.start(total, 0);
  return bar;
}

export interface ModelCliOptions {
  weights?: string;
  arch?: string;
  adapter?: AdapterChoice;
}

/** Checks the weights' header, then loads the model (progress bar on a terminal). */
async function openModel(opts: ModelCliOptions): Promise<{ model: Model; weights: string; summary: WeightsSummary }> {
  const weights = opts.weights ?? DEFAULT_WEIGHTS;
  const summary = await readWeightsSummary(weights, opts.arch);
  runnableConfig(summary);
  const bar = loadProgressBar();
  try {
    const model = await userErrors(() => loadModel({ weights, arch: opts.arch, adapter: opts.adapter, onProgress: bar.update }));
    return { model, weights, summary };
  } finally {
    bar.stop();
  }
}

/** The adapter in one line: the first line of describeDevice(). */
function adapterLine(model: Model): string {
  return model.info.adapter.split('\n')[0].replace(/^adapter: /, '');
}

export interface ClassifyCliOptions extends ModelCliOptions {
  top: number;
  json?: boolean;
}

export interface ClassifyFileResult {
  file: string;
  top: Classification[];
}

/** `classify`: top-k classes of each image file (JPEG or PNG), printed as text or JSON. */
export async function classifyCommand(files: string[], opts: ClassifyCliOptions): Promise<void> {
  for (const f of files) await checkFile(f, 'image');
  // Decoding errors name the file (ImageInputError) and end the command with status 1. The first
  // batch is decoded before the model loads, so a bad image in it fails before any GPU work.
  const decode = (chunk: string[]) => {
    const p = userErrors(() => Promise.all(chunk.map((f) => toRgba(f))));
    p.catch(() => {}); // decoded ahead while the GPU works: awaited (and thrown) in turn, never unhandled
    return p;
  };
  let next = decode(files.slice(0, CLASSIFY_BATCH));
  await next;
  const { model, weights } = await openModel(opts);
  try {
    const where = `${model.info.arch} (${weights === DEFAULT_WEIGHTS ? 'the embedded Fashion-MNIST model' : weights}) on ${adapterLine(model)}`;
    if (!opts.json) process.stderr.write(`${where}\n`);
    const results: ClassifyFileResult[] = [];
    const bar = files.length > CLASSIFY_BATCH ? countBar('classifying', files.length) : undefined;
    try {
      for (let i = 0; i < files.length; i += CLASSIFY_BATCH) {
        const chunk = files.slice(i, i + CLASSIFY_BATCH);
        const images = await next;
        if (i + CLASSIFY_BATCH < files.length) next = decode(files.slice(i + CLASSIFY_BATCH, i + 2 * CLASSIFY_BATCH));
        const top = await userErrors(() => model.classify(images, { topK: opts.top }));
        chunk.forEach((file, j) => results.push({ file, top: top[j] }));
        if (!opts.json) {
          bar?.stop();
          process.stdout.write(chunk.map((file, j) => formatClassification(file, top[j])).join(''));
          bar?.start(files.length, i + chunk.length);
        } else {
          bar?.update(i + chunk.length);
        }
      }
    } finally {
      bar?.stop();
    }
    if (opts.json) {
      const out = { weights, arch: model.info.arch, adapter: adapterLine(model), results };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    }
  } finally {
    model.dispose();
  }
}

/** One file's top-k as text: the file, then one line per class with its probability. */
export function formatClassification(file: string, top: readonly Classification[]): string {
  const width = Math.max(...top.map((c) => c.label.length));
  const lines = top.map((c) => `  ${(c.probability * 100).toFixed(2).padStart(6)}%  ${c.label.padEnd(width)}  (class ${c.index})`);
  return `${file}\n${lines.join('\n')}\n`;
}

export interface LogitsCliOptions extends ModelCliOptions {
  input: string;
  output: string;
  batch?: number;
}

/** `logits`: float32 NCHW .npy in, float32 (N, classes) logits .npy out (written atomically). */
export async function logitsCommand(opts: LogitsCliOptions): Promise<void> {
  const bytes = await readInput(opts.input, 'input');
  const x = await userErrors(async () => readNpyFloat32(bytes, `input '${opts.input}'`));
  const weights = opts.weights ?? DEFAULT_WEIGHTS;
  const config = runnableConfig(await readWeightsSummary(weights, opts.arch));
  const { inputChannels: C, inputSize: S } = config;
  const [N, ...chw] = x.shape;
  if (x.shape.length !== 4 || chw[0] !== C || chw[1] !== S || chw[2] !== S || N < 1) {
    throw new CliError(`input '${opts.input}' has shape ${formatShape(x.shape)}; ${config.name} needs float32 ` +
      `${formatShape(['N', C, S, S])} (N images, ${C} channel${C === 1 ? '' : 's'}, ${S} x ${S}, normalised, NCHW) with N >= 1`);
  }
  const batch = Math.min(opts.batch ?? LOGITS_BATCH, N);
  await checkOutputDir(opts.output);
  const { model } = await openModel({ ...opts, weights });
  const K = model.info.numClasses;
  const logits = new Float32Array(N * K); // (N, K)
  const sample = C * S * S;
  try {
    const bar = N > batch ? countBar('images', N) : undefined;
    try {
      // Every run has the same batch size (the last one padded with zeros), so one set of GPU
      // buffers and pipelines serves them all.
      const chunk = new Float32Array(batch * sample); // (batch, C, H, W)
      for (let n = 0; n < N; n += batch) {
        const m = Math.min(batch, N - n);
        chunk.set(x.data.subarray(n * sample, (n + m) * sample));
        if (m < batch) chunk.fill(0, m * sample);
        const y = await model.run(chunk, { batch });
        logits.set(y.subarray(0, m * K), n * K);
        bar?.update(n + m);
      }
    } finally {
      bar?.stop();
    }
  } finally {
    model.dispose();
  }
  try {
    await writeFileAtomic(opts.output, writeNpyFloat32(logits, [N, K]));
  } catch (e) {
    throw fsError(e, `cannot write '${opts.output}'`);
  }
  const runs = Math.ceil(N / batch);
  process.stdout.write(`wrote ${opts.output}: float32 ${formatShape([N, K])} logits of ${config.name} ` +
    `(${N} image${N === 1 ? '' : 's'} in ${runs} run${runs === 1 ? '' : 's'} of batch ${batch})\n`);
}

export interface InfoCliOptions {
  arch?: string;
  json?: boolean;
}

/** What `info` reports, also its --json output. */
export interface WeightsInfo {
  file: string;
  bytes: number;
  headerBytes: number;
  arch: string | null;
  /** Why no architecture could be chosen (arch is null then). */
  archError?: string;
  customConfig: boolean;
  config: ResNetConfig | null;
  metadata: Record<string, string>;
  tensors: number;
  dtypes: Record<string, number>;
  /** Values stored in all tensors (BatchNorm running statistics included). */
  values: number;
  /** Learnable parameters of the architecture (convolutions, BatchNorm scale and shift, fc). */
  parameters: number | null;
  /** Bytes of tensor data. */
  tensorBytes: number;
  /** FLOPs of one image (2 per multiply-add). */
  flops: number | null;
  /** null when every tensor matches the architecture; else what differs. */
  mismatch: string | null;
}

/** `info`: what a weights file holds, from its header alone (no GPU); status 1 when its tensors do not fit the architecture. */
export async function infoCommand(path: string, opts: InfoCliOptions): Promise<void> {
  const s = await readWeightsSummary(path, opts.arch);
  const tensors = [...s.header.tensors.values()];
  const dtypes: Record<string, number> = {};
  for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  const config = 'name' in s.config ? s.config : null;
  const plan = config ? buildPlan(config) : null;
  const info: WeightsInfo = {
    file: path,
    bytes: s.fileBytes,
    headerBytes: s.header.dataOffset,
    arch: config?.name ?? null,
    ...(config ? {} : { archError: (s.config as { error: string }).error }),
    customConfig: config !== null && opts.arch === undefined && !(s.header.metadata.arch in ARCHITECTURES),
    config,
    metadata: s.header.metadata,
    tensors: tensors.length,
    dtypes,
    values: tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0),
    parameters: plan?.params ?? null,
    tensorBytes: tensors.reduce((a, t) => a + t.end - t.begin, 0),
    flops: plan?.flops ?? null,
    mismatch: s.mismatch,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    if (s.mismatch !== null) throw new CliError(`the tensors do not match ${info.arch}`);
    return;
  }
  process.stdout.write(formatInfo(info, 'error' in s.metadata ? s.metadata.error : s.metadata));
  if (s.mismatch !== null) throw new CliError(`the tensors do not match ${info.arch} (see 'check' above)`);
}

function formatInfo(i: WeightsInfo, meta: ModelMetadata | string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(12)}${v}`);
  row('file', i.file);
  row('bytes', `${n(i.bytes)} (${mib(i.bytes)}; header ${n(i.headerBytes)}, tensor data ${n(i.tensorBytes)})`);
  if (i.config) {
    const c = i.config;
    row('arch', `${c.name}${i.customConfig ? ' (custom config from the metadata)' : ''}`);
    const g = c.groups > 1 ? `, ${c.groups} groups x ${c.widthPerGroup} wide` : '';
    row('network', `${c.block} blocks ${JSON.stringify(c.layers)}, widths ${JSON.stringify(c.widths)}${g}, ` +
      `stem ${c.stem.kernel}x${c.stem.kernel}/${c.stem.stride}${c.maxpool ? ' + max pool' : ''}, ${c.numClasses} classes`);
  } else {
    row('arch', `unknown: ${i.archError}`);
  }
  if (typeof meta === 'string') {
    row('metadata', `unreadable: ${meta}`);
  } else if (Object.keys(i.metadata).length === 0) {
    row('metadata', 'none (not converted by this project: the runtime would assume ImageNet input and labels)');
  } else {
    row('format', `version ${meta.formatVersion}${meta.source ? `, source ${meta.source}` : ''}`);
    row('input', `${meta.inputChannels} x ${meta.inputSize} x ${meta.inputSize} ${meta.colorSpace}, range ` +
      `${JSON.stringify(meta.inputRange)}, mean ${JSON.stringify(meta.mean)}, std ${JSON.stringify(meta.std)}`);
    row('images', meta.resizeSize === meta.inputSize
      ? `resized to ${meta.inputSize} x ${meta.inputSize} (shorter side), centre-cropped`
      : `shorter side resized to ${meta.resizeSize}, centre crop ${meta.inputSize} x ${meta.inputSize}`);
    const labels = meta.labels === 'imagenet' ? 'ImageNet-1k (the shipped list)'
      : `${meta.labels.length}: ${meta.labels.slice(0, 10).join(', ')}${meta.labels.length > 10 ? ', ...' : ''}`;
    row('labels', labels);
  }
  row('tensors', `${n(i.tensors)} (${Object.entries(i.dtypes).map(([d, k]) => `${n(k)} ${d}`).join(', ')})`);
  row('parameters', i.parameters !== null
    ? `${n(i.parameters)} learnable (${n(i.values)} values stored, BatchNorm running statistics included)`
    : `${n(i.values)} values stored`);
  if (i.flops !== null) row('flops', `${(i.flops / 1e6).toFixed(1)} MFLOP per image (2 per multiply-add)`);
  if (i.config) row('check', i.mismatch === null ? `ok: every tensor matches ${i.config.name}` : `MISMATCH: ${i.mismatch}`);
  const extra = Object.keys(i.metadata).filter((k) => !KNOWN_METADATA.has(k));
  for (const k of extra) row(`meta ${k} `, i.metadata[k].length > 100 ? `${i.metadata[k].slice(0, 100)}...` : i.metadata[k]);
  return `${lines.join('\n')}\n`;
}

const KNOWN_METADATA = new Set(['format_version', 'arch', 'config', 'source', 'input_size', 'input_channels', 'color_space',
  'input_range', 'mean', 'std', 'labels', 'resize_size']);

function positiveInt(what: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return v;
  };
}

function adapterOption(): Option {
  return new Option('--adapter <name>', 'WebGPU adapter (default: env WEBGPU_ADAPTER, else a hardware GPU, else SwiftShader)')
    .choices([...ADAPTER_CHOICES]);
}

/** Registers classify, logits and info on `program`. */
function addModelCommands(program: Command): void {
  program
    .command('classify')
    .description('classify JPEG or PNG images: the top classes of each with their probabilities')
    .argument('<images...>', 'image files (JPEG or PNG)')
    .option('--weights <file>', '.safetensors weights (default: the embedded Fashion-MNIST model)')
    .option('--arch <name>', 'architecture (default: the weights\' metadata)')
    .option('--top <k>', 'classes to show per image', positiveInt('--top'), 5)
    .option('--json', 'print JSON: { weights, arch, adapter, results: [{ file, top: [{ index, label, probability }] }] }')
    .addOption(adapterOption())
    .action(async (images: string[], opts: ClassifyCliOptions) => classifyCommand(images, opts));
  program
    .command('logits')
    .description('run the network on a float32 NCHW .npy (already normalised) and write its logits as a float32 .npy')
    .requiredOption('--input <x.npy>', 'float32 (N, C, H, W) input, C-order, normalised as the weights\' metadata says')
    .requiredOption('--output <y.npy>', 'float32 (N, classes) logits to write (atomically)')
    .option('--weights <file>', '.safetensors weights (default: the embedded Fashion-MNIST model)')
    .option('--arch <name>', 'architecture (default: the weights\' metadata)')
    .option('--batch <n>', `images per GPU run (default: ${LOGITS_BATCH})`, positiveInt('--batch'))
    .addOption(adapterOption())
    .action(async (opts: LogitsCliOptions) => logitsCommand(opts));
  program
    .command('info')
    .description('what a .safetensors weights file holds: architecture, metadata, tensors, parameters, bytes (no GPU)')
    .argument('<weights>', '.safetensors file')
    .option('--arch <name>', 'check the tensors against this architecture instead of the metadata\'s')
    .option('--json', 'print JSON')
    .action(async (weights: string, opts: InfoCliOptions) => infoCommand(weights, opts));
}

/** `bench`: the speed benchmark (bench/run.ts): models with random weights, the adapter's GEMM ceiling and the
 *  performance targets; `--micro` compares kernel variants on conv shapes; `--browser` repeats it in headless Chromium. */
export async function benchCommand(opts: import('../bench/run.js').BenchCliOptions): Promise<void> {
  const { parseBenchOptions, runBench } = await import('../bench/run.js');
  let options;
  try {
    options = await parseBenchOptions(opts);
  } catch (e) {
    // A bad option value is a usage error (exit 2), as for the other commands.
    process.stderr.write(`error: ${(e as Error).message}\n`);
    throw new CommanderError(2, 'webgpu-resnext.invalidBenchOption', (e as Error).message);
  }
  try {
    await runBench(options);
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) throw new CliError(e.message);
    throw e;
  }
}

function addBenchCommand(program: Command): void {
  const collect = (v: string, all: string[]) => [...all, v];
  program
    .command('bench')
    .description('speed benchmark: load time, first and timed inferences, GFLOP/s, GPU memory and per-step times of ' +
      'ResNet / ResNeXt models with random weights, against the adapter\'s GEMM ceiling, with the targets')
    .option('--arch <list>', 'architectures, comma-separated, or "all"', 'resnet50,resnext101_32x4d')
    .option('--size <n>', 'input height and width', '224')
    .option('--batch <list>', 'batch sizes, comma-separated', '1,4')
    .option('--runs <n>', 'timed inferences per batch size (median and min are reported)', '3')
    .addOption(new Option('--adapter <name>', 'WebGPU adapter').choices([...ADAPTER_CHOICES]).default('default'))
    .option('--ceiling-size <n>', 'S of the S x S x S matmul that gives the ceiling', '1024')
    .option('--json <file>', 'also write every figure as JSON')
    .addOption(new Option('--steps <mode>', 'per-step times: timestamp-query where available, else wall clock per step')
      .choices(['auto', 'wall', 'none']).default('auto'))
    .option('--slowest <n>', 'how many of the slowest steps to list', '10')
    .option('--micro', 'kernel microbenchmark: conv shapes across the kernel variants of bench/variants.ts')
    .option('--shape <N,H,W,C,K,R,stride,pad,groups>', '--micro: a conv shape instead of the default layers (repeatable)', collect, [])
    .option('--variant <name>', '--micro: only this kernel variant (repeatable)', collect, [])
    .option('--tuning <json>', '--micro: also the production kernel with this launch geometry, e.g. ' +
      '\'{"tq":4,"jn":2,"wgX":4,"wgY":1,"direct":true,"channelLanes":false}\' (repeatable; unset fields: the runtime\'s)', collect, [])
    .option('--browser', 'also run the model benchmark in headless Chromium (Playwright, /usr/bin/chromium)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (opts: import('../bench/run.js').BenchCliOptions) => benchCommand(opts));
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('webgpu-resnext')
    .description('WebGPU ResNet / ResNeXt image classifiers: classify images, compute logits, inspect and convert weights, benchmark')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program
    .command('convert')
    .description('convert a PyTorch checkpoint (.pth: zip, legacy or tar; Cadene or torchvision names) or a ' +
      '.safetensors file to this project\'s .safetensors weights')
    .argument('<input>', 'checkpoint to read (.pth, .pt, .safetensors)')
    .argument('<output>', '.safetensors file to write (atomically)')
    .option('--arch <name>', 'force a named architecture (default: detected from the tensor names and shapes)')
    .option('--config <file>', 'JSON ResNetConfig (+ labels, mean, std, inputRange, colorSpace, source) for a custom model')
    .option('--fp16', 'store f16 instead of f32 (half the size)')
    .option('--source <text>', 'metadata "source" (default: e.g. cadene:resnext101_32x4d)')
    .action(async (input: string, output: string, opts: ConvertCliOptions) => convertCommand(input, output, opts));
  addModelCommands(program);
  addBenchCommand(program);
  return program;
}

/** Runs the CLI; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander already printed its message; --help / --version exit 0, usage errors 2.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CheckpointError || e instanceof CliError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      removeTempFiles();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  main(process.argv).then((status) => { process.exitCode = status; });
}
