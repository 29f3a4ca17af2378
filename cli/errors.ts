// Errors of the CLI: what the user can fix (bad input file, wrong architecture, missing file) becomes
// a CliError, printed as one line without a stack (cli/main.ts); file-system checks made before any
// long work.

import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { GpuLimitError } from '../src/gpu/buffers.js';
import { WebGPUUnavailableError } from '../src/gpu/device.js';
import { GpuError } from '../src/gpu/errors.js';
import { NonFiniteInputError, NonFiniteOutputError } from '../src/finite.js';
import { ImageInputError } from '../src/image/decode.js';
import { NpyFormatError } from '../src/io/npy.js';
import { PlanError } from '../src/models/plan.js';
import { openRegularFile, readRegularFile } from '../src/node/platform.js';
import { KernelChoiceError } from '../src/ops/conv2d.js';
import { WeightsFormatError } from '../src/weights/safetensors.js';

/** An error whose message is the whole story (shown without a stack). */
export class CliError extends Error {
  override name = 'CliError';
}

/** What each file-system error code means to the user; any other code is shown with the system's message. */
const FS_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'the file name is too long',
  ELOOP: 'too many levels of symbolic links (a symlink loop?)',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EBUSY: 'the file is busy',
  ETXTBSY: 'the file is busy',
  EEXIST: 'the file already exists',
  EXDEV: 'cannot move across file systems',
  EFBIG: 'the file is too large',
  EINVAL: 'invalid argument',
  ENXIO: 'no such device or address',
  ENODEV: 'no such device',
  EAGAIN: 'resource temporarily unavailable',
  ENOTREG: 'not a regular file',
};

/** A system error (node:fs, node:net ...): a string `code` such as ENOENT and a `syscall`. */
function systemErrorCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

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

/** A system error as a CliError: `context` and what its code means (every code: unknown ones with the system's message). */
export function fsError(e: unknown, context: string): unknown {
  const code = systemErrorCode(e);
  if (!code) return e;
  return new CliError(`${context}: ${FS_MESSAGES[code] ?? `${(e as Error).message.split('\n')[0]}`} (${code})`);
}

/**
 * Errors that mean bad input, a limit of the device, a failing or missing GPU, or a system error, not
 * a bug: shown as one line.
 */
export function asUserError(e: unknown): unknown {
  if (e instanceof CliError) return e;
  if (e instanceof WeightsFormatError || e instanceof ImageInputError || e instanceof NpyFormatError ||
    e instanceof WebGPUUnavailableError || e instanceof PlanError || e instanceof GpuLimitError || e instanceof GpuError ||
    e instanceof NonFiniteInputError || e instanceof NonFiniteOutputError || e instanceof KernelChoiceError) {
    return new CliError(e.message);
  }
  const code = systemErrorCode(e);
  if (code) {
    const { path, syscall } = e as NodeJS.ErrnoException;
    return fsError(e, path ? `cannot ${syscall ?? 'use'} '${path}'` : `${syscall ?? 'system call'} failed`);
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
