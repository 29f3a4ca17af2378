// The benchmark's options: what runBench takes (BenchOptions), and the command line's strings
// (bench/main.ts) checked and converted into them.

import type { AdapterChoice } from '../src/gpu/device.js';
import type { Precision } from '../src/gpu/buffers.js';
import type { Warmup } from '../src/graph/runner.js';
import { ARCHITECTURES } from '../src/models/config.js';
import type { Conv2dDesc, Conv2dTuning } from '../src/ops/conv2d.js';
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
  /** S of the S^3 ceiling matmul. */
  ceilingSize: number;
  json?: string;
  steps: 'auto' | 'wall' | 'none';
  slowest: number;
  /** Kernel microbenchmark instead of the models. */
  micro: boolean;
  /** Micro mode: shapes (default MICRO_SHAPES) and variant names (default all). */
  shapes?: Conv2dDesc[];
  variants?: string[];
  /** Micro mode: the production kernel with these tunings, as extra variants ('tuning1', ...). */
  tunings?: Partial<Conv2dTuning>[];
  /** Time to the first prediction instead (bench/first-prediction.ts), per architecture and warmup. */
  first: boolean;
  warmups: Warmup[];
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
  ceilingSize: string;
  json?: string;
  steps: BenchOptions['steps'];
  slowest: string;
  micro?: boolean;
  shape: string[];
  variant: string[];
  tuning: string[];
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
  if (c.tuning.length && !c.micro) throw new Error('--tuning needs --micro');
  if (c.first && c.micro) throw new Error('--first cannot be combined with --micro');
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
    ceilingSize: int(c.ceilingSize, '--ceiling-size', 4),
    json: c.json,
    steps: c.steps,
    slowest: int(c.slowest, '--slowest', 0),
    micro: !!c.micro,
    shapes: c.shape.map(parseShape),
    variants: c.variant.length ? c.variant : undefined,
    tunings: c.tuning.length ? c.tuning.map(parseTuning) : undefined,
    first: !!c.first,
    warmups: warmups as Warmup[],
    browser: !!c.browser,
    precision: c.precision,
    verbose: !c.quiet,
  };
}
