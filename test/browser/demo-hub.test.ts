// The demo's Hub models in Chromium: the page (?hub-endpoint= the local Hub stand-in, whose
// 'timm/resnet18.a1_in1k' is the tiny resnet18 fixture) loads the picked model with progress, keeps
// it in the Cache API, reads it from there after a reload (no GET), and still loads it once the Hub
// is gone (offline).

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { startFakeHub } from '../hub/server.js';
import { buildDemo, launchChromium, missingPrerequisite, serveStatic } from './harness.js';

const skip = process.env.SKIP_BROWSER ? 'SKIP_BROWSER is set' : missingPrerequisite();
const ID = 'hf-hub:timm/resnet18.a1_in1k';

test('demo: a Hub model from the picker, then from the cache, then offline', { skip, timeout: 300_000 }, async () => {
  const outDir = await buildDemo();
  const hub = await startFakeHub();
  hub.files.set('timm/resnet18.a1_in1k', hub.files.get('timm/resnet18.tiny_in1k')!);
  const site = await serveStatic(outDir);
  const browser = await launchChromium();
  const { page } = browser;
  const pick = async () => {
    await page.goto(`${site.url}?hub-endpoint=${encodeURIComponent(hub.endpoint)}`);
    await page.waitForFunction(() => document.body.dataset.modelState === 'ready', undefined, { timeout: 60_000 }); // the embedded model
    await page.selectOption('#model-select', ID);
    await page.waitForFunction(() => document.body.dataset.modelName === 'timm/resnet18.a1_in1k' &&
      (document.body.dataset.modelState === 'ready' || document.body.dataset.modelState === 'error'), undefined, { timeout: 60_000 });
    const state = await page.evaluate(() => document.body.dataset.modelState);
    assert.equal(state, 'ready', `${await page.locator('#errors').textContent().catch(() => '')}\n${browser.log.join('\n')}`);
    return page.evaluate(() => ({ info: document.getElementById('model-info')?.textContent ?? '',
      fromCache: document.getElementById('load-bytes')?.dataset.fromCache }));
  };
  try {
    const options = await page.goto(`${site.url}?hub-endpoint=${encodeURIComponent(hub.endpoint)}`)
      .then(() => page.locator('#hub-options option').allTextContents());
    assert.ok(options.some((o) => /^resnet50\.a1_in1k — 102 MB, top-1 80\.4% \(81\.2% at 288\)$/.test(o)), options.join('\n'));

    const first = await pick();
    assert.match(first.info, /resnet18, [\d,]+ parameters/);
    assert.match(first.info, /1000 classes/);
    assert.equal(first.fromCache, 'false');

    hub.requests.length = 0;
    const second = await pick();
    assert.equal(second.fromCache, 'true');
    assert.deepEqual(hub.requests.filter((r) => r.method === 'GET'), [], 'no GET: the Cache API copy');

    await hub.close();
    const offline = await pick();
    assert.equal(offline.fromCache, 'true');
  } finally {
    await browser.close();
    await site.close();
    await hub.close().catch(() => {});
    rmSync(outDir, { recursive: true, force: true });
  }
});
