// The plan builder: step names, shapes and counts for the named architectures and custom configs;
// the weights, parameter count and config validation derived from it. Expected values come from
// torchvision (parameter counts printed by Debian's torchvision 0.14, state-dict names and shapes
// dumped by weights-tools/make_checkpoint_fixtures.py) and from the architectures' definitions,
// not from the builder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARCHITECTURES, getArchitecture, type ResNetConfig } from '../src/models/config.js';
import { buildPlan, configProblems, expectedTensors, PlanError, tensorMismatch, type ConvStep } from '../src/models/plan.js';
import { fixtureJson } from './weights-tools/fixtures.js';
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

test("expectedTensors is torchvision's state dict: every name and shape, in its order", () => {
  // [name, shape] of model.state_dict() (num_batches_tracked aside: the runtime has no use for it).
  const stateDicts = fixtureJson<Record<string, [string, number[]][]>>('names_shapes.json');
  const counts: Record<string, number> = { resnet18: 102, resnet50: 267, resnext50_32x4d: 267, resnext101_64x4d: 522 };
  for (const [arch, count] of Object.entries(counts)) {
    const want = stateDicts[`torchvision:${arch}`].filter(([n]) => !n.endsWith('.num_batches_tracked'));
    const got = expectedTensors(getArchitecture(arch));
    assert.equal(got.length, count, arch);
    assert.deepEqual(got.map((t) => [t.name, t.shape]), want, arch);
  }
  const shapes = new Map(expectedTensors(getArchitecture('resnext101_32x4d')).map((t) => [t.name, t.shape]));
  assert.equal(shapes.size, 522);
  assert.deepEqual(shapes.get('layer3.22.conv2.weight'), [512, 16, 3, 3]);
  assert.deepEqual(shapes.get('layer4.0.downsample.0.weight'), [2048, 1024, 1, 1]);
  assert.deepEqual(shapes.get('fc.weight'), [1000, 2048]);
});

test('params: the learnable weights of the plan (BN running statistics are not)', () => {
  const plan = buildPlan(getArchitecture('resnet50'));
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const stats = plan.weights.filter((t) => !t.learnable);
  assert.ok(stats.length > 0 && stats.every((t) => /\.running_(mean|var)$/.test(t.name)));
  assert.equal(plan.params + stats.reduce((n, t) => n + size(t.shape), 0), plan.weights.reduce((n, t) => n + size(t.shape), 0));
  assert.equal(plan.params, 25557032);
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

test('configProblems: every problem at once, on any value', () => {
  const base = getArchitecture('resnet50');
  assert.deepEqual(configProblems(base), []);
  for (const name of Object.keys(ARCHITECTURES)) assert.deepEqual(configProblems(getArchitecture(name)), [], name);
  assert.deepEqual(configProblems(null), ['a config must be an object, got null']);
  assert.deepEqual(configProblems({ ...base, groups: 0, bnEps: -1, stem: 7 }), [
    'groups must be a positive integer, got 0', 'stem must be { kernel, stride, pad }, got 7', 'bnEps must be a positive number, got -1']);
  const { stem: _s, name: _n, ...partial } = base;
  assert.deepEqual(configProblems(partial), ["missing field 'name'", "missing field 'stem'"]);
  // One width per stage, exactly: the named architectures give 4 for 4 stages.
  assert.match(configProblems({ ...base, layers: [2, 2] }).join(), /widths \(\[64,128,256,512\]\) must give one width per stage \(2 stages\)/);
  assert.match(configProblems({ ...base, widths: [64, 128, 256] }).join(), /one width per stage \(4 stages\)/);
  assert.match(configProblems({ ...getArchitecture('resnet18'), widthPerGroup: 32 }).join(), /basic blocks support only groups 1 and widthPerGroup 64/);
  assert.match(configProblems({ ...base, maxpool: { kernel: 3, stride: 2, pad: 1, ceil: 'no' } }).join(), /maxpool\.ceil must be a boolean/);
  assert.throws(() => buildPlan({ ...base, layers: [2, 2] }), (e: Error) => e instanceof PlanError && /config 'resnet50': widths/.test(e.message));
});

test('tensorMismatch names every mis-shaped, missing and unexpected tensor with its shape', () => {
  const plan = buildPlan(getArchitecture('resnet18'));
  const tensors = new Map(plan.weights.map((t) => [t.name, { shape: t.shape, dtype: 'F16' }]));
  assert.equal(tensorMismatch(plan, tensors), null);
  tensors.set('conv1.weight', { shape: [64, 1, 7, 7], dtype: 'F16' });
  tensors.delete('fc.bias');
  for (let i = 0; i < 10; i++) tensors.set(`extra.${i}`, { shape: [i], dtype: 'F32' });
  const m = tensorMismatch(plan, tensors)!;
  assert.deepEqual(m.misshaped, [{ name: 'conv1.weight', expected: [64, 3, 7, 7], actual: [64, 1, 7, 7], dtype: 'F16' }]);
  assert.deepEqual(m.missing, ['fc.bias']);
  assert.equal(m.unexpected.length, 10);
  assert.equal(m.details, '1 mis-shaped: conv1.weight is F16 [64, 1, 7, 7], expected [64, 3, 7, 7]; 1 missing: fc.bias [1000]; ' +
    '10 unexpected: extra.0 [0], extra.1 [1], extra.2 [2], extra.3 [3], extra.4 [4], extra.5 [5], extra.6 [6], extra.7 [7], ... and 2 more');
});

test('window sizes follow PyTorch (ceil mode included)', () => {
  assert.equal(windowOutputSize(112, 3, 2, 1), 56);
  assert.equal(windowOutputSize(112, 3, 2, 0, true), 56);   // torch: MaxPool2d(3, 2, ceil_mode=True)(112) -> 56
  assert.equal(windowOutputSize(6, 3, 2, 1, true), 4);      // torch: 4
  assert.equal(windowOutputSize(5, 2, 2, 0, true), 3);
  assert.equal(windowOutputSize(8, 3, 3, 1, true), 3);      // torch drops the window starting in the padding
});

test('se_resnext: Cadene senet.py topology, parameter counts, SE steps and weights in state-dict order', () => {
  // sum(p.numel() for p in SENet(SEResNeXtBottleneck, ...).parameters()) (Cadene's and timm's figures;
  // the first also printed by test/fixtures/make_e2e_goldens.py --count).
  assert.equal(buildPlan(getArchitecture('se_resnext50_32x4d')).params, 27559896);
  assert.equal(buildPlan(getArchitecture('se_resnext101_32x4d')).params, 48955416);
  const plan = buildPlan(getArchitecture('se_resnext50_32x4d'));
  // MaxPool2d(3, stride 2, ceil_mode=True) without padding: 112 -> 56.
  assert.deepEqual(plan.tensors.get('maxpool')!.shape, [56, 56, 64]);
  const names = plan.steps.map((s) => s.name);
  assert.deepEqual(names.slice(3, 10), ['layer1.0.conv1', 'layer1.0.conv2', 'layer1.0.downsample.0', 'layer1.0.conv3',
    'layer1.0.se_module', 'layer1.0', 'layer1.1.conv1']);
  const byName = new Map(plan.steps.map((s) => [s.name, s]));
  // SEResNeXtBottleneck: stride on conv2, width floor(planes * 4 / 64) * 32, a 1x1 downsample without padding.
  const c2 = byName.get('layer2.0.conv2') as ConvStep;
  assert.deepEqual([c2.stride, c2.C, c2.K, c2.groups], [2, 256, 256, 32]);
  const ds = byName.get('layer2.0.downsample.0') as ConvStep;
  assert.deepEqual([ds.R, ds.stride, ds.pad], [1, 2, 0]);
  assert.equal((byName.get('layer2.0.conv3') as ConvStep).epilogue, 'none');
  const se = byName.get('layer2.0.se_module')!;
  assert.ok(se.kind === 'squeeze-excite');
  assert.deepEqual([se.H, se.W, se.K, se.hidden], [28, 28, 512, 32]);
  assert.deepEqual(byName.get('layer2.0')!.inputs, ['layer2.0.conv3', 'layer2.0.se_module', 'layer2.0.downsample.0']);
  assert.deepEqual(byName.get('layer2.1')!.inputs, ['layer2.1.conv3', 'layer2.1.se_module', 'layer2.0']);
  assert.deepEqual(byName.get('layer3.0.conv1')!.inputs, ['layer2.3']);
  assert.deepEqual(byName.get('avgpool')!.inputs, ['layer4.2']);
  const w = plan.weights.map((t) => t.name);
  const at = w.indexOf('layer1.0.bn3.running_var');
  assert.deepEqual(w.slice(at + 1, at + 6), ['layer1.0.se_module.fc1.weight', 'layer1.0.se_module.fc1.bias',
    'layer1.0.se_module.fc2.weight', 'layer1.0.se_module.fc2.bias', 'layer1.0.downsample.0.weight']);
  assert.deepEqual(plan.weights.find((t) => t.name === 'layer4.2.se_module.fc1.weight')!.shape, [128, 2048, 1, 1]);
});

test('se: config checks', () => {
  const base = getArchitecture('se_resnext50_32x4d');
  assert.deepEqual(configProblems(base), []);
  const { se: _, ...plain } = base;
  assert.deepEqual(configProblems(plain), [], 'se is optional');
  assert.deepEqual(configProblems({ ...base, se: { reduction: 0 } }), ['se.reduction must be a positive integer, got 0']);
  assert.deepEqual(configProblems({ ...base, se: 16 }), ['se must be absent or { reduction }, got 16']);
  assert.deepEqual(configProblems({ ...base, se: { reduction: 1024 } }),
    ['stage 1: se fc1 would have floor(256 / 1024) = 0 channels', 'stage 2: se fc1 would have floor(512 / 1024) = 0 channels']);
  assert.deepEqual(configProblems({ ...getArchitecture('resnet18'), se: { reduction: 16 } }),
    ["se (squeeze-excitation) needs bottleneck blocks, got block \"basic\""]);
});

test("resnetv2_50 / resnetv2_18: timm's pre-activation layout, three dispatches a block, the shortcuts timm takes", () => {
  const plan = buildPlan(getArchitecture('resnetv2_50'));
  // Parameter and tensor counts of timm's resnetv2_50, printed from make_e2e_goldens.py's PreActResNet (timm's module
  // structure) by Debian torch: sum of numel, and the state dict less num_batches_tracked.
  assert.deepEqual([plan.params, plan.weights.length], [25549352, 251]);
  const step = (name: string) => plan.steps.find((s) => s.name === name)!;
  assert.deepEqual(plan.steps.slice(0, 3).map((s) => s.name), ['layout', 'stem.conv', 'stem.pool']);
  const stem = step('stem.conv') as ConvStep;
  assert.deepEqual([stem.bn, stem.epilogue, stem.R, stem.stride, stem.pad], [null, 'none', 7, 2, 3]);
  // Stage 0's first block has a projection (64 -> 256 channels), reading norm1's output like conv1.
  const names = (p: string) => plan.steps.filter((s) => s.name.startsWith(`${p}.`)).map((s) => s.name);
  assert.deepEqual(names('stages.0.blocks.0'), ['stages.0.blocks.0.downsample.conv', 'stages.0.blocks.0.conv1',
    'stages.0.blocks.0.conv2', 'stages.0.blocks.0.conv3']);
  const ds = step('stages.1.blocks.0.downsample.conv') as ConvStep;
  assert.deepEqual([ds.R, ds.stride, ds.bn, ds.preNorm, ds.epilogue, ds.inputs], [1, 2, null, 'stages.1.blocks.0.norm1', 'none', ['stages.0.blocks.2.conv3']]);
  const [c1, c2, c3] = ['conv1', 'conv2', 'conv3'].map((c) => step(`stages.1.blocks.0.${c}`) as ConvStep);
  assert.deepEqual([c1.preNorm, c1.bn, c1.epilogue, c1.stride], ['stages.1.blocks.0.norm1', 'stages.1.blocks.0.norm2', 'relu', 1]);
  assert.deepEqual([c2.preNorm, c2.bn, c2.epilogue, c2.stride], [null, 'stages.1.blocks.0.norm3', 'relu', 2]);
  assert.deepEqual([c3.preNorm, c3.bn, c3.epilogue, c3.inputs], [null, null, 'residual', ['stages.1.blocks.0.conv2', ds.name]]);
  // Later blocks: no projection, and the identity shortcut adds the raw block input (not norm1's output).
  assert.deepEqual(names('stages.1.blocks.1').length, 3);
  assert.deepEqual(step('stages.1.blocks.1.conv3').inputs, ['stages.1.blocks.1.conv2', 'stages.1.blocks.0.conv3']);
  assert.deepEqual(step('stages.1.blocks.1.conv1').inputs, ['stages.1.blocks.0.conv3']);
  const pool = step('head.global_pool');
  assert.deepEqual(pool.kind === 'avgpool' && [pool.norm, pool.window, pool.C], ['norm', 'global', 2048]);
  assert.deepEqual(plan.steps.at(-1)!.name, 'head.fc');
  assert.deepEqual(plan.tensors.get('head.fc')!.shape, [1000]);

  // Basic blocks: stage 0 keeps 64 channels at stride 1, so it has no projection; the 3x3 conv1 reads norm1's output.
  const basic = buildPlan(getArchitecture('resnetv2_18'));
  assert.deepEqual([basic.params, basic.weights.length], [11687720, 90]);
  const b = (name: string) => basic.steps.find((s) => s.name === name) as ConvStep | undefined;
  assert.equal(b('stages.0.blocks.0.downsample.conv'), undefined);
  assert.deepEqual([b('stages.0.blocks.0.conv1')!.R, b('stages.0.blocks.0.conv1')!.preNorm], [3, 'stages.0.blocks.0.norm1']);
  assert.deepEqual(b('stages.0.blocks.0.conv2')!.inputs, ['stages.0.blocks.0.conv1', 'stem.pool']);
  assert.deepEqual(b('stages.1.blocks.0.conv2')!.inputs, ['stages.1.blocks.0.conv1', 'stages.1.blocks.0.downsample.conv']);

  // The norm1 prologue reads 4 channels at a time.
  assert.match(configProblems({ ...getArchitecture('resnetv2_18'), stemChannels: 6, widths: [6, 128, 256, 512] }).join('; '),
    /multiples of 4, got 6/);
  assert.match(configProblems({ ...getArchitecture('resnetv2_50'), strideOn: 'conv1' }).join('; '), /stride on conv2/);
});

test("configProblems: timm's variant fields", () => {
  const base = getArchitecture('resnet50');
  const problems = (extra: Record<string, unknown>) => configProblems({ ...base, ...extra });
  assert.deepEqual(problems({ deepStem: [32, 32], stem: { kernel: 3, stride: 2, pad: 1 }, avgDown: true, attn: { kind: 'eca' } }), []);
  assert.match(problems({ deepStem: [32] }).join(), /deepStem must be two positive integers/);
  assert.match(problems({ stemPool: 'avg' }).join(), /stemPool "avg" replaces the max pool: maxpool must be null/);
  assert.match(problems({ stemPool: 'blur', maxpool: null }).join(), /stemPool must be 'avg' or 'conv'/);
  assert.match(problems({ avgDown: 1 }).join(), /avgDown must be a boolean/);
  assert.match(problems({ downsampleKernel: 2 }).join(), /downsampleKernel must be an odd positive integer/);
  assert.match(problems({ downsampleKernel: 3, avgDown: true }).join(), /exclude each other/);
  assert.match(problems({ reduceFirst: 3, groups: 32, widthPerGroup: 4 }).join(), /stage 1: conv1's width floor\(128 \/ reduceFirst 3\) = 42 must be a positive multiple of groups 32/);
  assert.match(problems({ attn: { kind: 'se' } }).join(), /attn.ratio must be a number in \(0, 1\]/);
  assert.match(problems({ attn: { kind: 'cbam' } }).join(), /attn must be \{ kind: 'se', ratio \} or \{ kind: 'eca' \}/);
  assert.match(problems({ attn: { kind: 'eca' }, se: { reduction: 16 } }).join(), /exclude each other/);
  assert.match(problems({ antiAlias: 'yes' }).join(), /antiAlias must be a boolean/);
  assert.match(configProblems({ ...getArchitecture('resnetv2_50'), avgDown: true }).join(), /avgDown: not supported with pre-activation blocks/);
  assert.match(configProblems({ ...getArchitecture('resnet18'), widths: [6, 128, 256, 512], attn: { kind: 'eca' } }).join(),
    /stage 1: channel attention needs block outputs that are multiples of 4, got 6/);
  assert.throws(() => buildPlan({ ...base, reduceFirst: 0 } as ResNetConfig), PlanError);
});

test('the pieces: a deep stem, an average-pool shortcut, attention and anti-aliasing change only their own steps', () => {
  const base = getArchitecture('resnet50');
  const plain = buildPlan(base).steps.map((s) => s.name);
  // avgDown: stage 1's shortcut is a bare 1x1 conv + BN (downsample.1 / .2, no pool: stride 1), stage 2's pools first.
  const d = buildPlan({ ...base, avgDown: true });
  const names = d.steps.map((s) => s.name);
  assert.ok(names.includes('layer1.0.downsample.1') && !names.includes('layer1.0.downsample.0'));
  const pool = d.steps.find((s) => s.name === 'layer2.0.downsample.0')!;
  assert.ok(pool.kind === 'avgpool2d' && pool.kernel === 2 && pool.stride === 2 && pool.ceil && !pool.countIncludePad);
  assert.equal(d.params, buildPlan(base).params, 'the same weights under other names');
  // Attention: the block's last conv stores raw, `se` computes the scales, the block step adds the shortcut.
  const se = buildPlan({ ...base, attn: { kind: 'se', ratio: 1 / 16 } });
  const at = se.steps.findIndex((s) => s.name === 'layer1.0.conv3');
  assert.deepEqual(se.steps.slice(at, at + 3).map((s) => `${s.name}:${s.kind}`), ['layer1.0.conv3:conv', 'layer1.0.se:squeeze-excite',
    'layer1.0:scale-residual']);
  // timm's seresnet50 (28,088,024 in PyTorch, test/fixtures/timm/param_counts.json) less torchvision's resnet50 (25,557,032).
  assert.equal(se.params - buildPlan(base).params, 28088024 - 25557032, 'SE adds fc1 + fc2 with biases');
  // The unchanged parts keep torchvision's names and order.
  assert.deepEqual(buildPlan({ ...base, antiAlias: true }).steps.map((s) => s.name).filter((n) => !n.endsWith('.aa')), plain);
});
