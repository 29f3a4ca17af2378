// The tuner's store in Node (src/tuning/store.ts): one JSON file per adapter in the `tuning` folder of
// the user's cache folder (cacheFolder, ./response-store.ts: $WEBGPU_RESNEXT_CACHE, else
// $XDG_CACHE_HOME/webgpu-resnext or ~/.cache/webgpu-resnext), written atomically
// (a temporary file renamed over the old one) so that a reader never sees half a file.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TuningStore } from '../platform.js';
import { cacheFolder } from './response-store.js';

/** The folder of the tuning files. */
export function tuningFolder(): string {
  return join(cacheFolder(), 'tuning');
}

/** Files named `<name>.json` in `folder` (default tuningFolder(), resolved at each call). */
export function fileTuningStore(folder?: string): TuningStore {
  const dir = () => folder ?? tuningFolder();
  return {
    async read(name) {
      try {
        return await readFile(join(dir(), `${name}.json`), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async write(name, text) {
      await mkdir(dir(), { recursive: true });
      const path = join(dir(), `${name}.json`);
      const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
    },
  };
}
