// Loading a Hugging Face Hub model by id ('hf-hub:timm/resnet50.a1_in1k[@revision]'):
//
//   1. the converted copy from the cache (Cache API in browsers, the user's cache folder in Node),
//      when config.json's and model.safetensors' validators (a HEAD each) still match, or offline;
//   2. else config.json (small): parsed and its architecture built (src/models/timm.ts), so a bad id,
//      a missing file, a web page or an unsupported model fails before the weights download starts;
//   3. model.safetensors (the Hub redirects it to its file host; fetch follows): its header is read
//      and converted (./convert.ts) before the data, which then streams through unchanged; the
//      converted bytes go to the weights reader and, as they pass, into the cache.

import { cachedEntry, entryHeaders, openDerivedStore, versionHeader } from '../weights/cache.js';
import { MAX_HEADER_BYTES } from '../weights/safetensors.js';
import { fromResponse, isHtml, type ByteStream, type ProgressCallback } from '../weights/stream.js';
import { convertHubHeader, hubNetwork } from './convert.js';
import { HubError } from './errors.js';
import { hubEndpoint, hubFileUrl, parseHubId, HUB_PREFIX } from './id.js';
import { hubMetadata, parseTimmConfig } from './timm-config.js';

export interface HubOpenOptions {
  /** Read and store the converted copy in the cache (default true). */
  cache?: boolean;
  /** Default: $HF_ENDPOINT (Node), else https://huggingface.co. */
  hubEndpoint?: string;
  /** Phase 'convert' once the header is converted (tensors renamed); the download is the weights reader's. */
  onProgress?: ProgressCallback;
}

/** Revision of the converted layout: part of the cache key, so a runtime that converts otherwise stores anew. */
const CONVERTED_VERSION = '1';

/** Fetches one file of the repo; throws HubError for a network failure, an HTTP error or a web page. */
async function hubFetch(url: string, what: string, file: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new HubError(`${what}: could not fetch ${file} from ${url}: ${cause}`);
  }
  if (!r.ok) {
    await r.body?.cancel().catch(() => {});
    const why = r.status === 404 ? 'no such file: is the model id (and revision) right?'
      : r.status === 401 || r.status === 403 ? 'no such public model (or it needs a login): is the model id right?'
      : r.statusText;
    throw new HubError(`${what}: ${file}: HTTP ${r.status} ${why}`.trim());
  }
  if (isHtml(r)) {
    await r.body?.cancel().catch(() => {});
    throw new HubError(`${what}: ${file}: got an HTML page (HTTP ${r.status}) from ${url}, not the file: is the Hub endpoint right?`);
  }
  return r;
}

/** Reads from `stream` until `n` bytes are buffered; returns them and what came after them. */
async function readHead(stream: ByteStream, n: number, what: string): Promise<{ head: Uint8Array; rest: Uint8Array }> {
  const parts: Uint8Array[] = [];
  let have = 0;
  while (have < n) {
    const r = await stream.chunks.next();
    if (r.done) throw new HubError(`${what}: the file ends after ${have} bytes, inside its .safetensors header (truncated?)`);
    parts.push(r.value);
    have += r.value.byteLength;
  }
  const all = new Uint8Array(have);
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.byteLength; }
  return { head: all.subarray(0, n), rest: all.subarray(n) };
}

/** The converted .safetensors of Hub model `id` as a byte stream (see the top of this file). */
export async function openHubStream(id: string, options: HubOpenOptions = {}): Promise<ByteStream> {
  const ref = parseHubId(id);
  const endpoint = hubEndpoint(options.hubEndpoint);
  const what = `${HUB_PREFIX}${ref.repo}${ref.revision === 'main' ? '' : `@${ref.revision}`}`;
  const configUrl = hubFileUrl(endpoint, ref, 'config.json');
  const weightsUrl = hubFileUrl(endpoint, ref, 'model.safetensors');
  const key = `${weightsUrl}?webgpu-resnext-converted=${CONVERTED_VERSION}`;
  const store = options.cache ?? true ? await openDerivedStore() : undefined;
  if (store) {
    const hit = await cachedEntry(store, key, [configUrl, weightsUrl]).catch(() => undefined);
    if (hit) {
      const stream = await fromResponse(hit, what);
      return { ...stream, cached: { fromCache: true, stored: Promise.resolve(), discard: async () => { await store.delete(key); } } };
    }
  }

  const configResponse = await hubFetch(configUrl, what, 'config.json');
  const cfg = parseTimmConfig(await configResponse.text(), `${what}: config.json`);
  const network = hubNetwork(cfg, what);

  const weightsResponse = await hubFetch(weightsUrl, what, 'model.safetensors');
  const source = await fromResponse(weightsResponse, `${what}: model.safetensors`);
  let converted;
  let rest: Uint8Array;
  let sourceHeaderBytes: number;
  try {
    const first = await readHead(source, 8, what);
    const n = Number(new DataView(first.head.buffer, first.head.byteOffset, 8).getBigUint64(0, true));
    if (n < 2 || n > MAX_HEADER_BYTES || (source.size !== undefined && 8 + n > source.size)) {
      throw new HubError(`${what}: model.safetensors is not a .safetensors file (header length ${n} is out of bounds` +
        `${source.size !== undefined ? ` for a ${source.size}-byte file: truncated?` : ''})`);
    }
    sourceHeaderBytes = 8 + n;
    const header = await readHead({ ...source, chunks: prepend(first.rest, source.chunks) }, n, what);
    rest = header.rest;
    const dataBytes = source.size !== undefined ? source.size - sourceHeaderBytes : undefined;
    converted = convertHubHeader(header.head, dataBytes, network, hubMetadata(cfg, network, what), what);
  } catch (e) {
    await source.close();
    throw e;
  }
  const keep = converted.keep;
  const size = source.size !== undefined ? converted.head.byteLength + keep.reduce((n, r) => n + r.end - r.begin, 0) : undefined;
  // 'convert' is reported when the reader takes the first bytes, after its 'download' start.
  const tensors = converted.tensors;
  const chunks = prepend(converted.head, keepRanges(prepend(rest, source.chunks), keep),
    () => options.onProgress?.({ phase: 'convert', loaded: tensors, total: tensors }));
  if (!store) return { what, size, chunks, close: () => source.close() };

  // Store the converted bytes as they pass; an entry is complete only when the stream ended.
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start(c) { feed = c; } });
  const version = versionHeader([configResponse.headers, weightsResponse.headers]);
  const stored = store.put(key, new Response(body, { headers: entryHeaders('application/octet-stream', version, size) })).catch(() => {});
  let ended = false;
  return {
    what, size,
    chunks: {
      async next() {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await chunks.next();
        } catch (e) {
          ended = true;
          feed.error(e);
          throw e;
        }
        if (r.done) { if (!ended) { ended = true; feed.close(); } } else feed.enqueue(r.value);
        return r;
      },
    },
    async close() {
      if (!ended) { ended = true; feed.error(new Error('the download was stopped')); }
      await source.close();
    },
    cached: { fromCache: false, stored, discard: async () => { await stored; await store.delete(key); } },
  };
}

/** The bytes of `data` (a data section) inside `ranges` (sorted, disjoint), in order; the rest is skipped. */
function keepRanges(data: AsyncIterator<Uint8Array>, ranges: ReadonlyArray<{ begin: number; end: number }>): AsyncIterator<Uint8Array> {
  let at = 0; // offset of the next byte `data` yields
  let i = 0;
  return {
    async next() {
      for (;;) {
        if (i === ranges.length) return { done: true, value: undefined };
        const r = await data.next();
        if (r.done) return r;
        const chunk = r.value;
        const start = at;
        at += chunk.byteLength;
        const parts: Uint8Array[] = [];
        while (i < ranges.length && ranges[i].begin < at) {
          const lo = Math.max(ranges[i].begin, start) - start;
          const hi = Math.min(ranges[i].end, at) - start;
          if (hi > lo) parts.push(chunk.subarray(lo, hi));
          if (ranges[i].end > at) break;
          i++;
        }
        if (parts.length === 1) return { done: false, value: parts[0] };
        if (parts.length > 1) {
          const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
          let o = 0;
          for (const p of parts) { out.set(p, o); o += p.byteLength; }
          return { done: false, value: out };
        }
      }
    },
  };
}

/** An iterator that yields `first` (when not empty; `onFirst` called then) and then what `rest` yields. */
function prepend(first: Uint8Array, rest: AsyncIterator<Uint8Array>, onFirst?: () => void): AsyncIterator<Uint8Array> {
  let sent = first.byteLength === 0;
  return {
    async next() {
      if (!sent) { sent = true; onFirst?.(); return { done: false, value: first }; }
      return rest.next();
    },
  };
}
