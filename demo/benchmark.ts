// The demo's "Benchmark" panel: measures this browser's GPU the way `npm run bench -- --tuning
// heuristic,auto` does, through the public API, and exports the figures as JSON so that people can
// send them. One architecture (the embedded model, or ResNet-50 / ResNeXt-101 with random weights) is
// loaded twice on the page's device: with the built-in picks ('heuristic') and with the on-device tuner
// ('auto', tuning from an empty store so that its time and picks are this run's). Then batch-1
// inferences go in rounds, one of each per round, and the panel shows per model the median ms per
// image, GFLOP/s, the tuned / heuristic time (median of per-round ratios), and what the tuner did.
//
// State the browser tests read (test/browser/demo.test.ts):
//   #bench-panel[data-state]        'idle' | 'running' | 'done' | 'error'
//   #bench-output tr[data-mode][data-ms]   one row per tuning mode

import {
  DEFAULT_WEIGHTS_URL, describeTuning, loadModel, memoryTuningStore, sameTuning, type GpuContext, type Model, type TuningReport,
} from '../src/index.js';
import { generateRandomWeights } from './convert.js';

/** What the panel needs from the page. */
export interface BenchmarkHost {
  context(): GpuContext | undefined;
  /** Runs a job after the page's other GPU work (the page's serial queue). */
  serial<T>(job: () => Promise<T>): Promise<T>;
  showError(context: string, e: unknown): void;
}

export const EMBEDDED_ARCH = 'fashion-mnist';
export const BENCH_ARCHS = [EMBEDDED_ARCH, 'resnet50', 'resnext101_32x4d'];

/** One model's figures. */
export interface BenchModelFigures {
  mode: 'heuristic' | 'auto';
  loadMs: number;
  timesMs: number[];
  medianMs: number;
  gflops: number;
  tuning: {
    shapes: number;
    tuned: number;
    fromStore: number;
    measurements: number;
    ms: number;
    stopped?: string;
    picks: { step: string; heuristic: string; pick: string; ms?: number; heuristicMs?: number }[];
  };
}

/** The exported JSON. */
export interface BenchmarkResult {
  date: string;
  userAgent: string;
  adapter: string;
  arch: string;
  flopsPerImage: number;
  runs: number;
  models: BenchModelFigures[];
  /** Median over rounds of tuned ms / heuristic ms. */
  tunedOverHeuristic: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function tuningFigures(r: TuningReport): BenchModelFigures['tuning'] {
  return {
    shapes: r.shapes.length, tuned: r.shapes.filter((s) => s.source === 'tuned').length, fromStore: r.fromStore,
    measurements: r.run?.measurements ?? 0, ms: r.run?.ms ?? 0, stopped: r.run?.stopped,
    picks: r.shapes.filter((s) => !sameTuning(s.tuning, s.heuristic))
      .map((s) => ({ step: s.step, heuristic: describeTuning(s.heuristic), pick: describeTuning(s.tuning), ms: s.ms, heuristicMs: s.heuristicMs })),
  };
}

export class BenchmarkPanel {
  private result?: BenchmarkResult;
  private readonly $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  private readonly panel = this.$('bench-panel');
  private readonly arch = this.$<HTMLSelectElement>('bench-arch');
  private readonly runs = this.$<HTMLInputElement>('bench-runs');
  private readonly budget = this.$<HTMLInputElement>('bench-budget');
  private readonly runButton = this.$<HTMLButtonElement>('bench-run');
  private readonly exportButton = this.$<HTMLButtonElement>('bench-export');
  private readonly status = this.$('bench-status');
  private readonly output = this.$('bench-output');

  constructor(private readonly host: BenchmarkHost) {
    for (const a of BENCH_ARCHS) {
      const o = document.createElement('option');
      o.value = a;
      o.textContent = a === EMBEDDED_ARCH ? 'Fashion-MNIST ResNeXt (embedded)' : `${a} (random weights)`;
      this.arch.append(o);
    }
    this.panel.dataset.state = 'idle';
    this.runButton.addEventListener('click', () => void this.run());
    this.exportButton.addEventListener('click', () => this.export());
  }

  /** Enables the panel once the page has a device. */
  enable(on: boolean): void {
    this.runButton.disabled = !on;
  }

  private async run(): Promise<void> {
    const ctx = this.host.context();
    if (!ctx) return;
    const runs = Number(this.runs.value);
    const budget = this.budget.value.trim() === '' ? undefined : Number(this.budget.value);
    if (!Number.isInteger(runs) || runs < 1 || runs > 100) { this.host.showError('Benchmark', new RangeError('runs must be an integer from 1 to 100')); return; }
    if (budget !== undefined && !(budget >= 0)) { this.host.showError('Benchmark', new RangeError('the tuning budget must be a number of ms >= 0')); return; }
    this.runButton.disabled = true;
    this.exportButton.disabled = true;
    this.panel.dataset.state = 'running';
    this.output.replaceChildren();
    const arch = this.arch.value;
    const models: Model[] = [];
    try {
      this.result = await this.host.serial(async () => {
        this.status.textContent = 'Preparing the weights…';
        const bytes = arch === EMBEDDED_ARCH
          ? new Uint8Array(await (await fetch(DEFAULT_WEIGHTS_URL)).arrayBuffer())
          : (await generateRandomWeights(arch, 1)).bytes;
        const figures: BenchModelFigures[] = [];
        for (const mode of ['heuristic', 'auto'] as const) {
          this.status.textContent = `Loading (tuning ${mode})…`;
          const t0 = performance.now();
          const model = await loadModel({
            weights: bytes, device: ctx, warmup: 'tuned', tuning: mode, tuningStore: memoryTuningStore(), tuningBudgetMs: budget,
            onProgress: (p) => { if (p.phase === 'tune') this.status.textContent = `Tuning: ${p.loaded} of ${p.total} layer shapes…`; },
          });
          models.push(model);
          const report = await model.tuning();
          await model.ready();
          figures.push({ mode, loadMs: performance.now() - t0, timesMs: [], medianMs: 0, gflops: 0, tuning: tuningFigures(report) });
        }
        const info = models[0].info;
        const x = new Float32Array(info.inputChannels * info.inputSize * info.inputSize).map((_, i) => Math.sin(i) * 0.5);
        for (const m of models) await m.run(x); // untimed
        for (let r = 0; r < runs; r++) {
          this.status.textContent = `Timing: round ${r + 1} of ${runs}…`;
          for (let i = 0; i < models.length; i++) {
            const t = performance.now();
            await models[i].run(x);
            figures[i].timesMs.push(performance.now() - t);
          }
        }
        for (const f of figures) {
          f.medianMs = median(f.timesMs);
          f.gflops = info.flops / f.medianMs / 1e6;
        }
        return {
          date: new Date().toISOString(), userAgent: navigator.userAgent, adapter: info.adapter, arch: info.arch,
          flopsPerImage: info.flops, runs, models: figures,
          tunedOverHeuristic: median(figures[1].timesMs.map((t, i) => t / figures[0].timesMs[i])),
        };
      });
      this.render(this.result);
      this.panel.dataset.state = 'done';
      this.exportButton.disabled = false;
    } catch (e) {
      this.panel.dataset.state = 'error';
      this.status.textContent = '';
      this.host.showError('Benchmark', e);
    } finally {
      for (const m of models) m.dispose();
      this.runButton.disabled = false;
    }
  }

  private render(r: BenchmarkResult): void {
    const table = document.createElement('table');
    table.className = 'bench-table';
    const head = table.createTHead().insertRow();
    for (const h of ['tuning', 'ms / image', 'GFLOP/s', 'layer shapes tuned', 'measurements', 'tuning s', 'picks changed']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    for (const m of r.models) {
      const row = body.insertRow();
      row.dataset.mode = m.mode;
      row.dataset.ms = String(m.medianMs);
      for (const v of [m.mode, m.medianMs.toFixed(1), m.gflops.toFixed(2), `${m.tuning.tuned}/${m.tuning.shapes}`, String(m.tuning.measurements),
        (m.tuning.ms / 1000).toFixed(1), String(m.tuning.picks.length)]) row.insertCell().textContent = v;
    }
    this.output.replaceChildren(table);
    this.status.textContent = `${r.arch}, batch 1, ${r.runs} rounds on ${r.adapter.split('\n')[0]}: tuned / heuristic time ` +
      `${r.tunedOverHeuristic.toFixed(3)} (median of per-round ratios). Export the JSON to send it to us.`;
  }

  private export(): void {
    if (!this.result) return;
    const url = URL.createObjectURL(new Blob([JSON.stringify(this.result, null, 2)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `webgpu-resnext-benchmark-${this.result.arch}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
