// End to end through the converter: PyTorch checkpoints in Cadene's and torchvision's layouts
// (written by weights-tools/make_checkpoint_fixtures.py, with torch's own forward pass on a fixed
// input) and in timm's ResNetV2 layout (test/fixtures/make_e2e_goldens.py) are converted in memory
// and run by the runtime, which must reproduce torch's logits.

import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadModel } from '../../src/index.js';
import { convertCheckpoint, parseModelConfig } from '../../weights-tools/convert.js';
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

test("a timm ResNetV2 .pth (pre-activation, timm's names) converted and run reproduces torch's logits", async () => {
  const golden = readGolden('preact');
  const stored = parseSafetensors(new Uint8Array(readFileSync(weightsPath('preact'))));
  const converted = convertCheckpoint(new Uint8Array(readFileSync(`${FIXTURES}preact.pth`)), {
    config: parseModelConfig(JSON.parse(stored.metadata.config)),
  });
  const model = await loadModel({ weights: converted.bytes, device: await testContext() });
  try {
    const logits = await model.run(golden.input, { batch: 2 });
    const tol = 1e-4 * golden.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: 'preact.pth logits' });
    assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, 'preact.pth');
  } finally {
    model.dispose();
  }
});
