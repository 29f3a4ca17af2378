// Errors of the CLI: what the user can fix (bad input file, wrong architecture, missing file) becomes
// a CliError, printed as one line without a stack (cli/main.ts); file-system checks made before any
// long work.

import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { WebGPUUnavailableError } from '../src/gpu/device.js';
import { ImageInputError } from '../src/image/decode.js';
import { NpyFormatError } from '../src/io/npy.js';
import { PlanError } from '../src/models/plan.js';
import { KernelChoiceError } from '../src/ops/conv2d.js';
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
};

export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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
    e instanceof WebGPUUnavailableError || e instanceof PlanError || e instanceof KernelChoiceError) {
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

/** Throws a CliError unless `path` is a readable regular file. */
export async function checkFile(path: string, what: string): Promise<void> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw fsError(e, `cannot read ${what} '${path}'`);
  }
  if (!s.isFile()) throw new CliError(`cannot read ${what} '${path}': ${s.isDirectory() ? 'is a directory' : 'not a regular file'}`);
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
