// The weights cache (src/weights/cache.ts) through openSafetensors, with a fake Cache API and a fake
// fetch standing in for the browser's: a hit downloads nothing, a miss stores, a changed file is
// downloaded again, clearWeightsCache empties, { cache: false } bypasses. And the errors for bytes
// that are not a .safetensors file. No GPU needed.

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { clearWeightsCache, WEIGHTS_CACHE_NAME } from '../src/weights/cache.js';
import { openSafetensors, type LoadProgress } from '../src/weights/source.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

const URL_A = 'https://example.test/models/a.safetensors';

function tinyFile(value: number): Uint8Array {
  return writeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array([value, 2, 3, 4]) }], { format_version: '1' }, 'F32');
}

/** An in-memory CacheStorage with the calls the weights cache makes. */
class FakeCaches {
  readonly caches = new Map<string, Map<string, { body: ArrayBuffer; headers: Headers }>>();
  async open(name: string): Promise<Cache> {
    let entries = this.caches.get(name);
    if (!entries) this.caches.set(name, entries = new Map());
    const e = entries;
    return {
      async match(url: string) {
        const hit = e.get(url);
        return hit ? new Response(hit.body.slice(0), { headers: hit.headers }) : undefined;
      },
      async put(url: string, r: Response) { e.set(url, { body: await r.arrayBuffer(), headers: r.headers }); },
      async delete(url: string) { return e.delete(url); },
    } as unknown as Cache;
  }
  async delete(name: string): Promise<boolean> { return this.caches.delete(name); }
  entries(): number { return this.caches.get(WEIGHTS_CACHE_NAME)?.size ?? 0; }
}

/** A server of one file per URL, with an ETag; logs every request as 'METHOD url'. */
class FakeServer {
  readonly files = new Map<string, { bytes: Uint8Array; etag: string; type?: string }>();
  readonly log: string[] = [];
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    this.log.push(`${method} ${url}`);
    const f = this.files.get(url);
    if (!f) return new Response('<!DOCTYPE html><html>index</html>', { status: 200, headers: { 'content-type': 'text/html' } });
    const headers = { etag: f.etag, 'content-length': String(f.bytes.byteLength), 'content-type': f.type ?? 'application/octet-stream' };
    return new Response(method === 'HEAD' ? null : f.bytes.slice(), { headers });
  };
  gets(): number { return this.log.filter((l) => l.startsWith('GET')).length; }
}

const realFetch = globalThis.fetch;
let caches: FakeCaches;
let server: FakeServer;

beforeEach(() => {
  caches = new FakeCaches();
  server = new FakeServer();
  (globalThis as { caches?: unknown }).caches = caches;
  globalThis.fetch = server.fetch as typeof fetch;
});

afterEach(() => {
  delete (globalThis as { caches?: unknown }).caches;
  globalThis.fetch = realFetch;
});

async function read(url: string, options: { cache?: boolean } = {}): Promise<{ first: number; events: LoadProgress[] }> {
  const events: LoadProgress[] = [];
  const reader = await openSafetensors(url, (p) => events.push(p), options);
  const tensor = await reader.readData();
  return { first: tensor('w')[0], events };
}

test('a miss downloads and stores; a hit downloads nothing and still reports progress', async () => {
  server.files.set(URL_A, { bytes: tinyFile(1), etag: '"v1"' });
  const miss = await read(URL_A);
  assert.equal(miss.first, 1);
  assert.equal(server.gets(), 1);
  assert.equal(caches.entries(), 1);
  assert.ok(miss.events.every((e) => e.fromCache === false));

  const hit = await read(URL_A);
  assert.equal(hit.first, 1);
  assert.equal(server.gets(), 1, `a cache hit downloaded the file again: ${server.log.join(', ')}`);
  const size = tinyFile(1).byteLength;
  assert.ok(hit.events.length >= 2 && hit.events.every((e) => e.phase === 'download' && e.fromCache === true), JSON.stringify(hit.events));
  assert.deepEqual(hit.events.at(-1), { loaded: size, total: size, phase: 'download', fromCache: true });
});

test('a file changed on the server (new ETag) is downloaded again and replaces the entry', async () => {
  server.files.set(URL_A, { bytes: tinyFile(1), etag: '"v1"' });
  await read(URL_A);
  server.files.set(URL_A, { bytes: tinyFile(5), etag: '"v2"' });
  assert.equal((await read(URL_A)).first, 5);
  assert.equal(server.gets(), 2);
  assert.equal((await read(URL_A)).first, 5);
  assert.equal(server.gets(), 2, 'the new version was not cached');
});

test('offline (HEAD fails), a cached file is used as it is', async () => {
  server.files.set(URL_A, { bytes: tinyFile(1), etag: '"v1"' });
  await read(URL_A);
  globalThis.fetch = (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch;
  assert.equal((await read(URL_A)).first, 1);
});

test('{ cache: false } neither reads nor writes the cache; clearWeightsCache empties it', async () => {
  server.files.set(URL_A, { bytes: tinyFile(1), etag: '"v1"' });
  await read(URL_A, { cache: false });
  assert.equal(caches.entries(), 0);
  await read(URL_A);
  await read(URL_A, { cache: false });
  assert.equal(server.gets(), 3, 'cache: false took the cached copy');
  assert.equal(await clearWeightsCache(), true);
  assert.equal(caches.entries(), 0);
  await read(URL_A);
  assert.equal(server.gets(), 4);
});

test('an HTML page instead of the file: a clear error, and nothing cached', async () => {
  await assert.rejects(read('https://example.test/missing.safetensors'),
    /missing\.safetensors: got an HTML page \(HTTP 200\), not a \.safetensors file: is the path right\?/);
  // The same page without a content-type: recognised by its first bytes, and its entry dropped.
  server.files.set(URL_A, { bytes: new TextEncoder().encode('<!doctype html>\n<html><body>app</body></html>'), etag: '"x"', type: '' });
  await assert.rejects(read(URL_A), /got an HTML page, not a \.safetensors file: is the path right\?/);
  assert.equal(caches.entries(), 0);
});

test('bytes that are not a .safetensors file are named for what they are', async () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]), /zip archive, as a PyTorch checkpoint \(\.pth\) is: convert it with `webgpu-resnext convert/],
    [new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]), /Python pickle, as a legacy PyTorch checkpoint/],
    [new TextEncoder().encode('{"not": "safetensors"}'), /JSON text/],
    [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]), /header length .* out of bounds.*first bytes are ff ff ff ff ff ff ff 7f 01 02 03/],
  ];
  for (const [bytes, re] of cases) await assert.rejects(openSafetensors(bytes), re);
});

test('a model name given as weights: not a URL or path, and how to get weights', async () => {
  await assert.rejects(openSafetensors('resnet50'),
    /weights 'resnet50' is not a URL or a path to a file.*convert.*loadModel\(\) without weights/);
  assert.deepEqual(server.log, [], 'a model name was fetched');
});
