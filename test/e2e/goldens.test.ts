// End to end against PyTorch: each reduced family's logits (batch 2) within 1e-4 x max|logit| of
// torch's float64 forward pass, and the same top-5. KERNELS=register|tiled|subgroup runs every conv on
// that kernel family (loadModel's `kernels`; default 'auto').

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/index.js';
import { checkKernelChoice } from '../../src/ops/conv2d.js';
import { testContext } from '../helpers/gpu.js';
import { FAMILIES, assertMatchesGolden, readGolden, weightsPath } from './fixtures.js';

const kernels = checkKernelChoice(process.env.KERNELS || 'auto');

for (const family of FAMILIES) {
  test(`${family}: logits and top-5 match PyTorch (batch 2)${kernels === 'auto' ? '' : `, kernels '${kernels}'`}`, async () => {
    const ctx = await testContext();
    const golden = readGolden(family);
    const model = await loadModel({ weights: weightsPath(family), device: ctx, kernels });
    try {
      const t0 = performance.now();
      const { error } = await assertMatchesGolden(model, golden, family);
      if (process.env.VERBOSE) {
        console.log(`${family}: max |diff| / max |logit| ${error.toExponential(2)} (torch float32: ${golden.torchF32Error.toExponential(2)} absolute), ` +
          `first run ${(performance.now() - t0).toFixed(0)} ms`);
      }
      assert.equal(model.info.params > 0, true);
    } finally {
      model.dispose();
    }
  });
}

// precision 'f16' (README "Precision"): the same goldens at the tolerance logitTolerance derives from
// f16's unit roundoff. Measured: 1e-3 to 8e-3 x max|logit| against 0.02 to 0.05 allowed.
for (const family of FAMILIES) {
  test(`${family}: precision f16 logits within 3 * convs * 2^-11 x max|logit| of PyTorch float64, same top-5`, async () => {
    const ctx = await testContext();
    const golden = readGolden(family);
    const model = await loadModel({ weights: weightsPath(family), device: ctx, precision: 'f16', kernels: kernels === 'auto' ? 'auto' : 'register' });
    try {
      assert.equal(model.info.precision, 'f16');
      const { error, allowed } = await assertMatchesGolden(model, golden, `${family} f16`);
      if (process.env.VERBOSE) console.log(`${family} f16: max |diff| / max |logit| ${error.toExponential(2)} (allowed ${allowed.toExponential(2)})`);
    } finally {
      model.dispose();
    }
  });
}
