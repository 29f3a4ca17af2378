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
function versionOf(headers: Headers): string {
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

/** The cached response for `url` when it is still the server's version. */
async function cachedResponse(cache: Cache, url: string): Promise<Response | undefined> {
  const cached = await cache.match(url);
  if (!cached) return undefined;
  let head: Response;
  try {
    head = await fetch(url, { method: 'HEAD' });
  } catch {
    return cached; // offline: the cached copy is the best there is
  }
  if (!head.ok || sameVersion(cached.headers.get(VERSION_HEADER) ?? '', versionOf(head.headers))) return cached;
  return undefined;
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
    const hit = await cachedResponse(store, url);
    if (hit) return { response: hit, fromCache: true, stored: done, discard };
  }
  const response = await fetch(url);
  if (!store || !response.ok || !response.body || !isStorable(response)) return { response, fromCache: false, stored: done, discard: async () => {} };
  const [forCaller, forCache] = response.body.tee();
  const headers = new Headers({ 'content-type': response.headers.get('content-type') ?? 'application/octet-stream',
    [VERSION_HEADER]: versionOf(response.headers) });
  const length = response.headers.get('content-length');
  if (length !== null && (response.headers.get('content-encoding') ?? 'identity') === 'identity') headers.set('content-length', length);
  // A body that errors (a broken download) makes put() reject: nothing is stored.
  const stored = store.put(url, new Response(forCache, { headers })).catch(() => {});
  const copy = new Response(forCaller, { status: response.status, statusText: response.statusText, headers: response.headers });
  return { response: copy, fromCache: false, stored, discard: async () => { await stored; await discard(); } };
}

/** Empties the weights cache. Resolves to false when there was none (or no Cache API). */
export async function clearWeightsCache(): Promise<boolean> {
  const storage = cacheStorage();
  return storage ? storage.delete(WEIGHTS_CACHE_NAME) : false;
}
