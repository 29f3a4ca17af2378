// The eca entry point of shaders/se.wgsl vs src/reference/eca.ts; timm's kernel-size rule from timm/layers/eca.py.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { Eca } from '../src/ops/se.js';
import { ecaKernelSize } from '../src/models/config.js';
import { eca } from '../src/reference/eca.js';

test("ECA kernel size: timm's EcaModule(channels) rule", () => {
  // t = int(abs(math.log(channels, 2) + 1) / 2); k = max(t if t % 2 else t + 1, 3), worked by hand.
  assert.deepEqual([16, 64, 256, 512, 1024, 2048, 4096].map(ecaKernelSize), [3, 3, 5, 5, 5, 7, 7]);
});

test('eca: matches the reference', async () => {
  const ctx = await testContext();
  const random = rng(23);
  // [N, H, W, K, kernel]: K below, at and above the workgroup size; kernels 3, 5, 7; a kernel wider than K.
  for (const [N, H, W, K, kernel] of [[1, 1, 1, 4, 3], [2, 3, 5, 16, 5], [2, 7, 7, 256, 5], [1, 4, 3, 520, 7], [2, 2, 2, 2048, 7], [1, 2, 2, 2, 5]]) {
    const what = `eca ${[N, H, W, K, kernel]}`;
    const x = randomArray(N * H * W * K, random, -2, 2);
    const w = randomArray(kernel, random, -1, 1);
    const op = await Eca.create(ctx, { N, H, W, K, kernel }, 'eca');
    const xt = uploadTensor(ctx, 'x', x, [N, H, W, K]);
    const wt = uploadTensor(ctx, 'w', w, op.weightsShape);
    const st = createTensor(ctx, 's', op.outputShape);
    submitDispatches(ctx, what, [op.bind(xt, wt, st)]);
    assertClose(await readTensor(ctx, st), eca(x, N, H * W, K, w), { atol: 1e-6, rtol: 1e-4, what });
  }
});

test('eca: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  await assert.rejects(Eca.create(ctx, { N: 1, H: 2, W: 2, K: 8, kernel: 4 }, 'e1'), /e1: the ECA kernel must be odd/);
  await assert.rejects(Eca.create(ctx, { N: 1, H: 2, W: 2, K: 0, kernel: 3 }, 'e2'), /e2: K must be a positive integer/);
  await assert.rejects(Eca.create(ctx, { N: 1, H: 2, W: 2, K: 65536, kernel: 3 }, 'e3'), /e3: .*workgroup memory/);
  const op = await Eca.create(ctx, { N: 1, H: 2, W: 2, K: 8, kernel: 3 }, 'e4');
  const x = createTensor(ctx, 'x', [1, 2, 2, 8]);
  assert.throws(() => op.bind(x, createTensor(ctx, 'w', [5]), createTensor(ctx, 's', [1, 8])), /e4: weights has shape \[5\]/);
});
