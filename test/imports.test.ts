// The import rules of .dependency-cruiser.cjs (`npm run lint:imports`): no cycles; src/ imports no
// tool (cli/, bench/, weights-tools/, demo/) nor test/; the runtime does not import src/reference/
// (validate() loads it dynamically); weights-tools/ imports neither the CLI, the bench nor the demo;
// those three import none of each other.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ROOT } from './cli/run.js';

test('imports point one way: npm run lint:imports finds no violation', () => {
  const r = spawnSync('npm', ['run', '-s', 'lint:imports'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm run lint:imports failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /no dependency violations found/);
});
