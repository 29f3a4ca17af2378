// FULL=1: full-size networks (224x224, 1000 classes) against PyTorch: resnext101_32x4d (Cadene's
// topology), resnetv2_50 (timm's pre-activation ResNetV2) and se_resnext50_32x4d (Cadene's SENet). The weights (random, well scaled) and
// the goldens are generated on the fly by test/fixtures/make_e2e_goldens.py --full with Debian's
// torch, into a temporary folder.

import { after, test } from 'node:test';
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
  if (!process.env.FULL) return 'full-size run: set FULL=1 (e.g. FULL=1 npm test) to compare resnext101_32x4d, resnetv2_50 and se_resnext50_32x4d at 224x224 with PyTorch';
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0) return `FULL=1 needs Debian's PyTorch: ${PYTHON} cannot import torch (node scripts/setup.mjs --torch installs it)`;
  return false;
}

/** The generator's output folder, made on first use (all three networks in one run). */
let generated: string | undefined;
function goldens(): string {
  if (generated) return generated;
  const dir = mkdtempSync(join(tmpdir(), 'full-e2e-'));
  generated = dir;
  const gen = spawnSync(PYTHON, [GENERATOR, '--full', dir], { encoding: 'utf8' });
  assert.equal(gen.status, 0, `generator failed:\n${gen.stdout}\n${gen.stderr}`);
  console.log(gen.stdout.trim());
  return dir;
}
after(() => { if (generated) rmSync(generated, { recursive: true, force: true }); });

// [architecture, its parameter count (torchvision / timm / Cadene)]
const FULL_MODELS: [string, number][] = [['resnext101_32x4d', 44177704], ['resnetv2_50', 25549352], ['se_resnext50_32x4d', 27559896]];

for (const [arch, params] of FULL_MODELS) {
  test(`FULL: ${arch} at 224x224 matches PyTorch (logits and top-5)`, { skip: skipReason(), timeout: 30 * 60_000 }, async () => {
    const dir = goldens();
    const golden = readGolden(arch, dir);
    const t0 = performance.now();
    const model = await loadModel({ weights: join(dir, `${arch}.safetensors`), arch, device: await testContext() });
    const tLoad = performance.now() - t0;
    try {
      assert.equal(model.info.params, params);
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
      // Deep nets of random weights amplify rounding: PyTorch's own float32 pass can be further than
      // 1e-4 x max|logit| from the float64 golden. Ask for 1e-4, or twice torch's own float32 error.
      const tol = Math.max(1e-4 * maxLogit, 2 * golden.torchF32Error);
      console.log(`${arch} 224x224: max |diff| ${maxDiff.toExponential(2)} (torch float32: ${golden.torchF32Error.toExponential(2)}, ` +
        `tolerance ${tol.toExponential(2)}) of max |logit| ${maxLogit.toFixed(3)}; ` +
        `load ${(tLoad / 1000).toFixed(1)} s, first run ${(tFirst / 1000).toFixed(1)} s, second ${(tSecond / 1000).toFixed(1)} s`);
      assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: `${arch} logits` });
      assertSameTopK(logits, golden.logits, 1000, 1, 5, 2 * tol, arch);
    } finally {
      model.dispose();
    }
  });
}
