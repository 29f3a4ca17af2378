// PyTorch checkpoints converted in the page, kept in the package's weights cache (the Cache API
// cache WEIGHTS_CACHE_NAME, emptied by clearWeightsCache) so a reload skips both the download and
// the conversion. The .safetensors files the library loads from a URL are cached by the library.
//
// A conversion is keyed by the checkpoint's absolute URL + '#converted:<arch>' and used as is (no
// revalidation): checkpoints are immutable files, and the page has a button that clears the cache.

import { WEIGHTS_CACHE_NAME as CACHE_NAME } from '../src/index.js';

export interface DownloadProgress {
  loaded: number;
  /** Total bytes when the server says (Content-Length), else undefined. */
  total?: number;
}

function cacheAvailable(): boolean {
  // The Cache API exists only in secure contexts (https, localhost).
  return typeof caches !== 'undefined';
}

/** Downloads `url` whole (a checkpoint to convert here), with progress. */
export async function fetchWeights(url: string, onProgress: (p: DownloadProgress) => void): Promise<Uint8Array> {
  const absolute = new URL(url, location.href).href;
  let response: Response;
  try {
    response = await fetch(absolute);
  } catch (e) {
    throw new Error(`could not download ${absolute}: ${(e as Error).message}. ` +
      'If the file is on another site, that site must allow cross-origin requests (CORS); ' +
      'otherwise download it and drop the file here.');
  }
  if (!response.ok) throw new Error(`could not download ${absolute}: HTTP ${response.status} ${response.statusText}`);
  const header = response.headers.get('content-length');
  const total = header !== null && Number(header) > 0 ? Number(header) : undefined;
  const bytes = await readAll(response, (loaded) => onProgress({ loaded, total }));
  if (total !== undefined && bytes.byteLength !== total) {
    throw new Error(`download of ${absolute} stopped at ${bytes.byteLength} of ${total} bytes`);
  }
  return bytes;
}

/** The bytes cached under `key` (an absolute URL, possibly with a #fragment), if any. */
export async function cachedBytes(key: string): Promise<Uint8Array | undefined> {
  if (!cacheAvailable()) return undefined;
  const r = await (await caches.open(CACHE_NAME)).match(key);
  return r ? new Uint8Array(await r.arrayBuffer()) : undefined;
}

/** Stores a copy of `bytes` under `key`. A full quota is not fatal: the next visit just redoes the work. */
export async function storeBytes(key: string, bytes: Uint8Array): Promise<void> {
  if (!cacheAvailable()) return;
  const headers = new Headers({ 'content-length': String(bytes.byteLength), 'content-type': 'application/octet-stream' });
  try {
    await (await caches.open(CACHE_NAME)).put(key, new Response(bytes.slice().buffer as ArrayBuffer, { headers }));
  } catch (e) {
    console.warn(`weights not cached: ${(e as Error).message}`);
  }
}

async function readAll(response: Response, onChunk: (loaded: number) => void): Promise<Uint8Array> {
  if (!response.body) {
    const buf = new Uint8Array(await response.arrayBuffer());
    onChunk(buf.byteLength);
    return buf;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onChunk(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onChunk(loaded);
  }
  const out = new Uint8Array(loaded);
  let p = 0;
  for (const c of chunks) { out.set(c, p); p += c.byteLength; }
  return out;
}

/** What the cache holds: entries and bytes (from the stored content-length). */
export async function cacheSummary(): Promise<{ entries: number; bytes: number }> {
  if (!cacheAvailable()) return { entries: 0, bytes: 0 };
  const cache = await caches.open(CACHE_NAME);
  const keys = await cache.keys();
  let bytes = 0;
  for (const k of keys) {
    const r = await cache.match(k);
    bytes += Number(r?.headers.get('content-length') ?? 0);
  }
  return { entries: keys.length, bytes };
}
