// The on-device tuner for one model (loadModel's `tuning` option): the stored picks of the model's
// conv layer shapes before anything compiles, then, in mode 'auto', the tuning of the shapes without a
// stored pick in the background while the first inferences run on the heuristic's, and the swap.
//
//   ModelTuning.prepare()  reads the adapter's entry (store.ts); `lookup` gives the stored picks that
//                          fit the device, for the runner to build its tuned pipelines on from the start.
//   start(runner)          mode 'auto' with shapes left to tune: times their candidates (tuner.ts,
//                          measure.ts; each measurement between two inferences, Runner.serial), stores
//                          the picks, and hands them to the runner (Runner.setTuning), which rebuilds
//                          its instances on them in the background and swaps them in between inferences
//                          (the warmup 'fast-first' upgrade). A second load finds every pick stored and
//                          tunes nothing.
//
// Mode defaults (defaultTuningMode): 'auto' on hardware GPUs, with a budget of 2 s; 'heuristic' on the
// CPU-backed adapters, where each candidate is a pipeline that takes SwiftShader seconds to compile and
// the cost model's pick is already fitted to measurements (asked for, 'auto' tunes there too, with a
// budget of 60 s). The tuned layers are those of the batch-1 plan (what loadModel compiles); other batch
// sizes use a stored pick of their shape where there is one, else the heuristic's.

import type { GpuContext } from '../gpu/device.js';
import type { ResNetConfig } from '../models/config.js';
import { buildPlan } from '../models/plan.js';
import { convDesc, type TuningLookup } from '../graph/steps.js';
import type { Runner } from '../graph/runner.js';
import { conv2dFlops, tuningFamily, type Conv2dDesc, type Conv2dTuning } from '../ops/conv2d-geometry.js';
import type { KernelChoice } from '../ops/conv2d.js';
import { Conv2dWeights } from '../ops/conv2d-weights.js';
import type { ProgressCallback } from '../weights/source.js';
import { conv2dCandidates, fitsDevice, heuristicTuning, sameTuning } from './candidates.js';
import { measureConv2d } from './measure.js';
import {
  adapterIdentity, KERNEL_VERSION, readPicks, shapeKey, writePicks,
  type AdapterIdentity, type StoredPick, type TuningStore,
} from './store.js';
import { tuneLayers, type LayerPick, type TuneLayer, type TuneOptions, type TuneResult } from './tuner.js';

/** 'auto': tune the layer shapes without a stored pick; 'heuristic': the heuristic's picks (and no stored ones). */
export type TuningMode = 'auto' | 'heuristic';
export const TUNING_MODES: readonly TuningMode[] = ['auto', 'heuristic'];

export const DEFAULT_GPU_TUNING_BUDGET_MS = 2000;
export const DEFAULT_CPU_TUNING_BUDGET_MS = 60000;

/** 'auto' on hardware GPUs, 'heuristic' on the CPU-backed adapters (see above). */
export function defaultTuningMode(ctx: GpuContext): TuningMode {
  return ctx.cpuBacked ? 'heuristic' : 'auto';
}

export function defaultTuningBudgetMs(ctx: GpuContext): number {
  return ctx.cpuBacked ? DEFAULT_CPU_TUNING_BUDGET_MS : DEFAULT_GPU_TUNING_BUDGET_MS;
}

/** What a model runs for one conv layer shape, and why. */
export interface ShapePick {
  key: string;
  /** A plan step of this shape. */
  step: string;
  desc: Conv2dDesc;
  heuristic: Conv2dTuning;
  tuning: Conv2dTuning;
  /** 'store': a stored pick; 'tuned': measured in this load; 'heuristic': neither. */
  source: 'heuristic' | 'store' | 'tuned';
  /** The pick's and the heuristic's measured ms (when measured). */
  ms?: number;
  heuristicMs?: number;
}

/** model.tuning(): what the tuner did for a model. */
export interface TuningReport {
  mode: TuningMode;
  adapter: AdapterIdentity;
  kernels: string;
  budgetMs: number;
  /** Shapes whose pick came from the store. */
  fromStore: number;
  /** The tuning run of this load (absent when nothing was tuned). */
  run?: Omit<TuneResult, 'picks'>;
  /** Every conv layer shape of the model (batch 1), largest first. */
  shapes: ShapePick[];
  /** Why the picks could not be stored, when they could not. */
  storeError?: string;
}

export interface ModelTuningOptions {
  mode: TuningMode;
  /** Where picks are read and written; undefined: none (nothing is read or kept). */
  store?: TuningStore;
  /** CPU threads of a CPU-backed adapter (cpuThreads()), for the heuristic. */
  threads: number;
  /** loadModel's `kernels`: a forced family's candidates only (and stored picks of that family only); default 'auto'. */
  kernels?: KernelChoice;
}

export interface StartOptions {
  budgetMs: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  /** The measurement (default measureConv2d between the runner's inferences); tests inject one. */
  measure?: TuneOptions['measure'];
  clock?: () => number;
}

function lookupOf(picks: Map<string, Conv2dTuning>): TuningLookup {
  return (desc) => picks.get(shapeKey(desc));
}

export class ModelTuning {
  /** The picks the runner builds its tuned pipelines on: the stored ones, then the tuned ones too. */
  lookup: TuningLookup;
  private readonly picks: Map<string, Conv2dTuning>;

  private constructor(
    private readonly ctx: GpuContext,
    /** prepare()'s options: the mode, the store, and the threads and kernels of the heuristic's pick. */
    private readonly options: ModelTuningOptions,
    readonly adapter: AdapterIdentity,
    /** The model's distinct conv shapes at batch 1, with their candidates (mode 'heuristic': none). */
    readonly layers: TuneLayer[],
    private readonly stored: Map<string, StoredPick>,
  ) {
    this.picks = new Map([...stored].map(([k, p]) => [k, p.tuning]));
    this.lookup = lookupOf(this.picks);
  }

  get mode(): TuningMode {
    return this.options.mode;
  }

  /** The model's layer shapes and their stored picks (none in mode 'heuristic'). */
  static async prepare(ctx: GpuContext, config: ResNetConfig, o: ModelTuningOptions): Promise<ModelTuning> {
    const adapter = adapterIdentity(ctx.adapterInfo);
    const layers = new Map<string, TuneLayer>();
    for (const s of buildPlan(config).steps) {
      if (s.kind !== 'conv') continue;
      const desc = convDesc(s, 1);
      const key = shapeKey(desc);
      if (layers.has(key)) continue;
      // Mode 'heuristic' times nothing: no candidates (the report works out the heuristic's pick when asked).
      const candidates = o.mode === 'auto' ? conv2dCandidates(ctx, desc, o.threads, o.kernels) : [];
      layers.set(key, { key, desc, step: s.name, candidates });
    }
    const stored = new Map<string, StoredPick>();
    if (o.mode === 'auto' && o.store) {
      for (const [key, p] of await readPicks(o.store, adapter)) {
        // A pick is used only for its own shape, where the device takes it and of a family allowed.
        const family = tuningFamily(p.tuning);
        const allowed = !o.kernels || o.kernels === 'auto' ? family !== 'tiled' || !ctx.cpuBacked : family === o.kernels;
        if (allowed && fitsDevice(ctx, p.desc, p.tuning)) stored.set(key, p);
      }
    }
    return new ModelTuning(ctx, o, adapter, [...layers.values()], stored);
  }

  /** The layer shapes 'auto' has yet to tune (no stored pick). */
  get pending(): TuneLayer[] {
    return this.mode === 'auto' ? this.layers.filter((l) => !this.stored.has(l.key)) : [];
  }

  /**
   * Tunes the pending shapes (mode 'auto'), stores the picks and gives them to `runner`; resolves to the
   * report (at once when there is nothing to tune). Progress: phase 'tune', in layer shapes.
   */
  async start(runner: Runner, o: StartOptions): Promise<TuningReport> {
    const pending = this.pending;
    const report: TuningReport = {
      mode: this.mode, adapter: this.adapter, kernels: KERNEL_VERSION, budgetMs: o.budgetMs,
      fromStore: this.layers.filter((l) => this.stored.has(l.key)).length, shapes: [],
    };
    let tuned: LayerPick[] = [];
    if (pending.length) {
      const measure: TuneOptions['measure'] = o.measure ?? (async (layer, t) => {
        const w = runner.stepWeights(layer.step);
        if (!(w instanceof Conv2dWeights)) throw new Error(`${layer.step}: no conv weights`);
        return measureConv2d(this.ctx, layer.desc, t, w, layer.step, (fn) => runner.serial('tuning', fn));
      });
      o.onProgress?.({ loaded: 0, total: pending.length, phase: 'tune' });
      const result = await tuneLayers(pending, {
        measure, budgetMs: o.budgetMs, signal: o.signal, clock: o.clock,
        onLayer: (done, total) => o.onProgress?.({ loaded: done, total, phase: 'tune' }),
      });
      tuned = result.picks;
      const { picks: _, ...run } = result;
      report.run = run;
      const { store } = this.options;
      if (tuned.length && store) {
        try {
          await writePicks(store, this.adapter, new Map(tuned.map((p) => [p.key, { desc: p.desc, tuning: p.pick, ms: p.ms, heuristicMs: p.heuristicMs }])));
        } catch (e) {
          report.storeError = (e as Error).message;
        }
      }
      for (const p of tuned) this.picks.set(p.key, p.pick);
      if (tuned.some((p) => !sameTuning(p.pick, p.heuristic)) && !o.signal?.aborted) {
        this.lookup = lookupOf(new Map(this.picks));
        runner.setTuning(this.lookup);
      }
    }
    const byKey = new Map(tuned.map((p) => [p.key, p]));
    report.shapes = [...this.layers].sort((a, b) => conv2dFlops(b.desc) - conv2dFlops(a.desc)).map((l) => {
      const heuristic = l.candidates[0] ?? heuristicTuning(this.ctx, l.desc, this.options.threads, this.options.kernels);
      const t = byKey.get(l.key);
      if (t) return { key: l.key, step: l.step, desc: l.desc, heuristic, tuning: t.pick, source: 'tuned', ms: t.ms, heuristicMs: t.heuristicMs };
      const s = this.stored.get(l.key);
      if (s) return { key: l.key, step: l.step, desc: l.desc, heuristic, tuning: s.tuning, source: 'store', ms: s.ms, heuristicMs: s.heuristicMs };
      return { key: l.key, step: l.step, desc: l.desc, heuristic, tuning: heuristic, source: 'heuristic' };
    });
    return report;
  }
}
