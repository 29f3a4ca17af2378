// The embedded model on the committed Fashion-MNIST subset (1000 test images) against PyTorch's
// outputs on the same images (assets/fashion-mnist/test-subset.json, written by
// weights-tools/train_fashion_mnist.py): top-1 agreement >= 99.9%, the same accuracy, logits within
// 1e-4 x max|logit|; and a few images through classify() on raw RGBA (the GPU preprocess path).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadModel, type Model } from '../src/index.js';
import { DEFAULT_WEIGHTS } from '../src/models/default-model.js';
import { assertClose } from './helpers/compare.js';
import { testContext } from './helpers/gpu.js';
import { fashionImages, fashionSubset } from './cli/run.js';

/** Images per model.run(): one set of GPU buffers for all ten runs. */
const BATCH = 100;
const PIXELS = 28 * 28;

const subset = fashionSubset();
const images = fashionImages(); // (count, 28, 28) uint8
let model: Model;

before(async () => {
  model = await loadModel({ weights: DEFAULT_WEIGHTS, device: await testContext() });
});
after(() => model?.dispose());

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

test('metadata describes the subset\'s input', () => {
  assert.equal(subset.count, 1000);
  assert.equal(images.byteLength, subset.count * PIXELS);
  assert.equal(model.info.inputChannels, 1);
  assert.equal(model.info.inputSize, 28);
  assert.equal(model.info.numClasses, 10);
  assert.deepEqual(model.metadata.inputRange, [0, 1]);
  assert.deepEqual(model.metadata.mean, subset.normalisation.mean);
  assert.deepEqual(model.metadata.std, subset.normalisation.std);
});

test('1000 test images: top-1 agrees with PyTorch on >= 99.9%, same accuracy, logits within 1e-4 x max|logit|',
  { timeout: 600_000 }, async () => {
    const [mean] = model.metadata.mean;
    const [std] = model.metadata.std;
    const N = subset.count;
    const logits = new Float32Array(N * 10); // (N, 10)
    const t0 = performance.now();
    for (let n = 0; n < N; n += BATCH) {
      // (BATCH, 1, 28, 28): pixel / 255, then (x - mean) / std, as the metadata says.
      const x = Float32Array.from(images.subarray(n * PIXELS, (n + BATCH) * PIXELS), (p) => (Math.fround(p / 255) - mean) / std);
      logits.set(await model.run(x, { batch: BATCH }), n * 10);
    }
    const ms = performance.now() - t0;

    let agree = 0;
    let correct = 0;
    let torchCorrect = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < N; i++) {
      const ours = argmax(logits.subarray(i * 10, i * 10 + 10));
      const torch = subset.torch_predictions[i];
      if (ours === torch) agree++;
      else disagreements.push(`image ${i}: ours ${ours}, torch ${torch}, torch logits ${JSON.stringify(subset.torch_logits[i])}`);
      if (ours === subset.labels[i]) correct++;
      if (torch === subset.labels[i]) torchCorrect++;
    }
    if (process.env.VERBOSE) {
      console.log(`${N} images in ${(ms / 1000).toFixed(1)} s (batch ${BATCH}); top-1 agreement ${agree}/${N}; ` +
        `accuracy ${correct / N} (torch ${subset.torch_accuracy})`);
    }
    assert.equal(torchCorrect / N, subset.torch_accuracy, 'the subset file is self-consistent');
    assert.ok(agree >= 0.999 * N, `top-1 agrees on ${agree} of ${N} (< 99.9%):\n${disagreements.slice(0, 5).join('\n')}`);
    assert.equal(correct / N, subset.torch_accuracy,
      `accuracy ${correct / N} differs from PyTorch's ${subset.torch_accuracy}; disagreements:\n${disagreements.join('\n')}`);

    const torch = subset.torch_logits.flat();
    let maxLogit = 0;
    for (const v of torch) maxLogit = Math.max(maxLogit, Math.abs(v));
    assertClose(logits, torch, { atol: 1e-4 * maxLogit, rtol: 0, what: 'Fashion-MNIST logits' });
  });

test('classify() on raw RGBA (grey as R = G = B): same top-1 as PyTorch', { timeout: 300_000 }, async () => {
  const picks = [0, 1, 2, 3, 5, 7, 9, 11];
  const rgba = picks.map((i) => {
    const data = new Uint8Array(PIXELS * 4);
    for (let p = 0; p < PIXELS; p++) {
      const v = images[i * PIXELS + p];
      data.set([v, v, v, 255], p * 4);
    }
    return { data, width: 28, height: 28 };
  });
  const results = await model.classify(rgba, { topK: 3 });
  results.forEach((top, j) => {
    const i = picks[j];
    assert.equal(top.length, 3);
    assert.equal(top[0].index, subset.torch_predictions[i], `image ${i}: top-1 ${top[0].label}`);
    assert.equal(top[0].label, model.labels[subset.torch_predictions[i]]);
  });
});

test('precision f16: the first 200 test images keep PyTorch\'s top-1 (all 1000: README "Precision")', { timeout: 300_000 }, async () => {
  const half = await loadModel({ weights: DEFAULT_WEIGHTS, device: await testContext(), precision: 'f16' });
  try {
    const [mean] = half.metadata.mean;
    const [std] = half.metadata.std;
    const n = 200;
    const x = Float32Array.from(images.subarray(0, n * PIXELS), (p) => (Math.fround(p / 255) - mean) / std);
    const logits = await half.run(x, { batch: n });
    for (let i = 0; i < n; i++) {
      assert.equal(argmax(logits.subarray(i * 10, i * 10 + 10)), subset.torch_predictions[i], `image ${i}: f16 top-1`);
    }
    assert.ok(half.info.weightBytes < 0.55 * model.info.weightBytes, `f16 weights ${half.info.weightBytes} B vs f32 ${model.info.weightBytes} B`);
  } finally {
    half.dispose();
  }
});
