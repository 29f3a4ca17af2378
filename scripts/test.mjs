// Runs every test file under test/ with node's test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [filter...]   (filters are substrings of test file paths)
// Env: WEBGPU_ADAPTER=default|swiftshader|llvmpipe picks the adapter; FULL=1 adds full-size runs.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const filters = process.argv.slice(2);

/** Folders that hold build outputs or installed packages, never test sources. */
const NOT_SOURCE = new Set(['node_modules', 'dist', 'test-artifacts']);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (NOT_SOURCE.has(e.name) ? [] : walk(join(dir, e.name)))
      : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []);
}
const files = walk(join(root, 'test')).map((f) => relative(root, f)).sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The shaders the tests run are the ones in shaders/; the Node platform is installed in every test
// process, as the package's Node entry (src/node.ts) installs it.
const embed = spawnSync(process.execPath, [join(root, 'scripts', 'embed-shaders.mjs')], { stdio: 'inherit' });
if (embed.status !== 0) process.exit(embed.status ?? 1);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './src/node/install.ts', '--test', '--test-concurrency=1', ...files],
  { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
