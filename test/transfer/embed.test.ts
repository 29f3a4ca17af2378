// model.embed(): the pooled features (global average pool output, fc's input) on the GPU, against
// PyTorch's: the fixture test/fixtures/transfer/fashion-mnist-features.* (weights-tools/
// make_head_fixture.py: the embedded Fashion-MNIST model on the committed test subset, stored f16)
// for NCHW input and for raw images (GPU preprocess), embed then fc = PyTorch's logits
// (assets/fashion-mnist/test-subset.json); and a transfer head trained on the fixture's features
// classifying real images through the GPU embeddings.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ARCHITECTURES, buildPlan, loadModel, loadHead, saveHead, trainHead, type Model, type RawImage } from '../../src/index.js';
import { DEFAULT_WEIGHTS } from '../../src/models/default-model.js';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { fashionImages, fashionSubset } from '../cli/run.js';

const PIXELS = 28 * 28;
const subset = fashionSubset();
const images = fashionImages(); // (count, 28, 28) uint8

const fixtureDir = new URL('../fixtures/transfer/', import.meta.url);
const fixture = JSON.parse(readFileSync(new URL('fashion-mnist-features.json', fixtureDir), 'utf8')) as {
  dim: number; class_names: string[]; train_indices: number[]; train_labels: number[];
  held_out_indices: number[]; held_out_labels: number[]; torch: { held_out_accuracy: number };
};

/** The tensors of a .safetensors file, as f32. */
function readTensors(bytes: Uint8Array): (name: string) => Float32Array {
  const file = parseSafetensors(bytes);
  return (name) => {
    const t = file.tensors.get(name);
    assert.ok(t, `tensor '${name}' missing`);
    return toFloat32(t.dtype, bytes.subarray(file.dataOffset + t.begin, file.dataOffset + t.end));
  };
}
const fixtureTensor = readTensors(new Uint8Array(readFileSync(new URL('fashion-mnist-features.safetensors', fixtureDir))));

/** The subset images `indices` as (N, 1, 28, 28): pixel / 255, then (x - mean) / std (the metadata's, as the fixture). */
function nchw(indices: readonly number[]): Float32Array {
  const [mean] = subset.normalisation.mean;
  const [std] = subset.normalisation.std;
  const x = new Float32Array(indices.length * PIXELS);
  indices.forEach((i, n) => {
    for (let p = 0; p < PIXELS; p++) x[n * PIXELS + p] = (Math.fround(images[i * PIXELS + p] / 255) - mean) / std;
  });
  return x;
}

/** The subset images `indices` as raw RGBA (grey as R = G = B). */
function rgba(indices: readonly number[]): RawImage[] {
  return indices.map((i) => {
    const data = new Uint8Array(PIXELS * 4);
    for (let p = 0; p < PIXELS; p++) {
      const v = images[i * PIXELS + p];
      data.set([v, v, v, 255], p * 4);
    }
    return { data, width: 28, height: 28 };
  });
}

/** Rows `rows` of the fixture's (N, dim) training features. */
function fixtureRows(rows: readonly number[]): Float32Array {
  const all = fixtureTensor('train.features');
  const D = fixture.dim;
  const out = new Float32Array(rows.length * D);
  rows.forEach((r, j) => out.set(all.subarray(r * D, (r + 1) * D), j * D));
  return out;
}

/** f16 storage: relative rounding 2^-11; plus the f32 GPU-vs-PyTorch difference, relative to the largest feature. */
function assertFeaturesClose(gpu: Float32Array, ref: Float32Array, what: string): void {
  let max = 0;
  for (const v of ref) max = Math.max(max, Math.abs(v));
  assertClose(gpu, ref, { rtol: 2 ** -10, atol: 1e-4 * max, what });
}

test('plan head \'features\' ends at the global average pool, for every family', () => {
  for (const config of Object.values(ARCHITECTURES)) {
    const plan = buildPlan(config, { head: 'features' });
    const logits = buildPlan(config);
    const fc = logits.steps.at(-1)!;
    assert.ok(fc.kind === 'linear', config.name);
    // The features are fc's input: the pool's output ('avgpool', or timm's 'head.global_pool').
    assert.equal(plan.output, fc.inputs[0], config.name);
    assert.equal(plan.steps.at(-1)!.kind, 'avgpool', config.name);
    assert.deepEqual(plan.tensors.get(plan.output)!.shape, [fc.C], `${config.name}: fc's input`);
    assert.equal(plan.tensors.get(plan.output)!.role, 'output');
    assert.deepEqual(plan.steps.map((s) => s.name), logits.steps.slice(0, -1).map((s) => s.name), `${config.name}: all but fc`);
  }
  assert.equal(buildPlan(ARCHITECTURES.resnet18, { head: 'features' }).tensors.get('avgpool')!.shape[0], 512);
  assert.equal(buildPlan(ARCHITECTURES.resnext101_32x4d, { head: 'features' }).tensors.get('avgpool')!.shape[0], 2048);
});

let model: Model;
before(async () => {
  model = await loadModel({ weights: DEFAULT_WEIGHTS, device: await testContext() });
});
after(() => model?.dispose());

test('embed(NCHW) and embed(images) equal PyTorch\'s pooled features (f16 fixture)', { timeout: 300_000 }, async () => {
  const rows = [0, 1, 2, 3, 4, 5, 6, 7];
  const indices = rows.map((r) => fixture.train_indices[r]);
  const ref = fixtureRows(rows);
  assert.equal(model.info.embeddingDim, 256);

  const fromNchw = await model.embed(nchw(indices), { batch: rows.length });
  assert.equal(fromNchw.length, rows.length * 256);
  assertFeaturesClose(fromNchw, ref, 'embed(NCHW)');

  const fromImages = await model.embed(rgba(indices));
  assertFeaturesClose(fromImages, ref, 'embed(images)');

  const one = await model.embed(rgba([indices[2]])[0]);
  assertFeaturesClose(one, ref.subarray(2 * 256, 3 * 256), 'embed(one image)');
});

test('embed then fc (the checkpoint\'s weights, on the CPU) gives PyTorch\'s logits', { timeout: 300_000 }, async () => {
  const indices = [10, 11, 12, 13];
  const features = await model.embed(nchw(indices));
  const tensor = readTensors(new Uint8Array(readFileSync(DEFAULT_WEIGHTS)));
  const w = tensor('fc.weight'); // (10, 256)
  const b = tensor('fc.bias');
  const logits = new Float32Array(indices.length * 10);
  for (let n = 0; n < indices.length; n++) {
    for (let k = 0; k < 10; k++) {
      let s = b[k];
      for (let c = 0; c < 256; c++) s += w[k * 256 + c] * features[n * 256 + c];
      logits[n * 10 + k] = s;
    }
  }
  const torch = indices.flatMap((i) => subset.torch_logits[i]);
  const maxLogit = Math.max(...torch.map(Math.abs));
  assertClose(logits, torch, { atol: 1e-4 * maxLogit, rtol: 0, what: 'fc(embed(x))' });
});

test('classify with a head trained on the fixture\'s features: held-out images through the GPU', { timeout: 600_000 }, async () => {
  const train = fixtureTensor('train.features');
  const head = trainHead(train, fixture.train_labels, fixture.dim, { classNames: fixture.class_names });
  const held = fixture.held_out_indices;
  const results = await model.classify(rgba(held), { head, topK: 3 });
  let correct = 0;
  results.forEach((top, j) => {
    assert.equal(top.length, 3);
    assert.equal(top[0].label, fixture.class_names[top[0].index]);
    if (top[0].index === fixture.held_out_labels[j]) correct++;
  });
  const accuracy = correct / held.length;
  console.log(`# head on GPU embeddings: ${correct}/${held.length} held-out images right (PyTorch's regression on the ` +
    `fixture's features: ${(100 * fixture.torch.held_out_accuracy).toFixed(1)}%)`);
  assert.ok(accuracy >= 0.85, `held-out accuracy ${accuracy}`);

  // useHead: the same predictions by default; a saved and loaded head predicts the same; null goes back to the fc.
  model.useHead(loadHead(saveHead(head)));
  const again = await model.classify(rgba(held.slice(0, 4)), { topK: 1 });
  assert.deepEqual(again.map((t) => t[0].index), results.slice(0, 4).map((t) => t[0].index));
  assert.equal(model.head?.classNames.length, 10);
  const fc = await model.classify(rgba(held.slice(0, 4)), { topK: 1, head: null });
  assert.deepEqual(fc.map((t) => t[0].index), held.slice(0, 4).map((i) => subset.torch_predictions[i]));
  model.useHead(null);
  assert.equal(model.head, null);

  const wrongDim = trainHead(new Float32Array([1, 0, 0, 1]), [0, 1], 2, { classNames: ['a', 'b'] });
  assert.throws(() => model.useHead(wrongDim), /2-float embeddings; .* are 256 floats/);
});
