// The tuning loop: times each layer shape's candidates (candidates.ts) with a measurement (measure.ts,
// or one a test injects) within a budget, and keeps the fastest.
//
// Layers go largest first (FLOPs per run), so a budget that runs out leaves the small layers on the
// heuristic pick. The budget and the abort signal are checked before each measurement: one already
// running (a pipeline compiling) finishes, so a budget can be overshot by one measurement. A layer is
// tuned only when all its candidates were measured; an interrupted layer keeps the heuristic and is
// not stored, so a later load times it again. A candidate replaces the heuristic only when it measured
// faster by more than REPLACE_MARGIN (a tie keeps the heuristic, whose pipeline is already built), and
// still does so after CONFIRM_ROUNDS more measurements of the two, taken in turns: one noisy sample
// (another process, a clock step) does not make the switch, and the decision compares the medians.
// A candidate whose measurement throws (e.g. a pipeline the driver rejects) is skipped.

import { conv2dFlops, type Conv2dDesc, type Conv2dTuning } from '../ops/conv2d-geometry.js';

/** A candidate beats the heuristic only when it measured at most this fraction of its time. */
export const REPLACE_MARGIN = 0.97;

/** Rounds of one heuristic and one rival measurement that confirm a switch (the medians decide). */
export const CONFIRM_ROUNDS = 2;

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
  /** Every candidate's time in the first pass (Infinity: its measurement failed). */
  measured: { tuning: Conv2dTuning; ms: number }[];
  /** The confirming rounds' times of the heuristic and the rival, when a rival led the first pass. */
  confirm?: { heuristicMs: number[]; ms: number[] };
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

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
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
  /** One measurement in ms (Infinity: it failed), or undefined when the budget or an abort stops the loop. */
  const take = async (layer: TuneLayer, t: Conv2dTuning): Promise<number | undefined> => {
    if (!stopped && o.signal?.aborted) stopped = 'aborted';
    if (!stopped && clock() - start >= o.budgetMs) stopped = 'budget';
    if (stopped) return undefined;
    let ms: number;
    try {
      ms = await o.measure(layer, t);
      if (!(ms >= 0)) throw new Error(`measurement ${ms}`);
    } catch {
      ms = Infinity;
    }
    measurements++;
    return ms;
  };
  for (const layer of order) {
    const pick = await tuneLayer(layer, take);
    if (pick) picks.push(pick);
    else untuned.push(layer.key);
    o.onLayer?.(++done, order.length);
  }
  return { picks, untuned, measurements, ms: clock() - start, stopped };
}

/** One layer: every candidate, then the confirming rounds; undefined when it could not finish. */
async function tuneLayer(layer: TuneLayer, take: (layer: TuneLayer, t: Conv2dTuning) => Promise<number | undefined>): Promise<LayerPick | undefined> {
  const measured: LayerPick['measured'] = [];
  for (const tuning of layer.candidates) {
    const ms = await take(layer, tuning);
    if (ms === undefined) return undefined;
    measured.push({ tuning, ms });
  }
  const heuristic = measured[0];
  if (!Number.isFinite(heuristic.ms)) return undefined;
  let best = heuristic;
  for (const m of measured.slice(1)) if (m.ms < best.ms && m.ms < heuristic.ms * REPLACE_MARGIN) best = m;
  const base = { key: layer.key, step: layer.step, desc: layer.desc, heuristic: heuristic.tuning, measured };
  if (best === heuristic) return { ...base, pick: heuristic.tuning, heuristicMs: heuristic.ms, ms: heuristic.ms };
  const confirm = { heuristicMs: [] as number[], ms: [] as number[] };
  for (let round = 0; round < CONFIRM_ROUNDS; round++) {
    const h = await take(layer, heuristic.tuning);
    const r = h === undefined ? undefined : await take(layer, best.tuning);
    if (h === undefined || r === undefined) return undefined;
    confirm.heuristicMs.push(h);
    confirm.ms.push(r);
  }
  const heuristicMs = median([heuristic.ms, ...confirm.heuristicMs]);
  const ms = median([best.ms, ...confirm.ms]);
  const switched = ms < heuristicMs * REPLACE_MARGIN;
  return { ...base, pick: switched ? best.tuning : heuristic.tuning, heuristicMs, ms: switched ? ms : heuristicMs, confirm };
}
