// Node-only file helpers for the weights tools (the converter core stays browser-safe).

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Temporary files being written right now, removed by removeTempFiles() on interruption. */
const pending = new Set<string>();

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory, flushed to disk, then
 * renamed over `path`. On any failure the temporary file is removed and `path` is untouched, so a
 * reader never sees half a file.
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const target = resolve(path);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  pending.add(tmp);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (e) {
    await fh?.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  } finally {
    pending.delete(tmp);
  }
}

/** Synchronously removes temporary files of unfinished writes (call from signal handlers). */
export function removeTempFiles(): void {
  for (const f of pending) {
    try { rmSync(f, { force: true }); } catch { /* best effort while exiting */ }
  }
  pending.clear();
}
