// End to end through the converter: PyTorch checkpoints in Cadene's and torchvision's layouts
// (written by weights-tools/make_checkpoint_fixtures.py, with torch's own forward pass on a fixed
// input) and in timm's ResNetV2 layout (test/fixtures/make_e2e_goldens.py) are converted in memory
// and run by the runtime, which must reproduce torch's logits.

import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

/** Runs a converted checkpoint of golden `family` on the golden input: torch's logits and top-5. */
async function assertReproduces(family: string, bytes: Uint8Array): Promise<void> {
  const golden = readGolden(family);
  const model = await loadModel({ weights: bytes, device: await testContext() });
  try {
    const logits = await model.run(golden.input, { batch: 2 });
    const tol = 1e-4 * golden.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: `${family}.pth logits` });
    assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, `${family}.pth`);
  } finally {
    model.dispose();
  }
}

/** The config stored in golden `family`'s .safetensors metadata, as the converter's --config would give it. */
const goldenConfig = (family: string) =>
  parseModelConfig(JSON.parse(parseSafetensors(readFileSync(weightsPath(family))).metadata.config!) as object);

test("se_resnext.pth (Cadene's SENet names) converted and run reproduces torch's logits", async () => {
  // The state dict of make_e2e_goldens.py's se_resnext family under Cadene's names (layer0.conv1, last_linear, ...).
  const converted = convertCheckpoint(readFileSync(`${FIXTURES}se_resnext.pth`), { config: goldenConfig('se_resnext') });
  assert.equal(converted.layout, 'cadene-senet');
  await assertReproduces('se_resnext', converted.bytes);
});

test("a timm ResNetV2 .pth (pre-activation, timm's names) converted and run reproduces torch's logits", async () => {
  const converted = convertCheckpoint(readFileSync(`${FIXTURES}preact.pth`), { config: goldenConfig('preact') });
  assert.equal(converted.layout, 'timm-resnetv2');
  await assertReproduces('preact', converted.bytes);
});
