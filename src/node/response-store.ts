// The Node response store (src/platform.ts ResponseStore): cached responses as files in the user's
// cache folder, one pair per key: <sha256 of the key>.body (the bytes) and .json (the key, status and
// headers). A body is written to a temporary file and renamed into place once it arrived whole, and
// the .json is written last, so a reader never sees a partial entry.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { ResponseStore } from '../platform.js';

/** The cache folder: $WEBGPU_RESNEXT_CACHE, else $XDG_CACHE_HOME/webgpu-resnext, else ~/.cache/webgpu-resnext. */
export function cacheFolder(): string {
  if (process.env.WEBGPU_RESNEXT_CACHE) return process.env.WEBGPU_RESNEXT_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webgpu-resnext');
}

function storeFolder(name: string): string {
  return join(cacheFolder(), name.replace(/[^\w.-]/g, '_'));
}

interface EntryMeta {
  key: string;
  status: number;
  headers: [string, string][];
}

export async function openNodeResponseStore(name: string): Promise<ResponseStore | undefined> {
  const dir = storeFolder(name);
  try {
    await mkdir(dir, { recursive: true });
  } catch {
    return undefined; // a read-only home: no caching
  }
  const paths = (key: string) => {
    const base = join(dir, createHash('sha256').update(key).digest('hex'));
    return { body: `${base}.body`, meta: `${base}.json` };
  };
  return {
    async match(key) {
      const p = paths(key);
      let meta: EntryMeta;
      try {
        meta = JSON.parse(await readFile(p.meta, 'utf8')) as EntryMeta;
        if (meta.key !== key) return undefined;
        await stat(p.body);
      } catch {
        return undefined;
      }
      const body = Readable.toWeb(createReadStream(p.body)) as ReadableStream<Uint8Array>;
      return new Response(body, { status: meta.status, headers: meta.headers });
    },
    async put(key, response) {
      const p = paths(key);
      const tmp = `${p.body}.${process.pid}.${Date.now()}.tmp`;
      try {
        if (response.body) await response.body.pipeTo(Writable.toWeb(createWriteStream(tmp)));
        else await writeFile(tmp, new Uint8Array(0));
        await rm(p.meta, { force: true });
        await rename(tmp, p.body);
        const meta: EntryMeta = { key, status: response.status, headers: [...response.headers] };
        await writeFile(p.meta, JSON.stringify(meta));
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => {});
        throw e;
      }
    },
    async delete(key) {
      const p = paths(key);
      const had = await stat(p.meta).then(() => true, () => false);
      await rm(p.meta, { force: true });
      await rm(p.body, { force: true });
      return had;
    },
  };
}

export async function clearNodeResponseStore(name: string): Promise<boolean> {
  const dir = storeFolder(name);
  const had = await stat(dir).then(() => true, () => false);
  await rm(dir, { recursive: true, force: true });
  return had;
}
