// shaders/layout.wgsl vs src/reference/layout.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { Layout } from '../src/ops/layout.js';
import { nchwToNhwc, nhwcToNchw } from '../src/reference/layout.js';

const cases: [number, number, number, number][] = [
  // [N, C, H, W]
  [1, 1, 7, 7],
  [1, 3, 13, 15],
  [3, 8, 5, 7],
  [2, 5, 1, 9],
];

test('layout: NCHW -> NHWC and back matches the reference', async () => {
  const ctx = await testContext();
  const random = rng(11);
  for (const [N, C, H, W] of cases) {
    const x = randomArray(N * C * H * W, random);
    const toNhwc = await Layout.create(ctx, { direction: 'nchw-to-nhwc', input: [N, C, H, W] }, 'to_nhwc');
    assert.deepEqual(toNhwc.outputShape, [N, H, W, C]);
    const toNchw = await Layout.create(ctx, { direction: 'nhwc-to-nchw', input: [N, H, W, C] }, 'to_nchw');
    const a = uploadTensor(ctx, 'x', x, [N, C, H, W]);
    const b = createTensor(ctx, 'y', [N, H, W, C]);
    const c = createTensor(ctx, 'z', [N, C, H, W]);
    submitDispatches(ctx, 'layout', [toNhwc.bind(a, b), toNchw.bind(b, c)]);
    const expected = nchwToNhwc(x, [N, C, H, W]);
    assertClose(await readTensor(ctx, b), expected, { atol: 0, rtol: 0, what: `nhwc ${[N, C, H, W]}` });
    assertClose(await readTensor(ctx, c), nhwcToNchw(expected, [N, H, W, C]), { atol: 0, rtol: 0, what: `nchw ${[N, C, H, W]}` });
    assertClose(await readTensor(ctx, c), x, { atol: 0, rtol: 0, what: `round trip ${[N, C, H, W]}` });
  }
});

test('layout: a grid past 65535 workgroups spills into y', async () => {
  const ctx = await testContext();
  // 3 * 1500 * 1000 elements / 64 per workgroup = 70313 workgroups > 65535.
  const shape = [1, 3, 1500, 1000];
  const x = randomArray(3 * 1500 * 1000, rng(3));
  const op = await Layout.create(ctx, { direction: 'nchw-to-nhwc', input: shape }, 'big');
  const a = uploadTensor(ctx, 'x', x, shape);
  const b = createTensor(ctx, 'y', op.outputShape);
  submitDispatches(ctx, 'layout big', [op.bind(a, b)]);
  assertClose(await readTensor(ctx, b), nchwToNhwc(x, shape), { atol: 0, rtol: 0 });
});

test('layout: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  await assert.rejects(Layout.create(ctx, { direction: 'nchw-to-nhwc', input: [1, 3, 4] }, 'L'), /L: input shape \[1, 3, 4\] is not 4D/);
  await assert.rejects(Layout.create(ctx, { direction: 'nchw-to-nhwc', input: [1, 0, 4, 4] }, 'L'), /C must be a positive integer/);
  await assert.rejects(Layout.create(ctx, { direction: 'sideways' as never, input: [1, 3, 4, 4] }, 'L'), /direction/);
  const op = await Layout.create(ctx, { direction: 'nchw-to-nhwc', input: [1, 3, 4, 5] }, 'L');
  const a = createTensor(ctx, 'a', [1, 3, 4, 5]);
  assert.throws(() => op.bind(a, createTensor(ctx, 'b', [1, 3, 4, 5])), /L: output has shape \[1, 3, 4, 5\], expected \[1, 4, 5, 3\]/);
  assert.throws(() => op.bind({ buffer: a.buffer, shape: [1, 4, 5, 3] }, { buffer: a.buffer, shape: [1, 4, 5, 3] }), /input has shape/);
  assert.throws(() => op.bind(a, { buffer: a.buffer, shape: [1, 4, 5, 3] }), /overlap/);
});
