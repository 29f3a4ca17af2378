// What a user can do wrong never ends in a stack trace: every such error is one line on stderr
// with status 1, usage errors exit 2, limits (--top, --batch) are checked before the model loads,
// every file-system error has a message, and --json's stdout holds JSON or nothing.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { getArchitecture } from '../../src/models/config.js';
import { writeNpyFloat32 } from '../../src/io/npy.js';
import { randomWeights } from '../../src/weights/random.js';
import { editedWeights } from '../helpers/edited-weights.js';
import { assertUsageError, assertUserError, cli } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-cli-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SAMPLE = 'assets/fashion-mnist/samples/sample-0000-ankle-boot.png';
/** The line classify prints on stderr once the model is loaded. */
const LOADED = / on .*feature level/;

test('--top beyond the GPU top-k on a 1000-class model: one line, before the model loads', async () => {
  const config = { ...getArchitecture('resnet18'), name: 'tiny_1000', layers: [1, 1, 1, 1], widths: [4, 4, 4, 4], stemChannels: 4,
    inputSize: 32, numClasses: 1000 };
  const weights = join(dir, 'tiny-1000.safetensors');
  writeFileSync(weights, randomWeights(config, { custom: true }));
  const r = await cli(['classify', SAMPLE, '--weights', weights, '--top', '50']);
  assertUserError(r, /error: --top 50: at most 32 classes per image \(the GPU top-k\); tiny_1000 has 1000/);
  assert.doesNotMatch(r.stderr, LOADED, 'the model was loaded before the check');
  // On the 10-class embedded model --top 50 means all 10 classes.
  const ok = await cli(['classify', SAMPLE, '--top', '50', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { results: { top: unknown[] }[] }).results[0].top.length, 10);
});

test('--batch larger than the device allows: one line naming the largest batch, before the model loads', async () => {
  const input = join(dir, 'x.npy');
  writeFileSync(input, writeNpyFloat32(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]));
  // The batch is min(--batch, N): 6000 images of zeros (18 MB) make the run need 6000.
  const big = join(dir, 'x6000.npy');
  writeFileSync(big, writeNpyFloat32(new Float32Array(6000 * 28 * 28), [6000, 1, 28, 28]));
  for (const command of [['logits', '--input', big, '--output', join(dir, 'y.npy')], ['embed', '--input', big, '--output', join(dir, 'f.npy')]]) {
    const r = await cli([...command, '--batch', '6000']);
    assertUserError(r, /error: --batch 6000: batch 6000 of resnext_fashion_mnist_8x16d .* needs \d+ bytes .* use a batch of at most \d+/);
    assert.equal(r.stdout, '');
  }
  const ok = await cli(['logits', '--input', input, '--output', join(dir, 'y2.npy'), '--batch', '6000']);
  assert.equal(ok.status, 0, `--batch is at most N, so 6000 with 2 images runs: ${ok.stderr}`);
});

test('file-system errors: a directory, a symlink loop, a name too long, a missing folder: one line each', async () => {
  const folder = join(dir, 'a-folder');
  mkdirSync(folder);
  const loop = join(dir, 'loop-a');
  symlinkSync(join(dir, 'loop-b'), loop);
  symlinkSync(loop, join(dir, 'loop-b'));
  const long = join(dir, `${'n'.repeat(300)}.png`);
  const cases: [string[], RegExp][] = [
    [['classify', folder], /cannot read image '.*a-folder': is a directory/],
    [['classify', SAMPLE, '--weights', folder], /cannot read weights '.*a-folder': is a directory/],
    [['info', folder], /cannot read weights '.*a-folder': is a directory/],
    [['classify', loop], /cannot read image '.*loop-a': too many levels of symbolic links .*\(ELOOP\)/],
    [['classify', SAMPLE, '--weights', loop], /cannot read weights '.*loop-a': too many levels of symbolic links/],
    [['logits', '--input', loop, '--output', join(dir, 'y.npy')], /cannot read input '.*loop-a': too many levels of symbolic links/],
    [['classify', long], /the file name is too long \(ENAMETOOLONG\)/],
    [['convert', long, join(dir, 'out.safetensors')], /the file name is too long \(ENAMETOOLONG\)/],
    [['convert', folder, join(dir, 'out.safetensors')], /cannot read checkpoint '.*a-folder': is a directory/],
    [['convert', 'assets/fashion-mnist/fashion-mnist-resnext.safetensors', join(dir, 'missing', 'out.safetensors')],
      /cannot write '.*missing\/out\.safetensors': no such file or directory \(ENOENT\)/],
  ];
  for (const [args, pattern] of cases) assertUserError(await cli(args), pattern);
});

test('convert --arch with --config is a usage error: exit 2', async () => {
  assertUsageError(await cli(['convert', 'in.pth', 'out.safetensors', '--arch', 'resnet50', '--config', 'c.json']),
    /option '--arch <name>' cannot be used with option '--config <file>'/);
});

test('classify --json: on NaN weights or NaN results, stdout stays empty (no partial JSON) and stderr has one line', async () => {
  const nan = join(dir, 'nan-bias.safetensors');
  writeFileSync(nan, editedWeights('fc.bias', (v) => { v[3] = NaN; }));
  const r = await cli(['classify', SAMPLE, '--weights', nan, '--json']);
  assertUserError(r, /tensor fc\.bias holds NaN/);
  assert.equal(r.stdout, '');
  const huge = join(dir, 'huge-fc.safetensors');
  writeFileSync(huge, editedWeights('fc.weight', (v) => v.fill(3e38)));
  const h = await cli(['classify', SAMPLE, '--weights', huge, '--json']);
  assertUserError(h, /the probabilities of image 0: NaN/);
  assert.equal(h.stdout, '');
});

test('every system error code becomes one line naming the file (asUserError)', async () => {
  const { asUserError, CliError } = await import('../../cli/errors.js');
  for (const code of ['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EMFILE', 'ENFILE', 'EIO', 'ENOSPC', 'EXYZNEW']) {
    const e = Object.assign(new Error(`${code}: something, open '/x/y'`), { code, syscall: 'open', path: '/x/y' });
    const u = asUserError(e);
    assert.ok(u instanceof CliError, `${code} is a user error`);
    assert.match(u.message, new RegExp(`^cannot open '/x/y': .+ \\(${code}\\)$`));
    assert.doesNotMatch(u.message, /\n/);
  }
  const bug = new TypeError('x is undefined');
  assert.equal(asUserError(bug), bug, 'a bug stays a bug (its stack is printed)');
});
