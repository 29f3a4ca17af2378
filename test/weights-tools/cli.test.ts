// The `convert` command run as a user runs it: exit codes, messages, and no partial output left
// behind on failure (atomic write).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { getArchitecture } from '../../src/models/config.js';
import { buildPlan } from '../../src/models/plan.js';
import { decodeMetadata, parseSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { fixtureBytes, fixturePath, ROOT } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Files in the output directory, so leftovers (temporary files, partial outputs) show. */
const listing = () => readdirSync(dir).sort();

function assertCleanFailure(r: ReturnType<typeof cli>, pattern: RegExp, before: string[]): void {
  assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for an expected error');
  assert.deepEqual(listing(), before, 'nothing written, no temporary file left');
}

test('convert writes a .safetensors and prints a summary', () => {
  const out = join(dir, 'cadene.safetensors');
  const r = cli('convert', fixturePath('cadene_tiny_legacy.pth'), out, '--config', fixturePath('cadene_tiny.config.json'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /arch\s+cadene_tiny_resnext \(custom config\)/);
  assert.match(r.stdout, /tensors\s+77\n/);
  assert.match(r.stdout, /parameters\s+11,554\n/);
  assert.match(r.stdout, /bytes\s+[\d,]+ \(/);
  assert.match(r.stdout, /legacy checkpoint, cadene-resnext layout/);
  const bytes = new Uint8Array(readFileSync(out));
  const h = parseSafetensors(bytes);
  assert.equal(h.tensors.size, 77);
  assert.equal(decodeMetadata(h.metadata).arch, 'cadene_tiny_resnext');
  assert.deepEqual(listing().filter((f) => f.endsWith('.tmp')), []);

  const half = join(dir, 'cadene16.safetensors');
  const r16 = cli('convert', out, half, '--fp16');
  assert.equal(r16.status, 0, r16.stderr);
  assert.match(r16.stdout, /dtype\s+F16/);
  assert.ok(readFileSync(half).length < bytes.length * 0.6);
});

test('failures exit 1 with one clear line and leave nothing behind', () => {
  const out = join(dir, 'fail.safetensors');
  let before = listing();
  assertCleanFailure(cli('convert', fixturePath('malicious_os_system.pth'), out), /refusing to load pickle global 'posix\.system'/, before);
  assertCleanFailure(cli('convert', fixturePath('cadene_tiny_legacy.pth'), out), /match no known architecture/, before);
  assertCleanFailure(cli('convert', fixturePath('cadene_tiny_legacy.pth'), out, '--arch', 'resnet50'),
    /do not fit architecture 'resnet50'/, before);
  assertCleanFailure(cli('convert', fixturePath('cadene_tiny_legacy.pth'), out, '--arch', 'nope'), /unknown architecture 'nope'/, before);
  assertCleanFailure(cli('convert', join(dir, 'missing.pth'), out), /cannot read checkpoint .*missing\.pth': no such file/, before);
  assertCleanFailure(cli('convert', fixturePath('cadene_tiny_legacy.pth'), join(dir, 'no-dir', 'x.safetensors'), '--config',
    fixturePath('cadene_tiny.config.json')), /cannot write .*no-dir.*: no such file or directory/, before);

  const truncated = join(dir, 'truncated.pth');
  writeFileSync(truncated, fixtureBytes('cadene_tiny_legacy.pth').subarray(0, 30_000));
  const badJson = join(dir, 'bad.json');
  writeFileSync(badJson, '{ "name": ');
  before = listing();
  assertCleanFailure(cli('convert', truncated, out), /truncated/, before);
  assertCleanFailure(cli('convert', fixturePath('cadene_tiny_legacy.pth'), out, '--config', badJson), /is not valid JSON/, before);
});

test('a failed conversion leaves an existing output file untouched', () => {
  const out = join(dir, 'existing.safetensors');
  writeFileSync(out, 'previous contents');
  const before = listing();
  assertCleanFailure(cli('convert', fixturePath('tiny_zip.pth'), out, '--arch', 'resnet18'), /do not fit/, before);
  assert.equal(readFileSync(out, 'utf8'), 'previous contents');
});

test('usage errors exit 2 and --help exits 0', () => {
  const r = cli('convert', fixturePath('tiny_zip.pth'));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing required argument 'output'/);
  assert.equal(cli('convert', 'a', 'b', '--bogus').status, 2);
  // Conflicting options are a usage error too.
  const both = cli('convert', fixturePath('cadene_tiny_legacy.pth'), join(dir, 'both.safetensors'), '--arch', 'resnet50', '--config', 'x.json');
  assert.equal(both.status, 2, both.stderr);
  assert.match(both.stderr, /option '--arch <name>' cannot be used with option '--config <file>'/);
  const help = cli('convert', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--fp16/);
});

test('convert: a torchvision resnet18 with a fine-tuned head of 37 classes, named by --labels', () => {
  // A plain .safetensors state dict (no metadata config), as a fine-tuned torchvision model saves.
  const config = { ...getArchitecture('resnet18'), numClasses: 37 };
  const tensors = buildPlan(config).weights.map((w, i) => ({ name: w.name, shape: w.shape,
    data: new Float32Array(w.shape.reduce((a, b) => a * b, 1)).fill(w.name.endsWith('running_var') ? 1 : (i % 7) / 100) }));
  const input = join(dir, 'pets.safetensors');
  writeFileSync(input, writeSafetensors(tensors, {}, 'F32'));
  const labels = Array.from({ length: 37 }, (_, i) => `breed ${i}`);
  writeFileSync(join(dir, 'labels.txt'), `${labels.join('\n')}\n`);
  const out = join(dir, 'pets-converted.safetensors');
  const r = cli('convert', input, out, '--labels', join(dir, 'labels.txt'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /fine-tuned head of 37 classes/);
  const meta = decodeMetadata(parseSafetensors(new Uint8Array(readFileSync(out))).metadata);
  assert.equal(meta.arch, 'resnet18_37classes');
  assert.deepEqual(meta.labels, labels);
  assert.equal((JSON.parse(meta.config!) as { numClasses: number }).numClasses, 37);

  const before = listing();
  writeFileSync(join(dir, 'short.txt'), 'a\nb\n');
  assertCleanFailure(cli('convert', input, join(dir, 'x.safetensors'), '--labels', join(dir, 'short.txt')),
    /2 labels given for 37 classes/, [...before, 'short.txt'].sort());
});
