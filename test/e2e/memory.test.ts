// GPU memory across inferences, and batching: after the first inference of a batch size nothing
// more is allocated; batch 2 gives the same logits as two batch-1 runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireDevice, loadModel } from '../../src/index.js';
import { assertClose, rng } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { readGolden, weightsPath } from './fixtures.js';

test('50 sequential inferences allocate nothing after the first (run and classify)', async () => {
  const ctx = await acquireDevice();
  const created: GPUBufferDescriptor[] = [];
  const original = ctx.device.createBuffer.bind(ctx.device);
  // An own property shadows the prototype's method: every buffer made on this device is counted.
  ctx.device.createBuffer = (d: GPUBufferDescriptor) => { created.push(d); return original(d); };
  const model = await loadModel({ weights: weightsPath('bottleneck'), device: ctx });
  try {
    const golden = readGolden('bottleneck');
    const one = golden.input.subarray(0, golden.input.length / 2);
    const first = await model.run(one);
    const afterFirst = { count: created.length, bytes: await model.gpuBytes() };
    assert.ok(afterFirst.count > 10, `only ${afterFirst.count} buffers counted: the wrapper missed the model's`);
    for (let i = 1; i < 50; i++) {
      const logits = await model.run(one);
      assert.deepEqual(logits, first, `inference ${i} gives other logits`);
    }
    assert.equal(created.length, afterFirst.count, `buffers created after the first run: ${created.slice(afterFirst.count).map((d) => d.label).join(', ')}`);
    assert.equal(await model.gpuBytes(), afterFirst.bytes);

    const r = rng(3);
    const img = { data: Uint8Array.from({ length: 50 * 40 * 4 }, () => Math.floor(256 * r())), width: 50, height: 40 };
    const top = await model.classify(img);
    const afterClassify = { count: created.length, bytes: await model.gpuBytes() };
    for (let i = 1; i < 50; i++) assert.deepEqual(await model.classify(img), top);
    assert.equal(created.length, afterClassify.count, `buffers created after the first classify: ${created.slice(afterClassify.count).map((d) => d.label).join(', ')}`);
    assert.equal(await model.gpuBytes(), afterClassify.bytes);
  } finally {
    model.dispose();
    ctx.device.destroy();
  }
});

test('batch 2 == two batch-1 runs', async () => {
  const model = await loadModel({ weights: weightsPath('cadene64'), device: await testContext() });
  try {
    const golden = readGolden('cadene64');
    const half = golden.input.length / 2;
    const both = await model.run(golden.input, { batch: 2 });
    const a = await model.run(golden.input.subarray(0, half), { batch: 1 });
    const b = await model.run(golden.input.subarray(half), { batch: 1 });
    const max = Math.max(...both.map(Math.abs));
    assertClose(both.subarray(0, golden.classes), a, { atol: 1e-6 * max, rtol: 0, what: 'image 0' });
    assertClose(both.subarray(golden.classes), b, { atol: 1e-6 * max, rtol: 0, what: 'image 1' });
  } finally {
    model.dispose();
  }
});
