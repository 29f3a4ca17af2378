// End to end through the converter: PyTorch checkpoints in Cadene's and torchvision's layouts
// (written by weights-tools/make_checkpoint_fixtures.py, with torch's own forward pass on a fixed
// input) are converted in memory and run by the runtime, which must reproduce torch's logits.

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/index.js';
import { convertCheckpoint, parseModelConfig } from '../../weights-tools/convert.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { assertSameTopK } from './fixtures.js';

const dir = new URL('../fixtures/checkpoints/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir));

function base64Floats(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

for (const [checkpoint, config] of [
  ['cadene_tiny_legacy', 'cadene_tiny'],
  ['torchvision_tiny_zip', 'torchvision_tiny'],
] as const) {
  test(`${checkpoint}.pth converted and run reproduces torch's logits`, async () => {
    const expect = JSON.parse(read(`${checkpoint}.expect.json`).toString('utf8')) as {
      forward: { input: { shape: number[]; data: string }; logits: { shape: number[]; data: string } };
    };
    const converted = convertCheckpoint(new Uint8Array(read(`${checkpoint}.pth`)), {
      config: parseModelConfig(JSON.parse(read(`${config}.config.json`).toString('utf8'))),
    });
    const input = base64Floats(expect.forward.input.data);
    const golden = base64Floats(expect.forward.logits.data);
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
