// `npm run bench -- --first`: time to the first prediction. loadModel from bytes in memory, then the
// first classify() result, in a fresh Node process per model and warmup (so no pipeline, shader
// module or driver cache of an earlier run helps), with the pipelines compiled on the way (count and
// summed compile time: pipelineStats in src/gpu/shaders.ts); then, under warmup 'fast-first', the
// classify() calls made while the tuned kernels compile in the background until model.ready(); then
// the steady-state median of further classify() calls.
//
// 'embedded' is the shipped Fashion-MNIST ResNeXt (assets/fashion-mnist/) classifying a shipped sample;
// the ImageNet architectures get random weights (src/weights/random.ts) and a synthetic image of the
// benchmark's --size.

import '../src/node/install.js'; // first: the child process runs this file alone, on the Node platform
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/classify.js';
import type { AdapterChoice } from '../src/gpu/device.js';
import type { Warmup } from '../src/graph/runner.js';
import { pipelineStats } from '../src/gpu/shaders.js';
import type { RawImage } from '../src/image/decode.js';
import { randomWeights } from '../src/weights/random.js';
import { cpuMs } from './clock.js';
import { benchConfig } from './model-bench.js';
import { benchImage, median } from './step-timer.js';

/** The --arch name of the shipped Fashion-MNIST model (--first only). */
export const EMBEDDED = 'embedded';
export const EMBEDDED_WEIGHTS = new URL('../assets/fashion-mnist/fashion-mnist-resnext.safetensors', import.meta.url);
const EMBEDDED_SAMPLE = new URL('../assets/fashion-mnist/samples/sample-0000-ankle-boot.png', import.meta.url);

/** One measurement: which model, at which input size, on which adapter, with which warmup. */
export interface FirstPredictionCase {
  arch: string;
  size: number;
  adapter: AdapterChoice;
  warmup: Warmup;
  /** Steady-state classify() calls timed. */
  runs: number;
}

export interface FirstPredictionResult extends FirstPredictionCase {
  /** The adapter's first line (describeDevice). */
  adapterText: string;
  /** loadModel() from bytes in memory (parse, fold, upload, compile the batch-1 pipelines). */
  loadMs: number;
  /** The first classify() after loadModel. */
  firstClassifyMs: number;
  /** loadModel called -> first result (loadMs + firstClassifyMs), wall and process CPU time. */
  firstPredictionMs: number;
  firstPredictionCpuMs: number;
  /** Distinct pipelines compiled up to the first result, and their summed createComputePipelineAsync wall time. */
  pipelines: number;
  compileMs: number;
  /** The slowest of those pipelines, slowest first. */
  slowestPipelines: { label: string; ms: number }[];
  /** 'fast-first': the classify() calls made until model.ready() (each one's wall ms), and loadModel called -> ready. */
  interimMs: number[];
  readyMs?: number;
  /** Pipelines compiled in all, the tuned ones included. */
  pipelinesTotal: number;
  /** Median of `runs` classify() calls on the tuned kernels, wall and process CPU time. */
  steadyMs: number;
  steadyCpuMs: number;
}

async function modelBytes(c: FirstPredictionCase): Promise<Uint8Array> {
  if (c.arch === EMBEDDED) return new Uint8Array(await readFile(EMBEDDED_WEIGHTS));
  return randomWeights(benchConfig(c.arch, c.size));
}

async function testImage(c: FirstPredictionCase): Promise<RawImage | Uint8Array> {
  if (c.arch === EMBEDDED) return new Uint8Array(await readFile(EMBEDDED_SAMPLE));
  return benchImage(c.size);
}

/** Measures in this process: call it in a fresh one (firstPredictionFresh) for a cold start. */
export async function firstPrediction(c: FirstPredictionCase): Promise<FirstPredictionResult> {
  const bytes = await modelBytes(c);
  const image = await testImage(c);
  const c0 = cpuMs()!;
  const t0 = performance.now();
  const model = await loadModel({ weights: bytes, adapter: c.adapter, warmup: c.warmup });
  const t1 = performance.now();
  await model.classify(image);
  const t2 = performance.now();
  const c2 = cpuMs()!;
  const stats = pipelineStats(model.context);
  const first = { pipelines: stats.compiled, compileMs: stats.compileMs, slowestPipelines: [...stats.pipelines].sort((a, b) => b.ms - a.ms).slice(0, 5) };
  // Keep classifying while the tuned kernels compile (swapped in between two calls).
  const upgrading = await model.debug.firstUseInstances() > 0;
  const interimMs: number[] = [];
  let ready = false;
  const readyAt = model.ready().then(() => { ready = true; return performance.now() - t0; });
  while (upgrading && !ready) {
    const t = performance.now();
    await model.classify(image);
    interimMs.push(performance.now() - t);
  }
  const readyMs = await readyAt;
  const steady: number[] = [];
  const steadyCpu: number[] = [];
  for (let i = 0; i < c.runs; i++) {
    const t = performance.now();
    const cpu = cpuMs()!;
    await model.classify(image);
    steady.push(performance.now() - t);
    steadyCpu.push(cpuMs()! - cpu);
  }
  const adapterText = model.info.adapter.split('\n')[0];
  model.dispose();
  return {
    ...c, adapterText, loadMs: t1 - t0, firstClassifyMs: t2 - t1, firstPredictionMs: t2 - t0, firstPredictionCpuMs: c2 - c0, ...first,
    interimMs, readyMs: upgrading ? readyMs : undefined, pipelinesTotal: stats.compiled, steadyMs: median(steady), steadyCpuMs: median(steadyCpu),
  };
}

const CHILD_FLAG = '--first-prediction-child';

/** firstPrediction in a new Node process, its result passed back as JSON on stdout. */
export function firstPredictionFresh(c: FirstPredictionCase): Promise<FirstPredictionResult> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, CHILD_FLAG, JSON.stringify(c)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`first prediction of ${c.arch} (${c.warmup}) failed: the child exited with ${code}`));
      resolve(JSON.parse(out.slice(out.lastIndexOf('\n{'))) as FirstPredictionResult);
    });
  });
}

/** `--first --browser`: one architecture's first prediction in a fresh headless Chromium (bench/browser/main.ts). */
export interface BrowserFirstPredictionResult {
  arch: string;
  size: number;
  adapterText: string;
  /** loadModel() from bytes in memory (default warmup), the first classify() after it, and their sum. */
  loadMs: number;
  firstClassifyMs: number;
  firstPredictionMs: number;
  /** Distinct pipelines compiled up to the first result, and their summed createComputePipelineAsync wall time. */
  pipelines: number;
  compileMs: number;
}

export function formatBrowserFirstPrediction(r: BrowserFirstPredictionResult): string {
  const s = (ms: number) => (ms / 1000).toFixed(2) + ' s';
  return `${r.arch} (headless Chromium, ${r.adapterText}): first prediction ${s(r.firstPredictionMs)} (loadModel ${s(r.loadMs)}, ` +
    `first classify ${s(r.firstClassifyMs)}), ${r.pipelines} pipelines compiled in ${s(r.compileMs)} summed`;
}

export function formatFirstPrediction(r: FirstPredictionResult): string {
  const s = (ms: number) => (ms / 1000).toFixed(2) + ' s';
  return `${r.arch} (${r.warmup}): first prediction ${s(r.firstPredictionMs)} (CPU ${s(r.firstPredictionCpuMs)}; loadModel ${s(r.loadMs)}, ` +
    `first classify ${s(r.firstClassifyMs)}), ${r.pipelines} pipelines compiled in ${s(r.compileMs)} summed; ` +
    (r.readyMs === undefined ? '' : `tuned kernels in after ${s(r.readyMs)} (${r.pipelinesTotal} pipelines in all), ${r.interimMs.length} ` +
      `classify calls meanwhile (median ${median(r.interimMs).toFixed(0)} ms); `) +
    `steady ${r.steadyMs.toFixed(1)} ms (CPU ${r.steadyCpuMs.toFixed(1)} ms)\n` +
    `  slowest to compile: ${r.slowestPipelines.map((p) => `${p.label} ${s(p.ms)}`).join('; ')}`;
}

if (process.argv[2] === CHILD_FLAG) {
  const r = await firstPrediction(JSON.parse(process.argv[3]) as FirstPredictionCase);
  process.stdout.write('\n' + JSON.stringify(r) + '\n');
  process.exit(0);
}
