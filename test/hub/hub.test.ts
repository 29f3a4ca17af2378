// Hub models by id ('hf-hub:timm/...') from a local stand-in for the Hub (./server.ts): timm-layout
// fixtures (test/fixtures/make_hub_fixtures.py: timm's names and config.json fields, F32 / BF16 / F16)
// are fetched, converted while they download, cached in a temporary cache folder and run; the logits
// must be PyTorch's, for normalised input and for an image through timm's evaluation transform
// (Pillow's resize). Bad ids and files fail with one-line HubErrors, before the weights download.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { clearWeightsCache, loadModel, type LoadProgress } from '../../src/index.js';
import { HubError } from '../../src/hub/errors.js';
import { parseHubId } from '../../src/hub/id.js';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { HUB_FIXTURES, startFakeHub, type FakeHub } from './server.js';

let hub: FakeHub;
const cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));

before(async () => {
  process.env.WEBGPU_RESNEXT_CACHE = cacheDir;
  hub = await startFakeHub();
  process.env.HF_ENDPOINT = hub.endpoint;
});
after(async () => {
  await hub.close();
  delete process.env.HF_ENDPOINT;
  rmSync(cacheDir, { recursive: true, force: true });
});

function golden(repo: string): Record<string, { shape: number[]; data: Float32Array }> {
  const bytes = new Uint8Array(readFileSync(join(HUB_FIXTURES, `${repo}.io.safetensors`)));
  const h = parseSafetensors(bytes);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of h.tensors) out[name] = { shape: t.shape, data: toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)) };
  return out;
}

function softmax(logits: Float32Array): Float64Array {
  const max = logits.reduce((m, v) => Math.max(m, v), -Infinity);
  const e = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function imageOf(g: ReturnType<typeof golden>) {
  const [height, width] = g.image.shape;
  return { data: Uint8Array.from(g.image.data), width, height };
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Loads `id`, checks the logits of the golden input and the probabilities of the golden image. */
async function checkModel(repo: string, o: { resolution?: 'test'; labels?: (l: readonly string[]) => void } = {}) {
  const g = golden(repo);
  const phases = new Set<LoadProgress['phase']>();
  const model = await loadModel({ weights: `hf-hub:${repo}`, device: await testContext(), onProgress: (p) => phases.add(p.phase), resolution: o.resolution });
  try {
    const [N, classes] = g.logits.shape;
    if (!o.resolution) {
      const logits = await model.run(g.input.data, { batch: N });
      assertClose(logits, g.logits.data, { atol: 1e-4 * maxAbs(g.logits.data), rtol: 0, what: `${repo} logits` });
    }
    const imageLogits = o.resolution ? g.image_logits_test.data : g.image_logits.data;
    const p = softmax(imageLogits);
    const top = await model.classify(imageOf(g), { topK: 5 });
    for (const c of top) assertClose([c.probability], [p[c.index]], { atol: 1e-5, rtol: 1e-3, what: `${repo} p[${c.index}]` });
    const best = p.reduce((b, v, i) => (v > p[b] ? i : b), 0);
    assert.equal(top[0].probability >= p[best] - 1e-5, true, `${repo}: the top class has the highest probability`);
    assert.equal(model.info.numClasses, classes);
    o.labels?.(model.labels);
    return { model: model.info, phases, metadata: model.metadata };
  } finally {
    model.dispose();
  }
}

test('hub: parseHubId takes timm\'s id form and refuses bad ones with HubError', () => {
  assert.deepEqual(parseHubId('hf-hub:timm/resnet50.a1_in1k'), { repo: 'timm/resnet50.a1_in1k', revision: 'main' });
  assert.deepEqual(parseHubId('hf-hub:timm/resnet50.a1_in1k@v1.0'), { repo: 'timm/resnet50.a1_in1k', revision: 'v1.0' });
  for (const bad of ['hf-hub:resnet50', 'hf-hub:timm/a/b', 'hf-hub:timm/../x', 'hf-hub:timm/x@', 'hf-hub:/x', 'hf-hub:timm/x y']) {
    assert.throws(() => parseHubId(bad), (e: Error) => e instanceof HubError && !e.message.includes('\n'), bad);
  }
});

test('hub: timm resnet18 (F32, 1000 classes) by id: PyTorch\'s logits, the image as timm evaluates it, ImageNet labels, then the cache', async () => {
  const repo = 'timm/resnet18.tiny_in1k';
  const first = await checkModel(repo, { labels: (l) => assert.equal(l[0], 'tench') });
  assert.deepEqual([...first.phases], ['download', 'convert', 'upload', 'compile']);
  assert.equal(first.metadata.interpolation, 'bicubic');
  assert.equal(first.metadata.resizeSize, Math.floor(32 / 0.875));
  const gets = (path: string) => hub.requests.filter((r) => r.method === 'GET' && r.path.endsWith(path)).length;
  assert.equal(gets(`/blobs/${repo}/model.safetensors`), 1, 'the weights were fetched from the file host (after the redirect)');

  // Second load: the converted copy from the cache folder, revalidated with HEAD requests only.
  hub.requests.length = 0;
  let fromCache: boolean | undefined;
  const again = await loadModel({ weights: `hf-hub:${repo}`, device: await testContext(), onProgress: (p) => { if (p.phase === 'download') fromCache = p.fromCache; } });
  again.dispose();
  assert.equal(fromCache, true);
  assert.deepEqual(hub.requests.filter((r) => r.method === 'GET'), [], 'no GET on a cache hit');
  assert.ok(hub.requests.some((r) => r.method === 'HEAD' && r.path.endsWith('model.safetensors')), 'revalidated');

  // At the test size (test_input_size 40, test_crop_pct 1.0).
  const test = await checkModel(repo, { resolution: 'test' });
  assert.equal(test.model.inputSize, 40);
});

test('hub: resnext (BF16 on the Hub, 11821 classes) gets timm\'s ImageNet-12k names; resnet34 (F16, 10 classes) class i', async () => {
  await checkModel('timm/resnext50_32x4d.tiny_in12k', { labels: (l) => { assert.equal(l.length, 11821); assert.equal(l[0], 'benthos'); } });
  await checkModel('timm/resnet34.tiny_f16', { labels: (l) => assert.deepEqual(l.slice(0, 2), ['class 0', 'class 1']) });
});

test('hub: offline with a cached copy it loads; a changed file on the Hub is downloaded again', async () => {
  const repo = 'timm/resnet34.tiny_f16';
  await loadModel({ weights: `hf-hub:${repo}`, device: await testContext() }).then((m) => m.dispose()); // cached (again)
  // The file changes on the Hub: its ETag differs, so the cached copy is replaced.
  const files = hub.files.get(repo)!;
  const original = files.get('model.safetensors')!;
  const changed = original.slice();
  changed[changed.length - 1] ^= 1; // the last byte of fc.bias
  files.set('model.safetensors', changed);
  hub.requests.length = 0;
  let fromCache: boolean | undefined;
  const m = await loadModel({ weights: `hf-hub:${repo}`, device: await testContext(), onProgress: (p) => { if (p.phase === 'download') fromCache = p.fromCache; } });
  m.dispose();
  assert.equal(fromCache, false);
  assert.ok(hub.requests.some((r) => r.method === 'GET' && r.path === `/blobs/${repo}/model.safetensors`));
  files.set('model.safetensors', original);

  // Offline: an endpoint where nothing listens; the cached copy (of repo at that endpoint) is used.
  const offline = await startFakeHub();
  const endpoint = offline.endpoint;
  await loadModel({ weights: `hf-hub:${repo}`, hubEndpoint: endpoint, device: await testContext() }).then((x) => x.dispose());
  await offline.close();
  fromCache = undefined;
  const cached = await loadModel({ weights: `hf-hub:${repo}`, hubEndpoint: endpoint, device: await testContext(),
    onProgress: (p) => { if (p.phase === 'download') fromCache = p.fromCache; } });
  cached.dispose();
  assert.equal(fromCache, true);
  // Without the cache, offline fails with one line naming the model.
  await assert.rejects(loadModel({ weights: `hf-hub:${repo}`, hubEndpoint: endpoint, cache: false, device: await testContext() }),
    (e: Error) => e instanceof HubError && /hf-hub:timm\/resnet34\.tiny_f16: could not fetch config\.json/.test(e.message));
  assert.equal(await clearWeightsCache(), true);
});

test('hub: a bad id, a missing repo or file, an HTML page, an unknown architecture, weights that do not fit: one-line HubErrors', async () => {
  const device = await testContext();
  const fails = async (weights: string, pattern: RegExp, setup?: () => void) => {
    setup?.();
    hub.requests.length = 0;
    await assert.rejects(loadModel({ weights, device, cache: false }), (e: Error) => {
      assert.ok(e instanceof HubError, `${weights}: ${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
    return hub.requests;
  };
  await fails('hf-hub:timm', /not a Hub model id/);
  await fails('hf-hub:timm/no_such_model', /config\.json: HTTP 401 no such public model/);
  await fails('hf-hub:timm/resnet18.tiny_in1k@v2', /config\.json: HTTP 404 no such file: is the model id \(and revision\) right/);

  const repo = (name: string, files: Record<string, Uint8Array | string>) => {
    hub.files.set(`test/${name}`, new Map(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? new TextEncoder().encode(v) : v])));
  };
  const weights = (r: string) => readFileSync(join(HUB_FIXTURES, r, 'model.safetensors'));
  const config = (r: string) => JSON.parse(readFileSync(join(HUB_FIXTURES, r, 'config.json'), 'utf8')) as Record<string, unknown>;

  repo('no_weights', { 'config.json': JSON.stringify(config('timm/resnet18.tiny_in1k')) });
  await fails('hf-hub:test/no_weights', /hf-hub:test\/no_weights: model\.safetensors: HTTP 404/);

  hub.html.add('test/html');
  repo('html', {});
  await fails('hf-hub:test/html', /config\.json: got an HTML page/);

  repo('vit', { 'config.json': JSON.stringify({ architecture: 'vit_base_patch16_224', num_classes: 1000 }), 'model.safetensors': weights('timm/resnet18.tiny_in1k') });
  const vit = await fails('hf-hub:test/vit', /hf-hub:test\/vit: timm architecture 'vit_base_patch16_224' is not supported/);
  assert.ok(!vit.some((r) => r.path.includes('model.safetensors')), 'refused before the weights were requested');

  repo('not_json', { 'config.json': 'architecture: resnet50' });
  await fails('hf-hub:test/not_json', /config\.json: not JSON/);

  repo('squash', { 'config.json': JSON.stringify({ ...config('timm/resnet18.tiny_in1k'), pretrained_cfg: { crop_mode: 'squash' } }) });
  await fails('hf-hub:test/squash', /crop_mode 'squash' is not supported/);

  // resnet34's config with resnet18's weights: every missing tensor named, before the data is read.
  repo('mismatch', { 'config.json': JSON.stringify(config('timm/resnet34.tiny_f16')), 'model.safetensors': weights('timm/resnet18.tiny_in1k') });
  await fails('hf-hub:test/mismatch', /hf-hub:test\/mismatch: the weights do not fit timm's resnet34 .*missing.*layer2\.1\.conv1\.weight/);

  repo('truncated', { 'config.json': JSON.stringify(config('timm/resnet18.tiny_in1k')), 'model.safetensors': weights('timm/resnet18.tiny_in1k').subarray(0, 100) });
  await fails('hf-hub:test/truncated', /hf-hub:test\/truncated: model\.safetensors .*100-byte file: truncated\?/);

  repo('pth', { 'config.json': JSON.stringify(config('timm/resnet18.tiny_in1k')), 'model.safetensors': new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]) });
  await fails('hf-hub:test/pth', /model\.safetensors is not a \.safetensors file/);
});

test('hub: every model the demo offers has an architecture the runtime builds', async () => {
  const { HUB_MODELS } = await import('../../demo/hub-models.js');
  const { isSupportedTimmArchitecture } = await import('../../src/models/timm.js');
  for (const m of HUB_MODELS) {
    const arch = parseHubId(m.id).repo.split('/')[1].split('.')[0];
    assert.ok(isSupportedTimmArchitecture(arch), `${m.id}: ${arch}`);
  }
});
