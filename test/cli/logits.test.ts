// `logits` run as a user runs it: .npy in, .npy out, compared with PyTorch's logits (the
// Fashion-MNIST subset's, and an e2e golden's for a 3-channel model); bad .npy input exits 1
// naming the expected shape or dtype, before any GPU work.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readNpyFloat32, writeNpyFloat32 } from '../../src/io/npy.js';
import { readGolden, weightsPath } from '../e2e/fixtures.js';
import { assertClose } from '../helpers/compare.js';
import { assertUsageError, assertUserError, cli, fashionImages, fashionSubset } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-logits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const subset = fashionSubset();

/** Test images [from, from + n) as normalised float32 (n, 1, 28, 28), the subset's own recipe. */
function fashionInput(from: number, n: number): Float32Array {
  const px = fashionImages().subarray(from * 784, (from + n) * 784);
  const { mean: [mean], std: [std] } = subset.normalisation;
  return Float32Array.from(px, (p) => (Math.fround(p / 255) - mean) / std);
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

test('logits: the embedded model on 5 test images matches PyTorch (batch 2: the last run padded)', { timeout: 180_000 }, async () => {
  const from = 10;
  const n = 5;
  const x = join(dir, 'x.npy');
  const y = join(dir, 'y.npy');
  writeFileSync(x, writeNpyFloat32(fashionInput(from, n), [n, 1, 28, 28]));
  const r = await cli(['logits', '--input', x, '--output', y, '--batch', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /float32 \(5, 10\) logits of resnext_fashion_mnist_8x16d \(5 images in 3 runs of batch 2\)/);
  const out = readNpyFloat32(new Uint8Array(readFileSync(y)), 'y.npy');
  const torch = subset.torch_logits.slice(from, from + n).flat();
  assertClose(out.data, torch, { atol: 1e-4 * maxAbs(torch), rtol: 0, what: 'logits', shape: { actual: out.shape, expected: [n, 10] } });
  for (let i = 0; i < n; i++) {
    const row = [...out.data.subarray(i * 10, i * 10 + 10)];
    assert.equal(row.indexOf(Math.max(...row)), subset.torch_predictions[from + i], `image ${from + i}: top-1`);
  }
});

test('logits --weights: a 3-channel e2e fixture matches its PyTorch golden', { timeout: 180_000 }, async () => {
  const golden = readGolden('resnext');
  const x = join(dir, 'rgb.npy');
  const y = join(dir, 'rgb-logits.npy');
  writeFileSync(x, writeNpyFloat32(golden.input, golden.inputShape));
  const r = await cli(['logits', '--weights', weightsPath('resnext'), '--input', x, '--output', y]);
  assert.equal(r.status, 0, r.stderr);
  const out = readNpyFloat32(new Uint8Array(readFileSync(y)), 'rgb-logits.npy');
  assertClose(out.data, golden.logits, { atol: 1e-4 * maxAbs(golden.logits), rtol: 0, what: 'resnext logits',
    shape: { actual: out.shape, expected: [golden.inputShape[0], golden.classes] } });
});

test('logits: bad input exits 1 naming the expected shape or dtype, writes nothing', { timeout: 120_000 }, async () => {
  const good = fashionInput(0, 2);
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const f64 = new Uint8Array(readFileSync(new URL('./fixtures/f8_2x3.npy', import.meta.url)));
  const inputs = {
    rgb: write('rgb3.npy', writeNpyFloat32(new Float32Array(2 * 3 * 28 * 28), [2, 3, 28, 28])),
    small: write('small.npy', writeNpyFloat32(new Float32Array(2 * 24 * 24), [2, 1, 24, 24])),
    flat: write('flat.npy', writeNpyFloat32(good, [2 * 784])),
    empty: write('empty.npy', writeNpyFloat32(new Float32Array(0), [0, 1, 28, 28])),
    f64: write('f64.npy', f64),
    truncated: write('truncated.npy', writeNpyFloat32(good, [2, 1, 28, 28]).subarray(0, 1000)),
    text: write('text.npy', new TextEncoder().encode('1,2,3\n')),
  };
  const out = join(dir, 'never.npy');
  const need = /needs float32 \(N, 1, 28, 28\)/;
  const cases: [string[], RegExp][] = [
    [['--input', inputs.rgb], new RegExp(`has shape \\(2, 3, 28, 28\\); resnext_fashion_mnist_8x16d ${need.source}`)],
    [['--input', inputs.small], need],
    [['--input', inputs.flat], /has shape \(1568,\)/],
    [['--input', inputs.empty], /has shape \(0, 1, 28, 28\).*N >= 1/],
    [['--input', inputs.f64], /holds float64 \('<f8'\), expected float32 \('<f4'\)/],
    [['--input', inputs.truncated], /truncated/],
    [['--input', inputs.text], /not a \.npy file/],
    [['--input', join(dir, 'missing.npy')], /cannot read input '.*missing\.npy': no such file or directory/],
    [['--input', inputs.rgb, '--weights', weightsPath('resnext'), '--arch', 'resnet18'], /does not hold resnet18 weights/],
    [['--input', write('ok.npy', writeNpyFloat32(good, [2, 1, 28, 28])), '--output', join(dir, 'no-dir', 'y.npy')],
      /cannot write '.*no-dir.*y\.npy': no such file or directory/],
  ];
  for (const [args, pattern] of cases) {
    const full = ['logits', ...(args.includes('--output') ? [] : ['--output', out]), ...args];
    const r = await cli(full, 60_000);
    assertUserError(r, pattern);
    assert.doesNotMatch(r.stderr, /feature level/, `${full.join(' ')}: failed before acquiring a GPU`);
  }
  assert.equal(existsSync(out), false, 'no output written');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
});

test('logits: usage errors exit 2', { timeout: 60_000 }, async () => {
  assertUsageError(await cli(['logits', '--output', join(dir, 'y.npy')]), /required option '--input <x\.npy>' not specified/);
  assertUsageError(await cli(['logits', '--input', 'x.npy']), /required option '--output <y\.npy>' not specified/);
  assertUsageError(await cli(['logits', '--input', 'x.npy', '--output', 'y.npy', '--batch', '1.5']), /--batch must be a positive integer/);
  assertUsageError(await cli(['logits', '--input', 'x.npy', '--output', 'y.npy', '--adapter', 'cuda']), /Allowed choices/);
});
