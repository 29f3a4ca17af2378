// `info`: architecture, metadata, tensors, parameters and bytes of a .safetensors, from its header
// alone (no GPU).

import { ARCHITECTURES, type ResNetConfig } from '../src/models/config.js';
import type { ModelMetadata } from '../src/weights/safetensors.js';
import { CliError } from './errors.js';
import { mib } from './progress.js';
import { readWeightsSummary } from './weights.js';

export interface InfoCliOptions {
  arch?: string;
  json?: boolean;
}

/** What `info` reports, also its --json output. */
interface WeightsInfo {
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

/**
 * `info`: what a weights file holds, from its header alone (no GPU); status 1 when classify would
 * refuse the file (tensors that do not fit the architecture, no architecture, unusable metadata).
 */
export async function infoCommand(path: string, opts: InfoCliOptions): Promise<void> {
  const s = await readWeightsSummary(path, opts.arch);
  const tensors = [...s.header.tensors.values()];
  const dtypes: Record<string, number> = {};
  for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  const { config, plan } = 'config' in s.network ? s.network : { config: null, plan: null };
  const info: WeightsInfo = {
    file: path,
    bytes: s.fileBytes,
    headerBytes: s.header.dataOffset,
    arch: config?.name ?? null,
    ...('error' in s.network ? { archError: s.network.error } : {}),
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
  if (opts.json) process.stdout.write(`${JSON.stringify({ ...info, ...('error' in s.metadata ? { metadataError: s.metadata.error } : {}) }, null, 2)}\n`);
  else process.stdout.write(formatInfo(info, 'error' in s.metadata ? s.metadata.error : s.metadata));
  // The report is printed first; then the status says whether classify would run the file.
  if (s.mismatch !== null) throw new CliError(`the tensors do not match ${info.arch}${opts.json ? '' : " (see 'check' above)"}`);
  if ('error' in s.metadata) throw new CliError(`the metadata cannot be used: ${s.metadata.error}`);
  if ('error' in s.network) throw new CliError(`no network to run: ${s.network.error}`);
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
      : meta.labels === 'imagenet-12k' ? "ImageNet-12k (timm's list, shipped)"
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
