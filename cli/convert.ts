// `convert`: a PyTorch checkpoint (zip, legacy, tar; Cadene or torchvision names) or .safetensors ->
// this project's .safetensors, written atomically.

import { basename } from 'node:path';
import { convertCheckpoint } from '../src/convert/convert.js';
import { writeFileAtomic } from '../weights-tools/node-io.js';
import { CliError, fsError, MAX_TEXT_INPUT_BYTES, readInput } from './errors.js';
import { convertProgressBar, mib } from './progress.js';

export interface ConvertCliOptions {
  arch?: string;
  config?: string;
  /** A text file of class names, one per line. */
  labels?: string;
  fp16?: boolean;
  source?: string;
}

/** `convert`: reads a checkpoint, converts it, writes the .safetensors atomically, prints a summary. */
export async function convertCommand(input: string, output: string, opts: ConvertCliOptions): Promise<void> {
  if (opts.arch !== undefined && opts.config !== undefined) throw new CliError('give --arch or --config, not both');
  let config: unknown;
  if (opts.config !== undefined) {
    const text = new TextDecoder().decode(await readInput(opts.config, 'config file', MAX_TEXT_INPUT_BYTES));
    try {
      config = JSON.parse(text);
    } catch (e) {
      throw new CliError(`config file '${opts.config}' is not valid JSON: ${(e as Error).message}`);
    }
  }
  let labels: string[] | undefined;
  if (opts.labels !== undefined) {
    labels = new TextDecoder().decode(await readInput(opts.labels, 'labels file', MAX_TEXT_INPUT_BYTES)).split(/\r?\n/).map((l) => l.trim());
    while (labels.length > 0 && labels[labels.length - 1] === '') labels.pop(); // the final newline
    if (labels.some((l) => l === '')) throw new CliError(`labels file '${opts.labels}' has an empty line: one class name per line`);
  }
  const bytes = await readInput(input, 'checkpoint');
  const bar = convertProgressBar();
  let result;
  try {
    result = convertCheckpoint(bytes, { arch: opts.arch, config, labels, fp16: opts.fp16, source: opts.source, onProgress: bar.update });
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
