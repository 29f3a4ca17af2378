// GPU failures and non-finite values are typed errors, never a silent wrong answer (src/gpu/errors.ts,
// src/finite.ts): error scopes around allocations and submits, uncaptured errors recorded (and kept
// off stdout) and reported by the next call, device loss, a device's limits checked before an
// allocation, NaN / infinite weights at load and conversion and outputs after a run; dispose() lets the calls made
// before it finish. The model is the embedded Fashion-MNIST one (28x28 grey, 10 classes), or a copy of
// its weights with one value changed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkDevice, type GpuContext } from '../src/gpu/device.js';
import { nodePlatform } from '../src/platform.js';
import { GpuLimitError } from '../src/gpu/buffers.js';
import { DeviceLostError, GpuOutOfMemoryError, GpuValidationError, gpuScope } from '../src/gpu/errors.js';
import { NonFiniteInputError, NonFiniteOutputError } from '../src/finite.js';
import { loadModel } from '../src/classify.js';
import { convertCheckpoint } from '../src/convert/convert.js';
import { ConversionError } from '../src/convert/errors.js';
import { NonFiniteWeightsError } from '../src/weights/load.js';
import { WeightsFormatError } from '../src/weights/safetensors.js';
import { editedWeights } from './helpers/edited-weights.js';
import { testContext } from './helpers/gpu.js';
import { ROOT } from './cli/run.js';

const SAMPLE = 1 * 28 * 28;

/** A grey 28x28 RGBA image. */
function image(seed: number): { data: Uint8Array; width: number; height: number } {
  return { data: Uint8Array.from({ length: 28 * 28 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * seed) % 251)), width: 28, height: 28 };
}

test('a GPU error no scope caught stays off stdout and becomes a typed error on the next call', () => {
  // A child process, so that what Dawn would print on stdout can be seen.
  const code = `
    import { acquireDevice, checkDevice } from './src/gpu/device.ts';
    const ctx = await acquireDevice();
    ctx.device.createBuffer({ size: ctx.device.limits.maxBufferSize + 16, usage: 0x80, label: 'too big' });
    await ctx.device.queue.onSubmittedWorkDone();
    try { checkDevice(ctx, 'the probe'); console.error('no error'); } catch (e) { console.error('CAUGHT ' + e.name + ': ' + e.message); }
    checkDevice(ctx, 'the next call'); // reported once
    ctx.device.destroy();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './src/node/install.ts', '--input-type=module', '-e', code],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.match(r.stderr, /CAUGHT GpuValidationError: the probe: Buffer size \(\d+\) exceeds the max buffer size limit/);
});

test('gpuScope: a call the device refuses rejects with a typed error naming what was done; cleanup runs', async () => {
  const ctx = await testContext();
  let cleaned = false;
  await assert.rejects(gpuScope(ctx.device, 'making a huge buffer',
    () => ctx.device.createBuffer({ size: ctx.device.limits.maxBufferSize + 16, usage: 0x80 }), (b) => { cleaned = true; b.destroy(); }),
  (e: Error) => e instanceof GpuValidationError && /^making a huge buffer: Buffer size/.test(e.message));
  assert.ok(cleaned);
  assert.equal(await gpuScope(ctx.device, 'a small buffer', () => ctx.device.createBuffer({ size: 16, usage: 0x80 }).size), 16);
  checkDevice(ctx, 'after the scopes'); // the scopes caught it: nothing left over
});

/**
 * `ctx` whose device reports an out-of-memory error from the 'out-of-memory' scopes popped while
 * `inject.on` is set: a device that cannot allocate, without allocating gigabytes.
 */
function outOfMemoryContext(ctx: GpuContext): { ctx: GpuContext; inject: { on: boolean; count: number } } {
  const inject = { on: false, count: 0 };
  const filters: GPUErrorFilter[] = [];
  const device = new Proxy(ctx.device, {
    get(target, key) {
      if (key === 'pushErrorScope') return (filter: GPUErrorFilter) => { filters.push(filter); target.pushErrorScope(filter); };
      if (key === 'popErrorScope') {
        return async () => {
          const filter = filters.pop();
          const error = await target.popErrorScope();
          if (filter !== 'out-of-memory' || !inject.on) return error;
          inject.count++;
          return new (globalThis as unknown as { GPUOutOfMemoryError: new (m: string) => GPUError }).GPUOutOfMemoryError('Out of memory (injected)');
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { ctx: { ...ctx, device }, inject };
}

test('out of memory while an inference allocates or submits: a GpuOutOfMemoryError, not a result', async () => {
  const base = await testContext();
  const { ctx, inject } = outOfMemoryContext(base);
  const model = await loadModel({ device: ctx });
  try {
    assert.equal((await model.classify(image(3))).length, 5);
    inject.on = true;
    // A new batch size: its buffers are allocated now.
    await assert.rejects(model.classify([image(3), image(5)]), (e: Error) => e instanceof GpuOutOfMemoryError && /out of memory/.test(e.message));
    // An existing one: the input upload and the submit run in scopes too.
    await assert.rejects(model.run(new Float32Array(SAMPLE)), GpuOutOfMemoryError);
    assert.ok(inject.count >= 2);
    inject.on = false;
    assert.equal((await model.run(new Float32Array(SAMPLE))).length, 10, 'the model works again once memory is there');
  } finally {
    model.dispose();
  }
  // At load: the weights' upload.
  inject.on = true;
  await assert.rejects(loadModel({ device: ctx }), (e: Error) => e instanceof GpuOutOfMemoryError && /uploading the weights of/.test(e.message));
});

test('a 16384 x 16384 image is refused before any GPU work (64 megapixels at most); the model works on after it', async (t) => {
  const ctx = await testContext();
  // SwiftShader refuses a 1 GiB allocation (VK_ERROR_OUT_OF_DEVICE_MEMORY) although maxBufferSize
  // allows it, without committing the memory; other adapters may well allocate it.
  if (ctx.source !== 'swiftshader') {
    t.skip(`needs SwiftShader (this adapter is ${ctx.source})`);
    return;
  }
  const model = await loadModel({ device: ctx });
  try {
    // 1 GiB of zeros, never written by the test: the pages stay unmapped.
    const huge = { data: new Uint8Array(16384 * 16384 * 4), width: 16384, height: 16384 };
    await assert.rejects(model.classify(huge), (e: Error) => e.name === 'ImageInputError' && /more than 64 megapixels/.test(e.message));
    // The slot with the buffer that was never allocated is gone: the next image gets a new one.
    assert.equal((await model.classify(image(6))).length, 5);
  } finally {
    model.dispose();
  }
});

test('an image over the device\'s binding limit is reduced before upload and classifies', async () => {
  // A device with WebGPU's default limits (a 128 MiB storage binding), so that the image stays small.
  const platform = nodePlatform()!;
  const device = await (await platform.requestAdapter(platform.defaultAdapter())).adapter.requestDevice();
  const model = await loadModel({ device, compile: false });
  try {
    const side = Math.ceil(Math.sqrt(device.limits.maxStorageBufferBindingSize / 4)) + 1;
    const big = { data: new Uint8Array(side * side * 4), width: side, height: side };
    assert.equal((await model.classify(big)).length, 5, 'reduced to the model\'s resize size before upload');
    assert.equal((await model.classify(image(2))).length, 5, 'the model still works');
  } finally {
    model.dispose();
    device.destroy();
  }
});

test('a lost device: the call that hits it and the next ones reject with DeviceLostError; the next loadModel works', async () => {
  const m = await loadModel();
  const x = Float32Array.from({ length: SAMPLE }, (_, i) => Math.sin(i));
  const before = await m.run(x);
  const during = m.run(x);
  m.context.device.destroy();
  await assert.rejects(during, DeviceLostError);
  await assert.rejects(m.run(x), (e: Error) => e instanceof DeviceLostError && /device was lost/.test(e.message));
  await assert.rejects(m.classify(image(1)), DeviceLostError);
  m.dispose();
  const again = await loadModel();
  try {
    assert.deepEqual([...await again.run(x)], [...before], 'a new model on a new device gives the same logits');
  } finally {
    again.dispose();
  }
});

test('dispose(): calls made before it finish, later ones reject, gpuBytes() is 0', async () => {
  const m = await loadModel({ device: await testContext() });
  const x = Float32Array.from({ length: 2 * SAMPLE }, (_, i) => Math.cos(i));
  const expected = await m.run(x, { batch: 2 });
  assert.ok(await m.gpuBytes() > 0);
  const queued = [m.run(x, { batch: 2 }), m.classify(image(4)), m.embed(x, { batch: 2 })];
  m.dispose();
  const [logits, top, features] = await Promise.all(queued);
  assert.deepEqual([...logits], [...expected]);
  assert.equal(top.length, 5);
  assert.equal(features.length, 2 * m.info.embeddingDim);
  await assert.rejects(m.run(x, { batch: 2 }), /disposed/);
  assert.equal(await m.gpuBytes(), 0);
});

test('loadModel({ weights: a directory }) is a WeightsFormatError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-dir-'));
  try {
    await assert.rejects(loadModel({ weights: dir, device: await testContext() }),
      (e: Error) => e instanceof WeightsFormatError && /cannot open weights file .*: is a directory/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('non-finite weights are refused at load, naming the tensor', async () => {
  const ctx = await testContext();
  const nanBias = editedWeights('fc.bias', (v) => { v[3] = NaN; });
  await assert.rejects(loadModel({ weights: nanBias, device: ctx }),
    (e: Error) => e instanceof NonFiniteWeightsError && e.tensor === 'fc.bias' && /tensor fc\.bias holds NaN \(at flat index 3\)/.test(e.message));
  const infWeight = editedWeights('layer1.0.conv2.weight', (v) => { v[10] = -Infinity; });
  await assert.rejects(loadModel({ weights: infWeight, device: ctx }),
    (e: Error) => e instanceof NonFiniteWeightsError && e.tensor === 'layer1.0.conv2.weight');
  // Finite tensors whose BatchNorm folds to NaN: a negative running variance.
  const negVar = editedWeights('layer1.0.bn1.running_var', (v) => { v[0] = -1; });
  await assert.rejects(loadModel({ weights: negVar, device: ctx }),
    (e: Error) => e instanceof NonFiniteWeightsError && e.tensor === 'layer1.0.conv1' && /folding layer1\.0\.conv1's BatchNorm gives NaN/.test(e.message));
});

test('convert refuses NaN / infinite weights, naming the tensor, and f16 overflow', () => {
  const nan = editedWeights('layer2.0.bn2.bias', (v) => { v[1] = NaN; });
  assert.throws(() => convertCheckpoint(nan), (e: Error) => e instanceof ConversionError && /tensor layer2\.0\.bn2\.bias holds NaN \(at flat index 1\)/.test(e.message));
  const big = editedWeights('fc.weight', (v) => { v[0] = 1e5; });
  assert.equal(convertCheckpoint(big).dtype, 'F32', 'f32 holds it');
  assert.throws(() => convertCheckpoint(big, { fp16: true }), (e: Error) => e instanceof ConversionError && /1 values exceed the f16 range/.test(e.message));
});

test('non-finite inputs and outputs are errors: NaN input, values that overflow, logits that overflow', async () => {
  const ctx = await testContext();
  const m = await loadModel({ device: ctx });
  try {
    const x = new Float32Array(SAMPLE).fill(0.1);
    x[100] = NaN; // a ReLU could turn it into 0 on the GPU: refused before the run
    await assert.rejects(m.run(x), (e: Error) => e instanceof NonFiniteInputError && /the input holds NaN at image 0, value 100/.test(e.message));
    await assert.rejects(m.embed(x), NonFiniteInputError);
    // Finite, but too large for float32 arithmetic: the activations overflow.
    const huge = new Float32Array(SAMPLE).fill(3e38);
    await assert.rejects(m.run(huge), (e: Error) => e instanceof NonFiniteOutputError && /the logits: (NaN|-?Infinity) at image 0/.test(e.message));
    await assert.rejects(m.embed(huge), (e: Error) => e instanceof NonFiniteOutputError && /the embeddings/.test(e.message));
    assert.equal((await m.run(new Float32Array(SAMPLE).fill(0.1))).length, 10, 'a finite input still runs');
  } finally {
    m.dispose();
  }
  // Finite weights whose logits overflow: softmax gives NaN probabilities, and classify says so
  // (before, it returned null probabilities and class index 4294967295).
  const h = await loadModel({ weights: editedWeights('fc.weight', (v) => v.fill(3e38)), device: ctx });
  try {
    await assert.rejects(h.classify(image(7)), (e: Error) => e instanceof NonFiniteOutputError && /probabilities of image 0/.test(e.message));
  } finally {
    h.dispose();
  }
});
