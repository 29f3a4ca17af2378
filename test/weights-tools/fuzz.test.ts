// Deterministic fuzzing: mutated fixture bytes must give a valid result or a CheckpointError —
// never another exception, a hang or a crash. A few hundred mutations, each timed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCheckpoint } from '../../src/convert/checkpoint.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { CheckpointError } from '../../src/convert/errors.js';
import { rng } from '../helpers/compare.js';
import { fixtureBytes, fixtureJson } from './fixtures.js';
import { fuzz, fuzzTargets } from './fuzz-formats.js';

const PER_CASE_MS = 2000;

type Mutation = (b: Uint8Array, r: () => number) => Uint8Array;

const pick = (r: () => number, n: number) => Math.floor(r() * n);
/** Biased to the structure: half the positions near the start or the end (headers, pickles, zip directory). */
const position = (b: Uint8Array, r: () => number) => {
  const u = r();
  if (u < 0.25) return pick(r, Math.min(b.length, 600));
  if (u < 0.5) return Math.max(0, b.length - 1 - pick(r, Math.min(b.length, 600)));
  return pick(r, b.length);
};

const MUTATIONS: Record<string, Mutation> = {
  flipBits: (b, r) => { const c = b.slice(); for (let k = 1 + pick(r, 4); k > 0; k--) c[position(c, r)] ^= 1 << pick(r, 8); return c; },
  randomBytes: (b, r) => { const c = b.slice(); const p = position(c, r); for (let i = 0; i < 1 + pick(r, 8) && p + i < c.length; i++) c[p + i] = pick(r, 256); return c; },
  hugeField: (b, r) => { const c = b.slice(); const p = position(c, r); for (let i = 0; i < 4 + pick(r, 5) && p + i < c.length; i++) c[p + i] = 0xff; return c; },
  zeroField: (b, r) => { const c = b.slice(); const p = position(c, r); for (let i = 0; i < 4 + pick(r, 5) && p + i < c.length; i++) c[p + i] = 0; return c; },
  truncate: (b, r) => b.slice(0, position(b, r)),
  insert: (b, r) => { const p = position(b, r); const ins = Uint8Array.from({ length: 1 + pick(r, 16) }, () => pick(r, 256)); return Uint8Array.from([...b.subarray(0, p), ...ins, ...b.subarray(p)]); },
  remove: (b, r) => { const p = position(b, r); return Uint8Array.from([...b.subarray(0, p), ...b.subarray(Math.min(b.length, p + 1 + pick(r, 16)))]); },
  duplicate: (b, r) => { const p = position(b, r); const n = 1 + pick(r, 64); return Uint8Array.from([...b.subarray(0, p + n), ...b.subarray(p)]); },
};

function runCase(label: string, fn: () => unknown): 'ok' | 'typed' {
  const t0 = performance.now();
  let outcome: 'ok' | 'typed' = 'ok';
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CheckpointError)) assert.fail(`${label}: untyped ${(e as Error)?.stack ?? String(e)}`);
    outcome = 'typed';
  }
  const ms = performance.now() - t0;
  assert.ok(ms < PER_CASE_MS, `${label}: took ${ms.toFixed(0)} ms`);
  return outcome;
}

test('mutated checkpoints give valid results or typed errors (400 deterministic cases)', () => {
  const files = ['tiny_zip.pth', 'tiny_legacy.pth', 'tiny_py2_legacy.pth', 'tiny_tar.pth', 'torchvision_tiny_zip.pth'];
  const r = rng(20240607);
  const names = Object.keys(MUTATIONS);
  const counts = { ok: 0, typed: 0 };
  for (let i = 0; i < 400; i++) {
    const file = files[i % files.length];
    const kind = names[pick(r, names.length)];
    const bytes = MUTATIONS[kind](fixtureBytes(file), r);
    counts[runCase(`case ${i} (${file}, ${kind})`, () => readCheckpoint(bytes))]++;
  }
  // Both outcomes must occur, or the mutations are not reaching the parsers.
  assert.ok(counts.typed > 50 && counts.ok > 20, JSON.stringify(counts));
});

test('mutated .safetensors inputs to the converter give valid results or typed errors (100 cases)', () => {
  const config = fixtureJson('cadene_tiny.config.json');
  const good = convertCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { config }).bytes;
  const r = rng(77);
  const names = Object.keys(MUTATIONS);
  for (let i = 0; i < 100; i++) {
    const kind = names[pick(r, names.length)];
    const bytes = MUTATIONS[kind](good, r);
    runCase(`safetensors case ${i} (${kind})`, () => convertCheckpoint(bytes));
  }
});

// ---- Property-based fuzzing of every reader (fast-check, fixed seed) ------------------------------
// FUZZ_RUNS inputs per format: 250 in `npm test`, 10,000 in `npm run fuzz`. Each run prints its counts.

const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);

for (const target of fuzzTargets()) {
  test(`fuzz ${target.name}: ${RUNS} generated and mutated inputs give valid results or typed errors (seed ${SEED})`, { timeout: 3_600_000 }, async () => {
    const t0 = performance.now();
    const c = await fuzz(target, RUNS, SEED);
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`fuzz ${target.name}: ${c.runs} inputs, ${c.ok} accepted, ${c.typed} typed errors, 0 untyped; slowest ${c.maxMs.toFixed(0)} ms, all ${s} s`);
    assert.equal(c.runs, RUNS);
    // Both outcomes occur, or the generators are not reaching the parser's checks.
    assert.ok(c.typed > 0 && c.ok > 0, JSON.stringify(c));
    assert.ok(c.maxMs < 10_000, `slowest input took ${c.maxMs.toFixed(0)} ms`);
  });
}
