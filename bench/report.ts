// Targets, tables and JSON for the benchmark's results (pure functions; no I/O).

import type { CeilingResult } from './ceiling.js';
import { describeTuning } from '../src/ops/conv2d-geometry.js';
import { cpuRate } from './clock.js';
import type { BrowserFirstPredictionResult, FirstPredictionResult } from './first-prediction.js';
import type { MicroResult } from './micro.js';
import type { BatchResult, ModelResult } from './model-bench.js';
import { mb, mflop, type LayerView } from './roofline.js';
import { median } from './step-timer.js';

export interface BenchEnvironment {
  date: string;
  /** describeDevice() of the adapter. */
  adapter: string;
  /** Which path gave the adapter (swiftshader, llvmpipe, hardware, browser). */
  source: string;
  runtime: string;
  /** Logical CPUs; CPU-normalised rates divide CPU time by this. */
  cpus: number;
  /** 1-minute load average at the start (Node on Linux), to judge the noise. */
  loadAverage?: number;
}

export interface Target {
  name: string;
  value: number;
  op: '>=' | '<=';
  limit: number;
  met: boolean;
  /** The same ratio from CPU time (Node on CPU adapters), less sensitive to other load on the machine. */
  cpuValue?: number;
  detail: string;
}

export interface BenchResult {
  environment: BenchEnvironment;
  options: Record<string, unknown>;
  ceiling?: CeilingResult;
  models: ModelResult[];
  /**
   * Per measured model and batch, per conv layer: FLOPs, bytes asked of global memory by the runtime's
   * pick on this adapter, intensity (bench/roofline.ts; estimates on paper).
   */
  layers?: { arch: string; batch: number; views: LayerView[] }[];
  /** Architectures that could not be measured (e.g. an input size their plan rejects). */
  failed?: { arch: string; error: string }[];
  targets: Target[];
  micro?: MicroResult[];
  /** --first: time to the first prediction. */
  first?: FirstPredictionResult[];
  /** --first --browser: time to the first prediction in a fresh headless Chromium per architecture. */
  browserFirst?: BrowserFirstPredictionResult[];
  browser?: BenchResult;
}

/** The performance targets: ResNet-50 / ResNeXt-101 32x4d >= 60% of the ceiling, ResNeXt <= 2x ResNet-50, memory. */
export const RATE_TARGET = 0.6;
export const RESNEXT_TIME_TARGET = 2;
export const MEMORY_TARGET = 1.1;
const RATE_ARCHS = ['resnet50', 'resnext101_32x4d'];

export function computeTargets(models: ModelResult[], ceiling: CeilingResult | undefined, cpus: number): Target[] {
  const targets: Target[] = [];
  const ceilingCpu = ceiling ? cpuRate(ceiling.flops, ceiling.cpuMedianMs, cpus) : undefined;
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  for (const m of models) {
    const name = nameOf(m);
    for (const b of m.batches) {
      if (ceiling && RATE_ARCHS.includes(m.arch)) {
        const value = b.gflops / ceiling.gflops;
        const cpu = cpuRate(m.flopsPerImage * b.batch, b.cpuMedianMs, cpus);
        targets.push({
          name: `${name} batch ${b.batch}: rate / ceiling`, value, op: '>=', limit: RATE_TARGET, met: value >= RATE_TARGET,
          cpuValue: cpu !== undefined && ceilingCpu ? cpu / ceilingCpu : undefined,
          detail: `${b.gflops.toFixed(2)} / ${ceiling.gflops.toFixed(2)} GFLOP/s = ${pct(value)}`,
        });
      }
      targets.push({
        name: `${name} batch ${b.batch}: peak GPU memory / (weights + two largest live activations)`,
        value: b.memoryRatio, op: '<=', limit: MEMORY_TARGET, met: b.memoryRatio <= MEMORY_TARGET,
        detail: `${mib(b.peakBytes)} / (${mib(b.weightBytes)} + ${mib(b.twoLargestBytes)}) MiB`,
      });
    }
  }
  // Per tuning mode where several were compared.
  for (const mode of new Set(models.map((m) => m.tuning?.mode))) {
    const r50 = models.find((m) => m.arch === 'resnet50' && m.tuning?.mode === mode);
    const x101 = models.find((m) => m.arch === 'resnext101_32x4d' && m.tuning?.mode === mode);
    if (!r50 || !x101) continue;
    const suffix = r50.label !== r50.arch && mode ? ` (tuning ${mode})` : '';
    for (const b of x101.batches) {
      const a = r50.batches.find((x) => x.batch === b.batch);
      if (!a) continue;
      // The timed inferences go in rounds, one of each model per round (bench/model-bench.ts): the median
      // of the per-round ratios compares inferences run under the same load. Ratio of medians as a fallback.
      const rounds = Math.min(a.timesMs.length, b.timesMs.length);
      const perRound = Array.from({ length: rounds }, (_, i) => b.timesMs[i] / a.timesMs[i]);
      const value = rounds > 0 ? median(perRound) : b.medianMs / a.medianMs;
      targets.push({
        name: `resnext101_32x4d / resnet50 time${suffix}, batch ${b.batch}`, value, op: '<=', limit: RESNEXT_TIME_TARGET,
        met: value <= RESNEXT_TIME_TARGET,
        cpuValue: a.cpuMedianMs && b.cpuMedianMs ? b.cpuMedianMs / a.cpuMedianMs : undefined,
        detail: `median of ${rounds} per-round ratios` +
          (rounds > 1 ? ` (${Math.min(...perRound).toFixed(2)} to ${Math.max(...perRound).toFixed(2)})` : '') +
          `; medians ${b.medianMs.toFixed(0)} / ${a.medianMs.toFixed(0)} ms` +
          ` = ${(b.medianMs / a.medianMs).toFixed(2)} (FLOP ratio ${(x101.flopsPerImage / r50.flopsPerImage).toFixed(2)})`,
      });
    }
  }
  return targets;
}

/** A model's name in the tables: its label (the arch, with the tuning mode where several are compared). */
export function nameOf(m: ModelResult): string {
  return m.label ?? m.arch;
}

/**
 * The on-device tuner per model (mode, layer shapes tuned, measurements, time, picks that differ from the
 * heuristic's) and, for each architecture measured in several modes, the median of the per-round ratios
 * of each mode's time to the heuristic's.
 */
export function formatTuning(r: BenchResult): string {
  const models = r.models.filter((m) => m.tuning);
  if (models.length === 0) return '';
  const out = ['on-device tuner (each load tunes from an empty store):'];
  out.push(table(['model', 'mode', 'shapes tuned', 'measurements', 'tuning s', 'ready s', 'picks changed', 'stopped'],
    models.map((m) => {
      const t = m.tuning!;
      return [nameOf(m), t.mode, `${t.tuned}/${t.shapes}`, t.measurements, f(t.ms / 1000, 1), f(t.readyMs / 1000, 1), t.changed.length, t.stopped ?? '-'];
    })));
  for (const m of models) {
    if (!m.tuning!.changed.length) continue;
    out.push(`${nameOf(m)}: picks that differ from the heuristic's (measured ms, heuristic -> pick):`);
    out.push(table(['step', 'heuristic', 'pick', 'heuristic ms', 'pick ms'],
      m.tuning!.changed.map((c) => [c.step, c.heuristic, c.pick, f(c.heuristicMs, 2), f(c.ms, 2)])));
  }
  const rows: (string | number)[][] = [];
  for (const arch of new Set(models.map((m) => m.arch))) {
    const base = models.find((m) => m.arch === arch && m.tuning!.mode === 'heuristic');
    if (!base) continue;
    for (const m of models.filter((x) => x.arch === arch && x !== base)) {
      for (const b of m.batches) {
        const a = base.batches.find((x) => x.batch === b.batch);
        if (!a) continue;
        const rounds = Math.min(a.timesMs.length, b.timesMs.length);
        const perRound = Array.from({ length: rounds }, (_, i) => b.timesMs[i] / a.timesMs[i]);
        rows.push([arch, b.batch, f(a.medianMs, 0), f(b.medianMs, 0), rounds ? f(median(perRound), 3) : '-',
          rounds > 1 ? `${f(Math.min(...perRound), 3)} to ${f(Math.max(...perRound), 3)}` : '-']);
      }
    }
  }
  if (rows.length) {
    out.push('tuned / heuristic time, side by side (median of per-round ratios; < 1: the tuned model is faster):');
    out.push(table(['arch', 'batch', 'heuristic ms', 'tuned ms', 'tuned / heuristic', 'range'], rows));
  }
  return out.join('\n');
}

export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** A plain text table: right-aligned numbers, left-aligned text. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const isNum = (s: string) => /^[-+]?[\d.,]+%?x?$/.test(s) || s === '-';
  const line = (r: string[]) => r.map((c, i) => (isNum(c) && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function f(v: number | undefined, digits = 1): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export function formatModels(r: BenchResult): string {
  const c = r.ceiling;
  const cpus = r.environment.cpus;
  const ceilCpu = c ? cpuRate(c.flops, c.cpuMedianMs, cpus) : undefined;
  const rows = r.models.flatMap((m) => m.batches.map((b: BatchResult) => {
    const cpu = cpuRate(m.flopsPerImage * b.batch, b.cpuMedianMs, cpus);
    return [
      nameOf(m), b.batch, f(m.loadMs, 0), f(b.firstMs, 0), f(b.medianMs, 0), f(b.minMs, 0), f(b.gflops, 2),
      c ? `${(100 * b.gflops / c.gflops).toFixed(0)}%` : '-', f(cpu, 2), cpu && ceilCpu ? `${(100 * cpu / ceilCpu).toFixed(0)}%` : '-',
      mib(b.weightBytes), mib(b.instanceBytes), mib(b.peakBytes), `${b.memoryRatio.toFixed(2)}x`,
    ];
  }));
  return table(['arch', 'batch', 'load ms', 'first ms', 'median ms', 'min ms', 'GFLOP/s', '% ceil', 'cpu GFLOP/s', '% ceil(cpu)',
    'weights MiB', 'act+io MiB', 'peak MiB', 'peak/(w+2act)'], rows);
}

export function formatCeiling(c: CeilingResult, cpus: number): string {
  const cpu = cpuRate(c.flops, c.cpuMedianMs, cpus);
  return `ceiling: conv2d 1x1 GEMM ${c.size}^3 ${JSON.stringify(c.tuning)}: median ${c.medianMs.toFixed(1)} ms = ` +
    `${c.gflops.toFixed(2)} GFLOP/s (best ${c.gflopsBest.toFixed(2)}${cpu ? `, cpu-normalised ${cpu.toFixed(2)}` : ''}; ${c.samples} samples)` +
    (c.candidates && c.candidates.length > 1
      ? `\n  chosen from (best of the alternating trial runs): ${c.candidates.map((x) =>
        `${x.name === x.family && x.family !== 'register' ? '' : `${x.name}${x.name === x.family ? '' : ` (${x.family})`} `}` +
        `${describeTuning(x.tuning)} ${x.gflopsBest.toFixed(2)} GFLOP/s`).join('; ')}`
      : '');
}

export function formatSteps(m: ModelResult, cpus = 1): string {
  const out: string[] = [];
  for (const b of m.batches) {
    if (b.stepsError) { out.push(`${nameOf(m)} batch ${b.batch}: no per-step times (${b.stepsError})`); continue; }
    const s = b.steps;
    if (!s) continue;
    out.push(`${nameOf(m)} batch ${b.batch}: ${s.count} steps, ${s.totalMs.toFixed(0)} ms in all (${s.source}); the ${s.slowest.length} slowest:`);
    const cpu = s.slowest.some((x) => x.cpuMs !== undefined);
    out.push(table(['step', 'kind', 'ms', 'share', 'GFLOP/s', ...(cpu ? ['cpu ms'] : [])],
      s.slowest.map((x) => [x.name, x.kind, f(x.ms, 2), `${(100 * x.share).toFixed(1)}%`, f(x.gflops, 2), ...(cpu ? [f(x.cpuMs, 2)] : [])])));
    out.push('by kind of step:');
    const groupCpu = s.byGroup.some((g) => g.cpuMs !== undefined);
    out.push(table(['group', 'ms', 'share', 'GFLOP/s', ...(groupCpu ? ['cpu ms', 'cpu GFLOP/s'] : [])],
      s.byGroup.map((g) => [g.group, f(g.ms, 1), `${(100 * g.share).toFixed(1)}%`, f(g.gflops, 2),
        ...(groupCpu ? [f(g.cpuMs, 1), f(cpuRate(g.flops, g.cpuMs, cpus), 2)] : [])])));
    out.push('');
  }
  return out.join('\n');
}

export function formatTargets(targets: Target[]): string {
  if (targets.length === 0) return '';
  return table(['target', 'value', 'limit', 'met', 'cpu-time value', 'detail'], targets.map((t) => [
    t.name, f(t.value, 2), `${t.op} ${t.limit}`, t.met ? 'yes' : 'NO', t.cpuValue === undefined ? '-' : f(t.cpuValue, 2), t.detail,
  ]));
}

export function formatMicro(results: MicroResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.shape} (${(r.flops / 1e6).toFixed(0)} MFLOP)`);
    out.push(table(['variant', 'tuning', 'median ms', 'GFLOP/s', 'best GFLOP/s', 'cpu GFLOP/s', 'max |diff|', 'note'],
      r.variants.map((v) => [v.name, v.tuning, f(v.medianMs, 2), f(v.gflops, 2), f(v.gflopsBest, 2), f(v.cpuGflops, 2),
        v.maxDiff === undefined ? '-' : v.maxDiff.toExponential(1), v.error ?? ''])));
    out.push('');
  }
  return out.join('\n');
}

/** The --layers table of one model and batch. */
export function formatLayerViews(arch: string, N: number, views: LayerView[]): string {
  const flops = views.reduce((a, v) => a + v.flops, 0);
  const bytes = views.reduce((a, v) => a + v.bytes, 0);
  const min = views.reduce((a, v) => a + v.compulsoryBytes, 0);
  return `${arch} batch ${N}: per conv layer, the runtime's pick on this adapter; bytes asked of global memory by its loads ` +
    'and stores with no cache (estimates, src/ops/conv2d-traffic.ts)\n' +
    table(['layer', 'shape', 'tuning', 'MFLOP', 'MB', 'min MB', 'FLOP/B', 'workgroups'], [
      ...views.map((v) => [v.name, v.shape, v.tuning, mflop(v.flops), mb(v.bytes), mb(v.compulsoryBytes), v.intensity.toFixed(1), v.workgroups]),
      ['total', '', '', mflop(flops), mb(bytes), mb(min), (flops / bytes).toFixed(1), ''],
    ]);
}

