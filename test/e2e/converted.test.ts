// End to end through the converter: PyTorch checkpoints in Cadene's and torchvision's layouts
// (written by weights-tools/make_checkpoint_fixtures.py, with torch's own forward pass on a fixed
// input) are converted in memory and run by the runtime, which must reproduce torch's logits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/index.js';
import { convertCheckpoint, parseModelConfig } from '../../src/convert/convert.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { b64f32, fixtureBytes, fixtureJson } from '../weights-tools/fixtures.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';
import { assertSameTopK, FIXTURES, readGolden, weightsPath } from './fixtures.js';

for (const [checkpoint, config] of [
  ['cadene_tiny_legacy', 'cadene_tiny'],
  ['torchvision_tiny_zip', 'torchvision_tiny'],
] as const) {
  test(`${checkpoint}.pth converted and run reproduces torch's logits`, async () => {
    const expect = fixtureJson<{
      forward: { input: { shape: number[]; data: string }; logits: { shape: number[]; data: string } };
    }>(`${checkpoint}.expect.json`);
    const converted = convertCheckpoint(fixtureBytes(`${checkpoint}.pth`), {
      config: parseModelConfig(fixtureJson(`${config}.config.json`)),
    });
    const input = b64f32(expect.forward.input.data);
    const golden = b64f32(expect.forward.logits.data);
    const [N, classes] = expect.forward.logits.shape;
    const model = await loadModel({ weights: converted.bytes, device: await testContext() });
    try {
      const logits = await model.run(input, { batch: N });
      const tol = 1e-4 * golden.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(logits, golden, { atol: tol, rtol: 0, what: `${checkpoint} logits` });
      assertSameTopK(logits, golden, classes, N, 5, 2 * tol, checkpoint);
    } finally {
      model.dispose();
    }
  });
}

test("se_resnext.pth (Cadene's SENet names) converted and run reproduces torch's logits", async () => {
  // The state dict of make_e2e_goldens.py's se_resnext family under Cadene's names (layer0.conv1,
  // last_linear, ...); the config is the one in the golden .safetensors' metadata.
  const golden = readGolden('se_resnext');
  const config = JSON.parse(parseSafetensors(readFileSync(weightsPath('se_resnext'))).metadata.config!) as unknown;
  const converted = convertCheckpoint(readFileSync(`${FIXTURES}se_resnext.pth`), { config: parseModelConfig({ ...config as object }) });
  assert.equal(converted.layout, 'cadene-senet');
  const model = await loadModel({ weights: converted.bytes, device: await testContext() });
  try {
    const logits = await model.run(golden.input, { batch: 2 });
    const tol = 1e-4 * golden.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: 'se_resnext.pth logits' });
    assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, 'se_resnext.pth');
  } finally {
    model.dispose();
  }
});
