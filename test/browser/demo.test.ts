// The demo in a real browser: Vite builds it, a static server serves the build on 127.0.0.1, and
// Debian's Chromium (headless, WebGPU on SwiftShader) runs it through playwright-core.
//
// Checks: WebGPU is found; the embedded Fashion-MNIST model gives the same top 5 (index and
// probability within 1e-4) as the Node runtime on the same PNGs; the weights cache makes a reload
// skip the download; a tiny model dropped as a file loads and its per-step timing chart appears;
// a corrupt weights file gives a clear error in the page; classes taught in the page (examples from
// sample files, a head trained in the page) classify held-out samples and survive a reload; the Benchmark panel
// times the embedded model with both tuner modes and exports the JSON. Screenshots go to test-artifacts/.
//
// Run: node scripts/test.mjs browser      (needs /usr/bin/chromium; SKIP_BROWSER=1 skips)

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';

import { loadModel, type Model } from '../../src/index.js';
import { type ResNetConfig } from '../../src/models/config.js';
import { randomWeights } from '../../src/weights/random.js';
import { assertClose } from '../helpers/compare.js';
import { testContext } from '../helpers/gpu.js';
import {
  ARTIFACTS, buildDemo, dropFile, launchChromium, missingPrerequisite, REPO_ROOT, serveStatic,
  type Browser, type StaticServer,
} from './harness.js';

const FASHION = join(REPO_ROOT, 'assets', 'fashion-mnist');
const EMBEDDED_WEIGHTS = join(FASHION, 'fashion-mnist-resnext.safetensors');
/** The shipped samples with PyTorch's prediction for each (written by weights-tools/train_fashion_mnist.py). */
interface SampleInfo { file: string; label_name: string; torch_prediction: number; torch_prediction_name: string }
const SAMPLE_INFO: SampleInfo[] = JSON.parse(readFileSync(join(FASHION, 'samples', 'samples.json'), 'utf8'));
/** Samples compared between the page, Node and PyTorch. */
const SAMPLES = SAMPLE_INFO.slice(0, 4).map((s) => s.file);

const STEP_TIMEOUT = 60_000;

/** A tiny grey 28x28 ResNeXt (two stages, 4 groups): loads and runs in a blink on SwiftShader. */
const TINY: ResNetConfig = {
  name: 'tiny_resnext_test', block: 'bottleneck', layers: [1, 1], widths: [8, 16], groups: 4, widthPerGroup: 8,
  strideOn: 'conv2', stemChannels: 8, stem: { kernel: 3, stride: 1, pad: 1 }, maxpool: null, convBias: false,
  avgpool: 'global', bnEps: 1e-5, inputChannels: 1, inputSize: 28, numClasses: 10,
};
const TINY_LABELS = Array.from({ length: 10 }, (_, i) => `tiny class ${i}`);

/** A tiny model served by the test server, for the "weights from a URL" path. */
const URL_WEIGHTS = '/test-weights/tiny-url.safetensors';
const URL_WEIGHTS_BYTES = randomWeights(TINY, { seed: 9, custom: true, metadata: { labels: TINY_LABELS } });

interface PageRow { index: number; label: string; probability: number }

const skip = process.env.SKIP_BROWSER ? 'SKIP_BROWSER is set' : undefined;

describe('demo in Chromium', { skip, timeout: 300_000 }, () => {
  let outDir: string | undefined;
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let failed = false;

  before(async () => {
    const missing = missingPrerequisite();
    if (missing) throw new Error(`browser tests cannot run: ${missing}. Set SKIP_BROWSER=1 to skip them.`);
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const f of ['demo-failure.png', 'demo-failure-console.txt']) rmSync(join(ARTIFACTS, f), { force: true }); // stale
    outDir = await buildDemo();
    server = await serveStatic(outDir, new Map([[URL_WEIGHTS, URL_WEIGHTS_BYTES]]));
    browser = await launchChromium();
    await browser.page.goto(server.url, { timeout: STEP_TIMEOUT });
  }, { timeout: 180_000 });

  after(async () => {
    if (browser && failed) {
      await browser.page.screenshot({ path: join(ARTIFACTS, 'demo-failure.png'), fullPage: true }).catch(() => undefined);
      writeFileSync(join(ARTIFACTS, 'demo-failure-console.txt'), browser.log.join('\n'));
    }
    await browser?.close();
    await server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  /** Wraps a test body so a failure leaves a screenshot and the page's console behind. */
  const guarded = (fn: () => Promise<void>) => async () => {
    try { await fn(); } catch (e) {
      failed = true;
      const log = browser?.log.slice(-20).join('\n');
      throw Object.assign(e as Error, { message: `${(e as Error).message}${log ? `\npage console (last 20):\n${log}` : ''}` });
    }
  };

  const page = () => browser!.page;

  async function pageErrors(): Promise<string[]> {
    return page().locator('#errors .error p').allTextContents();
  }

  async function waitModelState(state: string, name?: string): Promise<void> {
    await page().waitForFunction(([s, n]) => {
      const b = document.body.dataset;
      return b.modelState === s && (n === undefined || b.modelName === n);
    }, [state, name] as const, { timeout: STEP_TIMEOUT }).catch(async (e: Error) => {
      const errors = await pageErrors();
      throw new Error(`model never reached state '${state}'${name ? ` for ${name}` : ''} ` +
        `(now '${await page().evaluate(() => document.body.dataset.modelState)}'); page errors: ${JSON.stringify(errors)}; ${e.message}`);
    });
  }

  /** Picks a gallery sample (a click, or the keyboard) and returns the top 5 the page shows for it. */
  async function classifySample(name: string, how: 'click' | 'keyboard' = 'click'): Promise<PageRow[]> {
    const button = page().locator(`#gallery button[data-sample="${name}"]`);
    if (how === 'click') await button.click();
    else { await button.focus(); await page().keyboard.press('Enter'); }
    await page().waitForSelector(`#results[data-image="${name}"] li`, { timeout: STEP_TIMEOUT });
    return page().$$eval('#results li', (lis) => lis.map((li) => ({
      index: Number((li as HTMLElement).dataset.index),
      label: (li as HTMLElement).dataset.label ?? '',
      probability: Number((li as HTMLElement).dataset.probability),
    })));
  }

  function decodePng(file: string): { data: Uint8ClampedArray; width: number; height: number } {
    const png = PNG.sync.read(readFileSync(file));
    return { data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
  }

  async function nodeTop5(model: Model, file: string): Promise<PageRow[]> {
    const top = await model.classify(decodePng(file), { topK: 5 });
    return top.map((r) => ({ index: r.index, label: r.label, probability: r.probability }));
  }

  function compareTop5(where: string, pageRows: PageRow[], nodeRows: PageRow[]): void {
    assert.equal(pageRows.length, 5, `${where}: the page shows ${pageRows.length} results, not 5`);
    assert.equal(pageRows[0].index, nodeRows[0].index,
      `${where}: top-1 differs: page ${pageRows[0].label} (${pageRows[0].index}), node ${nodeRows[0].label} (${nodeRows[0].index})`);
    assert.deepEqual(pageRows.map((r) => r.label), nodeRows.map((r) => r.label), `${where}: labels differ`);
    assertClose(pageRows.map((r) => r.probability), nodeRows.map((r) => r.probability),
      { atol: 1e-4, rtol: 0, what: `${where}: top-5 probabilities (page vs node)` });
  }

  test('finds WebGPU on SwiftShader and loads the embedded model', guarded(async () => {
    await page().waitForFunction(() => document.body.dataset.adapter !== undefined ||
      document.querySelector('#gpu-status.bad') !== null, undefined, { timeout: STEP_TIMEOUT });
    const status = await page().locator('#gpu-status').textContent();
    assert.equal(await page().evaluate(() => document.body.dataset.adapter), 'google/swiftshader', `status: ${status}`);
    assert.match(status ?? '', /WebGPU ready/);
    assert.match(status ?? '', /timestamp queries: yes/);
    await waitModelState('ready', 'Fashion-MNIST ResNeXt');
    assert.deepEqual(await pageErrors(), []);
  }));

  test('says what to do in a browser without WebGPU', guarded(async () => {
    const other = await browser!.context.newPage();
    try {
      // Simulate a browser without WebGPU: navigator.gpu reads as undefined before any script runs.
      // (A string, not a function: tsx's transform would leave __name() helpers in a serialised function.)
      await other.addInitScript("Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });");
      await other.goto(server!.url, { timeout: STEP_TIMEOUT });
      const status = other.locator('#gpu-status.bad');
      await status.waitFor({ timeout: STEP_TIMEOUT });
      const text = await status.textContent() ?? '';
      assert.match(text, /no WebGPU/);
      assert.match(text, /--enable-unsafe-webgpu/);
      assert.match(text, /Chrome/);
      assert.equal(await other.evaluate(() => document.body.dataset.modelState), 'error');
      assert.equal(await other.locator('#model-select').isDisabled(), true);
    } finally {
      await other.close();
    }
  }));

  test('classifies Fashion-MNIST samples like the Node runtime', guarded(async () => {
    await waitModelState('ready', 'Fashion-MNIST ResNeXt');
    const ctx = await testContext();
    const model = await loadModel({ weights: new Uint8Array(readFileSync(EMBEDDED_WEIGHTS)), device: ctx });
    try {
      for (const [i, name] of SAMPLES.entries()) {
        const inPage = await classifySample(name, i % 2 ? 'keyboard' : 'click');
        const inNode = await nodeTop5(model, join(FASHION, 'samples', name));
        compareTop5(name, inPage, inNode);
        // PyTorch's top-1 too, unless the page's top two are a near tie that f32 rounding may flip.
        const torch = SAMPLE_INFO[i];
        if (inPage[0].index !== torch.torch_prediction) {
          const gap = inPage[0].probability - inPage[1].probability;
          assert.ok(inPage[1].index === torch.torch_prediction && gap < 1e-4,
            `${name}: the page says ${inPage[0].label} (${inPage[0].probability}), PyTorch said ${torch.torch_prediction_name}; ` +
            `page top 2: ${inPage.slice(0, 2).map((r) => `${r.label} ${r.probability}`).join(', ')}`);
        }
      }
    } finally {
      model.dispose();
    }
    await page().screenshot({ path: join(ARTIFACTS, 'demo-fashion-mnist.png'), fullPage: true });
    assert.deepEqual(await pageErrors(), []);
  }));

  test('a reload takes the embedded weights from the Cache API', guarded(async () => {
    await page().reload({ timeout: STEP_TIMEOUT });
    await waitModelState('ready', 'Fashion-MNIST ResNeXt');
    assert.equal(await page().locator('#load-bytes').getAttribute('data-from-cache'), 'true');
    await page().locator('#clear-cache').click();
    await page().waitForFunction(() => document.getElementById('cache-info')?.textContent === 'cache cleared',
      undefined, { timeout: STEP_TIMEOUT });
    const cached = await page().evaluate(async () => (await caches.keys()).length);
    assert.equal(cached, 0, 'the cache was not cleared');
  }));

  test('loads a tiny model from a dropped file and shows its timing chart', guarded(async () => {
    const bytes = randomWeights(TINY, { seed: 7, custom: true, metadata: { labels: TINY_LABELS, mean: [0.5], std: [0.25] } });
    await dropFile(page(), 'body', 'tiny-resnext.safetensors', bytes);
    await waitModelState('ready', 'tiny-resnext.safetensors');
    assert.match(await page().locator('#model-info').textContent() ?? '', /tiny-resnext\.safetensors/);

    // The page's top 5 for the tiny model agrees with Node's, too.
    const sample = SAMPLES[0];
    const inPage = await classifySample(sample);
    assert.ok(inPage.every((r) => r.label.startsWith('tiny class')), `labels: ${inPage.map((r) => r.label).join(', ')}`);
    const model = await loadModel({ weights: bytes, device: await testContext() });
    try {
      compareTop5(`tiny model, ${sample}`, inPage, await nodeTop5(model, join(FASHION, 'samples', sample)));
    } finally {
      model.dispose();
    }

    await page().locator('#profile-run').click();
    await page().waitForSelector('#profile-chart tr.timing', { timeout: STEP_TIMEOUT });
    const steps = await page().$$eval('#profile-chart tr.timing', (rows) =>
      rows.map((r) => ({ name: (r as HTMLElement).dataset.step ?? '', ms: Number((r as HTMLElement).dataset.ms) })));
    const names = steps.map((s) => s.name);
    for (const want of ['conv1', 'layer1.0.conv2', 'layer2.0.conv3', 'fc']) {
      assert.ok(names.includes(want), `timing chart lacks step ${want}: ${names.join(', ')}`);
    }
    assert.ok(steps.every((s) => Number.isFinite(s.ms) && s.ms >= 0), `bad timings: ${JSON.stringify(steps)}`);
    const summary = await page().locator('#profile-summary').textContent();
    assert.match(summary ?? '', /ms on the GPU/);
    assert.match(summary ?? '', /GFLOP\/s/);
    await page().screenshot({ path: join(ARTIFACTS, 'demo-profile.png'), fullPage: true });
    assert.deepEqual(await pageErrors(), []);
  }));

  test('a corrupt weights file gives a clear error in the page', guarded(async () => {
    const good = randomWeights(TINY, { seed: 7, custom: true, metadata: { labels: TINY_LABELS } });
    const truncated = good.slice(0, Math.floor(good.byteLength / 2));
    await dropFile(page(), 'body', 'truncated.safetensors', truncated);
    await waitModelState('error', 'truncated.safetensors');
    const errors = await pageErrors();
    assert.equal(errors.length, 1, `expected one error, got ${JSON.stringify(errors)}`);
    assert.match(errors[0], /Could not load truncated\.safetensors/);
    assert.match(errors[0], /truncated|past the end|bytes/i);
    await page().screenshot({ path: join(ARTIFACTS, 'demo-corrupt-weights.png'), fullPage: true });

    // A .pth goes through weights-tools' converter in a worker; a pickle that calls os.system is refused.
    const malicious = new Uint8Array(readFileSync(join(REPO_ROOT, 'test/fixtures/checkpoints/malicious_os_system.pth')));
    await dropFile(page(), 'body', 'malicious.pth', malicious);
    await waitModelState('error', 'malicious.pth');
    const pthErrors = await pageErrors();
    assert.equal(pthErrors.length, 1, `expected one error, got ${JSON.stringify(pthErrors)}`);
    assert.match(pthErrors[0], /Could not load malicious\.pth: UnsafePickleError: refusing to load pickle global '(posix|os)\.system'/);
  }));

  test('an ImageNet architecture asks for weights and offers the photo samples', guarded(async () => {
    await page().selectOption('#model-select', 'resnext101_32x4d');
    await waitModelState('none', 'resnext101_32x4d');
    assert.equal(await page().locator('#weights-fieldset').isVisible(), true);
    assert.equal(await page().locator('#weights-url').inputValue(),
      'http://data.lip6.fr/cadene/pretrainedmodels/resnext101_32x4d-29e315fa.pth');
    const samples = await page().$$eval('#gallery button', (bs) => bs.map((b) => (b as HTMLElement).dataset.sample));
    assert.deepEqual(samples, ['chelsea.png', 'coffee.png', 'astronaut.png']);
    // The photos are served (with their licence beside them).
    for (const f of ['samples/imagenet/chelsea.png', 'samples/imagenet/LICENSE']) {
      const r = await page().request.get(new URL(f, server!.url).href);
      assert.equal(r.status(), 200, `${f}: HTTP ${r.status()}`);
    }
    assert.deepEqual(await pageErrors(), []);
  }));

  test('loads weights from a URL into the Cache API', guarded(async () => {
    // The ImageNet picker is still on resnext101_32x4d: the file's own metadata (a custom tiny model) wins.
    const url = new URL(URL_WEIGHTS, server!.url).href;
    await page().fill('#weights-url', url);
    await page().press('#weights-url', 'Enter');
    await waitModelState('ready', 'tiny-url.safetensors');
    assert.match(await page().locator('#model-info').textContent() ?? '', /holds tiny_resnext_test, not the chosen resnext101_32x4d/);
    assert.ok(server!.requests.includes(URL_WEIGHTS), 'the page never requested the weights URL');
    const cached = await page().evaluate(async (u) => (await caches.match(u)) !== undefined, url);
    assert.equal(cached, true, 'the downloaded weights are not in the Cache API');
    assert.deepEqual(await pageErrors(), []);
  }));
  test('teach it your own classes: sample files into three classes, train, classify held-out samples, restored after a reload',
    guarded(async () => {
      await page().selectOption('#model-select', 'fashion-mnist');
      await waitModelState('ready', 'Fashion-MNIST ResNeXt');
      const classes: [string, string[]][] = [
        ['footwear', ['sample-0000-ankle-boot.png', 'sample-0008-sandal.png']],
        ['tops', ['sample-0001-pullover.png', 'sample-0004-shirt.png', 'sample-0006-coat.png']],
        ['bag', ['sample-0018-bag.png']],
      ];
      for (const [i, [name, files]] of classes.entries()) {
        await page().fill('#teach-class-name', name);
        await page().click('#teach-add-class');
        await page().setInputFiles(`#teach-files-${i}`, files.map((f) => join(FASHION, 'samples', f)));
        await page().waitForSelector(`#teach-classes li[data-class="${name}"][data-examples="${files.length}"]`, { timeout: STEP_TIMEOUT });
      }
      await page().click('#teach-train');
      await page().waitForSelector('#teach-panel[data-head="trained"]', { timeout: STEP_TIMEOUT });
      const held: [string, string][] = [['sample-0009-sneaker.png', 'footwear'], ['sample-0007-shirt.png', 'tops']];
      for (const [file, want] of held) {
        const rows = await classifySample(file);
        assert.deepEqual(rows.map((r) => r.label).sort(), ['bag', 'footwear', 'tops'], `${file}: the head's classes`);
        assert.equal(rows[0].label, want, `${file}: ${JSON.stringify(rows)}`);
      }
      // The head is kept in this browser: a reload of the same model brings it back.
      await page().reload({ timeout: STEP_TIMEOUT });
      await waitModelState('ready', 'Fashion-MNIST ResNeXt');
      await page().waitForSelector('#teach-panel[data-head="restored"]', { timeout: STEP_TIMEOUT });
      assert.equal((await classifySample(held[0][0]))[0].label, held[0][1]);
      // Unticked: the network's own classes again; forgotten: gone from the cache.
      await page().uncheck('#teach-use');
      await page().waitForFunction(() => document.querySelector('#results li')?.getAttribute('data-label') === 'Sneaker',
        undefined, { timeout: STEP_TIMEOUT });
      await page().click('#teach-forget');
      await page().waitForSelector('#teach-panel[data-head="none"]', { timeout: STEP_TIMEOUT });
      assert.deepEqual(await pageErrors(), []);
    }));

  test('the Benchmark panel times the embedded model with the heuristic and the tuned picks, shows the figures and exports them as JSON',
    guarded(async () => {
      await waitModelState('ready', 'Fashion-MNIST ResNeXt');
      await page().selectOption('#bench-arch', 'fashion-mnist');
      await page().fill('#bench-runs', '2');
      await page().fill('#bench-budget', '1'); // the tuner's budget is spent after at most one measurement
      await page().click('#bench-run');
      await page().waitForSelector('#bench-panel[data-state="done"]', { timeout: 120_000 }).catch(async (e: Error) => {
        throw new Error(`${e.message}; page errors: ${JSON.stringify(await pageErrors())}`);
      });
      const rows = await page().$$eval('#bench-output tr[data-mode]', (trs) =>
        trs.map((r) => ({ mode: (r as HTMLElement).dataset.mode, ms: Number((r as HTMLElement).dataset.ms) })));
      assert.deepEqual(rows.map((r) => r.mode), ['heuristic', 'auto']);
      assert.ok(rows.every((r) => r.ms > 0 && Number.isFinite(r.ms)), JSON.stringify(rows));
      assert.match(await page().locator('#bench-status').textContent() ?? '', /tuned \/ heuristic time \d\.\d{3}/);
      const [download] = await Promise.all([page().waitForEvent('download', { timeout: STEP_TIMEOUT }), page().click('#bench-export')]);
      assert.match(download.suggestedFilename(), /^webgpu-resnext-benchmark-.+\.json$/);
      const json = JSON.parse(readFileSync(await download.path(), 'utf8')) as {
        adapter: string; runs: number; flopsPerImage: number; tunedOverHeuristic: number;
        models: { mode: string; timesMs: number[]; gflops: number; tuning: { measurements: number; stopped?: string } }[];
      };
      assert.equal(json.runs, 2);
      assert.match(json.adapter, /swiftshader/i);
      assert.ok(json.flopsPerImage > 0 && json.tunedOverHeuristic > 0);
      // A 1 ms budget: at most one measurement before it is spent (none when the page took that long to start it).
      assert.deepEqual(json.models.map((m) => [m.mode, m.timesMs.length]), [['heuristic', 2], ['auto', 2]]);
      assert.equal(json.models[0].tuning.measurements, 0);
      assert.ok(json.models[1].tuning.measurements <= 1);
      assert.equal(json.models[1].tuning.stopped, 'budget');
      assert.ok(json.models.every((m) => m.gflops > 0));
      await page().screenshot({ path: join(ARTIFACTS, 'demo-benchmark.png'), fullPage: true });
      assert.deepEqual(await pageErrors(), []);
    }));
});
