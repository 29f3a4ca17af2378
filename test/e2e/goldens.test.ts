// End to end against PyTorch: each reduced family's logits (batch 2) within 1e-4 x max|logit| of
// torch's float64 forward pass, and the same top-5. KERNELS=register|tiled|subgroup runs every conv on
// that kernel family (loadModel's `kernels`; default 'auto').

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/index.js';
import { checkKernelChoice } from '../../src/ops/conv2d.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { FAMILIES, assertSameTopK, readGolden, weightsPath } from './fixtures.js';

const kernels = checkKernelChoice(process.env.KERNELS || 'auto');

for (const family of FAMILIES) {
  test(`${family}: logits and top-5 match PyTorch (batch 2)${kernels === 'auto' ? '' : `, kernels '${kernels}'`}`, async () => {
    const ctx = await testContext();
    const golden = readGolden(family);
    const model = await loadModel({ weights: weightsPath(family), device: ctx, kernels });
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
