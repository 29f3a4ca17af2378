// shaders/preprocess.wgsl vs src/reference/preprocess.ts, and both vs torchvision goldens
// (test/fixtures/make_preprocess_golden.py).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { testContext } from './helpers/gpu.js';
import { assertClose, rng } from './helpers/compare.js';
import { createTensor, readTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { pillowCoefficients, Preprocess, preprocessGeometry, type PreprocessDesc } from '../src/ops/preprocess.js';
import { preprocess as refPreprocess } from '../src/reference/preprocess.js';

interface GoldenCase {
  name: string; image: 'rgba' | 'grey'; resizeTo: number; size: number; channels: 1 | 3;
  range: [number, number]; mean: number[]; std: number[]; output: number[];
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/preprocess_golden.json', import.meta.url), 'utf8')) as {
  width: number; height: number; rgba: number[]; cases: GoldenCase[];
};

function randomImage(w: number, h: number, seed: number): Uint8Array {
  const random = rng(seed);
  return Uint8Array.from({ length: w * h * 4 }, () => Math.floor(random() * 256));
}

test('preprocess: geometry follows torchvision (Resize int, CenterCrop round half to even)', () => {
  // 37x23: short side 23 -> 16, long int(16 * 37 / 23) = 25; left = round(5.5) = 6, top = round(1) = 1.
  const g = preprocessGeometry(37, 23, 16, 14);
  assert.deepEqual([g.resizedW, g.resizedH, g.left, g.top], [25, 16, 6, 1]);
  // 640x480 -> 298x224 (int(224 * 640 / 480) = 298); left = round(37) = 37, top = 0.
  const h = preprocessGeometry(480, 640, 224, 224);
  assert.deepEqual([h.resizedW, h.resizedH, h.left, h.top], [224, 298, 0, 37]);
  // round(0.5) = 0 and round(2.5) = 2 in Python.
  assert.equal(preprocessGeometry(15, 30, 15, 14).left, 0);
  assert.equal(preprocessGeometry(19, 40, 19, 14).left, 2);
});

test('preprocess: GPU and reference match torchvision goldens', async () => {
  const ctx = await testContext();
  const { width: w, height: h } = golden;
  for (const c of golden.cases) {
    const pixels = Uint8Array.from(golden.rgba);
    if (c.image === 'grey') for (let i = 0; i < pixels.length; i += 4) pixels[i + 1] = pixels[i + 2] = pixels[i];
    const params = { resizeTo: c.resizeTo, size: c.size, channels: c.channels, range: c.range, mean: c.mean, std: c.std };
    const tol = { atol: 1e-4 * Math.max(1, c.range[1] - c.range[0]), rtol: 1e-4 };
    assertClose(refPreprocess(pixels, w, h, params), c.output, { ...tol, what: `reference ${c.name}` });
    const op = await Preprocess.create(ctx, { ...params, batch: 1 }, 'preprocess');
    const output = createTensor(ctx, 'input', op.outputShape);
    submitDispatches(ctx, 'preprocess', [op.bind(op.upload(pixels, w, h), output, 0)]);
    assertClose(await readTensor(ctx, output), c.output, { ...tol, what: `gpu ${c.name}` });
    op.dispose();
  }
});

test('preprocess: random sizes and batch slots match the reference', async () => {
  const ctx = await testContext();
  const desc: PreprocessDesc = { size: 13, resizeTo: 15, channels: 3, batch: 3, range: [0, 1],
    mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const op = await Preprocess.create(ctx, desc, 'preprocess');
  const output = createTensor(ctx, 'input', op.outputShape);
  // [w, h]: landscape, portrait, square, exact size, much larger, upscaled.
  const images: [number, number][] = [[40, 21], [7, 15], [15, 15], [15, 31], [61, 47], [9, 11]];
  let seed = 1;
  for (let start = 0; start < images.length; start += 3) {
    const expected = new Float32Array(3 * 13 * 13 * 3);
    const dispatches = [];
    for (let n = 0; n < 3; n++) {
      const [w, h] = images[start + n];
      const pixels = randomImage(w, h, seed++);
      expected.set(refPreprocess(pixels, w, h, { ...desc, range: desc.range! }), n * 13 * 13 * 3);
      // One image buffer per slot here (upload() reuses one buffer, so a batch needs its own copies).
      const image = { buffer: ctx.device.createBuffer({ size: Math.ceil(w * h * 4 / 16) * 16, usage: 0x80 | 0x8 }), width: w, height: h };
      ctx.device.queue.writeBuffer(image.buffer, 0, pixels.buffer, pixels.byteOffset, pixels.byteLength);
      dispatches.push(op.bind(image, output, n));
    }
    submitDispatches(ctx, 'preprocess batch', dispatches);
    assertClose(await readTensor(ctx, output), expected, { atol: 2e-5, rtol: 1e-4, what: `batch of ${images.slice(start, start + 3).join(' ')}` });
  }
  const grey = await Preprocess.create(ctx, { ...desc, channels: 1, batch: 1, mean: [0.5], std: [0.25] }, 'grey');
  const out1 = createTensor(ctx, 'grey input', grey.outputShape);
  const pixels = randomImage(17, 29, 99);
  submitDispatches(ctx, 'grey', [grey.bind(grey.upload(pixels, 17, 29), out1)]);
  assertClose(await readTensor(ctx, out1), refPreprocess(pixels, 17, 29, { ...desc, channels: 1, range: [0, 1], mean: [0.5], std: [0.25] }),
    { atol: 2e-5, rtol: 1e-4, what: 'grey 17x29' });
});

test('preprocess: upload reuses its buffer while the image fits', async () => {
  const ctx = await testContext();
  const op = await Preprocess.create(ctx, { size: 4, resizeTo: 4, channels: 3, batch: 1, mean: [0, 0, 0], std: [1, 1, 1] }, 'pp');
  const a = op.upload(randomImage(8, 8, 1), 8, 8);
  const b = op.upload(randomImage(5, 6, 2), 5, 6);
  assert.equal(a.buffer, b.buffer);
  const c = op.upload(randomImage(9, 9, 3), 9, 9);
  assert.notEqual(c.buffer, a.buffer);
  op.dispose();
});

test('preprocess: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  const base: PreprocessDesc = { size: 14, resizeTo: 16, channels: 3, batch: 2, mean: [0, 0, 0], std: [1, 1, 1] };
  await assert.rejects(Preprocess.create(ctx, { ...base, resizeTo: 12 }, 'p1'), /p1: resizeTo 12 is smaller than the crop size 14/);
  await assert.rejects(Preprocess.create(ctx, { ...base, mean: [0] }, 'p2'), /p2: mean \[0\] and std \[1, 1, 1\] need 3 values/);
  await assert.rejects(Preprocess.create(ctx, { ...base, std: [1, 0, 1] }, 'p3'), /p3: std .* non-zero/);
  await assert.rejects(Preprocess.create(ctx, { ...base, channels: 4 as never }, 'p4'), /p4: channels must be 1 or 3/);
  const op = await Preprocess.create(ctx, base, 'p5');
  assert.throws(() => op.upload(new Uint8Array(10), 2, 2), /p5: 10 bytes are not a 2x2 RGBA image/);
  const image = op.upload(randomImage(20, 20, 1), 20, 20);
  const output = createTensor(ctx, 'out', op.outputShape);
  assert.throws(() => op.bind(image, output, 2), /p5: batchIndex 2 is outside the batch of 2/);
  assert.throws(() => op.bind(image, createTensor(ctx, 'o', [2, 14, 14, 1])), /p5: output has shape/);
  assert.throws(() => op.bind({ ...image, width: 100 }, output), /p5: image buffer .* needs 8000/);
  op.dispose();
});

interface PillowCase {
  name: string; image: string; size: number; cropPct: number; resizeTo: number; interpolation: 'bicubic' | 'bilinear';
  mean: number[]; std: number[]; output: number[];
}
const pillow = JSON.parse(readFileSync(new URL('./fixtures/pillow_resize_golden.json', import.meta.url), 'utf8')) as {
  images: Record<string, { width: number; height: number; rgba: number[] }>; cases: PillowCase[];
};

test('preprocess: Pillow BICUBIC / BILINEAR resize matches Pillow (timm\'s eval transform) byte for byte', async () => {
  const ctx = await testContext();
  for (const c of pillow.cases) {
    const { width: w, height: h, rgba } = pillow.images[c.image];
    const op = await Preprocess.create(ctx, { size: c.size, resizeTo: c.resizeTo, channels: 3, batch: 1, range: [0, 1],
      mean: c.mean, std: c.std, resample: c.interpolation === 'bicubic' ? 'pil-bicubic' : 'pil-bilinear' }, 'pillow');
    const output = createTensor(ctx, 'input', op.outputShape);
    const dispatch = op.bind(op.upload(Uint8Array.from(rgba), w, h), output, 0);
    submitDispatches(ctx, 'pillow', [dispatch]);
    // One byte step is 1 / 255 / std >= 0.017: the tolerance admits f32 rounding, not a byte off.
    assertClose(await readTensor(ctx, output), c.output, { atol: 2e-5, rtol: 1e-5, what: `${c.name} (${c.image} -> ${c.resizeTo} -> ${c.size})` });
    assert.equal(dispatch.buffers.length, 4, 'the dispatch owns its two uniform buffers, the coefficients and the intermediate rows');
    dispatch.destroy();
    op.dispose();
  }
});

test('preprocess: Pillow coefficients sum to 2^22 and follow the downscale factor', () => {
  // 61 -> 13 bicubic: support 2 * 61 / 13 = 9.38 -> 2 * 10 + 1 taps.
  const c = pillowCoefficients(61, 13, 'pil-bicubic');
  assert.equal(c.taps, 21);
  for (let i = 0; i < 13; i++) {
    const row = c.weights.subarray(i * c.taps, i * c.taps + c.used[i]);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 2 ** 22) <= c.used[i], `row ${i} sums to 2^22 within rounding`);
  }
  // Upscaling keeps the filter's own support: bilinear 2 * 1 + 1 taps.
  assert.equal(pillowCoefficients(9, 23, 'pil-bilinear').taps, 3);
});
