// conv2d.wgsl vs the plain-loop CPU reference, on small random shapes covering groups (1, 2, 32, 64,
// depthwise), kernels 1/3/7, strides 1/2, paddings 0/1/3, odd sizes, C = 1 and 3, K % 4 != 0,
// batches 1 and 3, every epilogue, the pre-activation prologue, register blocks up to 32 pixels or 64 channels, the direct path,
// SIMD lanes along pixels or channels, weights over one or several texture rows; BN folding; bad
// arguments rejected before dispatch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conv2d, type Conv2dDesc, type RegisterTuning } from '../src/ops/conv2d.js';
import { Conv2dWeights, conv2dWeightLayout, packConv2dWeights } from '../src/ops/conv2d-weights.js';
import { foldBatchNorm } from '../src/weights/fold.js';
import { conv2dRef } from '../src/reference/conv2d.js';
import { createTensor, GpuLimitError } from '../src/gpu/buffers.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { assertConvMatchesReference, convCaseName, convTolerance, dense, randomConvProblem, runConv2d, type ConvCase } from './helpers/conv.js';
import { testContext } from './helpers/gpu.js';

type Case = ConvCase<Partial<RegisterTuning>>;

const CASES: Case[] = [
  { ...dense, N: 1, H: 7, W: 7, C: 8, K: 16, R: 3, S: 3, stride: 1, pad: 1 },
  { ...dense, N: 3, H: 13, W: 13, C: 16, K: 32, R: 3, S: 3, stride: 2, pad: 1, epilogue: 'relu' },
  // RGB stem: 7x7 / 2, pad 3, C = 3 (scalar input path).
  { ...dense, N: 1, H: 15, W: 15, C: 3, K: 64, R: 7, S: 7, stride: 2, pad: 3, epilogue: 'relu' },
  // Grey input (Fashion-MNIST): C = 1.
  { ...dense, N: 3, H: 13, W: 13, C: 1, K: 8, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu' },
  // 1x1 stride 1 pad 0: the plain GEMM path, with the fused residual.
  { ...dense, N: 3, H: 7, W: 7, C: 64, K: 32, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu' },
  // 1x1 stride 2 (a downsample shortcut) goes through the implicit-GEMM path.
  { ...dense, N: 1, H: 13, W: 13, C: 32, K: 64, R: 1, S: 1, stride: 2, pad: 0 },
  { ...dense, N: 1, H: 15, W: 15, C: 16, K: 8, R: 3, S: 3, stride: 1, pad: 1, groups: 2, epilogue: 'relu' },
  // ResNeXt-like: 32 groups of 4 and of 8 channels.
  { ...dense, N: 1, H: 13, W: 13, C: 128, K: 128, R: 3, S: 3, stride: 2, pad: 1, groups: 32, epilogue: 'relu' },
  { ...dense, N: 1, H: 7, W: 7, C: 256, K: 256, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  // 64 groups of 2 channels: scalar input and masked scalar output.
  { ...dense, N: 3, H: 7, W: 7, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 64 },
  // Depthwise: G = C = K.
  { ...dense, N: 1, H: 15, W: 15, C: 32, K: 32, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  { ...dense, N: 3, H: 13, W: 13, C: 12, K: 12, R: 3, S: 3, stride: 2, pad: 0, groups: 12, epilogue: 'residual-relu' },
  // K not a multiple of 4.
  { ...dense, N: 1, H: 13, W: 13, C: 8, K: 10, R: 3, S: 3, stride: 1, pad: 0 },
  { ...dense, N: 3, H: 7, W: 7, C: 12, K: 6, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu' },
  { ...dense, N: 1, H: 13, W: 13, C: 6, K: 6, R: 3, S: 3, stride: 2, pad: 1, groups: 2, epilogue: 'residual-relu' },
  // Scalar input, vec4 output, residual.
  { ...dense, N: 3, H: 7, W: 7, C: 6, K: 8, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual-relu' },
  // 7x7 kernel as large as the image, pad 3; grouped 1x1 GEMM.
  { ...dense, N: 1, H: 7, W: 7, C: 8, K: 8, R: 7, S: 7, stride: 1, pad: 3, epilogue: 'relu' },
  { ...dense, N: 3, H: 7, W: 7, C: 64, K: 32, R: 1, S: 1, stride: 1, pad: 0, groups: 2, epilogue: 'residual-relu' },
  // Odd register blocks and workgroups (partial tiles in both directions).
  { ...dense, N: 3, H: 15, W: 15, C: 16, K: 44, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu', tuning: { tq: 1, jn: 2, wgX: 8, wgY: 4 } },
  { ...dense, N: 1, H: 13, W: 13, C: 24, K: 40, R: 1, S: 1, stride: 1, pad: 0, tuning: { tq: 3, jn: 3, wgX: 16, wgY: 1 } },
  { ...dense, N: 1, H: 15, W: 15, C: 5, K: 12, R: 3, S: 3, stride: 2, pad: 1, epilogue: 'relu', tuning: { tq: 4, jn: 1, wgX: 4, wgY: 2 } },
  // Large register blocks (quads q7 and columns c7 reached, up to 32 pixels or 32 channels), partial in
  // both directions, every input path. Blocks stay small in area: SwiftShader compiles 32 x 32 slowly.
  { ...dense, N: 2, H: 15, W: 15, C: 16, K: 12, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual-relu', tuning: { tq: 8, jn: 2, wgX: 4, wgY: 2, direct: false } },
  { ...dense, N: 1, H: 14, W: 14, C: 32, K: 72, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'relu', tuning: { tq: 1, jn: 8, wgX: 8, wgY: 1 } },
  { ...dense, N: 1, H: 17, W: 17, C: 3, K: 24, R: 7, S: 7, stride: 2, pad: 3, epilogue: 'relu', tuning: { tq: 6, jn: 2, wgX: 2, wgY: 2 } },
  { ...dense, N: 2, H: 9, W: 9, C: 64, K: 64, R: 3, S: 3, stride: 2, pad: 1, groups: 16, tuning: { tq: 5, jn: 1, wgX: 8, wgY: 1 } },
  { ...dense, N: 1, H: 11, W: 11, C: 12, K: 30, R: 3, S: 3, stride: 1, pad: 1, groups: 3, tuning: { tq: 7, jn: 3, wgX: 2, wgY: 1, direct: false } },
  // Up to 16 columns (c15 reached, 64 channels): partial column blocks, groups, the 1x1, implicit and direct paths.
  { ...dense, N: 1, H: 5, W: 5, C: 8, K: 100, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu', tuning: { channelLanes: true, tq: 1, jn: 16, wgX: 1, wgY: 2 } },
  { ...dense, N: 2, H: 7, W: 7, C: 8, K: 88, R: 3, S: 3, stride: 1, pad: 1, groups: 2, epilogue: 'relu', tuning: { tq: 2, jn: 13, wgX: 2, wgY: 1, direct: false } },
  { ...dense, N: 1, H: 6, W: 9, C: 8, K: 40, R: 3, S: 3, stride: 1, pad: 1, tuning: { direct: true, tq: 1, jn: 10, wgX: 4, wgY: 1 } },
  // The direct path (a row of pixels slid across the 3 taps): stride 1, C/G % 4 == 0; rows wider and narrower
  // than the tile, padding 0 to 2, a 5x3 kernel, grouped, residual, scalar (masked) output.
  { ...dense, N: 2, H: 9, W: 11, C: 16, K: 32, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual-relu', tuning: { direct: true, tq: 2, jn: 4, wgX: 8, wgY: 1 } },
  { ...dense, N: 1, H: 7, W: 7, C: 8, K: 12, R: 3, S: 3, stride: 1, pad: 0, tuning: { direct: true, tq: 8, jn: 1, wgX: 2, wgY: 2 } },
  { ...dense, N: 3, H: 6, W: 13, C: 64, K: 64, R: 3, S: 3, stride: 1, pad: 1, groups: 16, epilogue: 'relu', tuning: { direct: true, tq: 3, jn: 1, wgX: 4, wgY: 1 } },
  { ...dense, N: 1, H: 10, W: 10, C: 8, K: 8, R: 5, S: 3, stride: 1, pad: 2, tuning: { direct: true, tq: 1, jn: 2, wgX: 8, wgY: 1 } },
  // Blocks that fill the declared register block (TQ, JN rounded up to 2, 4, 8, 16) exactly or partly:
  // the window's last quad takes the next pixel; 5 to 8 columns.
  { ...dense, N: 1, H: 9, W: 19, C: 8, K: 24, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu', tuning: { direct: true, tq: 4, jn: 6, wgX: 4, wgY: 1 } },
  { ...dense, N: 2, H: 7, W: 23, C: 16, K: 20, R: 3, S: 3, stride: 1, pad: 1, tuning: { direct: true, tq: 5, jn: 5, wgX: 2, wgY: 1 } },
  // SIMD lanes along column blocks (CHANNEL_LANES): partial column and pixel tiles, groups, both paths, every epilogue.
  { ...dense, N: 1, H: 7, W: 7, C: 24, K: 72, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu', tuning: { channelLanes: true, tq: 7, jn: 2, wgX: 1, wgY: 8 } },
  { ...dense, N: 2, H: 9, W: 9, C: 12, K: 20, R: 3, S: 3, stride: 2, pad: 1, epilogue: 'relu', tuning: { channelLanes: true, tq: 3, jn: 1, wgX: 2, wgY: 4, direct: false } },
  { ...dense, N: 1, H: 11, W: 13, C: 64, K: 64, R: 3, S: 3, stride: 1, pad: 1, groups: 8, tuning: { channelLanes: true, direct: true, tq: 2, jn: 1, wgX: 1, wgY: 4 } },
  { ...dense, N: 1, H: 10, W: 10, C: 3, K: 10, R: 7, S: 7, stride: 2, pad: 3, epilogue: 'relu', tuning: { channelLanes: true, tq: 5, jn: 3, wgX: 1, wgY: 8 } },
  // Weights over many rows of the weight texture (13848 texels, 16 a row), the last row partial.
  { ...dense, N: 1, H: 5, W: 5, C: 64, K: 96, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual-relu' },
  // Many pixels: the 16-pixel default block on the implicit and the 1x1 path.
  { ...dense, N: 2, H: 31, W: 31, C: 8, K: 16, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual-relu' },
  { ...dense, N: 2, H: 31, W: 31, C: 16, K: 20, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'relu' },
  // Pre-activation ResNets: the residual add without ReLU, and the BN + ReLU prologue on the input
  // (1x1 GEMM, 1x1 stride 2, 3x3 with padding on the implicit and the direct path, grouped, partial blocks).
  { ...dense, N: 3, H: 7, W: 7, C: 64, K: 32, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual' },
  { ...dense, N: 1, H: 13, W: 13, C: 6, K: 6, R: 3, S: 3, stride: 2, pad: 1, groups: 2, epilogue: 'residual' },
  { ...dense, N: 2, H: 9, W: 9, C: 32, K: 20, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'relu', preAct: true },
  { ...dense, N: 1, H: 13, W: 13, C: 16, K: 64, R: 1, S: 1, stride: 2, pad: 0, preAct: true },
  { ...dense, N: 2, H: 9, W: 11, C: 16, K: 16, R: 3, S: 3, stride: 2, pad: 1, epilogue: 'relu', preAct: true, tuning: { tq: 3, jn: 2, wgX: 4, wgY: 1, direct: false } },
  { ...dense, N: 2, H: 9, W: 11, C: 16, K: 24, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual', preAct: true, tuning: { direct: true, tq: 2, jn: 3, wgX: 4, wgY: 1 } },
  { ...dense, N: 1, H: 7, W: 7, C: 32, K: 36, R: 3, S: 3, stride: 1, pad: 1, groups: 4, epilogue: 'relu', preAct: true, tuning: { channelLanes: true, tq: 2, jn: 2, wgX: 1, wgY: 4, direct: false } },
  { ...dense, N: 1, H: 8, W: 8, C: 8, K: 12, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual', preAct: true, tuning: { tq: 8, jn: 3, wgX: 2, wgY: 1 } },
];

const name = (c: Case): string => convCaseName(c);

async function runCase(c: Case, seed: number): Promise<void> {
  const ctx = await testContext();
  const p = randomConvProblem(c, seed);
  const label = `test ${name(c)}`;
  // SwiftShader's Subzero compiler takes minutes on the direct path with more than 16 pixels per
  // invocation (the runtime never picks it there): such cases run with 16 pixels on that adapter.
  const tuning = ctx.source === 'swiftshader' && c.tuning?.direct && (c.tuning.tq ?? 0) > 4 ? { ...c.tuning, tq: 4 } : c.tuning;
  const conv = await Conv2d.create(ctx, p.desc, label, tuning);
  assert.deepEqual([...conv.outputShape], p.outputShape);
  await assertConvMatchesReference(ctx, conv, p, label);
}

CASES.forEach((c, i) => {
  test(`conv2d ${name(c)}`, () => runCase(c, 1000 + i));
});

test('conv2d splits a grid of more than 65535 pixel tiles into 2D', async () => {
  // 2 * 363 * 363 = 263538 pixels, four per one-invocation workgroup: 65885 workgroups.
  await runCase({ ...dense, N: 2, H: 363, W: 363, C: 4, K: 4, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'relu',
    tuning: { tq: 1, jn: 1, wgX: 1, wgY: 1 } }, 77);
});

test('foldBatchNorm: folded conv on the GPU == conv then BatchNorm on the CPU', async () => {
  const ctx = await testContext();
  const random = rng(4242);
  const desc: Conv2dDesc = { N: 2, H: 9, W: 9, C: 16, K: 12, R: 3, S: 3, stride: 1, pad: 1, groups: 4, epilogue: 'none' };
  const L = desc.R * desc.S * (desc.C / desc.groups);
  const eps = 1e-5;
  for (const withBias of [false, true]) {
    const input = randomArray(desc.N * desc.H * desc.W * desc.C, random);
    const weight = randomArray(desc.K * L, random, -1 / Math.sqrt(L), 1 / Math.sqrt(L));
    const convBias = withBias ? randomArray(desc.K, random) : undefined;
    const gamma = randomArray(desc.K, random, 0.5, 1.5);
    const beta = randomArray(desc.K, random, -0.5, 0.5);
    const mean = randomArray(desc.K, random, -0.3, 0.3);
    const variance = randomArray(desc.K, random, 0.2, 2);

    // Expected: the conv, then BatchNorm spelled out per channel.
    const conv = conv2dRef(input, desc, weight, convBias);
    const expected = new Float32Array(conv.length);
    for (let i = 0; i < conv.length; i++) {
      const k = i % desc.K;
      expected[i] = (conv[i] - mean[k]) / Math.sqrt(variance[k] + eps) * gamma[k] + beta[k];
    }

    const folded = foldBatchNorm(weight, convBias, gamma, beta, mean, variance, eps);
    const op = await Conv2d.create(ctx, desc, 'test fold-bn');
    const got = await runConv2d(ctx, op, desc, { input, weight: folded.weight, bias: folded.bias }, 'test fold-bn');
    assertClose(got.values, expected, { ...convTolerance(desc), what: `fold-bn (conv bias: ${withBias})` });
  }
});

test('conv2d rejects bad descriptions and tensors before dispatch, naming the label', async () => {
  const ctx = await testContext();
  const desc: Conv2dDesc = { N: 1, H: 8, W: 8, C: 8, K: 8, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'none' };
  const byLabel = (msg: RegExp) => (e: unknown) => e instanceof Error && /layer9\.9\.conv2/.test(e.message) && msg.test(e.message);

  await assert.rejects(Conv2d.create(ctx, { ...desc, groups: 3 }, 'layer9.9.conv2'), byLabel(/groups 3 must divide/));
  await assert.rejects(Conv2d.create(ctx, { ...desc, K: 12, groups: 8 }, 'layer9.9.conv2'), byLabel(/groups 8 must divide/));
  await assert.rejects(Conv2d.create(ctx, { ...desc, R: 11, S: 11 }, 'layer9.9.conv2'), byLabel(/larger than the padded input/));
  await assert.rejects(Conv2d.create(ctx, { ...desc, stride: 0 }, 'layer9.9.conv2'), byLabel(/stride/));
  await assert.rejects(Conv2d.create(ctx, { ...desc, stride: 2 }, 'layer9.9.conv2', { direct: true }), byLabel(/direct path needs stride 1/));
  await assert.rejects(Conv2d.create(ctx, { ...desc, C: 6, K: 6, groups: 1 }, 'layer9.9.conv2', { direct: true }), byLabel(/C\/G % 4/));
  await assert.rejects(Conv2d.create(ctx, { ...desc, R: 1, S: 1, pad: 0 }, 'layer9.9.conv2', { direct: true }), byLabel(/3 wide/));
  // A 64 GiB activation cannot be one storage binding on any device.
  await assert.rejects(Conv2d.create(ctx, { ...desc, H: 4096, W: 4096, C: 1024 }, 'layer9.9.conv2'),
    (e: unknown) => e instanceof GpuLimitError && /layer9\.9\.conv2/.test(e.message) && /input/.test(e.message));

  // 8192 x 8192 x 3 x 3 weights need 36864 rows of 4096 texels, more than any device's texture.
  assert.throws(() => Conv2dWeights.upload(ctx, 'layer9.9.conv2 weights', conv2dWeightLayout({ C: 8192, K: 8192, R: 3, S: 3, groups: 1 }), new Float32Array(0)),
    (e: unknown) => e instanceof GpuLimitError && /layer9\.9\.conv2/.test(e.message) && /maxTextureDimension2D/.test(e.message));

  const op = await Conv2d.create(ctx, desc, 'layer9.9.conv2');
  const w = Conv2dWeights.create(ctx, 'layer9.9.conv2 weights', desc, new Float32Array(8 * 8 * 9));
  const x = createTensor(ctx, 'x', [1, 8, 8, 8]);
  const y = createTensor(ctx, 'y', [1, 8, 8, 8]);
  assert.throws(() => op.bind(createTensor(ctx, 'x2', [1, 8, 8, 4]), w, y), byLabel(/input \(N, H, W, C\) has shape/));
  assert.throws(() => op.bind(x, w, createTensor(ctx, 'y2', [1, 7, 8, 8])), byLabel(/output \(N, P, Q, K\) has shape/));
  assert.throws(() => op.bind(x, w, y, createTensor(ctx, 'r', [1, 8, 8, 8])), byLabel(/residual was given/));
  assert.throws(() => op.bind(x, w, x), byLabel(/output/));
  assert.throws(() => op.bind(x, x.buffer as unknown as Conv2dWeights, y), byLabel(/weights must be a Conv2dWeights/));
  const wider = conv2dWeightLayout({ ...desc, K: 16 });   // 292 texels: 16 x 19, not 16 x 10
  assert.throws(() => op.bind(x, Conv2dWeights.upload(ctx, 'wider weights', wider, new Float32Array(wider.length)), y),
    byLabel(/K 16, 3x3, G 1 \(rgba32float 16 x 19\); this convolution needs C 8, K 8, 3x3, G 1 \(rgba32float 16 x 10\)/));
  assert.throws(() => packConv2dWeights(op.layout, new Float32Array(10)), /expected K\*C\/G\*R\*S/);

  const rop = await Conv2d.create(ctx, { ...desc, epilogue: 'residual-relu' }, 'layer9.9.conv2');
  assert.throws(() => rop.bind(x, w, y), byLabel(/needs a residual/));
  assert.throws(() => rop.bind(x, w, y, createTensor(ctx, 'r2', [1, 8, 8, 4])), byLabel(/residual \(N, P, Q, K\) has shape/));

  // The pre-activation prologue: C/G % 4 == 0, and weights packed with their scale and shift.
  await assert.rejects(Conv2d.create(ctx, { ...desc, C: 6, K: 6, preAct: true }, 'layer9.9.conv2'), byLabel(/pre-activation prologue needs C\/G % 4/));
  const pop = await Conv2d.create(ctx, { ...desc, preAct: true }, 'layer9.9.conv2');
  assert.throws(() => pop.bind(x, w, y), byLabel(/, pre-activation \(rgba32float/));
  assert.throws(() => packConv2dWeights(pop.layout, new Float32Array(8 * 8 * 9)), /pre-activation prologue but its scale and shift were not given/);
});
