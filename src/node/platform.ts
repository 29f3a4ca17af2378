// The Node platform (src/platform.ts): Dawn's adapters, files through node:fs, PNG/JPEG through
// pure-JS decoders, the CPU count (LP_NUM_THREADS when set, as llvmpipe itself reads it) and the tuner's
// file store (tuning-store.ts).

import { open, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Platform } from '../platform.js';
import { adapterChoiceFromEnv, nodeAdapter } from './device.js';
import { decodeImage } from './image.js';
import { fileTuningStore } from './tuning-store.js';

export const NODE_PLATFORM: Platform = {
  defaultAdapter: adapterChoiceFromEnv,
  requestAdapter: nodeAdapter,
  async openFile(path) {
    const handle = await open(path, 'r');
    const { size } = await handle.stat();
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
  tuningStore: () => fileTuningStore(),
};
