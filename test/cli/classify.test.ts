// `classify` run as a user runs it: the embedded Fashion-MNIST model on the shipped sample PNGs
// and a JPEG made from one, checked against PyTorch's predictions and logits; bad input exits 1
// with one line (before any GPU work), bad usage exits 2.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { assertClose } from '../helpers/compare.js';
import { assertUsageError, assertUserError, cli, FASHION, fashionSamples, fashionSubset, softmax } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-resnext-classify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const samples = fashionSamples();
const subset = fashionSubset();
const samplePath = (i: number) => `assets/fashion-mnist/samples/${samples[i].file}`;

/** A quality-100 JPEG of sample `i` (grey as R = G = B). */
function jpegOf(i: number): string {
  const png = PNG.sync.read(readFileSync(`${FASHION}samples/${samples[i].file}`));
  const out = join(dir, samples[i].file.replace(/\.png$/, '.jpg'));
  writeFileSync(out, jpeg.encode({ data: png.data, width: png.width, height: png.height }, 100).data);
  return out;
}

test('classify: top-k of PNG and JPEG files with the embedded model, as text', { timeout: 180_000 }, async () => {
  const files = [samplePath(0), samplePath(2), samplePath(10), jpegOf(8)];
  const expected = [0, 2, 10, 8].map((i) => samples[i].torch_prediction_name);
  const r = await cli(['classify', ...files, '--top', '3']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /resnext_fashion_mnist_8x16d \(the embedded Fashion-MNIST model\) on .*feature level/);
  const blocks = r.stdout.trimEnd().split(/\n(?=\S)/);
  assert.equal(blocks.length, files.length, r.stdout);
  blocks.forEach((block, i) => {
    const lines = block.split('\n');
    assert.equal(lines[0], files[i]);
    assert.equal(lines.length, 4, `3 classes for ${files[i]}:\n${block}`);
    const top1 = /^\s+(\d+\.\d\d)%\s+(.+?)\s+\(class (\d+)\)$/.exec(lines[1]);
    assert.ok(top1, lines[1]);
    assert.equal(top1[2], expected[i], `${files[i]}: PyTorch predicts ${expected[i]}`);
  });
});

interface JsonOutput {
  arch: string; adapter: string; weights: string;
  results: { file: string; top: { index: number; label: string; probability: number }[] }[];
}

const jsonPicks = [1, 4, 6, 7]; // samples.json entries: a few less confident predictions among them
let jsonRun: Promise<JsonOutput> | undefined;
/** One `classify --json` run shared by the tests below. */
function classifyJson(): Promise<JsonOutput> {
  jsonRun ??= cli(['classify', ...jsonPicks.map(samplePath), '--json', '--top', '10', '--weights', `${FASHION}fashion-mnist-resnext.safetensors`])
    .then((r) => {
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as JsonOutput;
    });
  return jsonRun;
}

test('classify --json: every class with its probability, top-1 as PyTorch\'s', { timeout: 180_000 }, async () => {
  const out = await classifyJson();
  assert.equal(out.arch, 'resnext_fashion_mnist_8x16d');
  assert.match(out.adapter, /feature level/);
  assert.equal(out.results.length, jsonPicks.length);
  out.results.forEach((res, j) => {
    const s = samples[jsonPicks[j]];
    assert.equal(res.file, samplePath(jsonPicks[j]));
    assert.deepEqual(res.top.map((c) => c.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let k = 1; k < 10; k++) assert.ok(res.top[k - 1].probability >= res.top[k].probability, 'sorted by probability');
    assert.equal(res.top[0].index, s.torch_prediction, `${s.file}: top-1`);
    assert.equal(res.top[0].label, s.torch_prediction_name);
  });
});

// The samples are the subset's own 28x28 pixels, so the image path (decode, grey, resize, crop,
// normalise on the GPU) must reproduce PyTorch's input exactly: this needs the embedded model's
// metadata to say resize_size 28 (no ImageNet-style zoom by 32/28 before the crop).
test('classify --json: probabilities are the softmax of PyTorch\'s logits on the same pixels', { timeout: 180_000 }, async () => {
  const out = await classifyJson();
  out.results.forEach((res, j) => {
    const s = samples[jsonPicks[j]];
    const byClass = new Array<number>(10).fill(NaN);
    for (const c of res.top) byClass[c.index] = c.probability;
    assertClose(byClass, softmax(subset.torch_logits[s.test_index]), { atol: 2e-4, rtol: 0, what: `${s.file} probabilities` });
  });
});

test('classify: bad input exits 1 with one clear line, before any GPU work', { timeout: 120_000 }, async () => {
  const truncated = join(dir, 'truncated.png');
  writeFileSync(truncated, readFileSync(`${FASHION}samples/${samples[0].file}`).subarray(0, 100));
  const notSafetensors = join(dir, 'weights.safetensors');
  writeFileSync(notSafetensors, 'this is not a weights file at all');
  const png = samplePath(0);
  const cases: [string[], RegExp][] = [
    [['classify', png, join(dir, 'missing.png')], /cannot read image '.*missing\.png': no such file or directory/],
    [['classify', dir], /cannot read image '.*': is a directory/],
    [['classify', png, 'package.json'], /package\.json: not a PNG or JPEG image/],
    [['classify', truncated], /truncated\.png: not a readable PNG/],
    [['classify', png, '--arch', 'resnet50'], /does not hold resnet50 weights .*mis-shaped: conv1\.weight is F32 \[32, 1, 3, 3\], expected \[64, 3, 7, 7\]/],
    [['classify', png, '--arch', 'resnet5'], /unknown architecture 'resnet5'; known: resnet18/],
    [['classify', png, '--weights', join(dir, 'none.safetensors')], /cannot read weights '.*none\.safetensors': no such file or directory/],
    [['classify', png, '--weights', notSafetensors], /weights\.safetensors: not a \.safetensors file/],
    [['classify', png, '--weights', 'test/fixtures/e2e/resnext.io.safetensors'], /names none we know/],
  ];
  for (const [args, pattern] of cases) {
    const t0 = performance.now();
    const r = await cli(args, 60_000);
    assertUserError(r, pattern);
    assert.doesNotMatch(r.stderr, /feature level/, `${args.join(' ')}: failed before acquiring a GPU`);
    assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    if (process.env.VERBOSE) console.log(`${args.join(' ')}: ${(performance.now() - t0).toFixed(0)} ms`);
  }
});

test('classify: usage errors exit 2', { timeout: 60_000 }, async () => {
  const png = samplePath(0);
  assertUsageError(await cli(['classify']), /missing required argument 'images'/);
  assertUsageError(await cli(['classify', png, '--top', '0']), /--top must be a positive integer/);
  assertUsageError(await cli(['classify', png, '--adapter', 'metal']), /Allowed choices are default, swiftshader, llvmpipe/);
  const help = await cli(['classify', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--adapter <name>/);
});

test('classify --precision f16: the same top-1 as PyTorch; a bad precision is a usage error', { timeout: 180_000 }, async () => {
  const r = await cli(['classify', samplePath(0), samplePath(2), '--precision', 'f16', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { results: { top: { label: string }[] }[] };
  assert.deepEqual(out.results.map((x) => x.top[0].label), [0, 2].map((i) => samples[i].torch_prediction_name));
  assertUsageError(await cli(['classify', samplePath(0), '--precision', 'f8']), /Allowed choices are f32, f16/);
});
