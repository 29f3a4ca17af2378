// End to end through the converter: PyTorch checkpoints in Cadene's and torchvision's layouts
// (written by weights-tools/make_checkpoint_fixtures.py, with torch's own forward pass on a fixed
// input) are converted in memory and run by the runtime, which must reproduce torch's logits.

import { test } from 'node:test';
import { loadModel } from '../../src/index.js';
import { convertCheckpoint, parseModelConfig } from '../../src/convert/convert.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { b64f32, fixtureBytes, fixtureJson } from '../weights-tools/fixtures.js';
import { assertSameTopK } from './fixtures.js';

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
