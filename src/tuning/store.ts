// Where the on-device tuner keeps its picks: one entry per adapter, holding for each conv layer shape
// the launch geometry that measured fastest, written for a kernel source version.
//
// An entry is a JSON text under a name derived from the adapter (storeName): a file in the user's cache
// folder in Node (src/node/tuning-store.ts), a Cache API entry in browsers (browserTuningStore). Its
// content is never trusted: decodeEntry drops the whole entry when it does not parse, has another schema,
// was written for another adapter (vendor, architecture, device, description) or another kernel
// version (KERNEL_VERSION, a hash of the embedded shader sources), and drops any pick whose shape key does
// not match its shape or whose tuning is not one conv2d.wgsl takes. A dropped entry is overwritten by the
// next write.

import { SHADER_SOURCES } from '../gpu/shader-sources.js';
import { SUBGROUP_JN_CHOICES, SUBGROUP_TQ_CHOICES } from '../ops/conv2d-subgroup.js';
import { nodePlatform, type TuningStore } from '../platform.js';
import { CONV2D_EPILOGUES, type Conv2dDesc, type Conv2dTuning } from '../ops/conv2d-geometry.js';

export type { TuningStore } from '../platform.js';

/** Version of the entry format. */
export const TUNING_SCHEMA = 1;

/** 32-bit FNV-1a of a string, as 8 hex digits. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * The kernel source version picks are valid for: a hash of every embedded shader source
 * (src/gpu/shader-sources.ts, written by scripts/embed-shaders.mjs from shaders/), so that any change to
 * a kernel makes the stored picks stale.
 */
export const KERNEL_VERSION: string = fnv1a(Object.entries(SHADER_SOURCES).map(([k, v]) => `${k}\n${v}`).join('\n'));

/** The adapter fields an entry belongs to. */
export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export function adapterIdentity(info: GPUAdapterInfo): AdapterIdentity {
  return { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' };
}

/** The store name of an adapter's entry: `tuning-<hash of its identity>`. */
export function storeName(adapter: AdapterIdentity): string {
  return `tuning-${fnv1a(JSON.stringify([adapter.vendor, adapter.architecture, adapter.device, adapter.description]))}`;
}

/** The fields of a Conv2dDesc that make a layer shape, in key order. */
const SHAPE_FIELDS = ['N', 'H', 'W', 'C', 'K', 'R', 'S', 'stride', 'pad', 'groups'] as const;

/** A layer shape's key: `N,H,W,C,K,R,S,stride,pad,groups,epilogue[,preact]`. */
export function shapeKey(d: Conv2dDesc): string {
  return [...SHAPE_FIELDS.map((f) => d[f]), d.epilogue, ...(d.preAct ? ['preact'] : [])].join(',');
}

/** What the store keeps per layer shape. */
export interface StoredPick {
  desc: Conv2dDesc;
  tuning: Conv2dTuning;
  /** The pick's measured time and the heuristic's, ms (as the tuner measured them). */
  ms: number;
  heuristicMs?: number;
}

interface Entry {
  schema: number;
  adapter: AdapterIdentity;
  kernels: string;
  picks: Record<string, StoredPick>;
}

const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A Conv2dTuning of a family this build has, with exactly that family's fields in their ranges (the
 * device's limits and the layer are checked by candidates.ts, fitsDevice).
 */
export function isTuning(v: unknown): v is Conv2dTuning {
  if (!isObject(v)) return false;
  const fields = (names: string[]) => Object.keys(v).every((k) => k === 'family' || names.includes(k));
  if (v.family === 'tiled') {
    return fields(['bm', 'bn', 'bk', 'tm', 'tn', 'splitK']) && isInt(v.bm, 1, 256) && isInt(v.bn, 4, 128) && (v.bn as number) % 4 === 0 &&
      isInt(v.bk, 4, 64) && (v.bk as number) % 4 === 0 && isInt(v.tm, 1, 8) && (v.tn === 4 || v.tn === 8) && isInt(v.splitK, 1, 64);
  }
  if (v.family === 'subgroup') {
    return fields(['tq', 'jn', 'wg']) && SUBGROUP_TQ_CHOICES.includes(v.tq as number) && SUBGROUP_JN_CHOICES.includes(v.jn as number) &&
      isInt(v.wg, 1, 1024);
  }
  return (v.family === undefined || v.family === 'register') && fields(['wgX', 'wgY', 'tq', 'jn', 'direct', 'channelLanes']) &&
    isInt(v.wgX, 1, 1024) && isInt(v.wgY, 1, 1024) && isInt(v.tq, 1, 8) && isInt(v.jn, 1, 16) &&
    typeof v.direct === 'boolean' && typeof v.channelLanes === 'boolean';
}

function isDesc(v: unknown): v is Conv2dDesc {
  return isObject(v) && SHAPE_FIELDS.every((f) => isInt(v[f], f === 'pad' ? 0 : 1, 2 ** 31)) &&
    CONV2D_EPILOGUES.includes(v.epilogue as Conv2dDesc['epilogue']) && (v.preAct === undefined || typeof v.preAct === 'boolean');
}

function sameAdapter(a: unknown, b: AdapterIdentity): boolean {
  return isObject(a) && a.vendor === b.vendor && a.architecture === b.architecture && a.device === b.device && a.description === b.description;
}

/**
 * The valid picks of an entry's text for `adapter` and kernel version `version`: empty when the text is
 * missing, corrupt, of another schema, adapter or version; picks whose key, shape or tuning do not check
 * out are left out.
 */
export function decodeEntry(text: string | undefined, adapter: AdapterIdentity, version = KERNEL_VERSION): Map<string, StoredPick> {
  const picks = new Map<string, StoredPick>();
  if (text === undefined) return picks;
  let e: unknown;
  try {
    e = JSON.parse(text);
  } catch {
    return picks;
  }
  if (!isObject(e) || e.schema !== TUNING_SCHEMA || e.kernels !== version || !sameAdapter(e.adapter, adapter) || !isObject(e.picks)) return picks;
  for (const [key, p] of Object.entries(e.picks)) {
    if (!isObject(p) || !isDesc(p.desc) || !isTuning(p.tuning) || !(typeof p.ms === 'number' && p.ms >= 0)) continue;
    if (shapeKey(p.desc) !== key) continue;
    picks.set(key, {
      desc: p.desc, tuning: p.tuning, ms: p.ms,
      heuristicMs: typeof p.heuristicMs === 'number' ? p.heuristicMs : undefined,
    });
  }
  return picks;
}

export function encodeEntry(picks: Map<string, StoredPick>, adapter: AdapterIdentity, version = KERNEL_VERSION): string {
  const e: Entry = { schema: TUNING_SCHEMA, adapter, kernels: version, picks: Object.fromEntries(picks) };
  return JSON.stringify(e, null, 1) + '\n';
}

/** The valid stored picks of `adapter` (decodeEntry); empty when the store cannot be read. */
export async function readPicks(store: TuningStore, adapter: AdapterIdentity): Promise<Map<string, StoredPick>> {
  let text: string | undefined;
  try {
    text = await store.read(storeName(adapter));
  } catch {
    text = undefined;
  }
  return decodeEntry(text, adapter);
}

/**
 * Adds `picks` to `adapter`'s entry (re-read first, so picks another model stored meanwhile stay; an
 * invalid entry is replaced) and writes it back.
 */
export async function writePicks(store: TuningStore, adapter: AdapterIdentity, picks: Map<string, StoredPick>): Promise<void> {
  const merged = await readPicks(store, adapter);
  for (const [k, p] of picks) merged.set(k, p);
  await store.write(storeName(adapter), encodeEntry(merged, adapter));
}

/** A store in memory (the benchmark's, so that every run tunes; the tests'). */
export function memoryTuningStore(): TuningStore & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    read: async (name) => entries.get(name),
    write: async (name, text) => { entries.set(name, text); },
  };
}

/** The Cache API cache of the browser store. */
export const TUNING_CACHE_NAME = 'webgpu-resnext-tuning-v1';

/** The browser's store: one Cache API entry per adapter; undefined where there is no Cache API. */
export function browserTuningStore(): TuningStore | undefined {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  if (!caches) return undefined;
  const url = (name: string) => `https://tuning.webgpu-resnext.invalid/${name}.json`;
  return {
    async read(name) {
      const r = await (await caches.open(TUNING_CACHE_NAME)).match(url(name));
      return r ? r.text() : undefined;
    },
    async write(name, text) {
      await (await caches.open(TUNING_CACHE_NAME)).put(url(name), new Response(text, { headers: { 'content-type': 'application/json' } }));
    },
  };
}

/** The default store: the Node platform's file store, else the browser's Cache API store, else none. */
export function defaultTuningStore(): TuningStore | undefined {
  const platform = nodePlatform();
  return platform ? platform.tuningStore?.() : browserTuningStore();
}
