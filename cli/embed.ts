// `embed`: the pooled features (global average pool output, fc's input) of image files or of a
// float32 NCHW .npy, written as a float32 (N, C) .npy: the input of a transfer head (trainHead) or
// of any Python tool.

import { formatShape } from '../src/io/npy.js';
import { toRgba } from '../src/image/decode.js';
import { checkFile, checkOutputDir, CliError, userErrors } from './errors.js';
import { LOGITS_BATCH, npyCommand, writeNpyOutput } from './logits.js';
import { countBar } from './progress.js';
import { closeModel, openModel, readWeightsSummary, runnableConfig, weightsOf, type ModelCliOptions } from './weights.js';

export interface EmbedCliOptions extends ModelCliOptions {
  input?: string;
  output: string;
  batch?: number;
}

/** `embed`: image files (JPEG / PNG, preprocessed as `classify` does) or --input x.npy (as `logits`) -> (N, C) .npy. */
export async function embedCommand(files: string[], opts: EmbedCliOptions): Promise<void> {
  if ((files.length > 0) === (opts.input !== undefined)) {
    throw new CliError('embed takes image files or --input x.npy (one of the two)');
  }
  if (opts.input !== undefined) {
    return npyCommand({ ...opts, input: opts.input }, { what: 'embeddings', width: (m) => m.info.embeddingDim, run: (m, x, batch) => m.embed(x, { batch }) });
  }
  for (const f of files) await checkFile(f, 'image');
  const config = runnableConfig(await readWeightsSummary(weightsOf(opts), opts.arch));
  await checkOutputDir(opts.output);
  const batch = opts.batch ?? LOGITS_BATCH;
  const model = await openModel(opts);
  const C = model.info.embeddingDim;
  const out = new Float32Array(files.length * C); // (N, C)
  try {
    const bar = files.length > batch ? countBar('images', files.length) : undefined;
    try {
      for (let n = 0; n < files.length; n += batch) {
        const chunk = files.slice(n, n + batch);
        const images = await userErrors(() => Promise.all(chunk.map((f) => toRgba(f))));
        out.set(await userErrors(() => model.embed(images)), n * C);
        bar?.update(n + chunk.length);
      }
    } finally {
      bar?.stop();
    }
  } finally {
    await closeModel(model);
  }
  await writeNpyOutput(opts.output, out, [files.length, C]);
  process.stdout.write(`wrote ${opts.output}: float32 ${formatShape([files.length, C])} embeddings of ${config.name} ` +
    `(${files.length} image${files.length === 1 ? '' : 's'})\n`);
}
