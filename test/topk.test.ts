// shaders/topk.wgsl vs src/reference/topk.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './helpers/gpu.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { createTensor, readTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { TopK, decodeTopK } from '../src/ops/topk.js';
import { topk as refTopk } from '../src/reference/topk.js';

async function check(x: Float32Array, N: number, K: number, k: number, what: string): Promise<void> {
  const ctx = await testContext();
  const op = await TopK.create(ctx, { input: [N, K], k }, 'topk');
  const input = uploadTensor(ctx, 'x', x, [N, K]);
  const output = createTensor(ctx, 'y', op.outputShape);
  submitDispatches(ctx, 'topk', [op.bind(input, output)]);
  const got = decodeTopK(await readTensor(ctx, output), N, k);
  const expected = refTopk(x, N, K, k);
  assertClose(got.flat().map((e) => e.index), expected.flat().map((e) => e.index), { atol: 0, rtol: 0, what: `${what} indices` });
  // assertClose treats inf - inf as a mismatch: compare infinities as signed finite markers.
  // NaN as a marker of its own.
  const v = (rows: { value: number }[][]) => rows.flat().map((e) =>
    (Number.isNaN(e.value) ? -3e38 : Number.isFinite(e.value) ? e.value : Math.sign(e.value) * 1e38));
  assertClose(v(got), v(expected), { atol: 0, rtol: 0, what: `${what} values` });
  // Whatever the values, each row's indices are k distinct class indices.
  for (const row of got) {
    assert.ok(row.every((e) => Number.isInteger(e.index) && e.index >= 0 && e.index < K), `${what}: an index outside [0, ${K})`);
    assert.equal(new Set(row.map((e) => e.index)).size, k, `${what}: repeated indices`);
  }
}

test('topk: matches the reference on random rows', async () => {
  const random = rng(9);
  // [N, K, k]
  for (const [N, K, k] of [[1, 1, 1], [1, 7, 3], [3, 13, 13], [2, 100, 5], [3, 1000, 32], [1, 1001, 1]]) {
    await check(randomArray(N * K, random, -5, 5), N, K, k, `${[N, K, k]}`);
  }
});

test('topk: ties go to the lower index; infinities and repeated values', async () => {
  const random = rng(4);
  const N = 3, K = 130;
  // Few distinct values, so most picks are ties.
  const x = Float32Array.from({ length: N * K }, () => Math.floor(random() * 4));
  x[5] = Infinity; x[K + 7] = -Infinity; x[2 * K + 129] = Infinity;
  for (let i = 2 * K; i < 2 * K + 40; i++) x[i] = -Infinity;
  await check(x, N, K, 32, 'ties');
  const minusInf = new Float32Array(70).fill(-Infinity);
  await check(minusInf, 1, 70, 10, 'all -inf');
});

test('topk: NaN sorts after every number; the indices stay valid class indices', async () => {
  const random = rng(11);
  const N = 4, K = 100;
  const x = randomArray(N * K, random, -5, 5);
  x[3] = NaN; x[50] = NaN; x[99] = Infinity;                        // row 0: two NaNs among numbers
  for (let i = K; i < 2 * K; i++) x[i] = NaN;                      // row 1: all NaN
  x[2 * K] = NaN; x[2 * K + 1] = -Infinity;                        // row 2: NaN before -inf in index order
  for (let i = 3 * K; i < 4 * K; i++) x[i] = i % 2 ? -0 : 0;       // row 3: -0 and +0, equal
  x[3 * K + 10] = NaN;
  await check(x, N, K, 32, 'NaN');
  const nanRow = new Float32Array(10).fill(NaN);
  await check(nanRow, 1, 10, 10, 'all NaN, k = K');
  const got = refTopk(Float32Array.from([1, NaN, 2]), 1, 3, 3)[0].map((e) => e.index);
  assert.deepEqual(got, [2, 0, 1], 'the reference puts NaN last');
});

test('topk: bad arguments throw before dispatch', async () => {
  const ctx = await testContext();
  await assert.rejects(TopK.create(ctx, { input: [2, 10], k: 11 }, 't1'), /t1: k = 11 exceeds the row length K = 10/);
  await assert.rejects(TopK.create(ctx, { input: [2, 100], k: 33 }, 't2'), /t2: k = 33 exceeds the supported maximum 32/);
  await assert.rejects(TopK.create(ctx, { input: [2, 100], k: 0 }, 't3'), /t3: k must be a positive integer/);
  await assert.rejects(TopK.create(ctx, { input: [100], k: 5 }, 't4'), /t4: input shape \[100\] is not 2D/);
  const op = await TopK.create(ctx, { input: [2, 10], k: 5 }, 't5');
  assert.throws(() => op.bind(createTensor(ctx, 'x', [2, 10]), createTensor(ctx, 'y', [2, 5])), /t5: output has shape \[2, 5\], expected \[2, 2, 5\]/);
  assert.throws(() => decodeTopK(new Float32Array(19), 2, 5), /decodeTopK: 76 bytes, expected/);
});
