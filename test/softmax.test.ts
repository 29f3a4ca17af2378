// shaders/softmax.wgsl vs src/reference/softmax.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { Softmax } from '../src/ops/softmax.js';
import { softmax as refSoftmax } from '../src/reference/softmax.js';

test('softmax: matches the reference, including large logits (stability)', async () => {
  const ctx = await testContext();
  const random = rng(5);
  // [N, K, scale of the logits]
  for (const [N, K, scale] of [[1, 1, 1], [1, 7, 1], [3, 13, 5], [2, 64, 3], [3, 1000, 10], [2, 1001, 200]]) {
    const op = await Softmax.create(ctx, { input: [N, K] }, 'softmax');
    const x = randomArray(N * K, random, -scale, scale);
    if (scale === 200) x[3] = 1000; // exp(1000) overflows without subtracting the max
    const input = uploadTensor(ctx, 'x', x, [N, K]);
    const output = createTensor(ctx, 'y', op.outputShape);
    submitDispatches(ctx, 'softmax', [op.bind(input, output)]);
    const y = await readTensor(ctx, output);
    assertClose(y, refSoftmax(x, N, K), { atol: 1e-6, rtol: 1e-4, what: `softmax ${[N, K, scale]}` });
    for (let n = 0; n < N; n++) {
      const sum = y.subarray(n * K, (n + 1) * K).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `row ${n} sums to ${sum}`);
    }
  }
});

test('softmax: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  await assert.rejects(Softmax.create(ctx, { input: [2, 3, 4] }, 'sm1'), /sm1: input shape \[2, 3, 4\] is not 2D/);
  await assert.rejects(Softmax.create(ctx, { input: [2, 0] }, 'sm2'), /sm2: K must be a positive integer/);
  const op = await Softmax.create(ctx, { input: [2, 10] }, 'sm3');
  const x = createTensor(ctx, 'x', [2, 10]);
  assert.throws(() => op.bind(x, createTensor(ctx, 'y', [2, 11])), /sm3: output has shape \[2, 11\], expected \[2, 10\]/);
  assert.throws(() => op.bind(x, x), /overlap/);
});
