#!/usr/bin/env node
// The package's command line: `webgpu-resnext <command> ...` (or `npm run cli -- <command> ...`).
//
// One function per command (`convertCommand`, ...), each registered in buildProgram(). Errors the
// user can fix (bad input file, wrong architecture, missing file, bad option) print one clear line
// and exit with status 1 — no stack trace; anything else is a bug and prints its stack. Usage errors
// found by the parser exit with status 2.
//
// Commands:
//   convert <in.pth|in.safetensors> <out.safetensors> [--arch A] [--config F] [--fp16] [--source S]
//       PyTorch checkpoint (zip, legacy, tar; Cadene or torchvision names) or .safetensors ->
//       this project's .safetensors, written atomically.

import { readFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import cliProgress from 'cli-progress';
import { convertCheckpoint, type ConvertProgress } from '../weights-tools/convert.js';
import { CheckpointError } from '../weights-tools/errors.js';
import { removeTempFiles, writeFileAtomic } from '../weights-tools/node-io.js';

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

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw fsError(e, `cannot read ${what} '${path}'`);
  }
}

function fsError(e: unknown, context: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code && code in FS_MESSAGES ? new CliError(`${context}: ${FS_MESSAGES[code]}`) : e;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A progress bar on stderr (drawn only on a terminal), fed with ConvertProgress events. */
function progressBar(): { update: (p: ConvertProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar({
    format: '{phase} |{bar}| {percentage}% {size}',
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  let phase: string | null = null;
  return {
    update(p) {
      const payload = { phase: p.phase === 'read' ? 'reading' : 'writing', size: `${mib(p.done)} / ${mib(p.total)}` };
      if (phase !== p.phase) {
        if (phase !== null) bar.stop();
        bar.start(Math.max(1, p.total), p.done, payload);
        phase = p.phase;
      } else {
        bar.update(p.done, payload);
      }
    },
    stop() {
      if (phase !== null) bar.stop();
    },
  };
}

export interface ConvertCliOptions {
  arch?: string;
  config?: string;
  fp16?: boolean;
  source?: string;
}

/** `convert`: reads a checkpoint, converts it, writes the .safetensors atomically, prints a summary. */
export async function convertCommand(input: string, output: string, opts: ConvertCliOptions): Promise<void> {
  if (opts.arch !== undefined && opts.config !== undefined) throw new CliError('give --arch or --config, not both');
  let config: unknown;
  if (opts.config !== undefined) {
    const text = new TextDecoder().decode(await readInput(opts.config, 'config file'));
    try {
      config = JSON.parse(text);
    } catch (e) {
      throw new CliError(`config file '${opts.config}' is not valid JSON: ${(e as Error).message}`);
    }
  }
  const bytes = await readInput(input, 'checkpoint');
  const bar = progressBar();
  let result;
  try {
    result = convertCheckpoint(bytes, { arch: opts.arch, config, fp16: opts.fp16, source: opts.source, onProgress: bar.update });
  } finally {
    bar.stop();
  }
  try {
    await writeFileAtomic(output, result.bytes);
  } catch (e) {
    throw fsError(e, `cannot write '${output}'`);
  }
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `converted ${basename(input)} (${result.container} checkpoint, ${result.layout} layout) -> ${output}`,
    `  arch        ${result.arch}${result.metadata.config ? ' (custom config)' : ''}`,
    `  source      ${result.metadata.source}`,
    `  tensors     ${n(result.tensors)}`,
    `  parameters  ${n(result.parameters)}`,
    `  dtype       ${result.dtype}`,
    `  bytes       ${n(result.bytes.byteLength)} (${mib(result.bytes.byteLength)})`,
    ...result.notes.map((s) => `  note: ${s}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('webgpu-resnext')
    .description('WebGPU ResNet / ResNeXt image classifiers: weight conversion and tools')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program
    .command('convert')
    .description('convert a PyTorch checkpoint (.pth: zip, legacy or tar; Cadene or torchvision names) or a ' +
      '.safetensors file to this project\'s .safetensors weights')
    .argument('<input>', 'checkpoint to read (.pth, .pt, .safetensors)')
    .argument('<output>', '.safetensors file to write (atomically)')
    .option('--arch <name>', 'force a named architecture (default: detected from the tensor names and shapes)')
    .option('--config <file>', 'JSON ResNetConfig (+ labels, mean, std, inputRange, colorSpace, source) for a custom model')
    .option('--fp16', 'store f16 instead of f32 (half the size)')
    .option('--source <text>', 'metadata "source" (default: e.g. cadene:resnext101_32x4d)')
    .action(async (input: string, output: string, opts: ConvertCliOptions) => convertCommand(input, output, opts));
  return program;
}

/** Runs the CLI; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander already printed its message; --help / --version exit 0, usage errors 2.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CheckpointError || e instanceof CliError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      removeTempFiles();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  main(process.argv).then((status) => { process.exitCode = status; });
}
