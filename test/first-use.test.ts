// Warmup 'fast-first' (src/graph/runner.ts): the first inferences run on the first-use conv pipelines,
// the tuned instance is built in the background and swapped in between inferences with the same
// results, and dispose() during that build stops it cleanly. Forced by the option on the CPU-backed
// adapters (the tests' llvmpipe and SwiftShader); a hardware GPU has no first-use pipelines.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, type Classification, type RawImage } from '../src/index.js';
import { pipelineStats } from '../src/gpu/shaders.js';
import type { GpuContext } from '../src/gpu/device.js';
import { assertClose, rng } from './helpers/compare.js';
import { testContext } from './helpers/gpu.js';
import { weightsPath } from './e2e/fixtures.js';

let ctx: GpuContext;
before(async () => { ctx = await testContext(); });

function image(seed: number): RawImage {
  const r = rng(seed);
  const data = new Uint8Array(40 * 36 * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.floor(256 * r());
  return { data, width: 40, height: 36 };
}

function assertSame(actual: Classification[], expected: Classification[], what: string): void {
  assert.deepEqual(actual.map((c) => c.index), expected.map((c) => c.index), `${what}: classes`);
  assertClose(new Float32Array(actual.map((c) => c.probability)), new Float32Array(expected.map((c) => c.probability)),
    { rtol: 1e-5, atol: 1e-6, what: `${what}: probabilities` });
}

// First in the file: the tuned pipelines are not in the device's cache yet, so the build takes a while.
test('dispose() while the tuned pipelines compile stops the build; ready() rejects; the device stays usable', async () => {
  if (!ctx.cpuBacked) return; // no first-use pipelines on a hardware GPU
  const model = await loadModel({ weights: weightsPath('cadene64'), device: ctx, warmup: 'fast-first' });
  await model.classify(image(1));
  assert.equal(await model.debug.firstUseInstances(), 1);
  const stats = pipelineStats(ctx);
  const compiled = stats.compiled;
  while (stats.pending === 0 && stats.compiled === compiled) await new Promise((r) => setTimeout(r, 1));
  model.dispose();
  await assert.rejects(model.ready(), /disposed/);
  // Nothing of the stopped build lingers as an error on the device.
  ctx.device.pushErrorScope('validation');
  const other = await loadModel({ weights: weightsPath('cadene32'), device: ctx, warmup: 'tuned' });
  await other.classify(image(2));
  other.dispose();
  assert.equal(await ctx.device.popErrorScope(), null);
});

test('dispose() right after the first result: the tuned build never starts a compilation', async () => {
  if (!ctx.cpuBacked) return;
  const model = await loadModel({ weights: weightsPath('cadene32'), device: ctx, warmup: 'fast-first' });
  await model.classify(image(3));
  model.dispose();
  await assert.rejects(model.ready(), /disposed/);
});

test("'fast-first': classify() results before and after the tuned instance is swapped in equal 'tuned''s", async () => {
  if (!ctx.cpuBacked) return;
  const tuned = await loadModel({ weights: weightsPath('cadene32'), device: ctx, warmup: 'tuned' });
  const images = [0, 1, 2, 3, 4, 5].map((i) => image(10 + i));
  const expected = [];
  for (const img of images) expected.push(await tuned.classify(img));
  assert.equal(await tuned.debug.firstUseInstances(), 0);
  tuned.dispose();

  const model = await loadModel({ weights: weightsPath('cadene32'), device: ctx, warmup: 'fast-first' });
  assertSame(await model.classify(images[0]), expected[0], 'first (first-use kernels)');
  assert.equal(await model.debug.firstUseInstances(), 1);
  const bytes = await model.gpuBytes();
  // Inferences made while the tuned instance is built and swapped in.
  const ready = model.ready();
  for (let i = 1; i < images.length; i++) assertSame(await model.classify(images[i]), expected[i], `classify ${i}`);
  await ready;
  assert.equal(await model.debug.firstUseInstances(), 0, 'upgraded to the tuned instance');
  for (let i = 0; i < images.length; i++) assertSame(await model.classify(images[i]), expected[i], `tuned ${i}`);
  // The tuned instance took the first-use one's place: the same memory as before the swap.
  assert.equal(await model.gpuBytes(), bytes);
  model.dispose();
});

test("'tuned' and ready(): nothing to wait for", async () => {
  const model = await loadModel({ weights: weightsPath('cadene32'), device: ctx, warmup: 'tuned' });
  await model.classify(image(7));
  await model.ready();
  assert.equal(await model.debug.firstUseInstances(), 0);
  model.dispose();
});
