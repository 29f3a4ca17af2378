// The CLI with a Hub model: `classify --weights hf-hub:timm/...` against the local Hub stand-in
// (HF_ENDPOINT), the probabilities PyTorch's (timm's evaluation transform of the fixture image, saved
// as a PNG); a model that is not on the Hub exits 1 with one line.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { assertClose } from '../helpers/compare.js';
import { cli } from '../cli/run.js';
import { HUB_FIXTURES, startFakeHub, type FakeHub } from './server.js';

let hub: FakeHub;
const dir = mkdtempSync(join(tmpdir(), 'hub-cli-'));

before(async () => {
  hub = await startFakeHub();
  process.env.HF_ENDPOINT = hub.endpoint;
  process.env.WEBGPU_RESNEXT_CACHE = join(dir, 'cache');
});
after(async () => {
  await hub.close();
  delete process.env.HF_ENDPOINT;
  delete process.env.WEBGPU_RESNEXT_CACHE;
  rmSync(dir, { recursive: true, force: true });
});

test('cli: classify --weights hf-hub:timm/resnet18.tiny_in1k gives PyTorch\'s probabilities; a missing model exits 1 in one line', async () => {
  const bytes = new Uint8Array(readFileSync(join(HUB_FIXTURES, 'timm/resnet18.tiny_in1k.io.safetensors')));
  const h = parseSafetensors(bytes);
  const get = (n: string) => { const t = h.tensors.get(n)!; return { shape: t.shape, data: toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)) }; };
  const image = get('image');
  const [height, width] = image.shape;
  const png = new PNG({ width, height });
  png.data.set(Uint8Array.from(image.data));
  const file = join(dir, 'image.png');
  writeFileSync(file, PNG.sync.write(png));
  const logits = get('image_logits').data;
  const max = Math.max(...logits);
  const sum = logits.reduce((a, v) => a + Math.exp(v - max), 0);

  const r = await cli(['classify', file, '--weights', 'hf-hub:timm/resnet18.tiny_in1k', '--json', '--top', '3']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { weights: string; results: { top: { index: number; label: string; probability: number }[] }[] };
  assert.equal(out.weights, 'hf-hub:timm/resnet18.tiny_in1k');
  for (const c of out.results[0].top) assertClose([c.probability], [Math.exp(logits[c.index] - max) / sum], { atol: 1e-5, rtol: 1e-3, what: `p[${c.index}]` });

  const bad = await cli(['classify', file, '--weights', 'hf-hub:timm/not_there']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr.trim(), /^[^\n]*hf-hub:timm\/not_there: config\.json: HTTP 401[^\n]*$/);
});
