// `classify`: top-k classes of JPEG / PNG files, printed as text or JSON.

import type { Classification } from '../src/classify.js';
import { toRgba } from '../src/image/decode.js';
import { DEFAULT_WEIGHTS } from '../src/models/default-model.js';
import { checkFile, userErrors } from './errors.js';
import { countBar } from './progress.js';
import { adapterLine, closeModel, openModel, readWeightsSummary, runnableConfig, weightsOf, type ModelCliOptions } from './weights.js';

/** Images per GPU run in `classify` (one set of GPU buffers per batch size, created on first use). */
const CLASSIFY_BATCH = 16;

export interface ClassifyCliOptions extends ModelCliOptions {
  top: number;
  json?: boolean;
}

interface ClassifyFileResult {
  file: string;
  top: Classification[];
}

/** `classify`: top-k classes of each image file (JPEG or PNG), printed as text or JSON. */
export async function classifyCommand(files: string[], opts: ClassifyCliOptions): Promise<void> {
  for (const f of files) await checkFile(f, 'image');
  // Decoding errors name the file (ImageInputError) and end the command with status 1. The first
  // batch is decoded before the model loads, so a bad image in it fails before any GPU work.
  const decode = (chunk: string[]) => {
    const p = userErrors(() => Promise.all(chunk.map((f) => toRgba(f))));
    p.catch(() => {}); // decoded ahead while the GPU works: awaited (and thrown) in turn, never unhandled
    return p;
  };
  let next = decode(files.slice(0, CLASSIFY_BATCH));
  await next;
  const weights = weightsOf(opts);
  runnableConfig(await readWeightsSummary(weights, opts.arch));
  const model = await openModel(opts);
  try {
    const where = `${model.info.arch} (${weights === DEFAULT_WEIGHTS ? 'the embedded Fashion-MNIST model' : weights}) on ${adapterLine(model)}`;
    if (!opts.json) process.stderr.write(`${where}\n`);
    const results: ClassifyFileResult[] = [];
    const bar = files.length > CLASSIFY_BATCH ? countBar('classifying', files.length) : undefined;
    try {
      for (let i = 0; i < files.length; i += CLASSIFY_BATCH) {
        const chunk = files.slice(i, i + CLASSIFY_BATCH);
        const images = await next;
        if (i + CLASSIFY_BATCH < files.length) next = decode(files.slice(i + CLASSIFY_BATCH, i + 2 * CLASSIFY_BATCH));
        const top = await userErrors(() => model.classify(images, { topK: opts.top }));
        chunk.forEach((file, j) => results.push({ file, top: top[j] }));
        if (!opts.json) {
          bar?.stop();
          process.stdout.write(chunk.map((file, j) => formatClassification(file, top[j])).join(''));
          bar?.start(files.length, i + chunk.length);
        } else {
          bar?.update(i + chunk.length);
        }
      }
    } finally {
      bar?.stop();
    }
    if (opts.json) {
      const out = { weights, arch: model.info.arch, adapter: adapterLine(model), results };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    }
  } finally {
    await closeModel(model);
  }
}

/** One file's top-k as text: the file, then one line per class with its probability. */
function formatClassification(file: string, top: readonly Classification[]): string {
  const width = Math.max(...top.map((c) => c.label.length));
  const lines = top.map((c) => `  ${(c.probability * 100).toFixed(2).padStart(6)}%  ${c.label.padEnd(width)}  (class ${c.index})`);
  return `${file}\n${lines.join('\n')}\n`;
}
