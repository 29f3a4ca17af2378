// The benchmark (`npm run bench`, options parsed by bench/main.ts): the model benchmark, the
// adapter's ceiling, the kernel microbenchmark and the browser run, with a text report on stdout
// and optional JSON.
//
// Everything is measured in one process on one device, the ceiling interleaved with the model runs,
// so the ratios in the targets compare numbers taken under the same conditions. On CPU-backed
// adapters the process CPU time is recorded beside the wall time: other programs on a shared
// machine stretch the wall time but hardly the CPU time the adapter's threads spend.

import { writeFile } from 'node:fs/promises';
import { loadavg, release } from 'node:os';
import { acquireDevice, describeDevice, type GpuContext } from '../src/gpu/device.js';
import { kernelOverride, resolveTuning, type Conv2dDesc } from '../src/ops/conv2d.js';
import { maxSubgroupSize } from '../src/ops/conv2d-subgroup.js';
import { Ceiling } from './ceiling.js';
import { cpuCount } from './clock.js';
import { firstPredictionFresh, formatBrowserFirstPrediction, formatFirstPrediction, type FirstPredictionResult } from './first-prediction.js';
import { benchShape, MICRO_SHAPES, type MicroResult } from './micro.js';
import { benchConfig, benchModels, type ModelResult } from './model-bench.js';
import type { BenchOptions } from './options.js';
import {
  computeTargets, formatCeiling, formatLayerViews, formatMicro, formatModels, formatSteps, formatTargets, formatTuning,
  type BenchEnvironment, type BenchResult,
} from './report.js';
import { layerViews } from './roofline.js';
import { findVariants, tuningVariant } from './variants.js';

async function environment(ctx: GpuContext | undefined, adapterText?: string, source?: string): Promise<BenchEnvironment> {
  return {
    date: new Date().toISOString(),
    adapter: adapterText ?? (ctx ? describeDevice(ctx) : 'unknown'),
    source: source ?? ctx?.source ?? 'unknown',
    runtime: `node ${process.versions.node} (${process.platform} ${release()})`,
    cpus: await cpuCount(),
    loadAverage: process.platform === 'linux' ? loadavg()[0] : undefined,
  };
}

/** Runs the benchmark in this process (and Chromium with `browser`), prints the report, writes JSON. */
export async function runBench(o: BenchOptions, print: (text: string) => void = (t) => process.stdout.write(t + '\n')): Promise<BenchResult> {
  const log = o.verbose ? (line: string) => process.stderr.write(`bench: ${line}\n`) : () => {};
  const ctx = await acquireDevice({ adapter: o.adapter });
  const env = await environment(ctx);
  print(`webgpu-resnext bench, ${env.date}\n${env.adapter}\n${env.runtime}, ${env.cpus} CPUs` +
    (env.loadAverage !== undefined ? `, load average ${env.loadAverage.toFixed(2)} at the start` : ''));
  const result: BenchResult = { environment: env, options: { ...o }, models: [], targets: [] };
  try {
    if (o.first) {
      result.first = await runFirst(o, log, print);
    } else if (o.micro) {
      result.micro = await runMicro(ctx, o, env.cpus, log);
      print('');
      print(formatMicro(result.micro));
    } else {
      const ceiling = await Ceiling.create(ctx, o.ceilingSize);
      await ceiling.sample(2);
      log(formatCeiling(ceiling.result(), env.cpus));
      const { models, failed } = await benchModels({
        ctx, archs: o.archs, size: o.size, batches: o.batches, runs: o.runs, kernels: o.kernels, steps: o.steps, slowest: o.slowest, log,
        tunings: o.tuningModes, tuningBudgetMs: o.tuningBudgetMs, precision: o.precision,
        between: () => ceiling.sample(1),
      });
      if (failed.length) result.failed = failed;
      await ceiling.sample(2);
      result.ceiling = ceiling.result();
      ceiling.dispose();
      result.models = models;
      result.layers = await modelLayers(ctx, o, models);
      result.targets = computeTargets(models, result.ceiling, env.cpus);
      print('');
      print(formatCeiling(result.ceiling, env.cpus));
      print('');
      print(formatModels(result));
      const tuning = formatTuning(result);
      if (tuning) print(`\n${tuning}`);
      for (const m of models) {
        print('');
        print(formatSteps(m, env.cpus));
      }
      if (o.layers) {
        for (const l of result.layers) {
          print(formatLayerViews(l.arch, l.batch, l.views));
          print('');
        }
      }
      for (const f of failed) print(`${f.arch}: not measured: ${f.error}`);
      print('targets (wall-time ratios measured in this run; cpu-time value: the same ratio from process CPU time):');
      print(formatTargets(result.targets));
    }
  } finally {
    ctx.device.destroy();
  }
  if (o.browser && o.first) {
    const { runFirstInBrowser } = await import('./browser/run-browser.js');
    result.browserFirst = await runFirstInBrowser(o, log);
    print('');
    for (const r of result.browserFirst) print(formatBrowserFirstPrediction(r));
  } else if (o.browser) {
    const { runInBrowser } = await import('./browser/run-browser.js');
    result.browser = await runInBrowser(o, log);
    print('');
    print(`browser (headless Chromium): ${result.browser.environment.adapter.split('\n')[0]}`);
    if (result.browser.ceiling) print(formatCeiling(result.browser.ceiling, result.browser.environment.cpus));
    print(formatModels(result.browser));
    const tuning = formatTuning(result.browser);
    if (tuning) print(tuning);
    for (const m of result.browser.models) print(formatSteps(m, result.browser.environment.cpus));
    print(formatTargets(result.browser.targets));
  }
  if (o.json) {
    await writeFile(o.json, JSON.stringify(result, null, 2) + '\n');
    print(`\nJSON written to ${o.json}`);
  }
  return result;
}

/**
 * The per-layer traffic view of each measured model and batch with the tuning the runtime picks on this
 * adapter for the bench's kernel choice (resolveTuning, as the model's convs got it).
 */
async function modelLayers(ctx: GpuContext, o: BenchOptions, models: ModelResult[]): Promise<NonNullable<BenchResult['layers']>> {
  const pick = (d: Conv2dDesc) => resolveTuning(ctx, d, kernelOverride(o.kernels));
  const out: NonNullable<BenchResult['layers']> = [];
  for (const m of models) {
    for (const b of m.batches) {
      out.push({ arch: m.arch, batch: b.batch, views: await layerViews(benchConfig(m.arch, o.size), b.batch, pick, maxSubgroupSize(ctx)) });
    }
  }
  return out;
}

/** Each (architecture, warmup) in a fresh process, one after the other; prints each result as it comes. */
async function runFirst(o: BenchOptions, log: (s: string) => void, print: (text: string) => void): Promise<FirstPredictionResult[]> {
  const out: FirstPredictionResult[] = [];
  print('');
  for (const arch of o.archs) {
    for (const warmup of o.warmups) {
      log(`first prediction: ${arch}, warmup ${warmup}, in a fresh process`);
      const r = await firstPredictionFresh({ arch, size: o.size, adapter: o.adapter, warmup, runs: o.runs });
      print(formatFirstPrediction(r));
      out.push(r);
    }
  }
  return out;
}

async function runMicro(ctx: GpuContext, o: BenchOptions, cpus: number, log: (s: string) => void): Promise<MicroResult[]> {
  const variants = [...findVariants(o.variants), ...(o.tunings ?? []).map((t, i) => tuningVariant(t, i + 1))];
  const shapes: [string, Conv2dDesc][] = o.shapes?.length
    ? o.shapes.map((d, i) => [`shape ${i + 1}`, d])
    : Object.entries(MICRO_SHAPES);
  const out: MicroResult[] = [];
  for (const [name, desc] of shapes) {
    log(`micro: ${name}, ${variants.length} variants x ${o.runs} runs`);
    out.push(await benchShape(ctx, name, desc, variants, o.runs, cpus));
  }
  return out;
}
