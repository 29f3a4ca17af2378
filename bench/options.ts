// The benchmark's options: what runBench takes (BenchOptions), and the command line's strings
// (bench/main.ts) checked and converted into them.

import type { AdapterChoice } from '../src/gpu/device.js';
import type { Precision } from '../src/gpu/buffers.js';
import type { Warmup } from '../src/graph/runner.js';
import { TUNING_MODES, type TuningMode } from '../src/tuning/model-tuning.js';
import { ARCHITECTURES } from '../src/models/config.js';
import { checkKernelChoice, type Conv2dDesc, type Conv2dTuningOverride, type KernelChoice } from '../src/ops/conv2d.js';
import { EMBEDDED } from './first-prediction.js';
import { parseShape } from './micro.js';
import { findVariants, parseTuning } from './variants.js';

export const DEFAULT_ARCHS = ['resnet50', 'resnext101_32x4d'];

/** What runBench (bench/run.ts) takes. */
export interface BenchOptions {
  archs: string[];
  size: number;
  batches: number[];
  runs: number;
  adapter: AdapterChoice;
  /** The models' conv kernel family (loadModel's `kernels`). */
  kernels: KernelChoice;
  /** S of the S^3 ceiling matmul. */
  ceilingSize: number;
  json?: string;
  steps: 'auto' | 'wall' | 'none';
  slowest: number;
  /** Print the per-layer traffic view (bench/roofline.ts); the JSON carries it either way. */
  layers: boolean;
  /** Kernel microbenchmark instead of the models. */
  micro: boolean;
  /** Micro mode: shapes (default MICRO_SHAPES) and variant names (default all). */
  shapes?: Conv2dDesc[];
  variants?: string[];
  /** Micro mode: the production kernel with these tunings, as extra variants ('tuning1', ...). */
  tunings?: Conv2dTuningOverride[];
  /** Time to the first prediction instead (bench/first-prediction.ts), per architecture and warmup. */
  first: boolean;
  warmups: Warmup[];
  /**
   * loadModel's `tuning` per model (--tuning auto,heuristic): each architecture once per mode, side by
   * side; undefined: one load with the adapter's default.
   */
  tuningModes?: TuningMode[];
  /** The tuner's budget in ms (--tuning-budget). */
  tuningBudgetMs?: number;
  /** The model benchmark in headless Chromium as well. */
  browser: boolean;
  /** Storage of weights and activations of the model benchmark (Node). */
  precision: Precision;
  /** Progress lines on stderr. */
  verbose: boolean;
}

/** The architectures of --arch: a comma-separated list of names, or 'all'; with `embedded`, also 'embedded' (--first). */
export function expandArchs(list: string, embedded = false): string[] {
  if (list === 'all') return Object.keys(ARCHITECTURES);
  const archs = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of archs) {
    if (embedded && a === EMBEDDED) continue;
    if (!(a in ARCHITECTURES)) {
      throw new Error(`unknown architecture '${a}'; known: ${Object.keys(ARCHITECTURES).join(', ')}, all${embedded ? `, ${EMBEDDED}` : ''}`);
    }
  }
  if (archs.length === 0) throw new Error('--arch lists no architecture');
  return archs;
}

/** The options as the parser gives them (numbers and lists still strings), before checking. */
export interface BenchCliOptions {
  arch: string;
  size: string;
  batch: string;
  runs: string;
  adapter: AdapterChoice;
  kernels: string;
  ceilingSize: string;
  json?: string;
  steps: BenchOptions['steps'];
  slowest: string;
  layers?: boolean;
  micro?: boolean;
  shape: string[];
  variant: string[];
  tuning: string[];
  tuningBudget?: string;
  first?: boolean;
  warmup: string;
  browser?: boolean;
  precision: Precision;
  quiet?: boolean;
}

/** Checks and converts the parser's strings; throws an Error with a one-line message on bad input. */
export function parseBenchOptions(c: BenchCliOptions): BenchOptions {
  const int = (v: string, what: string, min = 1) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${what} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  const batches = c.batch.split(',').map((b) => int(b.trim(), '--batch'));
  if (c.micro && c.browser) throw new Error('--micro and --browser cannot be combined (the browser runs the model benchmark)');
  if (c.variant.length) findVariants(c.variant); // throws on an unknown name
  // --tuning: launch geometries as JSON for --micro, or tuner modes for the model benchmark.
  const jsonTunings = c.tuning.filter((t) => t.trim().startsWith('{'));
  const modes = c.tuning.filter((t) => !t.trim().startsWith('{')).flatMap((t) => t.split(',').map((m) => m.trim()).filter(Boolean));
  if (jsonTunings.length && !c.micro) throw new Error('--tuning with a launch geometry (JSON) needs --micro');
  if (modes.length && (c.micro || c.first)) throw new Error('--tuning auto|heuristic is for the model benchmark (not --micro or --first)');
  for (const m of modes) if (!TUNING_MODES.includes(m as TuningMode)) throw new Error(`--tuning: '${m}' is not ${TUNING_MODES.join(' or ')} (or a launch geometry as JSON with --micro)`);
  if (new Set(modes).size !== modes.length) throw new Error('--tuning lists a mode twice');
  if (c.first && c.micro) throw new Error('--first cannot be combined with --micro');
  if (c.layers && (c.micro || c.first)) throw new Error('--layers goes with the model benchmark, not --micro or --first');
  if (c.precision !== 'f32' && (c.micro || c.first || c.browser)) {
    throw new Error(`--precision ${c.precision} is for the model benchmark in Node (not --micro, --first or --browser)`);
  }
  const warmups = c.warmup.split(',').map((w) => w.trim());
  for (const w of warmups) if (w !== 'fast-first' && w !== 'tuned') throw new Error(`--warmup: '${w}' is not fast-first or tuned`);
  return {
    archs: expandArchs(c.arch, !!c.first),
    size: int(c.size, '--size', 32),
    batches,
    runs: int(c.runs, '--runs'),
    adapter: c.adapter,
    kernels: checkKernelChoice(c.kernels),
    ceilingSize: int(c.ceilingSize, '--ceiling-size', 4),
    json: c.json,
    steps: c.steps,
    slowest: int(c.slowest, '--slowest', 0),
    layers: !!c.layers,
    micro: !!c.micro,
    shapes: c.shape.map(parseShape),
    variants: c.variant.length ? c.variant : undefined,
    tunings: jsonTunings.length ? jsonTunings.map(parseTuning) : undefined,
    tuningModes: modes.length ? modes as TuningMode[] : undefined,
    tuningBudgetMs: c.tuningBudget === undefined ? undefined : int(c.tuningBudget, '--tuning-budget', 0),
    first: !!c.first,
    warmups: warmups as Warmup[],
    browser: !!c.browser,
    precision: c.precision,
    verbose: !c.quiet,
  };
}
