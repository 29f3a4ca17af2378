// shaders/linear.wgsl vs src/reference/linear.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { Linear } from '../src/ops/linear.js';
import { linear as refLinear } from '../src/reference/linear.js';

test('linear: matches the reference (scalar and vec4 C, ragged N and K blocks)', async () => {
  const ctx = await testContext();
  const random = rng(7);
  // [N, C, K]
  for (const [N, C, K] of [[1, 1, 1], [1, 3, 5], [3, 13, 7], [2, 16, 10], [5, 64, 33], [3, 2048, 13], [1, 512, 1000]]) {
    const op = await Linear.create(ctx, { batch: N, inFeatures: C, outFeatures: K }, 'fc');
    const x = randomArray(N * C, random);
    const w = randomArray(K * C, random, -0.1, 0.1);
    const b = randomArray(K, random);
    const input = uploadTensor(ctx, 'x', x, N % 2 ? [N, 1, 1, C] : [N, C]);
    const weights = uploadTensor(ctx, 'w', op.packWeights(w, b), op.weightsShape);
    const output = createTensor(ctx, 'y', op.outputShape);
    const d = op.bind(input, weights, output);
    assert.equal(d.flops, 2 * N * K * C);
    submitDispatches(ctx, 'fc', [d]);
    assertClose(await readTensor(ctx, output), refLinear(x, w, b, N, C, K), { atol: 1e-5, rtol: 1e-4, what: `fc ${[N, C, K]}` });
  }
});

test('linear: without bias the packed bias is zero', async () => {
  const ctx = await testContext();
  const [N, C, K] = [2, 8, 6];
  const op = await Linear.create(ctx, { batch: N, inFeatures: C, outFeatures: K }, 'fc');
  const x = randomArray(N * C, rng(1));
  const w = randomArray(K * C, rng(2));
  const output = createTensor(ctx, 'y', op.outputShape);
  submitDispatches(ctx, 'fc', [op.bind(uploadTensor(ctx, 'x', x, [N, C]), uploadTensor(ctx, 'w', op.packWeights(w), op.weightsShape), output)]);
  assertClose(await readTensor(ctx, output), refLinear(x, w, undefined, N, C, K), { what: 'fc no bias' });
});

test('linear: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  await assert.rejects(Linear.create(ctx, { batch: 1, inFeatures: 0, outFeatures: 3 }, 'fc1'), /fc1: inFeatures must be a positive integer/);
  const op = await Linear.create(ctx, { batch: 2, inFeatures: 8, outFeatures: 3 }, 'fc2');
  assert.throws(() => op.packWeights(new Float32Array(23)), /fc2: weight has 23 values, expected K \* C = 3 \* 8/);
  assert.throws(() => op.packWeights(new Float32Array(24), new Float32Array(2)), /fc2: bias has 2 values/);
  const w = createTensor(ctx, 'w', op.weightsShape);
  assert.throws(() => op.bind(createTensor(ctx, 'x', [2, 7]), w, createTensor(ctx, 'y', [2, 3])), /fc2: input has shape \[2, 7\], expected \[2, 8\] or \[2, 1, 1, 8\]/);
  assert.throws(() => op.bind(createTensor(ctx, 'x', [2, 8]), createTensor(ctx, 'w', [24]), createTensor(ctx, 'y', [2, 3])), /fc2: weights has shape \[24\], expected \[27\]/);
  assert.throws(() => op.bind(createTensor(ctx, 'x', [2, 8]), w, createTensor(ctx, 'y', [3, 2])), /fc2: output has shape/);
});
