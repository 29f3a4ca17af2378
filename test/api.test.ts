// The public API (src/index.ts) on the small PyTorch fixtures: classify() against the CPU path
// (preprocess reference -> run() -> softmax), image inputs (raw RGBA, PNG / JPEG path and bytes),
// batches, labels, info, profile, device loss, dispose and the typed errors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import {
  acquireDevice, DeviceLostError, expectedTensors, ImageInputError, loadModel, TimestampQueryUnsupportedError,
  type Classification, type Model, type RawImage,
} from '../src/index.js';
import { preprocess } from '../src/reference/preprocess.js';
import { nhwcToNchw } from '../src/reference/layout.js';
import { softmax } from '../src/reference/softmax.js';
import { assertClose, rng } from './helpers/compare.js';
import { testContext } from './helpers/gpu.js';
import { weightsPath } from './e2e/fixtures.js';
import { imageDecoder } from '../src/node/image.js';

let model: Model;
let tmp: string;

before(async () => {
  model = await loadModel({ weights: weightsPath('cadene32'), device: await testContext() });
  tmp = mkdtempSync(join(tmpdir(), 'api-test-'));
});
after(() => {
  model?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** A smooth random RGBA image (alpha 255), so that resizing has something to interpolate. */
function image(width: number, height: number, seed: number): RawImage {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 4);
  const f = [r(), r(), r(), r(), r(), r()].map((v) => 0.05 + 0.3 * v);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = 128 + 100 * Math.sin(f[0] * x + f[1] * y);
      data[i + 1] = 128 + 100 * Math.cos(f[2] * x - f[3] * y);
      data[i + 2] = Math.floor(256 * r());
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

/** The classification the CPU path gives: preprocess reference, GPU logits, softmax, sort. */
async function cpuPath(img: RawImage, k: number): Promise<{ index: number; probability: number }[]> {
  const cfg = model.info.config;
  const S = cfg.inputSize;
  const nhwc = preprocess(img.data, img.width, img.height, {
    resizeTo: Math.floor(S / 0.875), size: S, channels: 3,
    range: model.metadata.inputRange, mean: model.metadata.mean, std: model.metadata.std,
  });
  const logits = await model.run(nhwcToNchw(nhwc, [1, S, S, 3]));
  const p = softmax(logits, 1, cfg.numClasses);
  return [...p].map((probability, index) => ({ index, probability }))
    .sort((a, b) => b.probability - a.probability).slice(0, k);
}

function assertSameResults(a: Classification[], b: { index: number; probability: number }[], what: string): void {
  assert.deepEqual(a.map((r) => r.index), b.map((r) => r.index), `${what}: indices`);
  assertClose(a.map((r) => r.probability), b.map((r) => r.probability), { atol: 1e-5, rtol: 1e-4, what: `${what}: probabilities` });
}

test('classify(raw RGBA) == preprocess reference -> run() -> softmax, with the metadata labels', async () => {
  for (const [w, h, seed] of [[40, 30, 1], [24, 24, 2], [31, 57, 3]]) {
    const img = image(w, h, seed);
    const res = await model.classify(img, { topK: 5 });
    assert.equal(res.length, 5);
    assertSameResults(res, await cpuPath(img, 5), `${w}x${h}`);
    for (const r of res) assert.equal(r.label, `cadene32 class ${r.index}`);
    assert.ok(res[0].probability >= res[4].probability);
  }
});

test('classify([a, b]) is one batch and equals classify(a), classify(b)', async () => {
  const a = image(40, 30, 4);
  const b = image(26, 50, 5);
  const both = await model.classify([a, b], { topK: 3 });
  assert.equal(both.length, 2);
  assertSameResults(both[0], await model.classify(a, { topK: 3 }), 'a');
  assertSameResults(both[1], await model.classify(b, { topK: 3 }), 'b');
  // Same batch size, new image sizes: the slots are re-bound.
  const again = await model.classify([b, a], { topK: 3 });
  assertSameResults(again[0], both[1], 'b in slot 0');
});

async function sharpRgba(bytes: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const sharp = (await import('sharp')).default;
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

test('PNG and JPEG inputs: file path and bytes', async () => {
  const img = image(48, 36, 6);
  const png = PNG.sync.write(Object.assign(new PNG({ width: img.width, height: img.height }), { data: Buffer.from(img.data) }));
  const pngPath = join(tmp, 'x.png');
  writeFileSync(pngPath, png);
  const fromRaw = await model.classify(img);
  assertSameResults(await model.classify(pngPath), fromRaw, 'PNG path');
  assertSameResults(await model.classify(new Uint8Array(png)), fromRaw, 'PNG bytes');

  const jpg = jpeg.encode({ data: Buffer.from(img.data), width: img.width, height: img.height }, 90).data;
  // The JPEG decoded by the library the Node platform uses (sharp's libjpeg-turbo when installed, else jpeg-js).
  const decoded = await imageDecoder() === 'sharp'
    ? await sharpRgba(jpg)
    : jpeg.decode(jpg, { useTArray: true, formatAsRGBA: true });
  const jpgPath = join(tmp, 'x.jpg');
  writeFileSync(jpgPath, jpg);
  const fromDecoded = await model.classify({ data: decoded.data, width: decoded.width, height: decoded.height });
  assertSameResults(await model.classify(jpgPath), fromDecoded, 'JPEG path');
  assertSameResults(await model.classify(jpg), fromDecoded, 'JPEG bytes');
});

test('non-image inputs give ImageInputError', async () => {
  const bad: [unknown, RegExp][] = [
    [42, /not an image: got number/],
    [{ foo: 1 }, /not an image: got an object with keys \["foo"\]/],
    [null, /not an image: got null/],
    [join(tmp, 'missing.png'), /cannot read image file/],
    [new TextEncoder().encode('hello, not an image'), /not a PNG or JPEG/],
    [{ data: new Uint8Array(10), width: 2, height: 2 }, /10 bytes do not match 2x2 RGBA/],
    [{ data: new Uint8Array(0), width: 0, height: 0 }, /image size 0x0/],
    [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), /not a readable PNG/],
  ];
  for (const [input, message] of bad) {
    await assert.rejects(model.classify(input as RawImage), (e: Error) => e instanceof ImageInputError && message.test(e.message),
      `input ${String(input).slice(0, 30)}`);
  }
  await assert.rejects(model.classify([]), RangeError);
  await assert.rejects(model.classify(image(8, 8, 1), { topK: 0 }), /topK must be a positive integer/);
});

test('run() checks its input', async () => {
  await assert.rejects(model.run(new Float32Array(5)), /input has 5 values/);
  await assert.rejects(model.run(new Float32Array(2 * 3 * 24 * 24), { batch: 3 }), /needs 5184/);
  await assert.rejects(model.run([1, 2, 3] as unknown as Float32Array), /Float32Array/);
});

test('info: parameters, FLOPs, memory and adapter', () => {
  const { info } = model;
  const params = expectedTensors(info.config).filter((t) => !/running_(mean|var)$/.test(t.name))
    .reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(info.params, params);
  assert.equal(info.arch, 'cadene32');
  assert.equal(info.numClasses, 10);
  assert.ok(info.flops > 0);
  assert.ok(info.weightBytes >= 4 * params * 0.9, `weightBytes ${info.weightBytes}`);
  assert.ok(info.peakActivationBytes > 0 && info.peakActivationBytes < info.unsharedActivationBytes,
    `peak ${info.peakActivationBytes} vs unshared ${info.unsharedActivationBytes}`);
  assert.match(info.adapter, /adapter: /);
});

test('profile(): per-step GPU milliseconds, or a clear error without timestamp-query', async () => {
  const ctx = await testContext();
  // An adapter without the feature (the same device, marked so): a clear error, nothing run.
  const without = await loadModel({ weights: weightsPath('cadene32'), device: { ...ctx, hasTimestampQuery: false }, compile: false });
  await assert.rejects(without.profile(image(30, 30, 7)), (e: Error) =>
    e instanceof TimestampQueryUnsupportedError && /timestamp-query unsupported on this adapter/.test(e.message));
  without.dispose();
  if (!ctx.hasTimestampQuery) return;
  const p = await model.profile(image(30, 30, 7));
  assert.deepEqual(p.steps.slice(0, 3).map((s) => s.name), ['preprocess', 'conv1', 'maxpool']);
  assert.deepEqual(p.steps.slice(-3).map((s) => s.name), ['fc', 'softmax', 'topk']);
  assert.ok(p.steps.every((s) => s.ms >= 0 && Number.isFinite(s.ms)));
  assert.ok(p.totalMs > 0);
  assert.ok(p.steps.find((s) => s.name === 'layer2.0.conv2')!.flops > 0);
});

test('grey model (1 input channel): classify() converts RGBA to luminance', async () => {
  const grey = await loadModel({ weights: weightsPath('basic'), device: await testContext() });
  try {
    const img = image(20, 17, 8);
    const S = grey.info.inputSize;
    const nhwc = preprocess(img.data, img.width, img.height, { resizeTo: Math.floor(S / 0.875), size: S, channels: 1,
      range: grey.metadata.inputRange, mean: grey.metadata.mean, std: grey.metadata.std });
    const p = softmax(await grey.run(nhwc), 1, 10);
    const res = await grey.classify(img, { topK: 10 });
    assert.equal(grey.info.colorSpace, 'grey');
    assertSameResults(res, [...p].map((probability, index) => ({ index, probability })).sort((a, b) => b.probability - a.probability), 'grey');
  } finally {
    grey.dispose();
  }
});

test('a lost device makes the next inference fail clearly; dispose() makes later calls fail', async () => {
  const ctx = await acquireDevice();
  const m = await loadModel({ weights: weightsPath('cadene32'), device: ctx });
  const x = new Float32Array(3 * 24 * 24).fill(0.5);
  assert.equal((await m.run(x)).length, 10);
  ctx.device.destroy();
  await ctx.lost;
  await assert.rejects(m.run(x), (e: Error) => e instanceof DeviceLostError && /device was lost/.test(e.message));
  await assert.rejects(m.classify(image(10, 10, 1)), DeviceLostError);

  const m2 = await loadModel({ weights: weightsPath('cadene32'), device: await testContext() });
  m2.dispose();
  await assert.rejects(m2.run(x), /disposed/);
});

test('a bare GPUDevice works as the device', async () => {
  const ctx = await testContext();
  const m = await loadModel({ weights: weightsPath('cadene32'), device: ctx.device, compile: false });
  try {
    const x = new Float32Array(3 * 24 * 24).map((_, i) => Math.sin(i));
    // Close, not identical: either model may run on the first-use or the tuned kernels by now, and a
    // tuned layer on the direct path sums its taps in another order.
    assertClose(await m.run(x), await model.run(x), { rtol: 1e-5, atol: 1e-6, what: 'logits' });
    assert.equal(m.context.device, ctx.device);
    assert.equal(m.context.hasTimestampQuery, ctx.device.features.has('timestamp-query'));
  } finally {
    m.dispose();
  }
});

test("metadata 'resize_size' sets the resize before the centre crop", async () => {
  const { readFileSync } = await import('node:fs');
  const { parseSafetensors, toFloat32, writeSafetensors } = await import('../src/weights/safetensors.js');
  const bytes = new Uint8Array(readFileSync(weightsPath('cadene32')));
  const h = parseSafetensors(bytes);
  const tensors = [...h.tensors].map(([name, t]) => ({ name, shape: t.shape, data: toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)) }));
  const m = await loadModel({ weights: writeSafetensors(tensors, { ...h.metadata, resize_size: '24' }), device: await testContext() });
  try {
    const img = image(40, 30, 9);
    const nhwc = preprocess(img.data, img.width, img.height, { resizeTo: 24, size: 24, channels: 3,
      range: m.metadata.inputRange, mean: m.metadata.mean, std: m.metadata.std });
    const p = softmax(await m.run(nhwcToNchw(nhwc, [1, 24, 24, 3])), 1, 10);
    const expected = [...p].map((probability, index) => ({ index, probability })).sort((a, b) => b.probability - a.probability).slice(0, 5);
    const res = await m.classify(img);
    assertSameResults(res, expected, 'resize_size 24');
    // The default resize (27 for a 24 crop) sees another picture: the test can tell them apart.
    const other = await model.classify(img);
    assert.ok(other.some((r, i) => Math.abs(r.probability - res[i].probability) > 1e-3), 'resize_size made no difference');
  } finally {
    m.dispose();
  }
});

test('loadModel() with no weights loads the embedded model; its labels and samples are exported', async () => {
  const { DEFAULT_LABELS, DEFAULT_SAMPLES, DEFAULT_WEIGHTS_URL } = await import('../src/index.js');
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const listed = JSON.parse(readFileSync(fileURLToPath(new URL('samples.json', DEFAULT_WEIGHTS_URL.href.replace(/[^/]*$/, 'samples/'))), 'utf8')) as
    { file: string; label: number }[];
  assert.deepEqual(DEFAULT_SAMPLES.map((s) => ({ file: s.url.pathname.split('/').pop(), label: s.label })),
    listed.map((s) => ({ file: s.file, label: s.label })));
  const model = await loadModel({ device: await testContext() });
  try {
    assert.deepEqual(model.labels, DEFAULT_LABELS);
    const ankleBoot = DEFAULT_SAMPLES[0];
    const [top] = await model.classify(new Uint8Array(readFileSync(fileURLToPath(ankleBoot.url))));
    assert.equal(top.index, ankleBoot.label);
  } finally {
    model.dispose();
  }
});

test('the device is checked before the weights are fetched; isWebGPUAvailable reports the adapter', async () => {
  const { isWebGPUAvailable, WebGPUUnavailableError } = await import('../src/index.js');
  const requests: string[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (u: string | URL | Request) => { requests.push(String(u)); return new Response(null, { status: 404 }); }) as typeof fetch;
  try {
    await assert.rejects(loadModel({ weights: 'https://example.test/big.safetensors', adapter: 'no-such-adapter' as never }),
      WebGPUUnavailableError);
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(requests, [], 'the weights were fetched before the device was checked');
  const ctx = await testContext();
  const found = await isWebGPUAvailable({ adapter: ctx.source === 'llvmpipe' || ctx.source === 'swiftshader' ? ctx.source : 'default' });
  assert.equal(found.available, true, found.reason);
  assert.equal(found.cpuFallback, ctx.cpuBacked);
  assert.equal(typeof found.adapter, 'string');
});
