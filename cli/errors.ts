// Errors of the CLI: what the user can fix (bad input file, wrong architecture, missing file) becomes
// a CliError, printed as one line without a stack (cli/main.ts); file-system checks made before any
// long work.

import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { WebGPUUnavailableError } from '../src/gpu/device.js';
import { ImageInputError } from '../src/image/decode.js';
import { NpyFormatError } from '../src/io/npy.js';
import { PlanError } from '../src/models/plan.js';
import { openRegularFile, readRegularFile } from '../src/node/platform.js';
import { WeightsFormatError } from '../src/weights/safetensors.js';

/** An error whose message is the whole story (shown without a stack). */
export class CliError extends Error {
  override name = 'CliError';
}

const FS_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  ENOTREG: 'not a regular file',
  EFBIG: 'the file is too large',
};

/** Largest small text input (a --config or --labels file). */
export const MAX_TEXT_INPUT_BYTES = 16 * 2 ** 20;

/** A regular file's content (never a device or FIFO: see readRegularFile), at most `maxBytes`. */
export async function readInput(path: string, what: string, maxBytes?: number): Promise<Uint8Array> {
  try {
    return await readRegularFile(path, maxBytes);
  } catch (e) {
    throw fsError(e, `cannot read ${what} '${path}'`);
  }
}

export function fsError(e: unknown, context: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code && code in FS_MESSAGES ? new CliError(`${context}: ${FS_MESSAGES[code]}`) : e;
}

/** Errors of the runtime that mean bad input or a missing driver, not a bug: shown as one line. */
export function asUserError(e: unknown): unknown {
  if (e instanceof WeightsFormatError || e instanceof ImageInputError || e instanceof NpyFormatError ||
    e instanceof WebGPUUnavailableError || e instanceof PlanError) {
    return new CliError(e.message);
  }
  return e;
}

export async function userErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw asUserError(e);
  }
}

/** Throws a CliError unless `path` is a readable regular file (opened without waiting on a FIFO). */
export async function checkFile(path: string, what: string): Promise<void> {
  try {
    await (await openRegularFile(path)).handle.close();
  } catch (e) {
    throw fsError(e, `cannot read ${what} '${path}'`);
  }
}

/** Fails before any long work when `path` cannot be written because its folder is missing. */
export async function checkOutputDir(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  let s;
  try {
    s = await stat(dir);
  } catch (e) {
    throw fsError(e, `cannot write '${path}'`);
  }
  if (!s.isDirectory()) throw new CliError(`cannot write '${path}': ${dir} is not a directory`);
}
