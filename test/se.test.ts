// shaders/se.wgsl (squeeze_excite, scale_residual_relu) vs src/reference/se.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { packSqueezeExciteWeights, ScaleResidualRelu, SqueezeExcite } from '../src/ops/se.js';
import { scaleResidualRelu, squeezeExcite } from '../src/reference/se.js';

test('squeeze-excite then scale-residual-relu: match the reference', async () => {
  const ctx = await testContext();
  const random = rng(21);
  // [N, H, W, K, hidden]: one channel per invocation and several (K > WG), hidden 1, odd sizes, batch 1 and 2.
  for (const [N, H, W, K, hidden] of [[1, 1, 1, 4, 1], [2, 3, 5, 16, 1], [2, 7, 7, 64, 4], [1, 4, 3, 520, 32], [2, 2, 2, 2048, 128]]) {
    const what = `se ${[N, H, W, K, hidden]}`;
    const x = randomArray(N * H * W * K, random, -2, 2);
    const res = randomArray(N * H * W * K, random, -1, 1);
    const w1 = randomArray(hidden * K, random, -0.5, 0.5);
    const b1 = randomArray(hidden, random, -0.5, 0.5);
    const w2 = randomArray(K * hidden, random, -1, 1);
    const b2 = randomArray(K, random, -1, 1);
    const se = await SqueezeExcite.create(ctx, { N, H, W, K, hidden }, 'se');
    const scale = await ScaleResidualRelu.create(ctx, { N, H, W, K }, 'scale');
    const xt = uploadTensor(ctx, 'x', x, [N, H, W, K]);
    const rt = uploadTensor(ctx, 'res', res, [N, H, W, K]);
    const wt = uploadTensor(ctx, 'w', packSqueezeExciteWeights(K, hidden, w1, b1, w2, b2), se.weightsShape);
    const st = createTensor(ctx, 's', se.outputShape);
    const yt = createTensor(ctx, 'y', scale.outputShape);
    submitDispatches(ctx, what, [se.bind(xt, wt, st), scale.bind(xt, st, rt, yt)]);
    const sRef = squeezeExcite(x, N, H * W, K, hidden, w1, b1, w2, b2);
    const s = await readTensor(ctx, st);
    assertClose(s, sRef, { atol: 1e-6, rtol: 1e-4, what: `${what} scales` });
    // The store is checked on the GPU's own scales, so it tests the elementwise kernel alone.
    assertClose(await readTensor(ctx, yt), scaleResidualRelu(x, s, res, N, H * W, K), { atol: 1e-6, rtol: 1e-5, what: `${what} output` });
  }
});

test('squeeze-excite: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  await assert.rejects(SqueezeExcite.create(ctx, { N: 1, H: 2, W: 2, K: 8, hidden: 0 }, 'se1'), /se1: hidden must be a positive integer/);
  await assert.rejects(SqueezeExcite.create(ctx, { N: 1, H: 2, W: 2, K: 8192, hidden: 512 }, 'se2'), /se2: .*workgroup memory/);
  await assert.rejects(ScaleResidualRelu.create(ctx, { N: 1, H: 2, W: 2, K: 6 }, 'sc1'), /sc1: K = 6 must be a multiple of 4/);
  const op = await ScaleResidualRelu.create(ctx, { N: 1, H: 2, W: 2, K: 8 }, 'sc2');
  const x = createTensor(ctx, 'x', [1, 2, 2, 8]);
  const s = createTensor(ctx, 's', [1, 8]);
  assert.throws(() => op.bind(x, s, x, x), /sc2: input and output overlap/);
  assert.throws(() => op.bind(x, createTensor(ctx, 's2', [1, 4]), x, createTensor(ctx, 'y', [1, 2, 2, 8])), /sc2: scales has shape \[1, 4\]/);
});
