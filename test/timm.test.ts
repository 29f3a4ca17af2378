// timm's architecture names (src/models/timm.ts) -> ResNetConfig. Expected values come from timm's
// resnet.py (the register_model arguments) and torchvision, not from the builder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getArchitecture } from '../src/models/config.js';
import { buildPlan } from '../src/models/plan.js';
import { isSupportedTimmArchitecture, TIMM_ARCHITECTURES, timmArchConfig, UnsupportedArchitectureError } from '../src/models/timm.js';

test("timm's torchvision-layout names build torchvision's networks", () => {
  for (const name of ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnext50_32x4d', 'resnext101_32x8d',
    'wide_resnet50_2', 'wide_resnet101_2']) {
    assert.deepEqual(timmArchConfig(name), getArchitecture(name), name);
  }
  // timm's resnext101_32x4d / 64x4d pool globally (Cadene's use AvgPool2d(7)); the same weights.
  assert.equal(timmArchConfig('resnext101_64x4d').avgpool, 'global');
  assert.equal(buildPlan(timmArchConfig('resnext101_64x4d')).params, buildPlan(getArchitecture('resnext101_64x4d')).params);
});

test('timmArchConfig: classes and input size; typed one-line errors', () => {
  const c = timmArchConfig('resnet50', 11821, { inputSize: 288 });
  assert.equal(c.numClasses, 11821);
  assert.equal(c.inputSize, 288);
  assert.throws(() => timmArchConfig('vit_base_patch16_224'), (e: unknown) => e instanceof UnsupportedArchitectureError &&
    e.architecture === 'vit_base_patch16_224' && /not one of timm's resnet\.py architectures/.test(e.message) && !e.message.includes('\n'));
  assert.throws(() => timmArchConfig('resnetblur50'), /resnetblur50.*BlurPool2d/);
  assert.throws(() => timmArchConfig('resnet50_gn'), /resnet50_gn.*GroupNorm/);
  assert.throws(() => timmArchConfig('resnet50', 0), /num_classes/);
  assert.ok(!isSupportedTimmArchitecture('resnetblur50'));
  assert.ok(isSupportedTimmArchitecture('resnet50'));
});

test('parameter counts: torchvision 0.14 for the wide ResNets, timm for its names', () => {
  // sum(p.numel() for p in torchvision.models.wide_resnet50_2().parameters()), Debian's torchvision 0.14.
  assert.equal(buildPlan(getArchitecture('wide_resnet50_2')).params, 68883240);
  assert.equal(buildPlan(getArchitecture('wide_resnet101_2')).params, 126886696);
  // timm's published param_count (millions, 2 decimals): huggingface/pytorch-image-models
  // results/results-imagenet.csv (senet154, resnetrs101 also in results/benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv).
  const published: Record<string, number> = {
    resnet50: 25.56, wide_resnet50_2: 68.88, resnext101_32x8d: 88.79,
    // deep / tiered stems, average-pool shortcut
    resnet10t: 5.44, resnet14t: 10.08, resnet18d: 11.71, resnet26t: 16.01, resnet50c: 25.58, resnet50d: 25.58, resnet50s: 25.68,
    // squeeze-excitation, ResNet-RS, SENet-154
    seresnet50: 28.09, seresnext26d_32x4d: 16.81, seresnext50_32x4d: 27.56, resnetrs101: 63.62, senet154: 115.09,
    // ECA
    ecaresnet50t: 25.57, ecaresnet50d: 25.58, ecaresnetlight: 30.16,
    // anti-aliased
    resnetaa50: 25.56, resnetaa50d: 25.58, seresnextaa101d_32x8d: 93.59,
  };
  for (const [name, m] of Object.entries(published)) {
    assert.equal(Math.round(buildPlan(timmArchConfig(name)).params / 1e4) / 100, m, name);
  }
  assert.ok(Object.keys(TIMM_ARCHITECTURES).length > 70);
});

test("parameter counts: PyTorch's count of the same networks written out with timm's and Cadene's code", () => {
  // sum(p.numel()) of the full-size networks built by test/fixtures/make_timm_goldens.py (timm's resnet.py
  // and Cadene's senet.py modules, written out after their code, with their register_model / constructor arguments).
  const counts = JSON.parse(readFileSync(fileURLToPath(new URL('fixtures/timm/param_counts.json', import.meta.url)), 'utf8')) as Record<string, number>;
  assert.ok(Object.keys(counts).length >= 15);
  for (const [name, params] of Object.entries(counts)) {
    const config = name.startsWith('cadene:') ? getArchitecture(name.slice('cadene:'.length)) : timmArchConfig(name);
    assert.equal(buildPlan(config).params, params, name);
  }
  // The two the issue quotes.
  assert.equal(counts.resnet50d, 25576264);
  assert.equal(counts.seresnext50_32x4d, 27559896);
});

test('timm configs: each variant is the field its piece reads', () => {
  const d = timmArchConfig('resnet50d');
  assert.deepEqual([d.deepStem, d.stemChannels, d.avgDown, d.stemPool, d.attn, d.antiAlias], [[32, 32], 64, true, undefined, undefined, undefined]);
  assert.deepEqual(timmArchConfig('resnet26t').deepStem, [24, 32]);
  assert.deepEqual(timmArchConfig('resnet50s').deepStem, [64, 64]);
  assert.equal(timmArchConfig('resnet50c').avgDown, undefined);
  assert.deepEqual(timmArchConfig('ecaresnetlight').deepStem, undefined);
  assert.equal(timmArchConfig('ecaresnetlight').stemChannels, 64);
  const rs = timmArchConfig('resnetrs101');
  assert.deepEqual([rs.stemPool, rs.maxpool, rs.attn], ['conv', null, { kind: 'se', ratio: 0.25 }]);
  const aa = timmArchConfig('seresnextaa101d_32x8d');
  assert.deepEqual([aa.stemPool, aa.maxpool, aa.antiAlias, aa.groups, aa.widthPerGroup], ['avg', null, true, 32, 8]);
  const senet = timmArchConfig('senet154');
  assert.deepEqual([senet.deepStem, senet.stemChannels, senet.reduceFirst, senet.downsampleKernel], [[64, 64], 128, 2, 3]);
  // Every listed architecture either builds or names what is missing.
  for (const name of Object.keys(TIMM_ARCHITECTURES)) {
    if (isSupportedTimmArchitecture(name)) assert.ok(buildPlan(timmArchConfig(name)).params > 0, name);
    else assert.throws(() => timmArchConfig(name), UnsupportedArchitectureError, name);
  }
});

test('resnetaa50d: the plan places the anti-aliasing pools where timm does', () => {
  const names = buildPlan(timmArchConfig('resnetaa50d')).steps.map((s) => `${s.name}:${s.kind}`);
  assert.deepEqual(names.slice(1, 5), ['conv1.0:conv', 'conv1.3:conv', 'conv1.6:conv', 'maxpool:avgpool2d']);
  const at = names.indexOf('layer2.0.conv2:conv');
  assert.deepEqual(names.slice(at, at + 5), ['layer2.0.conv2:conv', 'layer2.0.aa:avgpool2d', 'layer2.0.downsample.0:avgpool2d',
    'layer2.0.downsample.1:conv', 'layer2.0.conv3:conv']);
  assert.ok(!names.includes('layer1.0.aa:avgpool2d'), 'stride 1: no pool');
  assert.ok(!names.includes('layer1.0.downsample.0:avgpool2d'), 'stride 1: the avg_down pool is an Identity');
});
