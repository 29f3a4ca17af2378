// The subgroup kernel family (shaders/conv2d-subgroup.wgsl, forced with tuning { family: 'subgroup' }) vs
// the plain-loop CPU reference, where the adapter has the 'subgroups' feature (SwiftShader: subgroups of
// 4 lanes, so reduction chunks of 4 rows, several per tap or several taps per chunk): groups 1, 2, 32;
// C/G 3, 4, 8 (scalar and vec4 loads, reductions shorter and longer than a subgroup); K not a multiple of
// 4 (masked scalar stores); strides 1 and 2; padding; 7x7, 3x3 and 1x1 kernels; batches 1 and 2; every
// epilogue and the pre-activation prologue; partial pixel tiles and column blocks, workgroups of 1 to 16
// subgroups. On an adapter without subgroups (llvmpipe), forcing the family is a KernelChoiceError.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GpuContext } from '../src/gpu/device.js';
import { Conv2d, KernelChoiceError, checkKernelsOnDevice, resolveTuning, type Conv2dDesc } from '../src/ops/conv2d.js';
import type { SubgroupTuning } from '../src/ops/conv2d-geometry.js';
import { hasSubgroups, maxSubgroupSize } from '../src/ops/conv2d-subgroup.js';
import { assertConvMatchesReference, convCaseName, dense, randomConvProblem, type ConvCase } from './helpers/conv.js';
import { testContext } from './helpers/gpu.js';

type Case = ConvCase<Partial<Omit<SubgroupTuning, 'family'>>>;

const CASES: Case[] = [
  // The default tuning (8 pixels x 16 channels, 64 lanes): dense 3x3, many partial tiles.
  { ...dense, N: 2, H: 9, W: 9, C: 16, K: 32, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu' },
  // Smallest block, one subgroup a workgroup; reduction 72 rows (18 chunks of 4 on SwiftShader).
  { ...dense, N: 1, H: 7, W: 7, C: 8, K: 16, R: 3, S: 3, stride: 1, pad: 1, tuning: { tq: 1, jn: 1, wg: 4 } },
  // 2 groups of 8 -> 6 channels (scalar stores), stride 2, 3 columns, 2 quads.
  { ...dense, N: 2, H: 9, W: 9, C: 16, K: 12, R: 3, S: 3, stride: 2, pad: 1, groups: 2, epilogue: 'relu', tuning: { tq: 2, jn: 3, wg: 8 } },
  // RGB stem: C/G = 3 (one row at a time, taps straddle chunks), 7x7 / 2, pad 3, K 10, residual.
  { ...dense, N: 1, H: 11, W: 11, C: 3, K: 10, R: 7, S: 7, stride: 2, pad: 3, epilogue: 'residual-relu', tuning: { tq: 1, jn: 2, wg: 4 } },
  // ResNeXt: 32 groups of 4 (one tap a chunk) and of 8, stride 1 and 2, batch 2.
  { ...dense, N: 1, H: 9, W: 9, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu', tuning: { tq: 2, jn: 1, wg: 8 } },
  { ...dense, N: 2, H: 7, W: 7, C: 256, K: 256, R: 3, S: 3, stride: 2, pad: 1, groups: 32, epilogue: 'relu', tuning: { tq: 1, jn: 2, wg: 16 } },
  // 1x1: GEMM with residual; strided downsample; 2 groups of 3 channels (a reduction of 3 rows, shorter than a subgroup).
  { ...dense, N: 2, H: 6, W: 6, C: 16, K: 24, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu', tuning: { tq: 2, jn: 4, wg: 4 } },
  { ...dense, N: 1, H: 13, W: 13, C: 32, K: 64, R: 1, S: 1, stride: 2, pad: 0, tuning: { tq: 1, jn: 4, wg: 32 } },
  { ...dense, N: 2, H: 5, W: 5, C: 6, K: 10, R: 1, S: 1, stride: 1, pad: 0, groups: 2, epilogue: 'residual', tuning: { tq: 1, jn: 2, wg: 4 } },
  // No padding, K not a multiple of 4, the whole block in one partial column.
  { ...dense, N: 1, H: 8, W: 8, C: 8, K: 6, R: 3, S: 3, stride: 1, pad: 0, tuning: { tq: 2, jn: 4, wg: 12 } },
  // Pre-activation: 1x1 stride 2 grouped, 3x3 with padding and the residual add without ReLU.
  { ...dense, N: 2, H: 9, W: 9, C: 16, K: 16, R: 1, S: 1, stride: 2, pad: 0, groups: 2, epilogue: 'relu', preAct: true, tuning: { tq: 1, jn: 2, wg: 8 } },
  { ...dense, N: 1, H: 7, W: 7, C: 16, K: 20, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual', preAct: true, tuning: { tq: 2, jn: 3, wg: 4 } },
];

const name = (c: Case): string => convCaseName(c, ' (default)');

async function runCase(c: Case, seed: number): Promise<void> {
  const ctx = await testContext();
  const p = randomConvProblem(c, seed);
  const label = `test subgroup ${name(c)}`;
  if (!hasSubgroups(ctx)) {
    await assert.rejects(Conv2d.create(ctx, p.desc, label, { ...c.tuning, family: 'subgroup' }),
      (e: unknown) => e instanceof KernelChoiceError && /subgroups/.test(e.message));
    return;
  }
  // Workgroups must be whole subgroups: scale the case's lanes up to the adapter's subgroup size.
  const sg = maxSubgroupSize(ctx);
  const tuning = c.tuning?.wg ? { ...c.tuning, wg: Math.ceil(c.tuning.wg / sg) * sg } : c.tuning;
  const conv = await Conv2d.create(ctx, p.desc, label, { ...tuning, family: 'subgroup' });
  assert.equal(conv.tuning.family, 'subgroup');
  await assertConvMatchesReference(ctx, conv, p, label, { fillNaN: true });
}

CASES.forEach((c, i) => {
  test(`conv2d subgroup ${name(c)}`, () => runCase(c, 3000 + i));
});

test('conv2d subgroup: bad tunings are one-line errors naming the layer', async (t) => {
  const ctx = await testContext();
  if (!hasSubgroups(ctx)) return t.skip('no subgroups on this adapter (the cases above check the KernelChoiceError)');
  const desc: Conv2dDesc = { N: 1, H: 8, W: 8, C: 8, K: 8, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'none' };
  const sg = maxSubgroupSize(ctx);
  const byLabel = (msg: RegExp) => (e: unknown) => e instanceof Error && /layer9\.9\.conv2/.test(e.message) && msg.test(e.message);
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'subgroup', tq: 3 }), byLabel(/tq 3 \/ jn \d must be in 1, 2/));
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'subgroup', jn: 5 }), byLabel(/tq 2 \/ jn 5 must be in 1, 2 \/ 1, 2, 3, 4/));
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'subgroup', wg: sg + 1 }),
    byLabel(new RegExp(`not a multiple of the adapter's largest subgroup size ${sg}`)));
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'subgroup', wg: 4096 }), byLabel(/exceeds this device's limits/));
});

test('kernels \'subgroup\' on a device without the subgroups feature: a KernelChoiceError, before any pipeline', async () => {
  const noSubgroups = { source: 'llvmpipe', cpuBacked: true, adapterInfo: { vendor: 'mesa' },
    device: { features: new Set<string>(), limits: { maxComputeInvocationsPerWorkgroup: 128 } } } as unknown as GpuContext;
  const desc: Conv2dDesc = { N: 1, H: 8, W: 8, C: 8, K: 8, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'none' };
  const choiceError = (e: unknown) => e instanceof KernelChoiceError && /kernels 'subgroup': this adapter has no 'subgroups' feature/.test(e.message);
  assert.throws(() => checkKernelsOnDevice(noSubgroups, 'subgroup'), choiceError);
  await assert.rejects(resolveTuning(noSubgroups, desc, { family: 'subgroup' }), choiceError);
  for (const k of ['auto', 'register', 'tiled', undefined] as const) assert.doesNotThrow(() => checkKernelsOnDevice(noSubgroups, k));
});
