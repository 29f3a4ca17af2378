// timm's ResNet variants from the Hub stand-in (./server.ts): deep and tiered stems, the conv stem
// pool, avg-down shortcuts, SEModule, EcaModule, AvgPool2d anti-aliasing, in timm's names and
// config.json (test/fixtures/make_hub_fixtures.py, TimmResNet after timm's resnet.py); the runtime
// must give PyTorch's logits on normalised input and on an image through timm's evaluation transform.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadModel } from '../../src/index.js';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import { HUB_FIXTURES, startFakeHub, type FakeHub } from './server.js';

let hub: FakeHub;
const cacheDir = mkdtempSync(join(tmpdir(), 'hub-variants-'));
before(async () => { hub = await startFakeHub(); });
after(async () => { await hub.close(); rmSync(cacheDir, { recursive: true, force: true }); });

for (const repo of ['timm/resnet26d.tiny', 'timm/seresnext26t_32x4d.tiny', 'timm/ecaresnet26t.tiny', 'timm/resnetaa50d.tiny',
  'timm/resnetrs50.tiny', 'timm/seresnet18.tiny']) {
  test(`hub: ${repo} (timm's names and config.json) gives PyTorch's logits, and on an image timm's`, async () => {
    const io = new Uint8Array(readFileSync(join(HUB_FIXTURES, `${repo}.io.safetensors`)));
    const h = parseSafetensors(io);
    const get = (n: string) => { const t = h.tensors.get(n)!; return { shape: t.shape, data: toFloat32(t.dtype, io.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)) }; };
    const logits = get('logits').data;
    const model = await loadModel({ weights: `hf-hub:${repo}`, hubEndpoint: hub.endpoint, cache: false, device: await testContext() });
    try {
      const max = logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(await model.run(get('input').data, { batch: 2 }), logits, { atol: 1e-4 * max, rtol: 0, what: `${repo} logits` });
      const image = get('image');
      const [height, width] = image.shape;
      const il = get('image_logits').data;
      const m = Math.max(...il);
      const sum = il.reduce((a, v) => a + Math.exp(v - m), 0);
      for (const c of await model.classify({ data: Uint8Array.from(image.data), width, height }, { topK: 3 })) {
        assertClose([c.probability], [Math.exp(il[c.index] - m) / sum], { atol: 1e-5, rtol: 1e-3, what: `${repo} p[${c.index}]` });
      }
    } finally {
      model.dispose();
    }
  });
}
