// `logits`: float32 NCHW .npy in, float32 (N, classes) logits .npy out, for interop with Python;
// npyCommand also serves `embed --input` (cli/embed.ts).

import type { Model } from '../src/classify.js';
import { formatShape, readNpyFloat32, writeNpyFloat32 } from '../src/io/npy.js';
import { writeFileAtomic } from '../weights-tools/node-io.js';
import { checkOutputDir, CliError, fsError, readInput, userErrors } from './errors.js';
import { countBar } from './progress.js';
import { closeModel, openModel, readWeightsSummary, runnableConfig, weightsOf, type ModelCliOptions } from './weights.js';

/** Default images per GPU run in `logits`. */
export const LOGITS_BATCH = 16;

export interface LogitsCliOptions extends ModelCliOptions {
  input: string;
  output: string;
  batch?: number;
}

/** `logits`: float32 NCHW .npy in, float32 (N, classes) logits .npy out (written atomically). */
export function logitsCommand(opts: LogitsCliOptions): Promise<void> {
  return npyCommand(opts, { what: 'logits', width: (m) => m.info.numClasses, run: (m, x, batch) => m.run(x, { batch }) });
}

/** What an NCHW .npy -> (N, width) .npy command computes: `width` floats per image, a batch at a time. */
export interface NpyComputation {
  /** Names the output in the summary line ('logits'). */
  what: string;
  width(model: Model): number;
  /** (batch, width) for a normalised (batch, C, H, W) input. */
  run(model: Model, x: Float32Array, batch: number): Promise<Float32Array>;
}

/**
 * Float32 NCHW .npy in (checked against the weights' architecture before any GPU work), `c.run` in
 * runs of opts.batch images, float32 (N, width) .npy out (written atomically).
 */
export async function npyCommand(opts: LogitsCliOptions, c: NpyComputation): Promise<void> {
  const bytes = await readInput(opts.input, 'input');
  const x = await userErrors(async () => readNpyFloat32(bytes, `input '${opts.input}'`));
  const config = runnableConfig(await readWeightsSummary(weightsOf(opts), opts.arch));
  const { inputChannels: C, inputSize: S } = config;
  const [N, ...chw] = x.shape;
  if (x.shape.length !== 4 || chw[0] !== C || chw[1] !== S || chw[2] !== S || N < 1) {
    throw new CliError(`input '${opts.input}' has shape ${formatShape(x.shape)}; ${config.name} needs float32 ` +
      `${formatShape(['N', C, S, S])} (N images, ${C} channel${C === 1 ? '' : 's'}, ${S} x ${S}, normalised, NCHW) with N >= 1`);
  }
  const batch = Math.min(opts.batch ?? LOGITS_BATCH, N);
  await checkOutputDir(opts.output);
  const model = await openModel(opts);
  const K = c.width(model);
  const out = new Float32Array(N * K); // (N, K)
  const sample = C * S * S;
  try {
    const bar = N > batch ? countBar('images', N) : undefined;
    try {
      // Every run has the same batch size (the last one padded with zeros), so one set of GPU
      // buffers and pipelines serves them all.
      const chunk = new Float32Array(batch * sample); // (batch, C, H, W)
      for (let n = 0; n < N; n += batch) {
        const m = Math.min(batch, N - n);
        chunk.set(x.data.subarray(n * sample, (n + m) * sample));
        if (m < batch) chunk.fill(0, m * sample);
        const y = await c.run(model, chunk, batch);
        out.set(y.subarray(0, m * K), n * K);
        bar?.update(n + m);
      }
    } finally {
      bar?.stop();
    }
  } finally {
    await closeModel(model);
  }
  await writeNpyOutput(opts.output, out, [N, K]);
  const runs = Math.ceil(N / batch);
  process.stdout.write(`wrote ${opts.output}: float32 ${formatShape([N, K])} ${c.what} of ${config.name} ` +
    `(${N} image${N === 1 ? '' : 's'} in ${runs} run${runs === 1 ? '' : 's'} of batch ${batch})\n`);
}

/** Writes float32 `data` of `shape` as a .npy at `path`, atomically. */
export async function writeNpyOutput(path: string, data: Float32Array, shape: number[]): Promise<void> {
  try {
    await writeFileAtomic(path, writeNpyFloat32(data, shape));
  } catch (e) {
    throw fsError(e, `cannot write '${path}'`);
  }
}
