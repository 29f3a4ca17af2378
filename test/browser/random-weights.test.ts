// Random weights (src/weights/random.ts: the demo's "random weights" benchmark button, the bench
// and the tiny models of the browser tests): a complete, deterministic checkpoint that the runtime
// accepts, and activations that stay near unit scale through a deep net (no overflow, no
// vanishing into denormals).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadModel } from '../../src/index.js';
import { getArchitecture, type ResNetConfig } from '../../src/models/config.js';
import { expectedTensors } from '../../src/models/plan.js';
import { decodeMetadata, parseSafetensors } from '../../src/weights/safetensors.js';
import { mulberry32, randomWeights } from '../../src/weights/random.js';
import { testContext } from '../helpers/gpu.js';

test('random weights hold every tensor of the architecture, deterministically', () => {
  const config = getArchitecture('resnet18');
  const a = randomWeights(config, { seed: 3 });
  const header = parseSafetensors(a);
  const want = expectedTensors(config);
  assert.deepEqual([...header.tensors.keys()], want.map((t) => t.name));
  for (const t of want) assert.deepEqual(header.tensors.get(t.name)!.shape, t.shape, t.name);
  const meta = decodeMetadata(header.metadata);
  assert.equal(meta.arch, 'resnet18');
  assert.equal(meta.labels, 'imagenet');
  assert.equal(meta.source, 'random');

  const b = randomWeights(config, { seed: 3 });
  assert.equal(Buffer.compare(a, b), 0, 'same seed, different bytes');
  const c = randomWeights(config, { seed: 4 });
  assert.notEqual(Buffer.compare(a, c), 0, 'different seeds, same bytes');
});

test('random weights keep a deep ResNeXt\'s logits finite and near unit scale', async () => {
  // 12 bottleneck blocks: deep enough for a badly scaled init to blow up or vanish.
  const config: ResNetConfig = {
    name: 'deep_random_test', block: 'bottleneck', layers: [4, 4, 4], widths: [8, 16, 32], groups: 4, widthPerGroup: 8,
    strideOn: 'conv2', stemChannels: 16, stem: { kernel: 3, stride: 1, pad: 1 }, maxpool: null, convBias: false,
    avgpool: 'global', bnEps: 1e-5, inputChannels: 3, inputSize: 16, numClasses: 32,
  };
  const bytes = randomWeights(config, { seed: 11, custom: true, metadata: { labels: Array.from({ length: 32 }, (_, i) => `c${i}`) } });
  const model = await loadModel({ weights: bytes, device: await testContext() });
  try {
    const rand = mulberry32(5);
    const input = Float32Array.from({ length: 2 * 3 * 16 * 16 }, () => 2 * rand() - 1); // (N, C, H, W), unit-ish scale
    const logits = await model.run(input, { batch: 2 });
    assert.equal(logits.length, 64);
    assert.ok(logits.every(Number.isFinite), 'non-finite logits');
    const mean = logits.reduce((s, x) => s + x, 0) / logits.length;
    const std = Math.sqrt(logits.reduce((s, x) => s + (x - mean) ** 2, 0) / logits.length);
    assert.ok(std > 0.05 && std < 20, `logit std ${std} is far from unit scale`);
    assert.ok(logits.every((x) => x === 0 || Math.abs(x) > 1e-30), 'denormal logits');
  } finally {
    model.dispose();
  }
});
