// The Node platform (src/platform.ts): Dawn's adapters, files through node:fs (regular files only:
// never a device, FIFO or directory), PNG/JPEG decoding (src/node/image.ts), the CPU count
// (LP_NUM_THREADS when set, as llvmpipe itself reads it), the environment, cached responses
// (converted Hub models) in the user's cache folder, and the tuner's file store (tuning-store.ts).

import { constants } from 'node:fs';
import { open, type FileHandle as NodeFileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Platform } from '../platform.js';
import { adapterChoiceFromEnv, nodeAdapter } from './device.js';
import { decodeImage, prepareImageDecoder } from './image.js';
import { clearNodeResponseStore, openNodeResponseStore } from './response-store.js';
import { fileTuningStore } from './tuning-store.js';

/** The error for a path that is not a regular file; `code` ENOTREG (EISDIR for a directory). */
function notRegular(path: string, isDirectory: boolean): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: ${isDirectory ? 'is a directory' : 'not a regular file'}`),
    { code: isDirectory ? 'EISDIR' : 'ENOTREG', path });
}

/**
 * Opens a regular file for reading, or rejects: a directory, device (/dev/zero), FIFO or socket is
 * refused before a byte is read. O_NONBLOCK keeps the open of a FIFO from waiting for a writer;
 * the type is checked on the open descriptor (fstat), so the file checked is the file read.
 */
export async function openRegularFile(path: string): Promise<{ handle: NodeFileHandle; size: number }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw notRegular(path, s.isDirectory());
    return { handle, size: s.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * A regular file's whole content (openRegularFile), at most `maxBytes` (else an error with code
 * EFBIG): exactly the size fstat gave, so a file that grows while being read is not followed.
 */
export async function readRegularFile(path: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  const { handle, size } = await openRegularFile(path);
  try {
    if (size > maxBytes) {
      throw Object.assign(new Error(`${path}: ${size} bytes is more than the ${maxBytes} accepted here`), { code: 'EFBIG', path });
    }
    const out = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(out, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === size ? out : out.subarray(0, done);
  } finally {
    await handle.close();
  }
}

export const NODE_PLATFORM: Platform = {
  defaultAdapter: adapterChoiceFromEnv,
  requestAdapter: nodeAdapter,
  async openFile(path) {
    const { handle, size } = await openRegularFile(path);
    return {
      size,
      read: async (into, position) => (await handle.read(into, 0, into.byteLength, position)).bytesRead,
      close: () => handle.close(),
    };
  },
  fileURLToPath,
  readFile: (path, maxBytes) => readRegularFile(path, maxBytes),
  decodeImage,
  prepareImageDecoder,
  cpuThreads() {
    const env = Number(process.env.LP_NUM_THREADS);
    return env >= 1 ? env : availableParallelism();
  },
  env: (name) => process.env[name],
  openResponseStore: openNodeResponseStore,
  clearResponseStore: clearNodeResponseStore,
  tuningStore: () => fileTuningStore(),
};
