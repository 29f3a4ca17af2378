// Architectures end to end, side by side, through the public API (loadModel, model.run, model.profile,
// model.gpuBytes): random well-scaled weights (src/weights/random.ts, nothing downloaded), then per
// batch size the first inference (which builds that batch's pipelines and buffers) and `runs` timed
// inferences taken in rounds across the models, GPU memory, and per-step GPU times. Runs in Node and in the browser page
// (bench/browser/), so it imports nothing from Node.

import { loadModel, type Model } from '../src/classify.js';
import type { KernelChoice } from '../src/ops/conv2d.js';
import type { GpuContext } from '../src/gpu/device.js';
import type { Precision } from '../src/gpu/buffers.js';
import { getArchitecture, type ResNetConfig } from '../src/models/config.js';
import { buildPlan } from '../src/models/plan.js';
import { planBuffers } from '../src/graph/memory.js';
import { planStorage, stepTensorBytes } from '../src/graph/steps.js';
import { randomWeights } from '../src/weights/random.js';
import { sameTuning } from '../src/tuning/candidates.js';
import { describeTuning } from '../src/ops/conv2d-geometry.js';
import type { TuningMode, TuningReport } from '../src/tuning/model-tuning.js';
import { memoryTuningStore } from '../src/tuning/store.js';
import { cpuMs } from './clock.js';
import { benchInput, median, timeSteps, type StepTime } from './step-timer.js';

export interface ModelBenchOptions {
  ctx: GpuContext;
  archs: string[];
  /** Input height = width (the architecture's inputSize is replaced). */
  size: number;
  batches: number[];
  /** Timed inferences per batch size. */
  runs: number;
  /** The conv kernel family (loadModel's `kernels`); default 'auto'. */
  kernels?: KernelChoice;
  /** Per-step times: 'auto' (timestamp-query where the adapter has it, else wall clock per step), or 'none'. */
  steps: 'auto' | 'wall' | 'none';
  /** How many of the slowest steps to keep. */
  slowest: number;
  /**
   * loadModel's `tuning` per model: each architecture is loaded once per mode and measured side by side
   * (default: one load with the adapter's default mode). Each load tunes from scratch (an empty store).
   */
  tunings?: (TuningMode | undefined)[];
  /** The tuner's budget (default loadModel's). */
  tuningBudgetMs?: number;
  /** Storage of weights and activations (loadModel's precision); default 'f32'. */
  precision?: Precision;
  /** Called after each round of timed inferences (the benchmark samples the ceiling there). */
  between?: () => Promise<void>;
  log?: (line: string) => void;
}

export interface StepsResult {
  /** 'timestamp-query': GPU time of each step's compute pass; 'wall-clock': one submit per step, waited for. */
  source: 'timestamp-query' | 'wall-clock';
  count: number;
  totalMs: number;
  /**
   * The slowest steps, slowest first: by GPU time with timestamp-query; with wall-clock times on a CPU
   * adapter in Node, by CPU time (the wall time of one submit is at the mercy of other load).
   */
  slowest: (StepTime & { share: number; gflops: number })[];
  /** Time per kind of step (conv, linear, maxpool, ...) and per conv shape class; cpuMs with wall-clock times in Node. */
  byGroup: { group: string; ms: number; share: number; gflops: number; flops: number; cpuMs?: number }[];
}

export interface BatchResult {
  batch: number;
  /** The first inference at this batch size: pipelines not compiled yet (batch > 1), buffers, bind groups, the run. */
  firstMs: number;
  timesMs: number[];
  medianMs: number;
  minMs: number;
  /** Median process CPU ms per inference (Node only). */
  cpuMedianMs?: number;
  /** batch x flops per image / median time, and / best time. */
  gflops: number;
  gflopsBest: number;
  /** Packed weights on the GPU. */
  weightBytes: number;
  /** Everything this batch size's instance holds: activations, input, readback, uniforms. */
  instanceBytes: number;
  /** Activation buffers alone (the runner's liveness plan), for reference. */
  activationBytes: number;
  /** weights + instance: what running this batch size alone holds on the GPU. */
  peakBytes: number;
  /** Largest (step output + its largest input) over the plan: the two largest live activations. */
  twoLargestBytes: number;
  /** peakBytes / (weights + twoLargest); the target is <= 1.10. */
  memoryRatio: number;
  steps?: StepsResult;
  stepsError?: string;
}

/** What the on-device tuner did for a benchmarked model (loadModel's model.tuning()). */
export interface BenchTuning {
  mode: TuningMode;
  /** The tuning loop's time and its measurements (0 and 0 when nothing was tuned). */
  ms: number;
  measurements: number;
  /** From loadModel's return to model.ready(): the tuning and the swap to the tuned instance. */
  readyMs: number;
  stopped?: string;
  /** Conv layer shapes, those tuned in this load, and those whose pick is not the heuristic's. */
  shapes: number;
  tuned: number;
  changed: { step: string; heuristic: string; pick: string; ms?: number; heuristicMs?: number }[];
}

export interface ModelResult {
  arch: string;
  /** The arch, with the tuning mode where several are compared: 'resnet50 (tuning auto)'. */
  label?: string;
  tuning?: BenchTuning;
  size: number;
  params: number;
  /** FLOPs of one image (2 per multiply-add). */
  flopsPerImage: number;
  /** Generating the random .safetensors bytes (not part of loading). */
  generateMs: number;
  /** loadModel(): parse, check, fold BN, pack and upload the weights, compile the batch-1 pipelines. */
  loadMs: number;
  batches: BatchResult[];
}

/** The architecture at input size `size`. */
export function benchConfig(arch: string, size: number): ResNetConfig {
  return { ...getArchitecture(arch), inputSize: size };
}

/** Bytes of the largest step output plus that step's largest input, at batch N (NCHW -> logits plan). */
export function twoLargestLiveBytes(config: ResNetConfig, N: number, precision: Precision = 'f32'): number {
  const plan = buildPlan(config, { input: 'nchw', head: 'logits' });
  const storage = planStorage(plan, precision);
  const bytes = (t: string) => stepTensorBytes(plan, t, N, storage);
  let best = 0;
  for (const s of plan.steps) best = Math.max(best, bytes(s.output) + Math.max(0, ...s.inputs.map(bytes)));
  return best;
}

/** The runner's activation bytes at batch N: its liveness plan over the NCHW -> logits plan. */
function activationBytes(config: ResNetConfig, N: number, precision: Precision = 'f32'): number {
  const plan = buildPlan(config, { input: 'nchw', head: 'logits' });
  const storage = planStorage(plan, precision);
  return planBuffers(plan, (t) => stepTensorBytes(plan, t, N, storage)).peakBytes;
}

/** Groups a step for the per-group summary: 'conv 3x3 G32', 'conv 1x1', 'maxpool', ... */
function stepGroup(config: ResNetConfig, step: StepTime): string {
  if (step.kind !== 'conv') return step.kind;
  const plan = buildPlan(config);
  const s = plan.steps.find((x) => x.name === step.name);
  if (!s || s.kind !== 'conv') return 'conv';
  return `conv ${s.R}x${s.S}${s.stride > 1 ? '/' + s.stride : ''}${s.groups > 1 ? ' G' + s.groups : ''}`;
}

function summarise(config: ResNetConfig, source: StepsResult['source'], steps: StepTime[], slowest: number): StepsResult {
  const totalMs = steps.reduce((a, s) => a + s.ms, 0);
  const rate = (flops: number, ms: number) => (ms > 0 ? flops / ms / 1e6 : 0);
  const groups = new Map<string, { ms: number; flops: number; cpuMs?: number }>();
  for (const s of steps) {
    const g = stepGroup(config, s);
    const v = groups.get(g) ?? { ms: 0, flops: 0, cpuMs: s.cpuMs === undefined ? undefined : 0 };
    v.ms += s.ms;
    v.flops += s.flops;
    if (v.cpuMs !== undefined && s.cpuMs !== undefined) v.cpuMs += s.cpuMs;
    groups.set(g, v);
  }
  const byCpu = source === 'wall-clock' && steps.every((s) => s.cpuMs !== undefined);
  const key = (s: StepTime) => (byCpu ? s.cpuMs! : s.ms);
  return {
    source, count: steps.length, totalMs,
    slowest: [...steps].sort((a, b) => key(b) - key(a)).slice(0, slowest)
      .map((s) => ({ ...s, share: s.ms / totalMs, gflops: rate(s.flops, s.ms) })),
    byGroup: [...groups].sort((a, b) => b[1].ms - a[1].ms)
      .map(([group, v]) => ({ group, ms: v.ms, share: v.ms / totalMs, gflops: rate(v.flops, v.ms), cpuMs: v.cpuMs, flops: v.flops })),
  };
}

type ModelWithDebug = Model & { debug?: Model['debug'] };

async function stepTimes(o: ModelBenchOptions, model: ModelWithDebug, config: ResNetConfig, x: Float32Array, N: number,
  runs: number): Promise<StepsResult> {
  if (o.steps === 'auto' && o.ctx.hasTimestampQuery) {
    const p = await model.profile(x, { batch: N });
    return summarise(config, 'timestamp-query', p.steps.map((s) => ({ name: s.name, kind: s.kind, ms: s.ms, flops: s.flops })), o.slowest);
  }
  const debug = model.debug;
  if (!debug) throw new Error('wall-clock step times need model.debug.stepWeights() (not in this build)');
  const steps = await timeSteps(o.ctx, config, N, runs, (name) => debug.stepWeights(name));
  return summarise(config, 'wall-clock', steps, o.slowest);
}

/** One architecture being benchmarked: its model and the measurements so far. */
interface Live {
  arch: string;
  label: string;
  config: ResNetConfig;
  model: ModelWithDebug;
  result: ModelResult;
}

export interface ModelsBenchResult {
  models: ModelResult[];
  /** Architectures that could not be loaded or run, with the error. */
  failed: { arch: string; error: string }[];
}

/**
 * Benchmarks `o.archs` side by side: all models are loaded first, then per batch size each takes its
 * first inference and the timed inferences go round-robin (one of each model per round, in reverse order
 * every other round, the ceiling sampled between rounds), so that load from other programs on a shared machine hits every model
 * alike and the ratios between them hold. A model that fails is reported in `failed` and the others
 * go on (unless the device is lost); if none could be measured, it throws with every model's error.
 */
export async function benchModels(o: ModelBenchOptions): Promise<ModelsBenchResult> {
  const log = o.log ?? (() => {});
  const live: Live[] = [];
  const failed: ModelsBenchResult['failed'] = [];
  const fail = (arch: string, e: unknown) => {
    if (o.ctx.lostReason) throw e;
    failed.push({ arch, error: (e as Error).message });
    log(`${arch}: failed: ${(e as Error).message}`);
  };
  try {
    const modes = o.tunings ?? [undefined];
    for (const arch of o.archs) {
      for (const mode of modes) {
        const label = modes.length > 1 ? `${arch} (tuning ${mode ?? 'default'})` : arch;
        try {
          live.push(await loadOne(o, arch, label, mode));
        } catch (e) {
          fail(label, e);
        }
      }
    }
    for (const N of o.batches) {
      const pending = new Map<Live, { input: Float32Array; firstMs: number; instanceBytes: number; timesMs: number[]; cpu: number[] }>();
      for (const m of live) {
        try {
          const input = benchInput(N * m.config.inputChannels * o.size * o.size);
          const before = await m.model.gpuBytes();
          const tf = performance.now();
          const logits = await m.model.run(input, { batch: N });
          const firstMs = performance.now() - tf;
          if (!logits.every(Number.isFinite)) throw new Error(`${m.arch} batch ${N}: the logits are not all finite`);
          const instanceBytes = (await m.model.gpuBytes()) - before;
          log(`${m.label} batch ${N}: first inference ${firstMs.toFixed(0)} ms`);
          pending.set(m, { input, firstMs, instanceBytes, timesMs: [], cpu: [] });
        } catch (e) {
          fail(m.label, e);
        }
      }
      // Where the runner sleeps through most of an inference (Node on SwiftShader, src/gpu/device.ts
      // QuietWait), 3 untimed rounds come first: its estimate of the inference's time takes three runs to settle.
      const untimed = o.ctx.quietWait ? 3 : 0;
      for (let r = -untimed; r < o.runs; r++) {
        // Every other round in reverse order: the model that runs second in a round measured 1-2% slower
        // (llvmpipe, 25 rounds each way), which side-by-side ratios must not inherit.
        const order = [...pending];
        if (r % 2 !== 0) order.reverse();
        for (const [m, p] of order) {
          try {
            const c0 = cpuMs();
            const t = performance.now();
            await m.model.run(p.input, { batch: N });
            if (r < 0) continue;
            p.timesMs.push(performance.now() - t);
            const c1 = cpuMs();
            if (c0 !== undefined && c1 !== undefined) p.cpu.push(c1 - c0);
          } catch (e) {
            fail(m.label, e);
            pending.delete(m);
          }
        }
        if (r < 0) continue;
        log(`batch ${N} round ${r + 1}/${o.runs}: ${[...pending].map(([m, p]) => `${m.label} ${p.timesMs[r].toFixed(0)} ms`).join(', ')}`);
        await o.between?.();
      }
      for (const [m, p] of pending) {
        const b = batchResult(m, N, p.firstMs, p.timesMs, p.cpu, p.instanceBytes);
        if (o.steps !== 'none') {
          try {
            b.steps = await stepTimes(o, m.model, m.config, p.input, N, 1);
          } catch (e) {
            b.stepsError = (e as Error).message;
          }
        }
        m.result.batches.push(b);
      }
    }
  } finally {
    for (const m of live) m.model.dispose();
    await o.ctx.device.queue.onSubmittedWorkDone();
  }
  const models = live.map((m) => m.result).filter((r) => r.batches.length > 0);
  if (models.length === 0) throw new Error(`no architecture could be measured: ${failed.map((f) => `${f.arch}: ${f.error}`).join('; ')}`);
  return { models, failed };
}

function benchTuning(r: TuningReport, readyMs: number): BenchTuning {
  return {
    mode: r.mode, ms: r.run?.ms ?? 0, measurements: r.run?.measurements ?? 0, readyMs, stopped: r.run?.stopped,
    shapes: r.shapes.length, tuned: r.shapes.filter((s) => s.source === 'tuned').length,
    changed: r.shapes.filter((s) => !sameTuning(s.tuning, s.heuristic)).map((s) => ({
      step: s.step, heuristic: describeTuning(s.heuristic), pick: describeTuning(s.tuning), ms: s.ms, heuristicMs: s.heuristicMs,
    })),
  };
}

async function loadOne(o: ModelBenchOptions, arch: string, label: string, mode: TuningMode | undefined): Promise<Live> {
  const config = benchConfig(arch, o.size);
  const t0 = performance.now();
  const bytes = randomWeights(config, { custom: o.size !== getArchitecture(arch).inputSize });
  const generateMs = performance.now() - t0;
  const t1 = performance.now();
  // The tuned kernels from the start: the timed rounds measure the steady state, not the first-use
  // kernels of warmup 'fast-first' (--first measures those).
  // The tuner from scratch (an empty store), so that its time and picks are this run's; its run and the
  // swap finish before the next model loads (ready()), so that no other work overlaps its measurements.
  const model = await loadModel({
    weights: bytes, config, device: o.ctx, warmup: 'tuned', kernels: o.kernels, tuning: mode, tuningStore: memoryTuningStore(), tuningBudgetMs: o.tuningBudgetMs,
    precision: o.precision,
  }) as ModelWithDebug;
  const loadMs = performance.now() - t1;
  o.log?.(`${label}: ${(bytes.byteLength / 2 ** 20).toFixed(0)} MiB of random weights in ${generateMs.toFixed(0)} ms, loaded in ${loadMs.toFixed(0)} ms`);
  const t2 = performance.now();
  const report = await model.tuning();
  await model.ready();
  const tuning = benchTuning(report, performance.now() - t2);
  if (report.run) {
    o.log?.(`${label}: tuned ${tuning.tuned} of ${tuning.shapes} layer shapes in ${tuning.ms.toFixed(0)} ms (${tuning.measurements} measurements` +
      `${tuning.stopped ? `, stopped: ${tuning.stopped}` : ''}), ${tuning.changed.length} picks differ from the heuristic's; ready after ${tuning.readyMs.toFixed(0)} ms`);
  }
  return {
    arch, label, config, model,
    result: { arch, label, tuning, size: o.size, params: model.info.params, flopsPerImage: model.info.flops, generateMs, loadMs, batches: [] },
  };
}

function batchResult(m: Live, N: number, firstMs: number, timesMs: number[], cpu: number[], instanceBytes: number): BatchResult {
  const flops = m.model.info.flops * N;
  const medianMs = median(timesMs);
  const minMs = Math.min(...timesMs);
  const twoLargestBytes = twoLargestLiveBytes(m.config, N, m.model.info.precision);
  const weightBytes = m.model.info.weightBytes;
  const peakBytes = weightBytes + instanceBytes;
  return {
    batch: N, firstMs, timesMs, medianMs, minMs, cpuMedianMs: cpu.length ? median(cpu) : undefined,
    gflops: flops / medianMs / 1e6, gflopsBest: flops / minMs / 1e6,
    weightBytes, instanceBytes, activationBytes: activationBytes(m.config, N, m.model.info.precision), peakBytes,
    twoLargestBytes, memoryRatio: peakBytes / (weightBytes + twoLargestBytes),
  };
}
