// FULL=1: one full-size resnext101_32x4d (Cadene's topology, 224x224, 1000 classes) against
// PyTorch. The weights (random, well scaled) and the golden are generated on the fly by
// test/fixtures/make_e2e_goldens.py --full with Debian's torch, into a temporary folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/index.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { assertSameTopK, readGolden } from './fixtures.js';

const PYTHON = '/usr/bin/python3';
const GENERATOR = fileURLToPath(new URL('../fixtures/make_e2e_goldens.py', import.meta.url));

function skipReason(): string | false {
  if (!process.env.FULL) return 'full-size run: set FULL=1 (e.g. FULL=1 npm test) to compare resnext101_32x4d at 224x224 with PyTorch';
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0) return `FULL=1 needs Debian's PyTorch: ${PYTHON} cannot import torch (node scripts/setup.mjs --torch installs it)`;
  return false;
}

test('FULL: resnext101_32x4d at 224x224 matches PyTorch (logits and top-5)', { skip: skipReason(), timeout: 30 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'full-e2e-'));
  try {
    const gen = spawnSync(PYTHON, [GENERATOR, '--full', dir], { encoding: 'utf8' });
    assert.equal(gen.status, 0, `generator failed:\n${gen.stdout}\n${gen.stderr}`);
    console.log(gen.stdout.trim());
    const golden = readGolden('resnext101_32x4d', dir);
    const t0 = performance.now();
    const model = await loadModel({ weights: join(dir, 'resnext101_32x4d.safetensors'), arch: 'resnext101_32x4d', device: await testContext() });
    const tLoad = performance.now() - t0;
    try {
      assert.equal(model.info.params, 44177704);
      const t1 = performance.now();
      const logits = await model.run(golden.input);
      const tFirst = performance.now() - t1;
      const t2 = performance.now();
      const again = await model.run(golden.input);
      const tSecond = performance.now() - t2;
      assert.deepEqual(again, logits);
      let maxDiff = 0;
      let maxLogit = 0;
      for (let i = 0; i < logits.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(logits[i] - golden.logits[i]));
        maxLogit = Math.max(maxLogit, Math.abs(golden.logits[i]));
      }
      // 101 layers of random weights amplify rounding: PyTorch's own float32 pass can be further than
      // 1e-4 x max|logit| from the float64 golden. Ask for 1e-4, or twice torch's own float32 error.
      const tol = Math.max(1e-4 * maxLogit, 2 * golden.torchF32Error);
      console.log(`resnext101_32x4d 224x224: max |diff| ${maxDiff.toExponential(2)} (torch float32: ${golden.torchF32Error.toExponential(2)}, ` +
        `tolerance ${tol.toExponential(2)}) of max |logit| ${maxLogit.toFixed(3)}; ` +
        `load ${(tLoad / 1000).toFixed(1)} s, first run ${(tFirst / 1000).toFixed(1)} s, second ${(tSecond / 1000).toFixed(1)} s`);
      assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: 'resnext101_32x4d logits' });
      assertSameTopK(logits, golden.logits, 1000, 1, 5, 2 * tol, 'resnext101_32x4d');
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
