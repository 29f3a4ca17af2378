// The README's commands in its own order on one checkout: `npm start` builds the demo into
// demo/dist/, then `npm test` runs the import rules (npm run lint:imports) and the test files. Build
// outputs (demo/dist/, dist/, test-artifacts/) are not source: the import rules skip them (the
// demo's bundle imports its own chunks in a cycle) and scripts/test.mjs runs no test file in them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './cli/run.js';

test('after the demo is built into demo/dist/ (as npm start does), npm run lint:imports still passes', () => {
  const build = spawnSync('npm', ['run', '-s', 'demo:build'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  assert.equal(build.status, 0, `npm run demo:build failed:\n${build.stdout}\n${build.stderr}`);
  const lint = spawnSync('npm', ['run', '-s', 'lint:imports'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(lint.status, 0, `npm run lint:imports failed after the demo build (exit ${lint.status}):\n${lint.stdout}\n${lint.stderr}`);
  assert.match(lint.stdout, /no dependency violations found/);
  assert.doesNotMatch(lint.stdout, /demo\/dist\//);
});

test('scripts/test.mjs runs no test file found in a dist/, node_modules/ or test-artifacts/ folder', () => {
  const base = join(ROOT, 'test', `planted-${process.pid}`);
  const planted = ['dist', 'node_modules', 'test-artifacts'].map((d) => join(base, d));
  try {
    for (const dir of planted) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'planted-build-output.test.ts'), "throw new Error('a build output ran as a test');\n");
    }
    const r = spawnSync(process.execPath, ['scripts/test.mjs', 'planted-build-output'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /no test files match planted-build-output/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
