// The tiled kernel family (shaders/conv2d-tiled.wgsl, forced with tuning { family: 'tiled' }) vs the
// plain-loop CPU reference, on any adapter (the tests force the hardware path onto SwiftShader and, with
// WEBGPU_ADAPTER=llvmpipe, onto llvmpipe's compatibility limits): groups 1, 2, 8, 32; C/G 1, 3, 4, 8;
// K not a multiple of 4 or of the tile; strides 1 and 2; padding; 7x7 and 1x1 kernels; batches 1 and 2;
// every epilogue and the pre-activation prologue; the rule table's tiles, 32x32 and 64x64 tiles, narrow
// (group-wide) tiles, and split-K with its reduce pass. Also the vendor table's picks stay valid within
// WebGPU's default limits, and the kernels option's errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GpuContext } from '../src/gpu/device.js';
import { Conv2d, checkKernelChoice, kernelOverride, type Conv2dDesc, type TiledTuning } from '../src/ops/conv2d.js';
import { hardwareConv2dTuning, tiledCandidates, vendorOf, VENDOR_RULES, type GpuVendor } from '../src/ops/conv2d-hardware.js';
import { tiledTuningProblem, tiledWorkgroupBytes } from '../src/ops/conv2d-tiled.js';
import { assertConvMatchesReference, convCaseName, dense, randomConvProblem, type ConvCase } from './helpers/conv.js';
import { testContext } from './helpers/gpu.js';

type Case = ConvCase<Partial<TiledTuning>>;

const T32 = { bm: 32, bn: 32, bk: 32, tm: 4, tn: 4 };
const T64 = { bm: 64, bn: 64, bk: 16, tm: 8, tn: 8 };
const CASES: Case[] = [
  // The rule table's own picks (no tuning): dense, grouped (narrow tiles), stem.
  { ...dense, N: 1, H: 9, W: 9, C: 16, K: 32, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu' },
  { ...dense, N: 2, H: 8, W: 8, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  { ...dense, N: 1, H: 15, W: 15, C: 3, K: 20, R: 7, S: 7, stride: 2, pad: 3, epilogue: 'relu' },
  // 32x32 tiles: partial tiles in M and K, K % 4 != 0 (scalar stores), C/G = 1 and 3 (scalar loads).
  { ...dense, N: 2, H: 7, W: 7, C: 8, K: 10, R: 3, S: 3, stride: 1, pad: 1, tuning: T32 },
  { ...dense, N: 1, H: 13, W: 13, C: 1, K: 8, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu', tuning: T32 },
  { ...dense, N: 2, H: 9, W: 9, C: 6, K: 6, R: 3, S: 3, stride: 2, pad: 1, groups: 2, epilogue: 'residual-relu', tuning: T32 },
  { ...dense, N: 1, H: 11, W: 11, C: 64, K: 36, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual-relu', tuning: { ...T32, bk: 16 } },
  { ...dense, N: 1, H: 13, W: 13, C: 32, K: 64, R: 1, S: 1, stride: 2, pad: 0, tuning: T32 },
  // 64x64 tiles (8x8 per invocation), several reduction stages, a residual with and without ReLU.
  { ...dense, N: 2, H: 9, W: 9, C: 32, K: 72, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual', tuning: T64 },
  { ...dense, N: 1, H: 12, W: 12, C: 24, K: 64, R: 3, S: 3, stride: 2, pad: 1, groups: 2, epilogue: 'relu', tuning: { ...T64, tm: 4 } },
  // Narrow groups: 8 groups of 4 (K 32), 32 groups of 8, 32 groups of 4 with C/G 4 and stride 2, groups of 3 outputs.
  { ...dense, N: 2, H: 7, W: 7, C: 32, K: 32, R: 3, S: 3, stride: 1, pad: 1, groups: 8, epilogue: 'relu', tuning: { bm: 128, bn: 4, bk: 36, tm: 2, tn: 4 } },
  { ...dense, N: 1, H: 9, W: 9, C: 256, K: 256, R: 3, S: 3, stride: 2, pad: 1, groups: 32, epilogue: 'relu', tuning: { bm: 64, bn: 8, bk: 24, tm: 4, tn: 4 } },
  { ...dense, N: 1, H: 10, W: 10, C: 24, K: 24, R: 3, S: 3, stride: 1, pad: 1, groups: 8, tuning: { bm: 32, bn: 4, bk: 12, tm: 1, tn: 4 } },
  // A 7x7 kernel as large as the image, pad 3.
  { ...dense, N: 1, H: 7, W: 7, C: 8, K: 8, R: 7, S: 7, stride: 1, pad: 3, epilogue: 'relu', tuning: T32 },
  // Split-K: late layers with few tiles (scalar output, residual, pre-activation, grouped) and its reduce pass.
  { ...dense, N: 1, H: 7, W: 7, C: 64, K: 40, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'residual-relu', tuning: { ...T32, bk: 16, splitK: 8 } },
  { ...dense, N: 1, H: 5, W: 5, C: 96, K: 30, R: 3, S: 3, stride: 1, pad: 1, epilogue: 'relu', tuning: { ...T32, splitK: 3 } },
  { ...dense, N: 2, H: 4, W: 4, C: 128, K: 64, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'residual', preAct: true, tuning: { ...T32, bk: 16, splitK: 4 } },
  { ...dense, N: 1, H: 7, W: 7, C: 64, K: 64, R: 3, S: 3, stride: 1, pad: 1, groups: 2, tuning: { ...T64, splitK: 5 } },
  // The pre-activation prologue: 1x1 GEMM, 3x3 with padding, grouped narrow tiles.
  { ...dense, N: 2, H: 9, W: 9, C: 32, K: 20, R: 1, S: 1, stride: 1, pad: 0, epilogue: 'relu', preAct: true, tuning: T32 },
  { ...dense, N: 1, H: 9, W: 11, C: 16, K: 24, R: 3, S: 3, stride: 2, pad: 1, epilogue: 'residual', preAct: true, tuning: T64 },
  { ...dense, N: 2, H: 7, W: 7, C: 32, K: 32, R: 3, S: 3, stride: 1, pad: 1, groups: 4, preAct: true, epilogue: 'relu', tuning: { bm: 64, bn: 8, bk: 24, tm: 2, tn: 4 } },
];

const name = (c: Case): string => convCaseName(c, ' (rule table)');

async function runCase(c: Case, seed: number): Promise<void> {
  const ctx = await testContext();
  const p = randomConvProblem(c, seed);
  const label = `test tiled ${name(c)}`;
  const conv = await Conv2d.create(ctx, p.desc, label, { ...c.tuning, family: 'tiled' });
  assert.equal(conv.tuning.family, 'tiled');
  if (c.tuning?.splitK) assert.equal(conv.params[21] > 1, true, 'split-K runs with more than one slice');
  await assertConvMatchesReference(ctx, conv, p, label, { fillNaN: true });
}

CASES.forEach((c, i) => {
  test(`conv2d tiled ${name(c)}`, () => runCase(c, 2000 + i));
});

/** A hardware context of `vendor` with WebGPU's default limits (compatibility: 128 invocations). */
function fakeHardware(vendor: string, compat = false): GpuContext {
  const limits = {
    maxComputeInvocationsPerWorkgroup: compat ? 128 : 256, maxComputeWorkgroupSizeX: compat ? 128 : 256,
    maxComputeWorkgroupSizeY: compat ? 128 : 256, maxComputeWorkgroupStorageSize: 16384, maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBufferBindingSize: 128 << 20,
  };
  return { source: 'hardware', cpuBacked: false, adapterInfo: { vendor, architecture: '', device: '', description: '' }, device: { limits } } as unknown as GpuContext;
}

/** ResNet-50 / ResNeXt-101 32x4d layer shapes at batch 1 and 8. */
const LAYERS: Omit<Conv2dDesc, 'N'>[] = [
  { H: 224, W: 224, C: 3, K: 64, R: 7, S: 7, stride: 2, pad: 3, groups: 1, epilogue: 'relu' },
  { H: 56, W: 56, C: 64, K: 256, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual-relu' },
  { H: 56, W: 56, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  { H: 28, W: 28, C: 256, K: 256, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  { H: 14, W: 14, C: 512, K: 512, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  { H: 7, W: 7, C: 1024, K: 1024, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  { H: 7, W: 7, C: 512, K: 512, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' },
  { H: 7, W: 7, C: 512, K: 2048, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual-relu' },
  { H: 14, W: 14, C: 1024, K: 256, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
];

test('the vendor table: every vendor\'s pick and every candidate fits the default limits (core and compatibility)', () => {
  const vendors: [string, GpuVendor][] = [['nvidia', 'nvidia'], ['amd', 'amd'], ['apple', 'apple'], ['intel', 'intel'],
    ['qualcomm', 'qualcomm'], ['arm', 'arm'], ['', 'unknown']];
  for (const [vendor, expected] of vendors) {
    assert.equal(vendorOf({ vendor, architecture: '', device: '', description: '' }), expected);
    for (const compat of [false, true]) {
      const ctx = fakeHardware(vendor, compat);
      for (const layer of LAYERS) {
        for (const N of [1, 8]) {
          const desc = { ...layer, N };
          const t = hardwareConv2dTuning(ctx, desc);
          assert.equal(tiledTuningProblem(ctx, desc, t), undefined, `${vendor} ${JSON.stringify(desc)}: ${JSON.stringify(t)}`);
          const candidates = tiledCandidates(ctx, desc);
          assert.deepEqual(candidates[0], t, 'the rule table\'s pick comes first');
          for (const c of candidates) assert.equal(tiledTuningProblem(ctx, desc, c), undefined, JSON.stringify(c));
        }
      }
    }
  }
  // Narrow groups get group-wide tiles; a late 3x3 layer at batch 1 gets split-K; a large layer none.
  const nv = fakeHardware('nvidia');
  assert.equal(hardwareConv2dTuning(nv, { ...LAYERS[2], N: 1 }).bn, 4);
  assert.equal(hardwareConv2dTuning(nv, { ...LAYERS[6], N: 1 }).splitK > 1, true);
  assert.equal(hardwareConv2dTuning(nv, { ...LAYERS[1], N: 8 }).splitK, 1);
  assert.equal(VENDOR_RULES.unknown.bk32, 32);
});

test('kernels option: choices are checked', () => {
  assert.equal(checkKernelChoice('tiled'), 'tiled');
  assert.throws(() => checkKernelChoice('fast'), /kernels: 'fast' is not one of auto, register, tiled, subgroup/);
  assert.equal(kernelOverride('auto'), undefined);
  assert.deepEqual(kernelOverride('tiled'), { family: 'tiled' });
  assert.deepEqual(kernelOverride('subgroup'), { family: 'subgroup' });
});

test('tiled tunings are checked before compiling, naming the label', async () => {
  const ctx = await testContext();
  const desc: Conv2dDesc = { N: 1, H: 8, W: 8, C: 8, K: 8, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'none' };
  const by = (msg: RegExp) => (e: unknown) => e instanceof Error && /layer9\.9\.conv2/.test(e.message) && msg.test(e.message);
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'tiled', ...T32, tm: 3 }), by(/tm 3 must divide bm 32/));
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'tiled', ...T32, tn: 2 }), by(/tn 2 must be/));
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'tiled', ...T32, bk: 30 }), by(/bk 30 must be a multiple of 4/));
  // Tiles past this device's limits (derived from them: llvmpipe allows more than SwiftShader).
  const l = ctx.device.limits;
  const big = { bm: 256, bn: 64, bk: 64, tm: 8, tn: 8 };   // a 8x32 workgroup, 86016 bytes of workgroup memory
  assert.ok(tiledWorkgroupBytes(big) > l.maxComputeWorkgroupStorageSize);
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'tiled', ...big }), by(/workgroup memory/));
  const rows = Math.floor(l.maxComputeInvocationsPerWorkgroup / 16) + 1;   // 16 x rows invocations: one row too many
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'tiled', bm: rows, bn: 64, bk: 16, tm: 1, tn: 4 }), by(/invocations/));
  await assert.rejects(Conv2d.create(ctx, desc, 'layer9.9.conv2', { family: 'tiled', ...T32, splitK: 4 }), by(/split-K 4 exceeds the 3 reduction stages/));
});
