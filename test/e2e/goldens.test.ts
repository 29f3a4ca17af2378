// End to end against PyTorch: each reduced family's logits (batch 2) within 1e-4 x max|logit| of
// torch's float64 forward pass, and the same top-5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan, loadModel } from '../../src/index.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { FAMILIES, assertSameTopK, readGolden, weightsPath } from './fixtures.js';

for (const family of FAMILIES) {
  test(`${family}: logits and top-5 match PyTorch (batch 2)`, async () => {
    const ctx = await testContext();
    const golden = readGolden(family);
    const model = await loadModel({ weights: weightsPath(family), device: ctx });
    try {
      const t0 = performance.now();
      const logits = await model.run(golden.input, { batch: 2 });
      const ms = performance.now() - t0;
      let maxLogit = 0;
      let maxDiff = 0;
      for (let i = 0; i < golden.logits.length; i++) {
        maxLogit = Math.max(maxLogit, Math.abs(golden.logits[i]));
        maxDiff = Math.max(maxDiff, Math.abs(logits[i] - golden.logits[i]));
      }
      const tol = 1e-4 * maxLogit;
      if (process.env.VERBOSE) {
        console.log(`${family}: max |diff| ${maxDiff.toExponential(2)} (torch float32: ${golden.torchF32Error.toExponential(2)}; ` +
          `tolerance ${tol.toExponential(2)}), first run ${ms.toFixed(0)} ms`);
      }
      assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: `${family} logits`, shape: { actual: [logits.length], expected: [2 * golden.classes] } });
      assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, family);
      assert.equal(model.info.params > 0, true);
    } finally {
      model.dispose();
    }
  });
}

// precision 'f16' (README "Precision"): the same goldens at a tolerance derived from f16's unit roundoff
// u = 2^-11. Each conv layer rounds its weights (error <= u * sum |w x|, a few u of its output in these
// BatchNorm networks: validate() measures at most 1.7u per step) and its f16 output (u), so a layer adds
// at most about 3u relative error, and D conv layers compound to at most 3 * D * u of the logits' scale
// (BatchNorm keeps each layer's gain near 1). Measured: 1e-3 to 8e-3 x max|logit| against 0.02 to 0.05 allowed.
for (const family of FAMILIES) {
  test(`${family}: precision f16 logits within 3 * convs * 2^-11 x max|logit| of PyTorch float64, same top-5`, async () => {
    const ctx = await testContext();
    const golden = readGolden(family);
    const model = await loadModel({ weights: weightsPath(family), device: ctx, precision: 'f16' });
    try {
      const logits = await model.run(golden.input, { batch: 2 });
      const convs = buildPlan(model.info.config).steps.filter((s) => s.kind === 'conv').length;
      let maxLogit = 0;
      let maxDiff = 0;
      for (let i = 0; i < golden.logits.length; i++) {
        maxLogit = Math.max(maxLogit, Math.abs(golden.logits[i]));
        maxDiff = Math.max(maxDiff, Math.abs(logits[i] - golden.logits[i]));
      }
      const tol = 3 * convs * 2 ** -11 * maxLogit;
      if (process.env.VERBOSE) console.log(`${family} f16: max |diff| / max |logit| ${(maxDiff / maxLogit).toExponential(2)} (allowed ${(tol / maxLogit).toExponential(2)}, ${convs} convs)`);
      assert.equal(model.info.precision, 'f16');
      assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: `${family} f16 logits` });
      assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, `${family} f16`);
    } finally {
      model.dispose();
    }
  });
}
