// The Node platform (src/platform.ts): Dawn's adapters, files through node:fs, PNG/JPEG through
// pure-JS decoders, and the CPU count (LP_NUM_THREADS when set, as llvmpipe itself reads it).

import { open, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Platform } from '../platform.js';
import { adapterChoiceFromEnv, nodeAdapter } from './device.js';
import { decodeImage } from './image.js';

export const NODE_PLATFORM: Platform = {
  defaultAdapter: adapterChoiceFromEnv,
  requestAdapter: nodeAdapter,
  async openFile(path) {
    const handle = await open(path, 'r');
    const stats = await handle.stat();
    if (!stats.isFile()) {
      // open() succeeds on a directory (reads would fail with EISDIR) and on a FIFO or device (reads could block).
      await handle.close();
      throw Object.assign(new Error(stats.isDirectory() ? 'is a directory' : 'not a regular file'),
        { code: stats.isDirectory() ? 'EISDIR' : 'EINVAL', path, syscall: 'open' });
    }
    const { size } = stats;
    return {
      size,
      read: async (into, position) => (await handle.read(into, 0, into.byteLength, position)).bytesRead,
      close: () => handle.close(),
    };
  },
  fileURLToPath,
  readFile: async (path) => readFile(path),
  decodeImage,
  cpuThreads() {
    const env = Number(process.env.LP_NUM_THREADS);
    return env >= 1 ? env : availableParallelism();
  },
};
