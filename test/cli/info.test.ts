// `info` run as a user runs it: header-only facts about a weights file (no GPU), checked against
// what PyTorch counted when the model was trained (assets/fashion-mnist/training-info.json) and
// the file system; broken files exit 1.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { weightsPath } from '../e2e/fixtures.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';
import { assertUsageError, assertUserError, cli, FASHION, ROOT } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-info-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const EMBEDDED = `${FASHION}fashion-mnist-resnext.safetensors`;
/** PyTorch's counts: learnable parameters and buffers (BatchNorm running mean and var). */
const training = JSON.parse(readFileSync(`${FASHION}training-info.json`, 'utf8')) as { params: number; buffers: number };
const n = (x: number) => x.toLocaleString('en-US');

test('info: the embedded model as text', { timeout: 60_000 }, async () => {
  const r = await cli(['info', EMBEDDED]);
  assert.equal(r.status, 0, r.stderr);
  const row = (key: string) => new RegExp(`^${key} +(.*)$`, 'm').exec(r.stdout)?.[1] ?? assert.fail(`no '${key}' row in:\n${r.stdout}`);
  assert.match(row('arch'), /^resnext_fashion_mnist_8x16d \(custom config/);
  assert.match(row('network'), /bottleneck blocks \[1,2,3\], widths \[16,32,64\], 8 groups x 16 wide, stem 3x3\/1, 10 classes/);
  assert.match(row('bytes'), new RegExp(`^${n(statSync(EMBEDDED).size)} `));
  assert.match(row('input'), /^1 x 28 x 28 grey, range \[0,1\], mean \[0\.286\], std \[0\.353\]/);
  assert.match(row('images'), /^resized to 28 x 28 \(shorter side\), centre-cropped$/, 'no zoom before the crop (resize_size 28)');
  assert.match(row('labels'), /^10: T-shirt\/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot$/);
  assert.match(row('parameters'), new RegExp(`^${n(training.params)} learnable \\(${n(training.params + training.buffers)} values stored`));
  assert.match(row('tensors'), /^\d+ \(\d+ F32\)$/);
  assert.match(row('check'), /^ok/);
  assert.match(row('flops'), /MFLOP per image/);
});

test('info --json: the same facts, machine-readable; an e2e fixture too', { timeout: 60_000 }, async () => {
  const r = await cli(['info', EMBEDDED, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(info.arch, 'resnext_fashion_mnist_8x16d');
  assert.equal(info.bytes, statSync(EMBEDDED).size);
  assert.equal(info.parameters, training.params);
  assert.equal(info.values, training.params + training.buffers);
  assert.equal(info.tensorBytes, 4 * (training.params + training.buffers), 'all F32');
  assert.equal(info.mismatch, null);
  assert.equal((info.metadata as Record<string, string>).color_space, 'grey');

  const e2e = await cli(['info', weightsPath('resnext'), '--json']);
  assert.equal(e2e.status, 0, e2e.stderr);
  const j = JSON.parse(e2e.stdout) as { arch: string; config: { groups: number; inputChannels: number }; mismatch: null };
  assert.equal(j.arch, 'resnext');
  assert.equal(j.config.groups, 8);
  assert.equal(j.config.inputChannels, 3);
  assert.equal(j.mismatch, null);
});

test('info: a file with no architecture still reports its tensors, and exits 1 (classify would refuse it)', { timeout: 60_000 }, async () => {
  const file = 'test/fixtures/e2e/resnext.io.safetensors'; // golden inputs and logits: no network
  const r = await cli(['info', file]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /no network to run/);
  assert.match(r.stdout, /^arch +unknown: .*names none we know/m);
  const count = parseSafetensors(new Uint8Array(readFileSync(`${ROOT}${file}`))).tensors.size;
  assert.match(r.stdout, new RegExp(`^tensors +${count} \\(`, 'm'));
});

test('info: broken files and the wrong architecture exit 1', { timeout: 120_000 }, async () => {
  const bytes = readFileSync(EMBEDDED);
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, bytes.subarray(0, 1000)); // inside the JSON header
  const garbage = join(dir, 'garbage.safetensors');
  writeFileSync(garbage, 'definitely not a safetensors file');
  assertUserError(await cli(['info', join(dir, 'missing.safetensors')]), /cannot read weights '.*missing\.safetensors': no such file or directory/);
  assertUserError(await cli(['info', dir]), /is a directory/);
  assertUserError(await cli(['info', truncated]), /truncated\.safetensors: .*header length \d+ is out of bounds for a 1000-byte file|truncated/);
  assertUserError(await cli(['info', garbage]), /garbage\.safetensors: not a \.safetensors file/);
  assertUserError(await cli(['info', 'test/fixtures/checkpoints/tiny_zip.pth']), /not a \.safetensors file.*convert it first: webgpu-resnext convert/);
  assertUserError(await cli(['info', EMBEDDED, '--arch', 'nope']), /unknown architecture 'nope'/);
  const wrong = await cli(['info', EMBEDDED, '--arch', 'resnext50_32x4d']);
  assertUserError(wrong, /the tensors do not match resnext50_32x4d/);
  assert.match(wrong.stdout, /^check +MISMATCH: .*does not hold resnext50_32x4d weights/m, 'the report still prints');
  assertUsageError(await cli(['info']), /missing required argument 'weights'/);
});
