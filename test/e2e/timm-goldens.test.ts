// End to end against PyTorch for timm's ResNet variants and Cadene's se_resnet / senet154: each reduced
// network's checkpoint under its original names (test/fixtures/timm/, make_timm_goldens.py) goes through
// the converter and the runtime; logits (batch 2) within 1e-4 x max|logit| of torch's float64 forward
// pass (precision 'f16': 3 * convs * 2^-11, logitTolerance in fixtures.ts), and the same top-5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/index.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { testContext } from '../helpers/gpu.js';
import { assertMatchesGolden, readGolden } from './fixtures.js';

const DIR = fileURLToPath(new URL('../fixtures/timm/', import.meta.url));

/** family -> the layout the converter must recognise from the names alone. */
const FAMILIES: Record<string, string> = {
  timm_d: 'timm-resnet', timm_t_se_basic: 'timm-resnet', timm_seresnext: 'timm-resnet', timm_eca: 'timm-resnet',
  timm_aa: 'timm-resnet', timm_rs: 'timm-resnet', cadene_se_resnet: 'cadene-senet', cadene_senet154: 'cadene-senet',
};

for (const [family, layout] of Object.entries(FAMILIES)) {
  for (const precision of ['f32', 'f16'] as const) {
    test(`${family}: converted from PyTorch's names, ${precision} logits and top-5 match PyTorch (batch 2)`, async () => {
      const ctx = await testContext();
      const config = JSON.parse(readFileSync(`${DIR}${family}.json`, 'utf8'));
      const converted = convertCheckpoint(new Uint8Array(readFileSync(`${DIR}${family}.pth`)), { config });
      assert.equal(converted.layout, layout);
      const model = await loadModel({ weights: converted.bytes, device: ctx, precision });
      try {
        await assertMatchesGolden(model, readGolden(family, DIR), `${family} ${precision}`);
      } finally {
        model.dispose();
      }
    });
  }
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
