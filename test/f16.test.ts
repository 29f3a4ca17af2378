// Half-precision storage (precision 'f16'): each kernel with f16 inputs, outputs and weights against the
// plain-loop CPU reference, on the core-WGSL packed path (these adapters have no 'shader-f16').
//
// Tolerances, derived rather than fitted. f16 rounds to nearest with unit roundoff u = 2^-11. The
// reference reads the same f16-rounded inputs the GPU reads (as validate() does), so what differs is
//   - the weights, each rounded once (relative error <= u; the layer's power-of-two scale is exact):
//     |error| <= u * A, A = sum |w| * |a(x)| (the conv of the absolute values), and
//   - the f16 output store: |error| <= u * |y|,
// plus the f32 accumulation the f32 tests already allow for. So a conv output passes at
// atol = u * max(A) + f32 atol, rtol = u + f32 rtol (5% slack on the u terms). Pools and squeeze-excite
// read f16 and compute in f32: only the output rounding (u * |y|) is new.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conv2d, type Conv2dDesc, type Conv2dTuning } from '../src/ops/conv2d.js';
import { conv2dOutputSize, hasResidual } from '../src/ops/conv2d-geometry.js';
import { Conv2dWeights, conv2dWeightLayout, f16WeightExponent, packConv2dWeights } from '../src/ops/conv2d-weights.js';
import { packPreAct, Pool2d } from '../src/ops/pool2d.js';
import { Eca, packSqueezeExciteWeights, ScaleResidualRelu, SqueezeExcite } from '../src/ops/se.js';
import { conv2dRef } from '../src/reference/conv2d.js';
import { pool2d as pool2dRef } from '../src/reference/pool2d.js';
import { scaleResidualRelu, squeezeExcite } from '../src/reference/se.js';
import { eca as ecaRef } from '../src/reference/eca.js';
import { createTensor, readTensor, toF16, uploadTensor, type Dtype } from '../src/gpu/buffers.js';
import { submitDispatches } from '../src/gpu/dispatch.js';
import { f16ToF32 } from '../src/weights/safetensors.js';
import { loadModel } from '../src/index.js';
import { VALIDATE_F16_RTOL } from '../src/graph/runner.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { readGolden, weightsPath } from './e2e/fixtures.js';
import { testContext } from './helpers/gpu.js';

/** Unit roundoff of f16 (round to nearest): 2^-11. */
const U = 2 ** -11;

/** The values an f16 tensor holds for `data` (what the GPU reads). */
function roundF16(data: Float32Array): Float32Array {
  return Float32Array.from(toF16(data), f16ToF32);
}

type Case = Omit<Conv2dDesc, 'epilogue'> & { epilogue?: Conv2dDesc['epilogue']; tuning?: Partial<Conv2dTuning> };
const dense = { groups: 1, epilogue: 'none', inputDtype: 'f16', outputDtype: 'f16', residualDtype: 'f16', weightDtype: 'f16' } as const;

const CASES: Case[] = [
  // The stem: f32 input (the preprocess output), scalar path (C = 3), f16 output.
  { ...dense, inputDtype: 'f32', N: 1, H: 15, W: 15, C: 3, K: 16, R: 7, S: 7, stride: 2, pad: 3, epilogue: 'relu' },
  // vec4 in and out, implicit GEMM, stride 2.
  { ...dense, N: 2, H: 13, W: 13, C: 16, K: 32, R: 3, S: 3, stride: 2, pad: 1, epilogue: 'relu' },
  // 1x1 GEMM with the f16 residual.
  { ...dense, N: 3, H: 7, W: 7, C: 64, K: 32, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu' },
  // Grouped (ResNeXt), the direct path and channel lanes.
  { ...dense, N: 1, H: 13, W: 13, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu', tuning: { direct: true, tq: 2, jn: 1, wgX: 4, wgY: 1 } },
  { ...dense, N: 1, H: 7, W: 7, C: 24, K: 72, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu', tuning: { channelLanes: true, tq: 3, jn: 2, wgX: 1, wgY: 8 } },
  // Scalar f16 input (C/G = 2) and f32 output (K/G = 2 is not vec4); an f16 residual read one channel at a time.
  { ...dense, outputDtype: 'f32', N: 2, H: 7, W: 7, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 64, epilogue: 'residual-relu' },
  // f16 input, f32 output (a conv feeding an f32 consumer).
  { ...dense, outputDtype: 'f32', residualDtype: undefined, N: 1, H: 9, W: 9, C: 8, K: 12, R: 3, S: 3, stride: 1, pad: 1 },
  // Pre-activation: the prologue's scale and shift as f16 hi + lo, the residual without ReLU.
  { ...dense, N: 2, H: 9, W: 11, C: 16, K: 24, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual', preAct: true, tuning: { direct: true, tq: 2, jn: 3, wgX: 4, wgY: 1 } },
  { ...dense, N: 2, H: 9, W: 9, C: 32, K: 20, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'relu', preAct: true },
];

function name(c: Case): string {
  return `N${c.N} ${c.H}x${c.W} C${c.C}->K${c.K} ${c.R}x${c.S}/${c.stride} G${c.groups} ${c.preAct ? 'pre-act ' : ''}${c.epilogue ?? 'none'} ` +
    `x ${c.inputDtype ?? 'f32'} y ${c.outputDtype ?? 'f32'}${c.tuning ? ` ${JSON.stringify(c.tuning)}` : ''}`;
}

/** Runs a conv with f16 weights; returns GPU and reference outputs and the bound's A = conv(|w|, |a(x)|). */
async function runConv(d: Conv2dDesc, seed: number, tuning?: Partial<Conv2dTuning>, scale = { w: 1, x: 1, b: 1 }) {
  const ctx = await testContext();
  const desc = { ...d, residualDtype: hasResidual(d.epilogue) ? d.residualDtype : undefined };
  const random = rng(seed);
  const L = desc.R * desc.S * (desc.C / desc.groups);
  const xDtype: Dtype = desc.inputDtype ?? 'f32';
  let input = randomArray(desc.N * desc.H * desc.W * desc.C, random, -scale.x, scale.x);
  if (xDtype === 'f16') input = roundF16(input);
  const weight = randomArray(desc.K * L, random, -scale.w / Math.sqrt(L), scale.w / Math.sqrt(L));
  const bias = randomArray(desc.K, random, -0.5 * scale.b, 0.5 * scale.b);
  const [P, Q] = conv2dOutputSize(desc);
  let residual = hasResidual(desc.epilogue) ? randomArray(desc.N * P * Q * desc.K, random) : undefined;
  if (residual && desc.residualDtype === 'f16') residual = roundF16(residual);
  const pre = desc.preAct ? { scale: randomArray(desc.C, random, -1.5, 1.5), shift: randomArray(desc.C, random, -0.5, 0.5) } : undefined;

  const label = `f16 test conv ${seed}`;
  const conv = await Conv2d.create(ctx, desc, label, tuning);
  const x = uploadTensor(ctx, `${label} input`, input, [desc.N, desc.H, desc.W, desc.C], xDtype);
  const w = Conv2dWeights.create(ctx, `${label} weights`, desc, weight, bias, pre);
  const y = createTensor(ctx, `${label} output`, conv.outputShape, desc.outputDtype ?? 'f32');
  const res = residual ? uploadTensor(ctx, `${label} residual`, residual, conv.outputShape, desc.residualDtype ?? 'f32') : undefined;
  submitDispatches(ctx, label, [conv.bind(x, w, y, res)]);
  const got = await readTensor(ctx, y);
  const expected = conv2dRef(input, desc, weight, bias, residual, pre);
  const absW = weight.map(Math.abs);
  const bound = desc.preAct
    ? conv2dRef(input, { ...desc, epilogue: 'none' }, absW, undefined, undefined, pre)  // a(x) >= 0 already
    : conv2dRef(input.map(Math.abs), { ...desc, epilogue: 'none' }, absW);
  for (const b of [x.buffer, w, y.buffer, res?.buffer]) b?.destroy();
  return { got, expected, maxA: bound.reduce((m, v) => Math.max(m, v), 0), y };
}

/** The f32 tests' tolerance (f32 accumulation order) plus the f16 terms of the header. */
function tolerance(desc: Conv2dDesc, maxA: number): { atol: number; rtol: number } {
  const L = desc.R * desc.S * (desc.C / desc.groups);
  const f32 = 1e-4 * Math.max(1, Math.sqrt(L / 16));
  const storeU = desc.outputDtype === 'f16' ? U : 0;
  return { atol: f32 + 1.05 * U * maxA, rtol: f32 + 1.05 * storeU };
}

CASES.forEach((c, i) => {
  test(`conv2d f16 ${name(c)}`, async () => {
    const desc: Conv2dDesc = { ...c, epilogue: c.epilogue ?? 'none' };
    const { got, expected, maxA, y } = await runConv(desc, 2000 + i, c.tuning);
    assert.ok(maxA > 0);
    assertClose(got, expected, { ...tolerance(desc, maxA), what: name(c), shape: { actual: y.shape, expected: [desc.N, ...conv2dOutputSize(desc), desc.K] } });
  });
});

test('conv2d f16: BN-folded weights far outside the f16 range keep their precision (the layer scale)', async () => {
  // Weights up to 3e6 (a BatchNorm channel with a tiny running variance) and down to 1e-9: stored
  // as f16 directly they would overflow to infinity or flush to zero. The outputs stay O(1) by
  // scaling the input down (the bias too) or up.
  const desc: Conv2dDesc = { ...dense, N: 1, H: 7, W: 7, C: 16, K: 16, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'none', inputDtype: 'f32' };
  for (const [w, xs] of [[3e6, 1e-6], [1e-9, 1e9]]) {
    const { got, expected, maxA } = await runConv(desc, 77, undefined, { w, x: xs, b: 1 });
    assert.ok(got.every(Number.isFinite), `weights x${w}: every output finite`);
    assertClose(got, expected, { ...tolerance(desc, maxA), what: `weights x${w}` });
  }
  assert.equal(f16WeightExponent(new Float32Array([3e6, -1])), 21 - 14);
  assert.equal(f16WeightExponent(new Float32Array([0, 0])), 0);
});

test('conv2d f16: outputs beyond the f16 range saturate to +-65504 (not infinity, zero or garbage)', async () => {
  // Inputs of 1e4 make |y| up to about 1e5: the f16 store clamps first (an out-of-range f32 -> f16
  // conversion is indeterminate in WGSL, and was the source of zeros and wrong answers).
  const desc: Conv2dDesc = { ...dense, N: 1, H: 5, W: 5, C: 8, K: 8, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'none', inputDtype: 'f32' };
  const { got, expected, maxA } = await runConv(desc, 78, undefined, { w: 40, x: 1e4, b: 1 });
  const clamped = expected.map((v) => Math.max(-65504, Math.min(65504, v)));
  assert.ok(expected.some((v) => Math.abs(v) > 65504), 'the case reaches past the f16 range');
  assert.ok(got.every(Number.isFinite), 'every output finite');
  assertClose(got, clamped, { ...tolerance(desc, maxA), what: 'saturated outputs' });
});

test('conv2d f16: packing layout, dtype checks', async () => {
  const ctx = await testContext();
  const shape = { C: 8, K: 8, R: 3, S: 3, groups: 1 };
  const l32 = conv2dWeightLayout(shape);
  const l16 = conv2dWeightLayout({ ...shape, weightDtype: 'f16' });
  assert.equal(l16.texelBytes, 8);
  assert.equal(l16.biasOffset, l32.biasOffset);
  // bias hi and lo: 0.1 is not an f16 value, their sum is to about 2^-22.
  const packed = packConv2dWeights(l16, new Float32Array(8 * 8 * 9).fill(0.5), new Float32Array(8).fill(0.1)) as Uint16Array;
  const b = f16ToF32(packed[l16.biasOffset]) + f16ToF32(packed[l16.biasOffset + 8]);
  assert.ok(Math.abs(b - 0.1) < 0.1 * 2 ** -21, `bias hi + lo = ${b}`);
  assert.ok(Math.abs(f16ToF32(packed[l16.biasOffset]) - 0.1) > 1e-6, 'hi alone is not 0.1');
  // 0.5 * 2^-e with e = -1 - 14: the largest weight at 2^14; the scale texel multiplies back to 2^-15.
  assert.equal(f16ToF32(packed[0]), 2 ** 14);
  assert.equal(f16ToF32(packed[l16.scaleOffset]) * f16ToF32(packed[l16.scaleOffset + 1]), 2 ** -15);

  const desc: Conv2dDesc = { ...dense, ...shape, N: 1, H: 8, W: 8, stride: 1, pad: 1, epilogue: 'none', residualDtype: undefined };
  const op = await Conv2d.create(ctx, desc, 'layer9.9.conv2');
  const w16 = Conv2dWeights.create(ctx, 'w16', desc, new Float32Array(8 * 8 * 9));
  assert.equal(w16.bytes * 2, Conv2dWeights.create(ctx, 'w32', { ...desc, weightDtype: 'f32' }, new Float32Array(8 * 8 * 9)).bytes);
  const x16 = createTensor(ctx, 'x16', [1, 8, 8, 8], 'f16');
  const y16 = createTensor(ctx, 'y16', [1, 8, 8, 8], 'f16');
  assert.throws(() => op.bind(createTensor(ctx, 'x32', [1, 8, 8, 8]), w16, y16), /layer9\.9\.conv2: input is f32, this op was built for f16/);
  assert.throws(() => op.bind(x16, w16, createTensor(ctx, 'y32', [1, 8, 8, 8])), /output is f32/);
  assert.throws(() => op.bind(x16, Conv2dWeights.create(ctx, 'w32', { ...desc, weightDtype: 'f32' }, new Float32Array(8 * 8 * 9)), y16),
    /\(rgba32float 16 x 10\); this convolution needs .*\(rgba16float/);
  await assert.rejects(Conv2d.create(ctx, { ...desc, K: 12, groups: 2, C: 8 }, 'layer9.9.conv2'), /an f16 output needs K\/G % 4 == 0/);
});

test('pool2d f16: max 3x3/2 (f16 in and out), global average (f16 in, f32 out, with the pre-activation)', async () => {
  const ctx = await testContext();
  const random = rng(31);
  const [N, H, W, C] = [2, 9, 9, 12];
  const x = roundF16(randomArray(N * H * W * C, random, -3, 3));
  const xt = uploadTensor(ctx, 'pool x', x, [N, H, W, C], 'f16');
  // Max of f16 values is exact (an f16 value stored as f16).
  const maxOp = await Pool2d.create(ctx, { mode: 'max', input: [N, H, W, C], kernel: 3, stride: 2, pad: 1, inputDtype: 'f16', outputDtype: 'f16' }, 'maxpool');
  const maxOut = createTensor(ctx, 'maxpool y', maxOp.outputShape, 'f16');
  const pre = { scale: randomArray(C, random, 0.5, 1.5), shift: randomArray(C, random, -0.5, 0.5) };
  const avgOp = await Pool2d.create(ctx, { mode: 'avg', input: [N, H, W, C], global: true, preAct: true, inputDtype: 'f16' }, 'avgpool');
  const avgOut = createTensor(ctx, 'avgpool y', avgOp.outputShape);
  const pt = uploadTensor(ctx, 'pre', packPreAct(pre.scale, pre.shift), [2, C]);
  submitDispatches(ctx, 'pools', [maxOp.bind(xt, maxOut), avgOp.bind(xt, avgOut, pt)]);
  const geometry = { kernel: [3, 3] as [number, number], stride: [2, 2] as [number, number], pad: [1, 1] as [number, number], ceilMode: false, countIncludePad: true };
  assertClose(await readTensor(ctx, maxOut), pool2dRef(x, [N, H, W, C], { mode: 'max', ...geometry }).data, { atol: 0, rtol: 0, what: 'maxpool f16' });
  // f32 output: only f32 summation order differs.
  const avgRef = pool2dRef(x, [N, H, W, C], { mode: 'avg', kernel: [H, W], stride: [1, 1], pad: [0, 0], ceilMode: false, countIncludePad: true, preAct: pre });
  assertClose(await readTensor(ctx, avgOut), avgRef.data, { atol: 1e-6, rtol: 1e-5, what: 'global avgpool f16 -> f32' });
  await assert.rejects(Pool2d.create(ctx, { mode: 'max', input: [1, 5, 5, 6], kernel: 3, inputDtype: 'f16' }, 'maxpool6'), /maxpool6: f16 storage needs C % 4 == 0/);
  assert.throws(() => maxOp.bind(uploadTensor(ctx, 'x32', x, [N, H, W, C]), maxOut), /maxpool: input is f32, this op was built for f16/);
});

test('squeeze-excite f16: f16 activations in, f32 scales; the scale-residual store in f16', async () => {
  const ctx = await testContext();
  const random = rng(32);
  const [N, H, W, K, hidden] = [2, 5, 5, 64, 4];
  const x = roundF16(randomArray(N * H * W * K, random, -2, 2));
  const res = roundF16(randomArray(N * H * W * K, random, -1, 1));
  const w1 = randomArray(hidden * K, random, -0.5, 0.5);
  const b1 = randomArray(hidden, random, -0.5, 0.5);
  const w2 = randomArray(K * hidden, random, -1, 1);
  const b2 = randomArray(K, random, -1, 1);
  const se = await SqueezeExcite.create(ctx, { N, H, W, K, hidden, dtype: 'f16' }, 'se');
  const scale = await ScaleResidualRelu.create(ctx, { N, H, W, K, dtype: 'f16' }, 'scale');
  const xt = uploadTensor(ctx, 'x', x, [N, H, W, K], 'f16');
  const rt = uploadTensor(ctx, 'res', res, [N, H, W, K], 'f16');
  const wt = uploadTensor(ctx, 'w', packSqueezeExciteWeights(K, hidden, w1, b1, w2, b2), se.weightsShape);
  const st = createTensor(ctx, 's', se.outputShape);
  const yt = createTensor(ctx, 'y', scale.outputShape, 'f16');
  submitDispatches(ctx, 'se f16', [se.bind(xt, wt, st), scale.bind(xt, st, rt, yt)]);
  const s = await readTensor(ctx, st);
  assertClose(s, squeezeExcite(x, N, H * W, K, hidden, w1, b1, w2, b2), { atol: 1e-6, rtol: 1e-4, what: 'se f16 scales' });
  // The f16 store: relative u (5% slack), on the GPU's own scales.
  assertClose(await readTensor(ctx, yt), scaleResidualRelu(x, s, res, N, H * W, K), { atol: 1e-6, rtol: 1.05 * U, what: 'scale-residual f16' });
  assert.throws(() => scale.bind(xt, st, uploadTensor(ctx, 'r32', res, [N, H, W, K]), yt), /scale: residual is f32/);
});

test("f16 storage runs on the register family: 'tiled' and 'subgroup' are refused at once, 'auto' keeps f16 convs on it", async () => {
  const ctx = await testContext();
  for (const kernels of ['tiled', 'subgroup'] as const) {
    await assert.rejects(loadModel({ weights: weightsPath('basic'), device: ctx, precision: 'f16', kernels }),
      (e: Error) => e.name === 'KernelChoiceError' && /precision 'f16' runs on the register family/.test(e.message));
  }
  const desc: Conv2dDesc = { N: 1, H: 6, W: 6, C: 8, K: 8, R: 3, S: 3, stride: 1, pad: 1, ...dense, residualDtype: undefined };
  await assert.rejects(Conv2d.create(ctx, desc, 'c16', { family: 'tiled' }), /c16: the tiled kernel family stores f32 only/);
  const op = await Conv2d.create(ctx, desc, 'c16');
  assert.equal(op.tuning.family ?? 'register', 'register');
});

test('eca reads f16 activations (the f32 scales match the reference on the same f16 values)', async () => {
  const ctx = await testContext();
  const random = rng(33);
  for (const [N, H, W, K, kernel] of [[2, 5, 5, 64, 3], [1, 3, 2, 520, 7]]) {
    const x = roundF16(randomArray(N * H * W * K, random, -2, 2));
    const w = randomArray(kernel, random, -1, 1);
    const op = await Eca.create(ctx, { N, H, W, K, kernel, dtype: 'f16' }, 'eca');
    const xt = uploadTensor(ctx, 'x', x, [N, H, W, K], 'f16');
    const st = createTensor(ctx, 's', op.outputShape);
    submitDispatches(ctx, 'eca f16', [op.bind(xt, uploadTensor(ctx, 'w', w, op.weightsShape), st)]);
    assertClose(await readTensor(ctx, st), ecaRef(x, N, H * W, K, w), { atol: 1e-6, rtol: 1e-4, what: `eca f16 ${[N, H, W, K, kernel]}` });
    assert.throws(() => op.bind(uploadTensor(ctx, 'x32', x, [N, H, W, K]), uploadTensor(ctx, 'w', w, op.weightsShape), st), /eca: input is f32/);
  }
});

test('validate() at precision f16: every step of a ResNeXt within the f16 tolerance of the CPU reference on the GPU\'s own f16 inputs', async () => {
  const ctx = await testContext();
  const golden = readGolden('resnext');
  const model = await loadModel({ weights: weightsPath('resnext'), device: ctx, precision: 'f16', validate: true });
  try {
    const report = await model.validate(golden.input, { batch: 2 });
    assert.ok(report.ok, `first mismatch: ${report.firstMismatch}`);
    const convs = report.steps.filter((s) => s.kind === 'conv');
    // f16 is in use (the steps differ from the f32 reference by more than f32 rounding) and within 8u.
    assert.ok(convs.some((s) => s.maxAbsDiff > 1e-4 * s.maxAbsRef), 'the convs run in f16');
    for (const s of report.steps) assert.ok(s.maxAbsDiff <= VALIDATE_F16_RTOL * s.maxAbsRef + 1e-5, `${s.name}: ${s.maxAbsDiff} of ${s.maxAbsRef}`);
    // A tolerance tighter than f16 rounding names the first conv that rounds.
    const strict = await model.validate(golden.input, { batch: 2, rtol: 1e-6, atol: 0 });
    assert.equal(strict.ok, false);
    assert.equal(report.steps.find((s) => s.name === strict.firstMismatch)?.kind, 'conv');
  } finally {
    model.dispose();
  }
});
