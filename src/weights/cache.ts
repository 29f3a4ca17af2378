// Weights fetched from a URL, kept in the browser's Cache API so that the next visit reads them
// from disk instead of downloading them again (a ResNeXt-101 is 177 MB).
//
// One entry per URL (the Cache API ignores #fragments, so the version cannot live in the key): the
// stored response carries the origin's validators (ETag, Last-Modified, Content-Length) in the
// header VERSION_HEADER. Before a cached entry is used, a HEAD request asks the server for the
// current validators; the entry is used when every validator both sides have agrees, and replaced by
// a new download when one differs. When the HEAD request fails (offline, or a server that refuses
// HEAD) the cached entry is used as it is. Entries are stored only after the whole body arrived.
//
// Where there is no Cache API (Node, pages served over plain http from another host) the weights are
// fetched as they are, every time. The cache is best effort: a full quota only means no caching.
//
// The same revalidation serves entries derived from several files (src/hub/: a Hub model converted
// from its config.json and model.safetensors): such an entry stores the validators of each source
// file, is checked with a HEAD request per source, and lives in the Cache API, or in Node in the
// user's cache folder (the platform's response store).

import { nodePlatform, type ResponseStore } from '../platform.js';

/** The Cache API cache that holds the weights (see clearWeightsCache). */
export const WEIGHTS_CACHE_NAME = 'webgpu-resnext-weights-v1';

/** Response header of a cache entry: the validators of the file it holds. */
const VERSION_HEADER = 'x-webgpu-resnext-version';
const VALIDATORS = ['etag', 'last-modified', 'content-length'] as const;

/** A fetched weights file: its response (body unread) and whether it came from the cache. */
export interface FetchedWeights {
  response: Response;
  fromCache: boolean;
  /**
   * Settles once a network response's copy is stored (or failed to be): the body must be read to
   * its end first. Resolves at once for a cache hit or when nothing is stored.
   */
  stored: Promise<void>;
  /** Removes the entry of this URL (after `stored`): for a response that proved not to be weights. */
  discard(): Promise<void>;
}

function cacheStorage(): CacheStorage | undefined {
  return (globalThis as { caches?: CacheStorage }).caches;
}

/** The validators of a response, as stored in VERSION_HEADER: a JSON object (a header value holds no newline). */
export function versionOf(headers: Headers): string {
  return JSON.stringify(Object.fromEntries(VALIDATORS.flatMap((h) => { const v = headers.get(h); return v === null ? [] : [[h, v]]; })));
}

/** False when a validator both versions have differs: the file changed on the server. */
function sameVersion(stored: string, current: string): boolean {
  const parse = (v: string): Record<string, string> => { try { return JSON.parse(v) as Record<string, string>; } catch { return {}; } };
  const a = parse(stored);
  return Object.entries(parse(current)).every(([k, v]) => a[k] === undefined || a[k] === v);
}

async function openCache(): Promise<Cache | undefined> {
  try {
    return await cacheStorage()?.open(WEIGHTS_CACHE_NAME);
  } catch {
    return undefined; // e.g. SecurityError in an opaque origin
  }
}

/**
 * The store for entries derived from other files (a converted Hub model): the Cache API where there
 * is one, else the platform's (Node: the user's cache folder); undefined when neither exists.
 */
export async function openDerivedStore(): Promise<ResponseStore | undefined> {
  return (await openCache()) ?? await nodePlatform()?.openResponseStore?.(WEIGHTS_CACHE_NAME);
}

/** The stored validators of each source of an entry: VERSION_HEADER holds one object, or an array of them. */
function storedVersions(header: string): string[] {
  try {
    const v = JSON.parse(header) as unknown;
    return Array.isArray(v) ? v.map((x) => JSON.stringify(x)) : [header];
  } catch {
    return [];
  }
}

/** The value of VERSION_HEADER for an entry made from responses with these headers. */
export function versionHeader(sources: readonly Headers[]): string {
  return sources.length === 1 ? versionOf(sources[0]) : `[${sources.map(versionOf).join(',')}]`;
}

/**
 * The entry `key` of `store` when each of its `sources` (URLs) is still the server's version: a HEAD
 * request per source, compared by ETag, Last-Modified and Content-Length. Offline (a HEAD fails) the
 * entry is used as it is.
 */
export async function cachedEntry(store: ResponseStore, key: string, sources: readonly string[]): Promise<Response | undefined> {
  const cached = await store.match(key);
  if (!cached) return undefined;
  let heads: Response[];
  try {
    heads = await Promise.all(sources.map((url) => fetch(url, { method: 'HEAD' })));
  } catch {
    return cached; // offline: the cached copy is the best there is
  }
  const stored = storedVersions(cached.headers.get(VERSION_HEADER) ?? '');
  if (heads.every((head, i) => !head.ok || sameVersion(stored[i] ?? '', versionOf(head.headers)))) return cached;
  await cached.body?.cancel().catch(() => {});
  return undefined;
}

/** A stored entry's headers: its content type and length and VERSION_HEADER. */
export function entryHeaders(contentType: string, version: string, length?: number): Headers {
  const headers = new Headers({ 'content-type': contentType, [VERSION_HEADER]: version });
  if (length !== undefined) headers.set('content-length', String(length));
  return headers;
}

/**
 * Fetches `url` (a GET), from the weights cache when `cache` is true and it holds the current
 * version. A network response that is OK is stored while the caller reads it (the body is split in
 * two); `isStorable` may refuse one whose headers show it is not a weights file.
 */
export async function fetchWithCache(url: string, cache: boolean, isStorable: (r: Response) => boolean): Promise<FetchedWeights> {
  const store = cache ? await openCache() : undefined;
  const done = Promise.resolve();
  const discard = async () => { await store?.delete(url); };
  if (store) {
    const hit = await cachedEntry(store, url, [url]);
    if (hit) return { response: hit, fromCache: true, stored: done, discard };
  }
  const response = await fetch(url);
  if (!store || !response.ok || !response.body || !isStorable(response)) return { response, fromCache: false, stored: done, discard: async () => {} };
  const [forCaller, forCache] = response.body.tee();
  const length = response.headers.get('content-length');
  const headers = entryHeaders(response.headers.get('content-type') ?? 'application/octet-stream', versionHeader([response.headers]),
    length !== null && (response.headers.get('content-encoding') ?? 'identity') === 'identity' ? Number(length) : undefined);
  // A body that errors (a broken download) makes put() reject: nothing is stored.
  const stored = store.put(url, new Response(forCache, { headers })).catch(() => {});
  const copy = new Response(forCaller, { status: response.status, statusText: response.statusText, headers: response.headers });
  return { response: copy, fromCache: false, stored, discard: async () => { await stored; await discard(); } };
}

/**
 * Empties the weights cache (and in Node the converted Hub models in the user's cache folder).
 * Resolves to false when there was none.
 */
export async function clearWeightsCache(): Promise<boolean> {
  const storage = cacheStorage();
  if (storage) return storage.delete(WEIGHTS_CACHE_NAME);
  return (await nodePlatform()?.clearResponseStore?.(WEIGHTS_CACHE_NAME)) ?? false;
}
