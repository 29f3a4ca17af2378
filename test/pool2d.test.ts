// shaders/pool2d.wgsl vs src/reference/pool2d.ts (whose edge cases are pinned to PyTorch numbers).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { windowOutputSize } from '../src/ops/common.js';
import { packPreAct, Pool2d, type Pool2dDesc } from '../src/ops/pool2d.js';
import { pool2d as refPool, poolOutputSize } from '../src/reference/pool2d.js';

async function runCase(desc: Pool2dDesc, seed: number): Promise<void> {
  const ctx = await testContext();
  const [N, H, W, C] = desc.input;
  const op = await Pool2d.create(ctx, desc, 'pool');
  const random = rng(seed);
  const x = randomArray(N * H * W * C, random, -2, 2);
  const input = uploadTensor(ctx, 'x', x, desc.input);
  const output = createTensor(ctx, 'y', op.outputShape);
  const preAct = desc.preAct ? { scale: randomArray(C, random, -1.5, 1.5), shift: randomArray(C, random, -0.5, 0.5) } : undefined;
  const pre = preAct ? uploadTensor(ctx, 'pre', packPreAct(preAct.scale, preAct.shift), [2, C]) : undefined;
  submitDispatches(ctx, 'pool', [op.bind(input, output, pre)]);
  const g = op.geometry;
  const ref = refPool(x, desc.input, { mode: desc.mode, ...g, preAct });
  assertClose(await readTensor(ctx, output), ref.data, {
    shape: { actual: op.outputShape, expected: ref.shape }, atol: 1e-5, rtol: 1e-5,
    what: `${desc.mode} ${JSON.stringify(desc)}`,
  });
}

test('pool2d: output sizes match PyTorch in floor and ceil mode', () => {
  // [H, kernel, stride, pad, floor size, ceil size], from torch.nn.functional.max_pool2d.
  const torchSizes = [[8, 3, 2, 0, 3, 4], [7, 3, 2, 1, 4, 4], [6, 3, 2, 1, 3, 4], [13, 3, 2, 1, 7, 7],
    [15, 2, 2, 0, 7, 8], [5, 2, 2, 1, 3, 3], [112, 3, 2, 1, 56, 57]];
  for (const [H, k, s, p, floorSize, ceilSize] of torchSizes) {
    for (const f of [windowOutputSize, poolOutputSize]) {
      assert.equal(f(H, k, s, p, false), floorSize, `${f.name} floor ${[H, k, s, p]}`);
      assert.equal(f(H, k, s, p, true), ceilSize, `${f.name} ceil ${[H, k, s, p]}`);
    }
  }
});

test('pool2d: ceil-mode average divisors match PyTorch', async () => {
  const ctx = await testContext();
  // torch.nn.functional.avg_pool2d(arange(H*H).reshape(1,1,H,H), k, s, p, ceil_mode=True, count_include_pad)
  const cases: [number, number, number, number, boolean, number[]][] = [
    [5, 2, 2, 1, true, [0.0, 0.75, 1.75, 3.75, 9.0, 11.0, 8.75, 19.0, 21.0]],
    [5, 3, 2, 0, true, [6.0, 8.0, 16.0, 18.0]],
    [6, 3, 2, 0, true, [7.0, 9.0, 10.5, 19.0, 21.0, 22.5, 28.0, 30.0, 31.5]],
    [6, 3, 2, 1, true, [1.5555555820465088, 3.3333332538604736, 4.666666507720947, 2.6666667461395264, 8.333333015441895,
      14.0, 16.0, 8.5, 16.33333396911621, 26.0, 28.0, 14.5, 10.166666984558105, 16.0, 17.0, 8.75]],
    [6, 3, 2, 1, false, [3.5, 5.0, 7.0, 8.0, 12.5, 14.0, 16.0, 17.0, 24.5, 26.0, 28.0, 29.0, 30.5, 32.0, 34.0, 35.0]],
  ];
  for (const [H, k, s, p, countIncludePad, expected] of cases) {
    const x = Float32Array.from({ length: H * H }, (_, i) => i); // (1, H, H, 1)
    const what = `H${H} k${k} s${s} p${p} countIncludePad ${countIncludePad}`;
    const desc: Pool2dDesc = { mode: 'avg', input: [1, H, H, 1], kernel: k, stride: s, pad: p, ceilMode: true, countIncludePad };
    const ref = refPool(x, desc.input, { mode: 'avg', kernel: [k, k], stride: [s, s], pad: [p, p], ceilMode: true, countIncludePad });
    assertClose(ref.data, expected, { what: `reference ${what}` });
    const op = await Pool2d.create(ctx, desc, 'avg');
    const input = uploadTensor(ctx, 'x', x, desc.input);
    const output = createTensor(ctx, 'y', op.outputShape);
    submitDispatches(ctx, 'avg', [op.bind(input, output)]);
    assertClose(await readTensor(ctx, output), expected, { what: `gpu ${what}` });
  }
});

test('pool2d: max pool, floor and ceil mode, scalar and vec4 channels', async () => {
  let seed = 1;
  for (const [N, H, W, C] of [[1, 7, 7, 1], [3, 13, 15, 3], [1, 15, 13, 8], [3, 8, 6, 4], [1, 5, 5, 12]]) {
    for (const ceilMode of [false, true]) {
      await runCase({ mode: 'max', input: [N, H, W, C], kernel: 3, stride: 2, pad: 1, ceilMode }, seed++);
      await runCase({ mode: 'max', input: [N, H, W, C], kernel: 3, stride: 2, pad: 0, ceilMode }, seed++);
      await runCase({ mode: 'max', input: [N, H, W, C], kernel: [2, 3], stride: [2, 1], pad: [1, 0], ceilMode }, seed++);
    }
  }
});

test('pool2d: average pool, fixed window and global', async () => {
  let seed = 100;
  for (const [N, H, W, C] of [[1, 7, 7, 1], [3, 7, 7, 3], [1, 9, 9, 8], [3, 13, 15, 4], [2, 3, 5, 6], [1, 8, 6, 4], [3, 6, 8, 3]]) {
    await runCase({ mode: 'avg', input: [N, H, W, C], global: true }, seed++);
    await runCase({ mode: 'avg', input: [N, H, W, C], kernel: Math.min(H, W, 7), stride: 1 }, seed++); // Cadene AvgPool2d(7, 1)
    for (const ceilMode of [false, true]) {
      for (const countIncludePad of [true, false]) {
        await runCase({ mode: 'avg', input: [N, H, W, C], kernel: 3, stride: 2, pad: 1, ceilMode, countIncludePad }, seed++);
        await runCase({ mode: 'avg', input: [N, H, W, C], kernel: 3, stride: 2, pad: 0, ceilMode, countIncludePad }, seed++);
      }
    }
  }
  // The global pool at the classifier of a real network, batch 2.
  await runCase({ mode: 'avg', input: [2, 7, 7, 2048], global: true }, seed++);
});

test('pool2d: average pool after a BatchNorm + ReLU prologue (pre-activation ResNets), scalar and vec4 channels', async () => {
  let seed = 300;
  for (const [N, H, W, C] of [[1, 7, 7, 3], [2, 5, 6, 8], [2, 7, 7, 2048]]) {
    await runCase({ mode: 'avg', input: [N, H, W, C], global: true, preAct: true }, seed++);
    await runCase({ mode: 'avg', input: [N, H, W, C], kernel: 3, stride: 2, pad: 1, preAct: true }, seed++);
  }
  const ctx = await testContext();
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input: [1, 7, 7, 4], kernel: 3, preAct: true }, 'head.global_pool'),
    /head\.global_pool: the pre-activation prologue is for average pooling only/);
  const op = await Pool2d.create(ctx, { mode: 'avg', input: [1, 7, 7, 4], global: true, preAct: true }, 'head.global_pool');
  assert.throws(() => op.bind(createTensor(ctx, 'x', [1, 7, 7, 4]), createTensor(ctx, 'y', [1, 1, 1, 4])), /needs its \(2, C\) scale and shift/);
});

test('pool2d: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  const input = [1, 7, 7, 4];
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input }, 'p1'), /p1: kernel is required/);
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input, kernel: 3, pad: 2 }, 'p2'), /p2: pad \[2, 2\] must be at most half/);
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input: [1, 2, 2, 4], kernel: 3 }, 'p3'), /does not fit/);
  await assert.rejects(Pool2d.create(ctx, { mode: 'avg', input, global: true, kernel: 7 }, 'p4'), /global pool takes no kernel/);
  await assert.rejects(Pool2d.create(ctx, { mode: 'sum' as never, input, kernel: 2 }, 'p5'), /mode must be/);
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input: [1, 7, 7], kernel: 2 }, 'p6'), /not 4D/);
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input, kernel: 3, stride: 0 }, 'p7'), /strideH must be a positive integer/);
  const op = await Pool2d.create(ctx, { mode: 'max', input, kernel: 3, stride: 2, pad: 1 }, 'p8');
  assert.deepEqual(op.outputShape, [1, 4, 4, 4]);
  const x = createTensor(ctx, 'x', input);
  assert.throws(() => op.bind(x, createTensor(ctx, 'y', [1, 3, 3, 4])), /p8: output has shape \[1, 3, 3, 4\], expected \[1, 4, 4, 4\]/);
  assert.throws(() => op.bind(createTensor(ctx, 'x2', [1, 7, 7, 8]), createTensor(ctx, 'y', [1, 4, 4, 4])), /p8: input has shape/);
});
