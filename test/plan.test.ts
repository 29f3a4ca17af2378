// The plan builder: step names, shapes and counts for the named architectures and custom configs.
// Expected values come from torchvision (parameter counts printed by Debian's torchvision 0.14) and
// from the architectures' definitions, not from the builder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARCHITECTURES, getArchitecture, type ResNetConfig } from '../src/models/config.js';
import { buildPlan, PlanError, type ConvStep } from '../src/models/plan.js';
import { windowOutputSize } from '../src/ops/common.js';

const convs = (cfg: ResNetConfig) => buildPlan(cfg).steps.filter((s): s is ConvStep => s.kind === 'conv');

test('parameter counts match torchvision', () => {
  // sum(p.numel() for p in model.parameters()) in torchvision 0.14.
  const torchvision: Record<string, number> = {
    resnet18: 11689512, resnet34: 21797672, resnet50: 25557032, resnet101: 44549160, resnet152: 60192808,
    resnext50_32x4d: 25028904, resnext101_32x8d: 88791336,
    // ResNet(Bottleneck, [3, 4, 23, 3], groups=32 / 64, width_per_group=4): Cadene's topology.
    resnext101_32x4d: 44177704, resnext101_64x4d: 83455272,
  };
  for (const [name, params] of Object.entries(torchvision)) {
    assert.equal(buildPlan(getArchitecture(name)).params, params, name);
  }
});

test('resnet50: step order and names mirror PyTorch; shapes at 224x224', () => {
  const plan = buildPlan(getArchitecture('resnet50'));
  const names = plan.steps.map((s) => s.name);
  assert.deepEqual(names.slice(0, 8), ['layout', 'conv1', 'maxpool', 'layer1.0.conv1', 'layer1.0.conv2',
    'layer1.0.downsample.0', 'layer1.0.conv3', 'layer1.1.conv1']);
  assert.deepEqual(names.slice(-2), ['avgpool', 'fc']);
  // 1 stem + 16 blocks * 3 + 4 downsamples = 53 convs.
  assert.equal(plan.steps.filter((s) => s.kind === 'conv').length, 53);
  assert.deepEqual(plan.tensors.get('conv1')!.shape, [112, 112, 64]);
  assert.deepEqual(plan.tensors.get('maxpool')!.shape, [56, 56, 64]);
  assert.deepEqual(plan.tensors.get('layer2.0.conv3')!.shape, [28, 28, 512]);
  assert.deepEqual(plan.tensors.get('layer4.2.conv3')!.shape, [7, 7, 2048]);
  assert.deepEqual(plan.tensors.get('fc')!.shape, [1000]);
  assert.equal(plan.output, 'fc');
  const c3 = plan.steps.find((s) => s.name === 'layer2.0.conv3') as ConvStep;
  assert.deepEqual(c3.inputs, ['layer2.0.conv2', 'layer2.0.downsample.0']);
  assert.equal(c3.epilogue, 'residual-relu');
  const c31 = plan.steps.find((s) => s.name === 'layer2.1.conv3') as ConvStep;
  assert.deepEqual(c31.inputs, ['layer2.1.conv2', 'layer2.0.conv3'], 'identity shortcut reads the block input');
  // ResNet-50 is about 4.1 GMACs at 224x224.
  assert.ok(plan.flops > 2 * 4.0e9 && plan.flops < 2 * 4.2e9, `flops ${plan.flops}`);
});

test('resnext101_32x4d: grouped 3x3 with the stride, fixed 7x7 avgpool', () => {
  const cs = convs(getArchitecture('resnext101_32x4d'));
  const c = cs.find((s) => s.name === 'layer3.0.conv2')!;
  assert.deepEqual([c.C, c.K, c.groups, c.stride, c.H], [512, 512, 32, 2, 28]);
  const c1 = cs.find((s) => s.name === 'layer3.0.conv1')!;
  assert.equal(c1.stride, 1);
  const ds = cs.find((s) => s.name === 'layer3.0.downsample.0')!;
  assert.deepEqual([ds.stride, ds.bn], [2, 'layer3.0.downsample.1']);
  const plan = buildPlan(getArchitecture('resnext101_32x4d'), { input: 'image', head: 'topk', topK: 5 });
  const pool = plan.steps.find((s) => s.kind === 'avgpool')!;
  assert.equal(pool.kind === 'avgpool' && pool.window, 7);
  assert.deepEqual(plan.steps.slice(-3).map((s) => s.kind), ['linear', 'softmax', 'topk']);
  assert.equal(plan.steps[0].kind, 'preprocess');
  assert.equal(plan.output, 'topk');
  assert.equal(cs.filter((s) => s.name.endsWith('.conv2')).length, 33);
});

test('fbresnet152: stride on the 1x1 conv1, conv biases', () => {
  const cs = convs(getArchitecture('fbresnet152'));
  const c1 = cs.find((s) => s.name === 'layer4.0.conv1')!;
  const c2 = cs.find((s) => s.name === 'layer4.0.conv2')!;
  assert.deepEqual([c1.stride, c2.stride], [2, 1]);
  assert.ok(cs.every((s) => s.convBias));
});

test('basic blocks: resnet18 names and downsample only where the shape changes', () => {
  const cs = convs(getArchitecture('resnet18'));
  assert.equal(cs.length, 1 + 8 * 2 + 3);
  assert.ok(!cs.some((s) => s.name === 'layer1.0.downsample.0'));
  const c = cs.find((s) => s.name === 'layer2.0.conv2')!;
  assert.deepEqual(c.inputs, ['layer2.0.conv1', 'layer2.0.downsample.0']);
});

test('custom config: grey input, no maxpool, odd size, 3 stages', () => {
  const cfg: ResNetConfig = { ...getArchitecture('resnet18'), name: 'tiny', layers: [1, 1, 1], widths: [4, 8, 12],
    stemChannels: 4, stem: { kernel: 3, stride: 1, pad: 1 }, maxpool: null, inputChannels: 1, inputSize: 13, numClasses: 7 };
  const plan = buildPlan(cfg, { input: 'nchw' });
  assert.deepEqual(plan.tensors.get('input.nchw')!.shape, [1, 13, 13]);
  assert.deepEqual(plan.tensors.get('layer3.0.conv2')!.shape, [4, 4, 12]);
  assert.deepEqual(plan.tensors.get('fc')!.shape, [7]);
  assert.ok(!plan.steps.some((s) => s.kind === 'maxpool'));
});

test('every named architecture builds', () => {
  for (const name of Object.keys(ARCHITECTURES)) assert.ok(buildPlan(getArchitecture(name)).steps.length > 10, name);
});

test('bad configs fail with a clear PlanError', () => {
  const base = getArchitecture('resnext101_32x4d');
  assert.throws(() => buildPlan({ ...base, inputSize: 256 }), (e: Error) =>
    e instanceof PlanError && /avgpool 7x7 .* final 8x8 map/.test(e.message));
  assert.throws(() => buildPlan({ ...base, layers: [] }), PlanError);
  assert.throws(() => buildPlan({ ...base, groups: 0 }), /groups must be a positive integer/);
  assert.throws(() => buildPlan({ ...getArchitecture('resnet50'), inputSize: 8, maxpool: null, stem: { kernel: 9, stride: 1, pad: 0 } }),
    /would produce no output/);
});

test('window sizes follow PyTorch (ceil mode included)', () => {
  assert.equal(windowOutputSize(112, 3, 2, 1), 56);
  assert.equal(windowOutputSize(112, 3, 2, 0, true), 56);   // torch: MaxPool2d(3, 2, ceil_mode=True)(112) -> 56
  assert.equal(windowOutputSize(6, 3, 2, 1, true), 4);      // torch: 4
  assert.equal(windowOutputSize(5, 2, 2, 0, true), 3);
  assert.equal(windowOutputSize(8, 3, 3, 1, true), 3);      // torch drops the window starting in the padding
});
