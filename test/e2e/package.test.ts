// The built package: `npm run build` must succeed, its bin must run, and dist/ — imported by the
// package's own name, through package.json "exports" — must load a model and match PyTorch. A
// broken build fails here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertClose } from '../helpers/compare.js';
import { readGolden, weightsPath } from './fixtures.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('npm run build emits dist/, and the package entry classifies with the built code', async () => {
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, `npm run build failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`);
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as
    { name: string; bin: Record<string, string>; exports: { '.': { types: string; default: string; node: { types: string; default: string } } } };
  const bin = pkg.bin[pkg.name];
  const entry = pkg.exports['.'];
  for (const file of [entry.default, entry.types, entry.node.default, entry.node.types, bin]) {
    assert.ok(existsSync(`${root}${file}`), `${file} is missing after the build`);
  }

  // The built CLI runs from dist/ (info needs no GPU) and finds the embedded model there.
  const info = spawnSync(process.execPath, [bin, 'info', 'dist/assets/fashion-mnist/fashion-mnist-resnext.safetensors'],
    { cwd: root, encoding: 'utf8' });
  assert.equal(info.status, 0, `${bin} info failed (exit ${info.status}):\n${info.stderr}`);
  assert.match(info.stdout, /check {7}ok: every tensor matches/);

  // Self-reference by name resolves through "exports" (condition "node") to dist/src/node.js, not to src/.
  const name = pkg.name;
  const api = (await import(name)) as typeof import('../../src/index.js');
  const resolved = import.meta.resolve(name);
  assert.match(resolved, /\/dist\/src\/node\.js$/);

  const golden = readGolden('fbresnet');
  const model = await api.loadModel({ weights: weightsPath('fbresnet') });
  try {
    const logits = await model.run(golden.input, { batch: 2 });
    assertClose(logits, golden.logits, { atol: 1e-4 * Math.max(...golden.logits.map(Math.abs)), rtol: 0, what: 'dist logits' });
    const top = await model.classify({ data: new Uint8Array(40 * 40 * 4).fill(200), width: 40, height: 40 }, { topK: 3 });
    assert.equal(top.length, 3);
    assert.match(top[0].label, /^fbresnet class \d$/);
  } finally {
    model.dispose();
  }
});
