// The traffic / roofline model (src/ops/conv2d-traffic.ts) on small layers whose loads were counted by
// hand (the counts are in the comments); no GPU needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Conv2dDesc } from '../src/ops/conv2d-geometry.js';
import { conv2dTraffic, insideTaps, rooflineEstimate } from '../src/ops/conv2d-traffic.js';

const base: Conv2dDesc = { N: 1, H: 4, W: 4, C: 8, K: 8, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'none' };
const reg = (tq: number, jn: number, wgX: number) => ({ family: 'register' as const, tuning: { wgX, wgY: 1, tq, jn, direct: false, channelLanes: false } });

test('insideTaps counts the (output, tap) pairs that read the image, not the padding', () => {
  // 3 wide, 3 taps, pad 1, stride 1: the outputs at the edges see 2 taps, the middle one 3.
  assert.equal(insideTaps(3, 3, 3, 1, 1), 7);
  // 5 wide, stride 2, pad 1: outputs read rows {-1,0,1}, {1,2,3}, {3,4,5}: 2 + 3 + 2 inside.
  assert.equal(insideTaps(5, 3, 3, 2, 1), 7);
  // No padding: every pair is inside.
  assert.equal(insideTaps(4, 2, 3, 1, 0), 6);
  // 2D: a 3x3 output of a 3x3 pad-1 conv: corners 4 taps, edges 6, centre 9 = 49 = 7 x 7.
  assert.equal(insideTaps(3, 3, 3, 1, 1) ** 2, 4 * 4 + 4 * 6 + 9);
});

test('register block: activations re-read per column block, weights per pixel tile', () => {
  // 4x4 pixels, 8 -> 8 channels, 1x1; blocks of 4 pixels x 4 channels: 4 pixel tiles x 2 column blocks.
  const t = conv2dTraffic(base, reg(1, 1, 4));
  assert.equal(t.flops, 2 * 16 * 8 * 8);
  assert.equal(t.executedFlops, 2048);
  assert.equal(t.bytes.input, 4 * 2 * 16 * 8);           // each of 2 column blocks reads all 16 x 8 inputs
  assert.equal(t.bytes.weights, 4 * (8 * 8 * 4 + 8 * 4)); // 8 invocations x 8 rows x 4 columns + a bias vec4 each
  assert.equal(t.bytes.output, 4 * 128);
  assert.equal(t.bytes.residual, 0);
  assert.equal(t.bytes.partials, 0);
  assert.equal(t.bytes.total, 4 * (256 + 288 + 128));
  assert.equal(t.compulsoryBytes, 4 * (128 + 64 + 8 + 128));
  assert.equal(t.workgroups, 2);
  assert.equal(t.workgroupBytes, 0);
  assert.ok(Math.abs(t.intensity - 2048 / 2688) < 1e-12);
  // A 4 x 8 block: one column block, so the input is read once and the bias vec4s halve per column.
  const wide = conv2dTraffic(base, reg(1, 2, 4));
  assert.equal(wide.bytes.input, 4 * 16 * 8);
  assert.equal(wide.bytes.weights, 4 * (4 * 8 * 8 + 4 * 2 * 4));
});

test('register block: a group of 2 channels is padded to 4 (executed FLOPs double)', () => {
  const d: Conv2dDesc = { ...base, H: 2, W: 2, C: 4, K: 4, groups: 2 };
  const t = conv2dTraffic(d, reg(1, 1, 4));
  assert.equal(t.flops, 64);
  assert.equal(t.executedFlops, 128);
  assert.equal(t.bytes.input, 4 * 16);
  assert.equal(t.bytes.weights, 4 * (2 * 2 * 4 + 2 * 4));  // 2 groups x (2 rows x 4 padded columns + a bias vec4)
  assert.equal(t.compulsoryBytes, 4 * (16 + 24 + 16));
});

test('register block: the residual is read once, the prologue reads scale and shift per reduction row', () => {
  const d: Conv2dDesc = { ...base, H: 2, W: 2, epilogue: 'residual-relu', preAct: true };
  const t = conv2dTraffic(d, reg(1, 2, 4));
  assert.equal(t.bytes.input, 4 * 32);
  assert.equal(t.bytes.weights, 4 * (64 + 8 + 16));
  assert.equal(t.bytes.output, 4 * 32);
  assert.equal(t.bytes.residual, 4 * 32);
  assert.equal(t.compulsoryBytes, 4 * (32 + 64 + 8 + 16 + 32 + 32));
});

test('register block: padding taps are not loads (3x3, pad 1)', () => {
  const d: Conv2dDesc = { ...base, H: 3, W: 3, C: 4, K: 4, R: 3, S: 3, pad: 1 };
  // 9 pixels: 3 tiles of 4 (the last one partial), 1 column block; 49 in-image (pixel, tap) pairs x 4 channels.
  const t = conv2dTraffic(d, reg(1, 1, 4));
  assert.equal(t.bytes.input, 4 * 49 * 4);
  assert.equal(t.bytes.weights, 4 * (3 * 36 * 4 + 3 * 4));
  assert.equal(t.executedFlops, 2 * 12 * 4 * 36);
  assert.equal(t.workgroups, 1);
});

test('tiled GEMM: a tile covering the layer reads every tensor once', () => {
  const t = conv2dTraffic(base, { family: 'tiled', bm: 16, bn: 8, bk: 4 });
  assert.equal(t.bytes.total, t.compulsoryBytes);
  assert.equal(t.bytes.total, 4 * (128 + 72 + 128));
  assert.equal(t.executedFlops, 2048);
  assert.equal(t.workgroups, 1);
  assert.equal(t.workgroupBytes, (16 + 8) * 4 * 4);
  // 8-pixel tiles: the weights are read twice, the input once; 4-column tiles: the input twice.
  const t8 = conv2dTraffic(base, { family: 'tiled', bm: 8, bn: 4, bk: 4 });
  assert.equal(t8.bytes.input, 4 * 2 * 128);
  assert.equal(t8.bytes.weights, 4 * 2 * (64 + 8));
  assert.equal(t8.workgroups, 4);
  // K = 3 channels with bk 4: the reduction is padded to 4 rows.
  const odd = conv2dTraffic({ ...base, C: 3 }, { family: 'tiled', bm: 16, bn: 8, bk: 4 });
  assert.equal(odd.executedFlops, 2 * 16 * 8 * 4);
  assert.equal(odd.flops, 2 * 16 * 8 * 3);
});

test('split-K: partial sums written and read once per split, more workgroups', () => {
  const d: Conv2dDesc = { ...base, C: 64 };
  const t = conv2dTraffic(d, { family: 'split-k', bm: 16, bn: 8, bk: 8, splits: 4 });
  assert.equal(t.bytes.partials, 4 * 2 * 4 * 128);
  assert.equal(t.bytes.input, 4 * 16 * 64);
  assert.equal(t.bytes.weights, 4 * (64 * 8 + 8));
  assert.equal(t.bytes.total, 4 * (1024 + 520 + 128 + 1024));
  assert.equal(t.executedFlops, t.flops);
  assert.equal(t.workgroups, 4);
});

test('subgroup block: one lane per subgroup reads each weight row', () => {
  const t = conv2dTraffic(base, { family: 'subgroup', tq: 1, jn: 1, wg: 4, subgroupSize: 4 });
  assert.equal(t.bytes.input, 4 * 256);
  assert.equal(t.bytes.weights, 4 * (2 * 8 * 4 + 8 * 4));  // 2 subgroups x 8 rows x 4 columns, a bias vec4 per lane
  assert.equal(t.shuffles, 8 * 8);
  assert.equal(t.workgroups, 2);
  assert.throws(() => conv2dTraffic(base, { family: 'subgroup', tq: 1, jn: 1, wg: 6, subgroupSize: 4 }), /not a multiple of the subgroup size/);
  assert.throws(() => conv2dTraffic(base, reg(0, 1, 4)), /tq must be a positive integer/);
});

test('roofline: the larger of compute time (units without a workgroup idle) and memory time', () => {
  const t = conv2dTraffic(base, reg(1, 1, 4));   // 2048 executed FLOPs, 2688 bytes, 2 workgroups
  const e = rooflineEstimate(t, { name: 'toy', peakFlops: 1e9, bandwidth: 1e9, computeUnits: 4 });
  assert.ok(Math.abs(e.computeMs - 2048 / 0.5e9 * 1e3) < 1e-12);
  assert.ok(Math.abs(e.memoryMs - 2688 / 1e9 * 1e3) < 1e-12);
  assert.equal(e.bound, 'compute');
  assert.equal(e.ms, e.computeMs);
  const slow = rooflineEstimate(t, { name: 'toy', peakFlops: 1e12, bandwidth: 1e9, computeUnits: 2 });
  assert.equal(slow.bound, 'memory');
  assert.ok(Math.abs(slow.ms - 2688e-6) < 1e-12);
  assert.ok(Math.abs(slow.floorMs - 1312e-6) < 1e-12);
});
