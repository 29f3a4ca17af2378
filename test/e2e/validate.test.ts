// validate(): every step of a ResNeXt checked against the CPU reference; a perturbed weight on the
// GPU is found and named.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/index.js';
import type { Conv2dWeights } from '../../src/ops/conv2d-weights.js';
import { testContext } from '../helpers/gpu.js';
import { readGolden, weightsPath } from './fixtures.js';

test('validate mode passes on a ResNeXt and names the step whose weights were perturbed', async () => {
  const ctx = await testContext();
  const golden = readGolden('resnext');
  const model = await loadModel({ weights: weightsPath('resnext'), device: ctx, validate: true });
  try {
    const report = await model.validate(golden.input, { batch: 2 });
    assert.ok(report.ok, `validate failed at ${report.firstMismatch}: ${JSON.stringify(report.steps.find((s) => !s.ok))}`);
    assert.equal(report.firstMismatch, undefined);
    const names = report.steps.map((s) => s.name);
    assert.deepEqual(names.slice(0, 3), ['layout', 'conv1', 'maxpool']);
    assert.ok(names.includes('layer2.0.downsample.0') && names.includes('layer2.1.conv3'));
    assert.deepEqual(names.slice(-2), ['avgpool', 'fc']);
    assert.ok(report.steps.every((s) => s.maxAbsRef > 0), 'every step produces non-zero output');

    // One texel (4 packed weights) of layer2.0.conv2 (the grouped 3x3 with the stride) changes on the GPU only.
    const { texture } = model.debug.stepWeights('layer2.0.conv2') as Conv2dWeights;
    ctx.device.queue.writeTexture({ texture }, new Float32Array([5, 5, 5, 5]), {}, [1, 1]);
    const bad = await model.validate(golden.input, { batch: 2 });
    assert.equal(bad.ok, false);
    assert.equal(bad.firstMismatch, 'layer2.0.conv2');
    const step = bad.steps.find((s) => s.name === 'layer2.0.conv2')!;
    assert.ok(step.maxAbsDiff > 1e-2, `max diff ${step.maxAbsDiff}`);
    // The steps before it still agree, and the ones after are checked on the GPU's own inputs.
    const i = bad.steps.indexOf(step);
    assert.ok(bad.steps.slice(0, i).every((s) => s.ok));
    assert.ok(bad.steps.slice(i + 1).every((s) => s.ok));
  } finally {
    model.dispose();
  }
});

test('validate() without { validate: true } at load says what to do', async () => {
  const model = await loadModel({ weights: weightsPath('basic'), device: await testContext() });
  try {
    await assert.rejects(model.validate(readGolden('basic').input), /load the model with \{ validate: true \}/);
  } finally {
    model.dispose();
  }
});

test('validate mode passes on an SE-ResNeXt: squeeze-excite and scale-residual steps against their references', async () => {
  const golden = readGolden('se_resnext');
  const model = await loadModel({ weights: weightsPath('se_resnext'), device: await testContext(), validate: true });
  try {
    const report = await model.validate(golden.input, { batch: 2 });
    assert.ok(report.ok, `validate failed at ${report.firstMismatch}: ${JSON.stringify(report.steps.find((s) => !s.ok))}`);
    const kinds = new Set(report.steps.map((s) => s.kind));
    assert.ok(kinds.has('squeeze-excite') && kinds.has('scale-residual'));
    assert.ok(report.steps.every((s) => s.maxAbsRef > 0), 'every step produces non-zero output');
  } finally {
    model.dispose();
  }
});
