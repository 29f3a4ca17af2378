// `embed` run as a user runs it: a float32 NCHW .npy (as `logits` takes) or image files in, float32
// (N, C) .npy out, compared with PyTorch's pooled features (test/fixtures/transfer/
// fashion-mnist-features.*, weights-tools/make_head_fixture.py, stored f16); bad arguments exit 1.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readNpyFloat32, writeNpyFloat32 } from '../../src/io/npy.js';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { assertClose } from '../helpers/compare.js';
import { assertUserError, cli, FASHION, fashionImages, fashionSamples, fashionSubset } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-embed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const D = 256;
const fixtureDir = new URL('../fixtures/transfer/', import.meta.url);
const trainIndices = (JSON.parse(readFileSync(new URL('fashion-mnist-features.json', fixtureDir), 'utf8')) as { train_indices: number[] }).train_indices;
const fixtureBytes = new Uint8Array(readFileSync(new URL('fashion-mnist-features.safetensors', fixtureDir)));

/** PyTorch's pooled features of subset image `index` (one of the fixture's training images). */
function torchFeatures(index: number): Float32Array {
  const row = trainIndices.indexOf(index);
  assert.ok(row >= 0, `test image ${index} is not in the fixture`);
  const file = parseSafetensors(fixtureBytes);
  const t = file.tensors.get('train.features')!;
  return toFloat32(t.dtype, fixtureBytes.subarray(file.dataOffset + t.begin, file.dataOffset + t.end)).slice(row * D, (row + 1) * D);
}

/** f16 storage (relative 2^-11) plus the GPU-vs-PyTorch f32 difference. */
function assertFeaturesClose(ours: Float32Array, ref: Float32Array, what: string, shape: number[]): void {
  const max = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(ours, ref, { rtol: 2 ** -10, atol: 1e-4 * max, what, shape: { actual: shape, expected: [ref.length / D, D] } });
}

test('embed --input: float32 NCHW .npy -> (N, 256) .npy equal to PyTorch\'s features (batch 2: the last run padded)', { timeout: 180_000 }, async () => {
  const indices = trainIndices.slice(0, 3);
  const px = fashionImages();
  const { mean: [mean], std: [std] } = fashionSubset().normalisation;
  const x = new Float32Array(indices.length * 784);
  indices.forEach((i, n) => x.set(Float32Array.from(px.subarray(i * 784, (i + 1) * 784), (p) => (Math.fround(p / 255) - mean) / std), n * 784));
  const input = join(dir, 'x.npy');
  const output = join(dir, 'f.npy');
  writeFileSync(input, writeNpyFloat32(x, [indices.length, 1, 28, 28]));
  const r = await cli(['embed', '--input', input, '--output', output, '--batch', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /float32 \(3, 256\) embeddings of resnext_fashion_mnist_8x16d \(3 images in 2 runs of batch 2\)/);
  const out = readNpyFloat32(new Uint8Array(readFileSync(output)), 'f.npy');
  const ref = new Float32Array(indices.flatMap((i) => [...torchFeatures(i)]));
  assertFeaturesClose(out.data, ref, 'embed --input', out.shape);
});

test('embed <images>: PNG files -> (N, 256) .npy equal to PyTorch\'s features of the same test images', { timeout: 180_000 }, async () => {
  const samples = fashionSamples().filter((s) => trainIndices.includes(s.test_index)).slice(0, 3);
  assert.equal(samples.length, 3);
  const output = join(dir, 'samples.npy');
  const r = await cli(['embed', ...samples.map((s) => `${FASHION}samples/${s.file}`), '--output', output]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /float32 \(3, 256\) embeddings of resnext_fashion_mnist_8x16d \(3 images\)/);
  const out = readNpyFloat32(new Uint8Array(readFileSync(output)), 'samples.npy');
  const ref = new Float32Array(samples.flatMap((s) => [...torchFeatures(s.test_index)]));
  assertFeaturesClose(out.data, ref, 'embed <images>', out.shape);
});

test('embed: images and --input together, or neither, or a bad image exit 1 and write nothing', { timeout: 120_000 }, async () => {
  const out = join(dir, 'never.npy');
  const notImage = join(dir, 'not-an-image.png');
  writeFileSync(notImage, 'hello');
  assertUserError(await cli(['embed', `${FASHION}samples/sample-0000-ankle-boot.png`, '--input', 'x.npy', '--output', out]),
    /image files or --input x\.npy \(one of the two\)/);
  assertUserError(await cli(['embed', '--output', out]), /image files or --input x\.npy/);
  assertUserError(await cli(['embed', join(dir, 'missing.png'), '--output', out]), /missing\.png/);
  assertUserError(await cli(['embed', notImage, '--output', out]), /not-an-image\.png/);
  assert.equal(existsSync(out), false, 'no output written');
});
