// The one comparison helper: |actual - expected| <= atol + rtol * |expected|, shape first.

import assert from 'node:assert/strict';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Shapes to compare before any value. */
  shape?: { actual: readonly number[]; expected: readonly number[] };
  what?: string;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}): void {
  const { atol = 1e-5, rtol = 1e-4, what = 'tensor' } = opts;
  if (opts.shape) {
    assert.deepEqual([...opts.shape.actual], [...opts.shape.expected], `${what}: shape differs`);
  }
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != expected ${expected.length}`);
  let maxDiff = 0;
  let maxAt = -1;
  const bad: string[] = [];
  let badCount = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!(d <= maxDiff) || Number.isNaN(d)) { maxDiff = Number.isNaN(d) ? Infinity : d; maxAt = i; }
    if (!(d <= atol + rtol * Math.abs(e))) {
      badCount++;
      if (bad.length < 8) bad.push(`  [${i}] got ${a}, expected ${e} (diff ${d})`);
    }
  }
  if (badCount > 0) {
    assert.fail(`${what}: ${badCount} of ${expected.length} values differ beyond atol ${atol} + rtol ${rtol}; ` +
      `max diff ${maxDiff} at [${maxAt}]; first mismatches:\n${bad.join('\n')}`);
  }
}

/** Deterministic pseudo-random numbers (the runtime's mulberry32) so a failing case can be rerun. */
export { mulberry32 as rng } from '../../src/weights/random.js';

/** `n` uniform values in [lo, hi). */
export function randomArray(n: number, random: () => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random();
  return out;
}
