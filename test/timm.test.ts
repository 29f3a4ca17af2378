// timm's architecture names (src/models/timm.ts) -> ResNetConfig. Expected values come from timm's
// resnet.py (the register_model arguments) and torchvision, not from the builder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
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
