// End to end against PyTorch for timm's ResNet variants and Cadene's se_resnet / senet154: each reduced
// network's checkpoint under its original names (test/fixtures/timm/, make_timm_goldens.py) goes through
// the converter and the runtime; logits (batch 2) within 1e-4 x max|logit| of torch's float64 forward
// pass, and the same top-5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/index.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { assertSameTopK, readGolden } from './fixtures.js';

const DIR = fileURLToPath(new URL('../fixtures/timm/', import.meta.url));

/** family -> the layout the converter must recognise from the names alone. */
const FAMILIES: Record<string, string> = {
  timm_d: 'timm-resnet', timm_t_se_basic: 'timm-resnet', timm_seresnext: 'timm-resnet', timm_eca: 'timm-resnet',
  timm_aa: 'timm-resnet', timm_rs: 'timm-resnet', cadene_se_resnet: 'cadene-senet', cadene_senet154: 'cadene-senet',
};

for (const [family, layout] of Object.entries(FAMILIES)) {
  test(`${family}: converted from PyTorch's names, logits and top-5 match PyTorch (batch 2)`, async () => {
    const ctx = await testContext();
    const config = JSON.parse(readFileSync(`${DIR}${family}.json`, 'utf8'));
    const converted = convertCheckpoint(new Uint8Array(readFileSync(`${DIR}${family}.pth`)), { config });
    assert.equal(converted.layout, layout);
    const golden = readGolden(family, DIR);
    const model = await loadModel({ weights: converted.bytes, device: ctx });
    try {
      const logits = await model.run(golden.input, { batch: 2 });
      const maxLogit = golden.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const tol = 1e-4 * maxLogit;
      assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: `${family} logits`, shape: { actual: [logits.length], expected: [2 * golden.classes] } });
      assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, family);
    } finally {
      model.dispose();
    }
  });
}

test('validate mode: the new steps (avgpool2d, eca, the conv stem pool) agree with the CPU reference', async () => {
  const ctx = await testContext();
  for (const family of ['timm_aa', 'timm_eca', 'timm_rs']) {
    const config = JSON.parse(readFileSync(`${DIR}${family}.json`, 'utf8'));
    const converted = convertCheckpoint(new Uint8Array(readFileSync(`${DIR}${family}.pth`)), { config });
    const golden = readGolden(family, DIR);
    const model = await loadModel({ weights: converted.bytes, device: ctx, validate: true });
    try {
      const report = await model.validate(golden.input, { batch: 2 });
      assert.ok(report.ok, `${family}: validate failed at ${report.firstMismatch}: ${JSON.stringify(report.steps.find((s) => !s.ok))}`);
      const kinds = new Set(report.steps.map((s) => s.kind));
      if (family === 'timm_aa') assert.ok(kinds.has('avgpool2d') && kinds.has('squeeze-excite'), family);
      if (family === 'timm_eca') assert.ok(kinds.has('eca') && kinds.has('avgpool2d'), family);
      if (family === 'timm_rs') assert.ok(report.steps.some((s) => s.name === 'maxpool.0'), family);
    } finally {
      model.dispose();
    }
  }
});
