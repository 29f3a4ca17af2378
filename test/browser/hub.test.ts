// A Hub model in headless Chromium: the library (esbuild bundle of src/index.ts) on one origin, the
// local Hub stand-in (test/hub/server.ts) on a second and its file host on a third, so config.json,
// the redirect and the weights all cross origins under CORS. loadModel('hf-hub:timm/...') must give
// PyTorch's logits, store the converted model in the Cache API, and on a reload read it from there
// with HEAD requests only (no GET of the weights).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { assertClose } from '../helpers/compare.js';
import { HUB_FIXTURES, startFakeHub } from '../hub/server.js';
import { launchChromium, missingPrerequisite, REPO_ROOT, serveStatic } from './harness.js';

const skip = missingPrerequisite();

test('browser: loadModel(hf-hub:...) across origins, PyTorch\'s logits, then from the Cache API', { skip, timeout: 240_000 }, async () => {
  const { build } = await import('esbuild');
  const dir = mkdtempSync(join(tmpdir(), 'hub-browser-'));
  await build({ absWorkingDir: REPO_ROOT, entryPoints: ['src/index.ts'], outfile: join(dir, 'lib.js'), bundle: true, format: 'esm',
    platform: 'browser', target: 'es2022', logLevel: 'warning' });
  // The page's code lives in the page (functions passed to page.evaluate would meet tsx's helpers).
  writeFileSync(join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>hub</title><script type="module">
import { loadModel } from './lib.js';
window.runHub = async (repo, endpoint, input) => {
  const phases = [];
  let fromCache;
  const model = await loadModel({ weights: 'hf-hub:' + repo, hubEndpoint: endpoint, onProgress: (p) => {
    if (!phases.includes(p.phase)) phases.push(p.phase);
    if (p.phase === 'download') fromCache = p.fromCache;
  } });
  const logits = Array.from(await model.run(Float32Array.from(input), { batch: 2 }));
  model.dispose();
  return { logits, phases, fromCache };
};
window.ready = true;
</script>`);
  const repo = 'timm/resnet18.tiny_in1k';
  const io = new Uint8Array(readFileSync(join(HUB_FIXTURES, `${repo}.io.safetensors`)));
  const h = parseSafetensors(io);
  const get = (n: string) => { const t = h.tensors.get(n)!; return toFloat32(t.dtype, io.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)); };
  const input = Array.from(get('input'));
  const golden = get('logits');

  const hub = await startFakeHub();
  const site = await serveStatic(dir);
  const browser = await launchChromium();
  try {
    const { page } = browser;
    const load = async () => {
      await page.goto(site.url);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      type Run = (repo: string, endpoint: string, input: number[]) => Promise<{ logits: number[]; phases: string[]; fromCache?: boolean }>;
      return page.evaluate(([r, e, x]) => (window as unknown as { runHub: Run }).runHub(r, e, x), [repo, hub.endpoint, input] as const);
    };
    const first = await load().catch((e: Error) => { throw new Error(`${e.message}\n${browser.log.join('\n')}`); });
    assert.deepEqual(first.phases, ['download', 'convert', 'upload', 'compile']);
    assert.equal(first.fromCache, false);
    const max = golden.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(first.logits, golden, { atol: 1e-4 * max, rtol: 0, what: 'Chromium logits' });
    assert.ok(hub.requests.some((r) => r.origin === 'files' && r.method === 'GET'), 'the weights came from the file host');

    hub.requests.length = 0;
    const second = await load();
    assert.equal(second.fromCache, true);
    assert.deepEqual(second.phases, ['download', 'upload', 'compile']);
    assert.deepEqual(hub.requests.filter((r) => r.method === 'GET'), [], 'no GET after the reload: the Cache API copy');
    assertClose(second.logits, golden, { atol: 1e-4 * max, rtol: 0, what: 'Chromium logits from the cache' });
  } finally {
    await browser.close();
    await site.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
