// A timm Hub model.safetensors -> this runtime's .safetensors, by rewriting the header only: the
// tensors are renamed to the canonical names (src/convert/keymaps.ts), checked by name and shape
// against the network timm's `architecture` builds (src/models/timm.ts), and given this project's
// metadata. The data section is passed on byte for byte (F32, F16 or BF16 as the Hub stores it: the
// weights reader decodes them), less the bytes of num_batches_tracked counters, so the conversion
// streams: the converted file is the new header followed by the kept ranges of the download's data.

import { checkShapes } from '../convert/convert.js';
import { ConversionError } from '../convert/errors.js';
import { mapKeys } from '../convert/keymaps.js';
import type { ResNetConfig } from '../models/config.js';
import { buildPlan, PlanError } from '../models/plan.js';
import { TIMM_ARCHITECTURES, timmArchConfig } from '../models/timm.js';
import { encodeMetadata, parseHeader, WeightsFormatError, type ModelMetadata } from '../weights/safetensors.js';
import { HubError } from './errors.js';
import type { TimmHubConfig } from './timm-config.js';

/**
 * The network of a timm config.json: the architecture's (src/models/timm.ts) with config.json's
 * model_args applied as timm's create_model applies them (keyword arguments over the architecture's
 * own). Throws HubError (before any weights are read) when the runtime cannot build it.
 */
export function hubNetwork(cfg: TimmHubConfig, what: string): ResNetConfig {
  let config: ResNetConfig;
  try {
    config = timmArchConfig(cfg.architecture, cfg.numClasses, { inputSize: cfg.inputSize, inputChannels: cfg.inputChannels });
  } catch (e) {
    throw new HubError(`${what}: ${(e as Error).message}`, { cause: e });
  }
  const a = cfg.modelArgs;
  if (a.layers) config.layers = [...a.layers];
  if (a.channels) config.widths = [...a.channels];
  if (a.cardinality !== undefined) config.groups = a.cardinality;
  if (a.base_width !== undefined) config.widthPerGroup = a.base_width;
  if (a.stem_width !== undefined && config.deepStem) {
    // timm's ResNet: a deep stem of stem_width, stem_width (3/4 of it first when tiered), then 2 x stem_width.
    const w = a.stem_width;
    config.deepStem = TIMM_ARCHITECTURES[cfg.architecture]?.stemType === 'deep_tiered' ? [3 * Math.floor(w / 4), w] : [w, w];
    config.stemChannels = 2 * w;
  }
  if (config.layers.length !== config.widths.length) {
    throw new HubError(`${what}: model_args give ${config.layers.length} stages of blocks and ${config.widths.length} stage widths`);
  }
  try {
    buildPlan(config);
  } catch (e) {
    if (e instanceof PlanError) throw new HubError(`${what}: model_args build no network: ${e.message}`);
    throw e;
  }
  return config;
}

export interface ConvertedHeader {
  /** The converted file's first bytes: u64 header length and the JSON header (8-byte aligned). */
  head: Uint8Array;
  /** Tensors in the converted header. */
  tensors: number;
  /**
   * The source data section's byte ranges that make up the converted one, in order (keepRanges):
   * every converted tensor's, with the dropped counters' left out.
   */
  keep: Array<{ begin: number; end: number }>;
}

const BN_COUNTER = /(^|\.)num_batches_tracked$/;

/**
 * Converts the JSON header of a Hub model.safetensors (`json`, the bytes after the u64 length) for
 * `network`; `dataBytes` is the size of its data section when known. Throws HubError naming every
 * missing, unexpected and mis-shaped tensor.
 */
export function convertHubHeader(json: Uint8Array, dataBytes: number | undefined, network: ResNetConfig, metadata: ModelMetadata,
  what: string): ConvertedHeader {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) as Record<string, unknown>;
  } catch (e) {
    throw new HubError(`${what}: the .safetensors header is not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HubError(`${what}: the .safetensors header is not a JSON object`);
  // BatchNorm's step counters (I64) are no weights: left out of the header and of the data.
  let header;
  try {
    header = parseHeader(json, dataBytes, (name) => BN_COUNTER.test(name));
  } catch (e) {
    if (e instanceof WeightsFormatError) throw new HubError(`${what}: ${e.message}`);
    throw e;
  }
  const keys = mapKeys(header.tensors.keys());
  const canonical = new Map<string, string>(); // canonical name -> name in the file
  for (const [from, to] of keys.renamed) {
    if (canonical.has(to)) throw new HubError(`${what}: two tensors map to '${to}' (one of them is '${from}')`);
    canonical.set(to, from);
  }
  const shapes = new Map<string, number[]>([...canonical].map(([to, from]) => [to, header.tensors.get(from)!.shape]));
  for (const n of keys.unmapped) shapes.set(n, header.tensors.get(n)!.shape);
  const plan = buildPlan(network);
  try {
    checkShapes(plan, shapes, `timm's ${network.name}`);
  } catch (e) {
    if (e instanceof ConversionError) throw new HubError(`${what}: ${e.message}`);
    throw e;
  }
  const out: Record<string, unknown> = { __metadata__: encodeMetadata(metadata) };
  const sources = plan.weights.map((w) => ({ name: w.name, t: header.tensors.get(canonical.get(w.name)!)! }))
    .sort((a, b) => a.t.begin - b.t.begin);
  const keep: ConvertedHeader['keep'] = [];
  let at = 0;
  for (const { name, t } of sources) {
    out[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.end - t.begin] };
    at += t.end - t.begin;
    const last = keep[keep.length - 1];
    if (last && last.end === t.begin) last.end = t.end; else keep.push({ begin: t.begin, end: t.end });
  }
  let text = JSON.stringify(out);
  text += ' '.repeat((8 - (new TextEncoder().encode(text).byteLength % 8)) % 8); // keep the data section 8-byte aligned
  const body = new TextEncoder().encode(text);
  const head = new Uint8Array(8 + body.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(body.byteLength), true);
  head.set(body, 8);
  return { head, tensors: plan.weights.length, keep };
}
