// The transfer head (src/transfer/): learns separable clusters, saves and loads without changing a
// prediction, refuses bad files and bad training data with clear errors, and on real features
// (the embedded Fashion-MNIST model's, dumped by weights-tools/make_head_fixture.py) reaches the
// held-out accuracy of a PyTorch logistic regression on the same split, within 3 points.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseSafetensors, toFloat32, WeightsFormatError, writeSafetensors } from '../../src/weights/safetensors.js';
import { loadHead, saveHead, trainHead, type Head, type HeadKind } from '../../src/transfer/head.js';
import { fitLogisticRegression } from '../../src/transfer/logistic.js';
import { assertClose } from '../helpers/compare.js';

const KINDS: HeadKind[] = ['softmax', 'ncm'];

/** A deterministic uniform generator in [0, 1) (32-bit LCG). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * K clusters of non-negative "pooled ReLU" vectors (D): centre k has its own random active
 * dimensions; each example = relu(centre + noise) times a random scale (image contrast).
 */
function clusters(K: number, perClass: number, D: number, seed: number, centresSeed = 1) {
  const c = lcg(centresSeed);
  const centres = Array.from({ length: K }, () => Float32Array.from({ length: D }, () => (c() < 0.3 ? 2 * c() : 0)));
  const r = lcg(seed);
  const x = new Float32Array(K * perClass * D);
  const labels: number[] = [];
  for (let i = 0; i < K * perClass; i++) {
    const k = i % K;
    labels.push(k);
    const scale = 0.5 + r();
    for (let d = 0; d < D; d++) x[i * D + d] = scale * Math.max(0, centres[k][d] + 0.6 * (r() - 0.5));
  }
  return { x, labels, names: Array.from({ length: K }, (_, k) => `class ${k}`) };
}

function accuracy(head: Head, x: Float32Array, labels: readonly number[]): number {
  const top = head.predict(x);
  return top.filter((t, i) => t[0].index === labels[i]).length / labels.length;
}

for (const kind of KINDS) {
  test(`${kind}: separable clusters, 100% on the training set and on new samples`, () => {
    const train = clusters(6, 8, 96, 2);
    const head = trainHead(train.x, train.labels, 96, { classNames: train.names, kind });
    assert.equal(head.kind, kind);
    assert.equal(head.dim, 96);
    assert.deepEqual(head.classNames, train.names);
    assert.equal(accuracy(head, train.x, train.labels), 1);
    const fresh = clusters(6, 20, 96, 3);
    assert.equal(accuracy(head, fresh.x, fresh.labels), 1);

    const p = head.probabilities(fresh.x);
    assert.equal(p.length, fresh.labels.length * 6);
    for (let i = 0; i < fresh.labels.length; i++) {
      const row = p.subarray(i * 6, (i + 1) * 6);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${i} sums to 1`);
    }
    const [top3] = head.predict(fresh.x.subarray(0, 96), 1, { topK: 3 });
    assert.equal(top3.length, 3);
    assert.equal(top3[0].label, train.names[fresh.labels[0]]);
    assert.ok(top3[0].probability >= top3[1].probability && top3[1].probability >= top3[2].probability);
    if (kind === 'softmax') assert.ok(head.training?.converged, JSON.stringify(head.training));
  });

  test(`${kind}: save / load round trip gives identical probabilities`, () => {
    const train = clusters(4, 5, 40, 4);
    const head = trainHead(train.x, train.labels, 40, { classNames: train.names, kind });
    const bytes = saveHead(head);
    const back = loadHead(bytes, { dim: 40 });
    assert.equal(back.kind, kind);
    assert.equal(back.dim, 40);
    assert.deepEqual(back.classNames, train.names);
    assert.deepEqual(back.training, head.training);
    const probe = clusters(4, 10, 40, 5).x;
    assert.deepEqual(back.probabilities(probe), head.probabilities(probe));
    assert.deepEqual(back.predict(probe, 40, { topK: 2 }), head.predict(probe, 40, { topK: 2 }));
  });
}

test('logistic regression: the row-space solution (N < D) equals the direct one (N >= D)', () => {
  // z (40, 32) solved directly; the same rows padded with 20 zero dimensions (40, 52) go through
  // the Gram / pivoted Cholesky path. The optimum is the same W with zeros in the padding.
  const N = 40, D = 32, pad = 20, K = 4;
  const r = lcg(10);
  const z = Float64Array.from({ length: N * D }, () => r() - 0.5);
  const labels = Array.from({ length: N }, (_, i) => i % K);
  const padded = new Float64Array(N * (D + pad));
  for (let n = 0; n < N; n++) padded.set(z.subarray(n * D, (n + 1) * D), n * (D + pad));
  const options = { l2: 1e-2, maxIterations: 1000, gradientTolerance: 1e-6 };
  const direct = fitLogisticRegression(z, labels, N, D, K, options);
  const rowSpace = fitLogisticRegression(padded, labels, N, D + pad, K, options);
  assert.ok(direct.converged && rowSpace.converged, `iterations ${direct.iterations}, ${rowSpace.iterations}`);
  assertClose([rowSpace.loss], [direct.loss], { atol: 1e-10, rtol: 1e-9, what: 'loss' });
  const W = new Float64Array(K * (D + pad));
  for (let k = 0; k < K; k++) W.set(direct.weight.subarray(k * D, (k + 1) * D), k * (D + pad));
  assertClose(rowSpace.weight, W, { atol: 1e-4, rtol: 1e-3, what: 'weight' });
  assertClose(rowSpace.bias, direct.bias, { atol: 1e-4, rtol: 1e-3, what: 'bias' });
});

test('training is deterministic', () => {
  const train = clusters(5, 6, 64, 6);
  const a = trainHead(train.x, train.labels, 64, { classNames: train.names });
  const b = trainHead(train.x, train.labels, 64, { classNames: train.names });
  assert.deepEqual(saveHead(a), saveHead(b));
});

test('bad training input: clear errors', () => {
  const { x, labels, names } = clusters(3, 4, 16, 7);
  assert.throws(() => trainHead(x, [...labels.slice(0, -1), 3], 16, { classNames: names }), /label 3 of example 11 is not a class index in 0\.\.2/);
  assert.throws(() => trainHead(x, labels.slice(0, 11), 16, { classNames: names }), /expected 11 embeddings of 16 floats \(176 values\), got 192/);
  assert.throws(() => trainHead(x, labels.map((y) => (y === 2 ? 0 : y)), 16, { classNames: names }), /class 2 'class 2' has no examples/);
  assert.throws(() => trainHead(x, labels, 16, { classNames: ['only'] }), /at least 2 classes/);
  const nan = x.slice();
  nan[20] = NaN;
  assert.throws(() => trainHead(nan, labels, 16, { classNames: names }), /embedding 1 has a non-finite value at 4/);
  const head = trainHead(x, labels, 16, { classNames: names });
  assert.throws(() => head.predict(x.subarray(0, 20)), /expected 1\.25 embeddings|of 16 floats/);
  assert.throws(() => head.predict(x, 12, { topK: 4 }), /topK 4 must be an integer in 1\.\.3/);
});

test('bad head files: clear WeightsFormatError messages', () => {
  const { x, labels, names } = clusters(3, 4, 16, 8);
  const good = saveHead(trainHead(x, labels, 16, { classNames: names }));
  const file = parseSafetensors(good);
  /** The good file's tensors and metadata, with changes. */
  const rewrite = (meta: Record<string, string | undefined>, shapes: Record<string, number[] | null> = {}) => {
    const tensors = [...file.tensors].filter(([name]) => shapes[name] !== null).map(([name, t]) => {
      const shape = shapes[name] ?? t.shape;
      const data = toFloat32(t.dtype, good.subarray(file.dataOffset + t.begin, file.dataOffset + t.end));
      return { name, shape, data: data.slice(0, shape.reduce((a, b) => a * b, 1)) };
    });
    const metadata = Object.fromEntries(Object.entries({ ...file.metadata, ...meta }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    return writeSafetensors(tensors, metadata);
  };
  const fails = (bytes: Uint8Array, message: RegExp, dim?: number) =>
    assert.throws(() => loadHead(bytes, { dim }), (e: Error) => e instanceof WeightsFormatError && message.test(e.message));

  fails(good, /takes 16-float embeddings, but this model's embeddings have 2048 floats/, 2048);
  fails(good.subarray(0, good.byteLength - 10), /past the end of the file \(truncated\?\)/);
  fails(good.subarray(0, 6), /not a \.safetensors file: shorter than 8 bytes/);
  fails(new TextEncoder().encode('{"not": "safetensors"}'), /not a \.safetensors file: header length/);
  const model = new Uint8Array(readFileSync(new URL('../fixtures/e2e/basic.safetensors', import.meta.url)));
  fails(model, /not a transfer head: metadata 'format' is missing \(expected 'transfer-head'; this looks like a '.*' model checkpoint\)/);
  fails(rewrite({ head_format_version: '2' }), /transfer head format version 2 is not supported/);
  fails(rewrite({ kind: 'knn' }), /kind 'knn' is not 'softmax' or 'ncm'/);
  fails(rewrite({ dim: 'x' }), /metadata 'dim' x is not a positive integer/);
  fails(rewrite({ class_names: '["a"' }), /'class_names' is not a JSON array of at least 2 strings/);
  fails(rewrite({ class_names: '["a", "b"]' }), /tensor 'head.weight' has shape \[3, 16\], expected \[2, 16\] \(2 classes, dim 16\)/);
  fails(rewrite({ dim: '8' }), /tensor 'head.weight' has shape \[3, 16\], expected \[3, 8\]/);
  fails(rewrite({}, { 'features.std': null }), /tensor 'features.std' is missing/);
  fails(rewrite({ kind: 'ncm' }), /unexpected tensor\(s\) features.std/);
});

test('timing: 300 examples x 2048 dims x 10 classes (logged, not asserted)', () => {
  const { x, labels, names } = clusters(10, 30, 2048, 9);
  for (const kind of KINDS) {
    const t0 = performance.now();
    const head = trainHead(x, labels, 2048, { classNames: names, kind });
    const ms = performance.now() - t0;
    console.log(`# ${kind} head, 300 x 2048 x 10: trained in ${ms.toFixed(0)} ms` +
      (head.training ? ` (${head.training.iterations} L-BFGS iterations, ${head.training.evaluations} evaluations)` : ''));
    assert.equal(accuracy(head, x, labels), 1);
  }
});

test('Fashion-MNIST features: held-out accuracy >= PyTorch logistic regression - 3 points', () => {
  const dir = new URL('../fixtures/transfer/', import.meta.url);
  const info = JSON.parse(readFileSync(new URL('fashion-mnist-features.json', dir), 'utf8')) as {
    dim: number; class_names: string[]; train_labels: number[]; held_out_labels: number[];
    torch: { held_out_accuracy: number; train_accuracy: number; loss: number; l2: number };
  };
  const bytes = new Uint8Array(readFileSync(new URL('fashion-mnist-features.safetensors', dir)));
  const file = parseSafetensors(bytes);
  const tensor = (name: string) => {
    const t = file.tensors.get(name)!;
    return toFloat32(t.dtype, bytes.subarray(file.dataOffset + t.begin, file.dataOffset + t.end));
  };
  const train = tensor('train.features');
  const heldOut = tensor('held_out.features');
  assert.equal(info.dim, 256);
  assert.equal(train.length, info.train_labels.length * info.dim);
  assert.equal(heldOut.length, info.held_out_labels.length * info.dim);

  const results: string[] = [];
  for (const kind of KINDS) {
    const t0 = performance.now();
    const head = trainHead(train, info.train_labels, info.dim, { classNames: info.class_names, kind, l2: info.torch.l2 });
    const ms = performance.now() - t0;
    const acc = accuracy(head, heldOut, info.held_out_labels);
    results.push(`${kind} ${(100 * acc).toFixed(1)}% (train ${(100 * accuracy(head, train, info.train_labels)).toFixed(1)}%, ` +
      `${ms.toFixed(0)} ms${head.training ? `, loss ${head.training.loss.toFixed(6)} vs PyTorch ${info.torch.loss}` : ''})`);
    if (kind === 'softmax') assert.ok(acc >= info.torch.held_out_accuracy - 0.03, `${acc} vs PyTorch ${info.torch.held_out_accuracy}`);
  }
  console.log(`# Fashion-MNIST, ${info.train_labels.length} training / ${info.held_out_labels.length} held-out embeddings: ` +
    `${results.join('; ')}; PyTorch logistic regression ${(100 * info.torch.held_out_accuracy).toFixed(1)}%`);
});
