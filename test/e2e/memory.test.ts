// GPU memory across inferences, and batching: after the first inference of a batch size nothing
// more is allocated; dispose() (and the bench's step timer) destroy every GPU object made; batch 2
// gives the same logits as two batch-1 runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireDevice, loadModel } from '../../src/index.js';
import { timeSteps } from '../../bench/step-timer.js';
import { assertClose, rng } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { readGolden, weightsPath } from './fixtures.js';

test('50 sequential inferences allocate nothing after the first (run and classify)', async () => {
  const ctx = await acquireDevice();
  const created: GPUBufferDescriptor[] = [];
  const original = ctx.device.createBuffer.bind(ctx.device);
  // An own property shadows the prototype's method: every buffer made on this device is counted.
  ctx.device.createBuffer = (d: GPUBufferDescriptor) => { created.push(d); return original(d); };
  // The tuned kernels from the start: under 'fast-first' the tuned instances are built in the
  // background and swapped in at some inference in the middle (test/first-use.test.ts covers that).
  const model = await loadModel({ weights: weightsPath('bottleneck'), device: ctx, warmup: 'tuned' });
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

test('dispose() destroys every buffer, texture and query set the model created; so does the step timer', async () => {
  const ctx = await acquireDevice();
  const { device } = ctx;
  const made: { label: string; destroyed: boolean }[] = [];
  const live = () => made.filter((o) => !o.destroyed).map((o) => o.label);
  // Own properties shadow the prototype's methods: every object made on this device is recorded, and its destroy() too.
  const track = <D, T extends { label: string; destroy(): void }>(create: (d: D) => T) => (d: D) => {
    const obj = create(d);
    const entry = { label: obj.label, destroyed: false };
    made.push(entry);
    const destroy = obj.destroy.bind(obj);
    obj.destroy = () => { entry.destroyed = true; destroy(); };
    return obj;
  };
  device.createBuffer = track(device.createBuffer.bind(device));
  device.createTexture = track(device.createTexture.bind(device));
  device.createQuerySet = track(device.createQuerySet.bind(device));
  try {
    const model = await loadModel({ weights: weightsPath('bottleneck'), device: ctx, validate: true });
    const golden = readGolden('bottleneck');
    const one = golden.input.subarray(0, golden.input.length / 2);
    await model.run(one);
    await model.run(golden.input, { batch: 2 });
    assert.ok((await model.validate(one)).ok);
    const r = rng(5);
    const img = (width: number, height: number) => ({ data: Uint8Array.from({ length: width * height * 4 }, () => Math.floor(256 * r())), width, height });
    await model.classify(img(50, 40));
    await model.classify(img(40, 50)); // the same pixel buffer, a new preprocess dispatch
    await model.classify([img(90, 80), img(50, 40)]); // a larger pixel buffer
    if (ctx.hasTimestampQuery) await model.profile(one);
    // Under warmup 'fast-first' the tuned instances are built in the background: let them land, so
    // that what the step timer leaves is told apart from what the model still owns.
    await model.ready();

    const before = made.length;
    await timeSteps(ctx, model.info.config, 1, 1, (step) => model.debug.stepWeights(step));
    assert.ok(made.length - before > 10, `the step timer made only ${made.length - before} objects`);
    assert.deepEqual(made.slice(before).filter((o) => !o.destroyed).map((o) => o.label), [], 'left by the step timer');

    assert.ok(made.length > 20 && live().length > 20, `only ${made.length} objects recorded: the wrappers missed the model's`);
    model.dispose();
    // dispose() frees everything once the queued inferences are done: a few ticks here.
    for (let i = 0; i < 100 && live().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(live(), [], 'GPU objects left after dispose()');
  } finally {
    device.destroy();
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
