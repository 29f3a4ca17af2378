// The tuning loop: times each layer shape's candidates (candidates.ts) with a measurement (measure.ts,
// or one a test injects) within a budget, and keeps the fastest.
//
// Layers go largest first (FLOPs per run), so a budget that runs out leaves the small layers on the
// heuristic pick. The budget and the abort signal are checked before each measurement: one already
// running (a pipeline compiling) finishes, so a budget can be overshot by one measurement. A layer is
// tuned only when all its candidates were measured; an interrupted layer keeps the heuristic and is
// not stored, so a later load times it again. A candidate replaces the heuristic only when it measured
// faster by more than REPLACE_MARGIN (a tie keeps the heuristic, whose pipeline is already built).
// A candidate whose measurement throws (e.g. a pipeline the driver rejects) is skipped.

import { conv2dFlops, type Conv2dDesc, type Conv2dTuning } from '../ops/conv2d-geometry.js';

/** A candidate beats the heuristic only when it measured at most this fraction of its time. */
export const REPLACE_MARGIN = 0.97;

/** One distinct conv layer shape to tune. */
export interface TuneLayer {
  /** shapeKey(desc). */
  key: string;
  desc: Conv2dDesc;
  /** A plan step of this shape (the first), for labels and its weights. */
  step: string;
  /** The candidates, the heuristic's pick first (conv2dCandidates). */
  candidates: Conv2dTuning[];
}

/** What the tuner found for one layer shape. */
export interface LayerPick {
  key: string;
  step: string;
  desc: Conv2dDesc;
  heuristic: Conv2dTuning;
  pick: Conv2dTuning;
  /** Measured ms of the heuristic and of the pick (the same when the heuristic stayed). */
  heuristicMs: number;
  ms: number;
  /** Every candidate's time (Infinity: its measurement failed). */
  measured: { tuning: Conv2dTuning; ms: number }[];
}

export interface TuneOptions {
  /** Times one candidate of a layer, in ms. */
  measure(layer: TuneLayer, tuning: Conv2dTuning): Promise<number>;
  /** Milliseconds of `clock` the loop may spend (checked before each measurement). */
  budgetMs: number;
  /** Default performance.now. */
  clock?: () => number;
  signal?: AbortSignal;
  /** After each layer: layers done (tuned or given up) of all. */
  onLayer?(done: number, total: number): void;
}

export interface TuneResult {
  /** The layers whose candidates were all measured. */
  picks: LayerPick[];
  /** Layers left on the heuristic because the budget ran out or the loop was aborted. */
  untuned: string[];
  /** Measurements taken. */
  measurements: number;
  /** Time spent, by `clock`. */
  ms: number;
  /** Why the loop stopped early, if it did. */
  stopped?: 'budget' | 'aborted';
}

/** Tunes `layers` (see above). */
export async function tuneLayers(layers: readonly TuneLayer[], o: TuneOptions): Promise<TuneResult> {
  const clock = o.clock ?? (() => performance.now());
  const start = clock();
  const order = [...layers].sort((a, b) => conv2dFlops(b.desc) - conv2dFlops(a.desc));
  const picks: LayerPick[] = [];
  const untuned: string[] = [];
  let measurements = 0;
  let stopped: TuneResult['stopped'];
  let done = 0;
  for (const layer of order) {
    const measured: LayerPick['measured'] = [];
    for (const t of layer.candidates) {
      if (!stopped && o.signal?.aborted) stopped = 'aborted';
      if (!stopped && clock() - start >= o.budgetMs) stopped = 'budget';
      if (stopped) break;
      let ms: number;
      try {
        ms = await o.measure(layer, t);
        if (!(ms >= 0)) throw new Error(`measurement ${ms}`);
      } catch {
        ms = Infinity;
      }
      measurements++;
      measured.push({ tuning: t, ms });
    }
    if (measured.length < layer.candidates.length || !Number.isFinite(measured[0].ms)) {
      untuned.push(layer.key);
    } else {
      const heuristicMs = measured[0].ms;
      let best = measured[0];
      for (const m of measured.slice(1)) if (m.ms < best.ms && m.ms < heuristicMs * REPLACE_MARGIN) best = m;
      picks.push({ key: layer.key, step: layer.step, desc: layer.desc, heuristic: layer.candidates[0], pick: best.tuning, heuristicMs, ms: best.ms, measured });
    }
    o.onLayer?.(++done, order.length);
  }
  return { picks, untuned, measurements, ms: clock() - start, stopped };
}
