// The browser side of `npm run bench -- --browser`: the same model benchmark and ceiling as in Node
// (bench/model-bench.ts, bench/ceiling.ts) on the browser's WebGPU adapter. The result is left in
// `window.__benchResult` (or `window.__benchError`) for the driver (bench/browser/run-browser.ts).
// With `?first=<arch>` (--first --browser) instead: loadModel from bytes in memory -> the first classify()
// result for that architecture (its weights fetched from `?weights=` beforehand, else random).

import { loadModel } from '../../src/classify.js';
import { acquireDevice, describeDevice } from '../../src/gpu/device.js';
import { pipelineStats } from '../../src/gpu/shaders.js';
import { randomWeights } from '../../src/weights/random.js';
import type { TuningMode } from '../../src/tuning/model-tuning.js';
import { Ceiling } from '../ceiling.js';
import { cpuCount } from '../clock.js';
import type { BrowserFirstPredictionResult } from '../first-prediction.js';
import { benchConfig, benchModels } from '../model-bench.js';
import { computeTargets, type BenchResult } from '../report.js';
import { benchImage } from '../step-timer.js';

declare global {
  interface Window {
    __benchResult?: BenchResult | BrowserFirstPredictionResult;
    __benchError?: string;
  }
}

const logEl = document.getElementById('log')!;
function log(line: string): void {
  logEl.textContent += line + '\n';
  console.log(`bench: ${line}`);
}

async function firstPrediction(arch: string, size: number, weightsUrl: string | null): Promise<void> {
  const weights = weightsUrl ? new Uint8Array(await (await fetch(weightsUrl)).arrayBuffer()) : randomWeights(benchConfig(arch, size));
  const image = benchImage(size);
  const t0 = performance.now();
  const model = await loadModel({ weights });
  const t1 = performance.now();
  await model.classify(image);
  const t2 = performance.now();
  const stats = pipelineStats(model.context);
  const adapterText = model.info.adapter.split('\n')[0];
  log(`${arch}: first prediction ${(t2 - t0).toFixed(0)} ms on ${adapterText}`);
  window.__benchResult = {
    arch, size, adapterText, loadMs: t1 - t0, firstClassifyMs: t2 - t1, firstPredictionMs: t2 - t0,
    pipelines: stats.compiled, compileMs: stats.compileMs,
  };
  model.dispose();
}

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const first = q.get('first');
  if (first) return firstPrediction(first, Number(q.get('size') ?? 224), q.get('weights'));
  const list = (k: string, d: string) => (q.get(k) ?? d).split(',').filter(Boolean);
  const archs = list('arch', 'resnet50');
  const size = Number(q.get('size') ?? 224);
  const batches = list('batch', '1').map(Number);
  const runs = Number(q.get('runs') ?? 3);
  const ceilingSize = Number(q.get('ceiling') ?? 1024);
  const steps = (q.get('steps') ?? 'auto') as 'auto' | 'wall' | 'none';
  const slowest = Number(q.get('slowest') ?? 10);
  const tunings = q.get('tuning') ? list('tuning', '') as TuningMode[] : undefined;
  const tuningBudgetMs = q.get('tuningBudget') ? Number(q.get('tuningBudget')) : undefined;

  const ctx = await acquireDevice();
  const adapter = describeDevice(ctx);
  log(adapter);
  const ceiling = await Ceiling.create(ctx, ceilingSize);
  await ceiling.sample(2);
  const { models, failed } = await benchModels({
    ctx, archs, size, batches, runs, steps, slowest, log, between: () => ceiling.sample(1), tunings, tuningBudgetMs,
  });
  await ceiling.sample(2);
  const c = ceiling.result();
  ceiling.dispose();
  const cpus = await cpuCount();
  window.__benchResult = {
    environment: { date: new Date().toISOString(), adapter, source: ctx.source, runtime: navigator.userAgent, cpus },
    options: { archs, size, batches, runs, ceilingSize, steps, slowest, tunings, tuningBudgetMs },
    ceiling: c,
    models,
    ...(failed.length ? { failed } : {}),
    targets: computeTargets(models, c, cpus),
  };
  log('done');
}

main().catch((e: unknown) => {
  const msg = (e as Error)?.stack ?? String(e);
  log(`error: ${msg}`);
  window.__benchError = msg;
});
