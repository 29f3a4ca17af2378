// The image entry's resize, side by side in one process: PyTorch-style bilinear (this project's own
// models) against Pillow's BILINEAR and BICUBIC (timm's evaluation transform, two dispatches), for one
// large photo-sized image. Medians of --runs (default 7) after one warm-up run.
// Run: node scripts/embed-shaders.mjs && node --import tsx --import ./src/node/install.ts bench/preprocess-resize.ts [--size 4000x3000] [--runs 7]

import { acquireDevice, describeDevice } from '../src/gpu/device.js';
import { createTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { Preprocess, RESAMPLES } from '../src/ops/preprocess.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const [w, h] = arg('--size', '4000x3000').split('x').map(Number);
const runs = Number(arg('--runs', '7'));
const ctx = await acquireDevice();
console.log(describeDevice(ctx).split('\n')[0]);
const pixels = new Uint8Array(w * h * 4).map((_, i) => (i * 7919) & 255);
for (const resample of RESAMPLES) {
  const op = await Preprocess.create(ctx, { size: 224, resizeTo: 256, channels: 3, batch: 1, mean: [0, 0, 0], std: [1, 1, 1], resample }, 'resize');
  const out = createTensor(ctx, 'out', op.outputShape);
  const d = op.bind(op.upload(pixels, w, h), out, 0);
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    submitDispatches(ctx, 'resize', [d]);
    await ctx.device.queue.onSubmittedWorkDone();
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`${resample.padEnd(16)} ${w}x${h} -> 256 -> 224: median ${times[Math.floor(times.length / 2)].toFixed(0)} ms ` +
    `(min ${times[0].toFixed(0)}, max ${times[times.length - 1].toFixed(0)}, ${runs} runs)`);
  d.destroy();
  op.dispose();
}
ctx.device.destroy();
process.exit(0);
