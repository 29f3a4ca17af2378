// GFLOP/s of shaders/conv2d.wgsl on representative ResNet / ResNeXt layers (a timing script, not a test).
// Usage: npx tsx bench/conv2d-speed.ts [layer-substring ...] [--tuning '{"tq":2,"jn":2,"wgX":32,"wgY":2}' ...] [--runs 5]
// Env: WEBGPU_ADAPTER=swiftshader|llvmpipe picks the adapter.

import { acquireDevice, describeDevice } from '../src/gpu/device.js';
import { Conv2d, type Conv2dDesc, type Conv2dTuning } from '../src/ops/conv2d.js';
import { createTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';

const LAYERS: Record<string, Conv2dDesc> = {
  // ResNet-50 layer3 bottleneck conv1/conv3 shape: 1x1, 14x14, 1024 -> 256.
  'resnet50.layer3.1x1': { N: 1, H: 14, W: 14, C: 1024, K: 256, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
  // ResNet-50 layer1.0.conv1 (64 -> 64) and layer1.1.conv1 (256 -> 64), 1x1 at 56x56: short reductions.
  'resnet50.layer1.0.conv1': { N: 1, H: 56, W: 56, C: 64, K: 64, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
  'resnet50.layer1.1.conv1': { N: 1, H: 56, W: 56, C: 256, K: 64, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
  // resnext101_32x4d layer3 conv2: width floor(256*4/64)*32 = 512, 32 groups of 16 channels.
  'resnext101_32x4d.layer3.conv2': { N: 1, H: 14, W: 14, C: 512, K: 512, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  // resnext101_32x4d layer1 conv2: width 128, 32 groups of 4 channels, 56x56.
  'resnext101_32x4d.layer1.conv2': { N: 1, H: 56, W: 56, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  // ResNet-50 layer1 3x3: 56x56, 64 -> 64.
  'resnet50.layer1.conv2': { N: 1, H: 56, W: 56, C: 64, K: 64, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' },
  // The RGB stem: 7x7 / 2, pad 3, 224x224, 3 -> 64.
  'stem.conv1': { N: 1, H: 224, W: 224, C: 3, K: 64, R: 7, S: 7, stride: 2, pad: 3, groups: 1, epilogue: 'relu' },
};

const args = process.argv.slice(2);
// Several --tuning values are timed in alternation on each layer, so that load from other processes
// hits them alike; the best (minimum) time of each is reported, with the median beside it.
const tunings: (Partial<Conv2dTuning> | undefined)[] = [];
let runs = 5;
const filters: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tuning') tunings.push(JSON.parse(args[++i]));
  else if (args[i] === '--runs') runs = Number(args[++i]);
  else filters.push(args[i]);
}
if (tunings.length === 0) tunings.push(undefined);

const ctx = await acquireDevice();
console.log(describeDevice(ctx).split('\n')[0]);
for (const [name, desc] of Object.entries(LAYERS)) {
  if (filters.length && !filters.some((f) => name.includes(f))) continue;
  const x = uploadTensor(ctx, `${name} input`, new Float32Array(desc.N * desc.H * desc.W * desc.C).fill(0.5), [desc.N, desc.H, desc.W, desc.C]);
  const variants = await Promise.all(tunings.map(async (tuning) => {
    const conv = await Conv2d.create(ctx, desc, name, tuning);
    const w = conv.uploadWeights(conv.packWeights(new Float32Array(desc.K * (desc.C / desc.groups) * desc.R * desc.S).fill(0.01)));
    const y = createTensor(ctx, `${name} output`, conv.outputShape);
    return { conv, w, y, dispatch: conv.bind(x, w, y), times: [] as number[] };
  }));
  for (let r = 0; r < runs + 1; r++) {
    for (const v of variants) {
      const t0 = performance.now();
      submitDispatches(ctx, name, [v.dispatch]);
      await ctx.device.queue.onSubmittedWorkDone();
      if (r > 0) v.times.push(performance.now() - t0); // the first run warms up
    }
  }
  for (const { conv, w, y, times } of variants) {
    times.sort((a, b) => a - b);
    const best = times[0];
    const median = times[Math.floor(times.length / 2)];
    console.log(`${name.padEnd(30)} ${(conv.flops / 1e6).toFixed(0).padStart(4)} MFLOP ${best.toFixed(1).padStart(7)} ms ` +
      `${(conv.flops / best / 1e6).toFixed(2).padStart(6)} GFLOP/s (median ${(conv.flops / median / 1e6).toFixed(2)})  ${JSON.stringify(conv.tuning)}`);
    w.destroy();
    y.buffer.destroy();
  }
  x.buffer.destroy();
}
