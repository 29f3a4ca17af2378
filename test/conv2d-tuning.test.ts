// The CPU cost model's launch geometry (src/ops/conv2d-tuning.ts), no GPU needed: its picks for
// ResNet-50 and ResNeXt-101 32x4d layers at batch 1 and 4 on llvmpipe and SwiftShader (as of commit
// 40e8c23), and rules that follow from the constants. A change to the constants or the model shows here
// as changed picks, to be backed by `npm run bench -- --micro` runs (bench/RESULTS.md, "The cost
// model's constants").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GpuContext } from '../src/gpu/device.js';
import { conv2dFlops, type Conv2dDesc, type RegisterTuning } from '../src/ops/conv2d-geometry.js';
import { defaultConv2dTuning, LLVMPIPE_COSTS, registerConv2dTuning, SWIFTSHADER_COSTS } from '../src/ops/conv2d-tuning.js';

/** The WebGPU default limits the search reads. */
const LIMITS = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupsPerDimension: 65535 };
/** The threads of the machine the constants were fitted on (2 vCPUs). */
const THREADS = 2;

function fakeContext(source: GpuContext['source']): GpuContext {
  return { source, cpuBacked: source === 'llvmpipe' || source === 'swiftshader', device: { limits: { ...LIMITS } } } as unknown as GpuContext;
}

function pick(source: GpuContext['source'], desc: Conv2dDesc): RegisterTuning {
  const t = defaultConv2dTuning(fakeContext(source), desc, THREADS);
  assert.notEqual(t.family, 'tiled', 'the CPU-backed adapters keep the register family');
  return t as RegisterTuning;
}

/** As bench --micro prints a tuning. */
function text(t: RegisterTuning): string {
  return `${4 * t.tq}px x ${4 * t.jn}ch wg ${t.wgX}x${t.wgY}${t.direct ? ' direct' : ''}${t.channelLanes ? ' ch-lanes' : ''}`;
}

/** Layer (per sample), then the picks on llvmpipe at batch 1 and 4 and on SwiftShader at batch 1 and 4. */
const LAYERS: [string, Omit<Conv2dDesc, 'N'>, [string, string, string, string]][] = [
  ['stem', { H: 224, W: 224, C: 3, K: 64, R: 7, S: 7, stride: 2, pad: 3, groups: 1, epilogue: 'relu' },
    ['28px x 32ch wg 8x1', '28px x 32ch wg 8x1', '16px x 16ch wg 1x4 ch-lanes', '16px x 16ch wg 1x4 ch-lanes']],
  ['r50 l1 1x1 64->64', { H: 56, W: 56, C: 64, K: 64, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
    ['28px x 32ch wg 8x1', '32px x 32ch wg 8x1', '16px x 32ch wg 4x1', '16px x 32ch wg 4x1']],
  ['r50 l1 3x3 64', { H: 56, W: 56, C: 64, K: 64, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' },
    ['28px x 32ch wg 8x1 direct', '28px x 32ch wg 8x1 direct', '16px x 32ch wg 4x1', '16px x 32ch wg 4x1']],
  ['r50 l1 1x1 64->256 +res', { H: 56, W: 56, C: 64, K: 256, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual-relu' },
    ['32px x 32ch wg 1x8 ch-lanes', '32px x 32ch wg 8x1', '28px x 32ch wg 4x1', '28px x 32ch wg 4x1']],
  ['r50 l2.0 3x3/2 128', { H: 56, W: 56, C: 128, K: 128, R: 3, S: 3, stride: 2, pad: 1, groups: 1, epilogue: 'relu' },
    ['20px x 32ch wg 8x1', '28px x 32ch wg 8x1', '16px x 32ch wg 4x1', '16px x 32ch wg 4x1']],
  ['r50 l2.0 downsample 1x1/2 256->512', { H: 56, W: 56, C: 256, K: 512, R: 1, S: 1, stride: 2, pad: 0, groups: 1, epilogue: 'none' },
    ['28px x 64ch wg 1x8 ch-lanes', '32px x 64ch wg 1x8 ch-lanes', '28px x 32ch wg 4x1', '28px x 32ch wg 4x1']],
  ['r50 l3 3x3 256', { H: 14, W: 14, C: 256, K: 256, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' },
    ['28px x 32ch wg 8x1', '28px x 32ch wg 1x8 ch-lanes', '16px x 32ch wg 1x4 ch-lanes', '16px x 32ch wg 4x1']],
  ['r50 l3 1x1 1024->256', { H: 14, W: 14, C: 1024, K: 256, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
    ['28px x 16ch wg 1x8 ch-lanes', '28px x 32ch wg 1x8 ch-lanes', '28px x 32ch wg 1x4 ch-lanes', '28px x 32ch wg 4x1']],
  ['r50 l4 3x3 512', { H: 7, W: 7, C: 512, K: 512, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' },
    ['28px x 64ch wg 1x8 ch-lanes', '28px x 32ch wg 1x8 ch-lanes', '16px x 32ch wg 4x1', '16px x 32ch wg 1x4 ch-lanes']],
  ['r50 l4 1x1 512->2048 +res', { H: 7, W: 7, C: 512, K: 2048, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual-relu' },
    ['28px x 64ch wg 1x8 ch-lanes', '28px x 64ch wg 1x8 ch-lanes', '28px x 32ch wg 1x4 ch-lanes', '28px x 32ch wg 1x4 ch-lanes']],
  ['x101 l1 3x3 G32 128', { H: 56, W: 56, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
    ['28px x 4ch wg 8x1 direct', '28px x 4ch wg 8x1 direct', '16px x 4ch wg 4x1 direct', '16px x 4ch wg 4x1 direct']],
  ['x101 l3 3x3 G32 512', { H: 14, W: 14, C: 512, K: 512, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
    ['16px x 16ch wg 8x1 direct', '16px x 16ch wg 8x1 direct', '8px x 16ch wg 4x1 direct', '16px x 16ch wg 4x1 direct']],
  ['x101 l3 1x1 1024->512', { H: 14, W: 14, C: 1024, K: 512, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
    ['28px x 32ch wg 1x8 ch-lanes', '28px x 64ch wg 1x8 ch-lanes', '28px x 32ch wg 1x4 ch-lanes', '28px x 32ch wg 4x1']],
  ['x101 l3 1x1 512->1024 +res', { H: 14, W: 14, C: 512, K: 1024, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual-relu' },
    ['28px x 64ch wg 1x8 ch-lanes', '32px x 64ch wg 1x8 ch-lanes', '28px x 32ch wg 1x4 ch-lanes', '28px x 32ch wg 4x1']],
  ['x101 l4 3x3 G32 1024', { H: 7, W: 7, C: 1024, K: 1024, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
    ['8px x 32ch wg 8x1 direct', '28px x 32ch wg 8x1', '16px x 32ch wg 4x1', '8px x 16ch wg 4x1 direct']],
  ['x101 l4 1x1 2048->1024', { H: 7, W: 7, C: 2048, K: 1024, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
    ['28px x 64ch wg 1x8 ch-lanes', '28px x 64ch wg 1x8 ch-lanes', '28px x 32ch wg 1x4 ch-lanes', '28px x 32ch wg 1x4 ch-lanes']],
];

const RUNS = [['llvmpipe', 1], ['llvmpipe', 4], ['swiftshader', 1], ['swiftshader', 4]] as const;

test('conv2d tuning: the cost model\'s picks for ResNet-50 and ResNeXt-101 layers', () => {
  for (const [name, layer, expected] of LAYERS) {
    RUNS.forEach(([source, N], i) => {
      assert.equal(text(pick(source, { N, ...layer })), expected[i], `${source} batch ${N} ${name}`);
    });
  }
});

test('conv2d tuning: the direct path only for stride 1, a kernel 3 wide and C/G % 4 == 0', () => {
  let direct = 0;
  for (const [name, layer] of LAYERS) {
    for (const [source, N] of RUNS) {
      const t = pick(source, { N, ...layer });
      if (!t.direct) continue;
      direct++;
      assert.ok(layer.stride === 1 && layer.S === 3 && (layer.C / layer.groups) % 4 === 0, `${source} batch ${N} ${name}`);
    }
  }
  assert.ok(direct > 0);
});

test('conv2d tuning: on SwiftShader more than 16 pixels only for 1x1 layers of at least 50 MFLOP an image', () => {
  assert.equal(SWIFTSHADER_COSTS.largeBlockFlops, 50e6);
  for (const [name, layer] of LAYERS) {
    for (const N of [1, 4]) {
      const desc = { N, ...layer };
      const t = pick('swiftshader', desc);
      const large1x1 = layer.R === 1 && layer.S === 1 && conv2dFlops(desc) / N >= SWIFTSHADER_COSTS.largeBlockFlops;
      assert.ok(t.tq <= (large1x1 ? SWIFTSHADER_COSTS.maxTq1x1 : SWIFTSHADER_COSTS.maxTq), `batch ${N} ${name}: ${text(t)}`);
    }
  }
  // Either side of the line: 1x1, 512 -> 512 on 14x14 (103 MFLOP an image) and on 7x7 (26 MFLOP).
  // The line is per image: at batch 4 the 7x7 layer has more FLOPs than the 14x14 one at batch 1.
  const gemm = { C: 512, K: 512, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' } as const;
  assert.ok(pick('swiftshader', { N: 1, H: 14, W: 14, ...gemm }).tq > SWIFTSHADER_COSTS.maxTq);
  assert.ok(pick('swiftshader', { N: 4, H: 7, W: 7, ...gemm }).tq <= SWIFTSHADER_COSTS.maxTq);
});

test('conv2d tuning: blocks and workgroups within the constants and the limits', () => {
  for (const [name, layer] of LAYERS) {
    for (const [source, N] of RUNS) {
      const costs = source === 'llvmpipe' ? LLVMPIPE_COSTS : SWIFTSHADER_COSTS;
      const t = pick(source, { N, ...layer });
      const what = `${source} batch ${N} ${name}: ${text(t)}`;
      assert.ok(t.jn <= costs.maxJn && (t.channelLanes || t.jn <= costs.pixelLanesMaxJn) && (!t.direct || t.jn <= costs.directMaxJn), what);
      // One to four SIMD batches of lanes, all along pixels or all along channels.
      const lanes = t.channelLanes ? t.wgY : t.wgX;
      assert.equal(t.channelLanes ? t.wgX : t.wgY, 1, what);
      assert.ok([1, 2, 4].map((b) => b * costs.simd).includes(lanes), what);
      assert.ok(t.wgX * t.wgY <= LIMITS.maxComputeInvocationsPerWorkgroup, what);
    }
  }
});

test('conv2d tuning: hardware GPUs get the tiled family; forced onto the register family, 64 invocations and small blocks', () => {
  const ctx = fakeContext('hardware');
  (ctx as { adapterInfo: Partial<GPUAdapterInfo> }).adapterInfo = { vendor: 'nvidia', architecture: '', device: '', description: '' };
  (ctx.device.limits as unknown as Record<string, number>).maxComputeWorkgroupStorageSize = 16384;
  const desc = { N: 1, ...LAYERS[1][1] };
  assert.equal(defaultConv2dTuning(ctx, desc, THREADS).family, 'tiled');
  assert.deepEqual(registerConv2dTuning(ctx, desc, THREADS), { wgX: 64, wgY: 1, tq: 1, jn: 2, direct: false, channelLanes: false });
});
