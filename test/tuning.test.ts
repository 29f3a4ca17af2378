// The on-device tuner (src/tuning/): its store (round trip; corrupt, stale, foreign and malformed entries
// ignored; the Node file store), its loop (budget and abort with a fake clock and measurement, the
// margin and the confirming rounds, failed measurements), a model's tuning (a second load tunes nothing: measurements counted),
// the runner's swap to new picks, and a real tuning run on a small model whose logits equal the
// heuristic model's.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/index.js';
import type { GpuContext } from '../src/gpu/device.js';
import { Runner } from '../src/graph/runner.js';
import type { TuningLookup } from '../src/graph/steps.js';
import { getArchitecture, type ResNetConfig } from '../src/models/config.js';
import type { Conv2dDesc, Conv2dTuning, RegisterTuning } from '../src/ops/conv2d-geometry.js';
import { cpuThreads, defaultConv2dTuning } from '../src/ops/conv2d-tuning.js';
import { conv2dCandidates, CPU_CANDIDATES, fitsDevice, sameTuning } from '../src/tuning/candidates.js';
import { ModelTuning } from '../src/tuning/model-tuning.js';
import {
  decodeEntry, encodeEntry, KERNEL_VERSION, memoryTuningStore, readPicks, shapeKey, storeName, writePicks,
  type AdapterIdentity, type StoredPick,
} from '../src/tuning/store.js';
import { CONFIRM_ROUNDS, REPLACE_MARGIN, tuneLayers, type TuneLayer } from '../src/tuning/tuner.js';
import { fileTuningStore } from '../src/node/tuning-store.js';
import { foldStepWeights } from '../src/weights/load.js';
import { randomWeights } from '../src/weights/random.js';
import { parseSafetensors, toFloat32 } from '../src/weights/safetensors.js';
import { assertClose, randomArray, rng } from './helpers/compare.js';
import { testContext } from './helpers/gpu.js';

let ctx: GpuContext;
before(async () => { ctx = await testContext(); });

const ADAPTER: AdapterIdentity = { vendor: 'acme', architecture: 'rdna9', device: '0x1234', description: 'Acme Radeon 9' };
const DESC: Conv2dDesc = { N: 1, H: 14, W: 14, C: 64, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' };
const TUNING: RegisterTuning = { wgX: 8, wgY: 1, tq: 2, jn: 4, direct: true, channelLanes: false };
const pick = (desc: Conv2dDesc, tuning: Conv2dTuning, ms = 1): [string, StoredPick] => [shapeKey(desc), { desc, tuning, ms, heuristicMs: 2 }];

// ---- store ----

test('store: picks round-trip through an entry and a store', async () => {
  const other: Conv2dDesc = { ...DESC, C: 32, R: 1, S: 1, pad: 0, epilogue: 'residual-relu', preAct: true };
  const tiledDesc = { ...DESC, K: 256 };
  const picks = new Map([pick(DESC, TUNING), pick(other, { ...TUNING, direct: false, channelLanes: true, wgX: 1, wgY: 8 }, 0.5),
    pick(tiledDesc, { family: 'tiled', bm: 32, bn: 32, bk: 16, tm: 4, tn: 4, splitK: 2 })]);
  assert.deepEqual(decodeEntry(encodeEntry(picks, ADAPTER), ADAPTER), picks);
  const store = memoryTuningStore();
  await writePicks(store, ADAPTER, new Map([pick(DESC, TUNING)]));
  await writePicks(store, ADAPTER, new Map([pick(other, TUNING)])); // merged into the same entry
  assert.equal(store.entries.size, 1);
  const read = await readPicks(store, ADAPTER);
  assert.deepEqual([...read.keys()].sort(), [shapeKey(DESC), shapeKey(other)].sort());
  assert.notEqual(shapeKey(DESC), shapeKey({ ...DESC, N: 2 }), 'the batch is part of the shape');
});

test('store: a corrupt, stale-version, foreign-adapter or other-schema entry is ignored, and overwritten by the next write', async () => {
  const good = encodeEntry(new Map([pick(DESC, TUNING)]), ADAPTER);
  assert.equal(decodeEntry(good, ADAPTER).size, 1);
  const bad: Record<string, string> = {
    corrupt: good.slice(0, good.length / 2),
    'not an object': '[1, 2]',
    stale: encodeEntry(new Map([pick(DESC, TUNING)]), ADAPTER, 'deadbeef'),
    foreign: encodeEntry(new Map([pick(DESC, TUNING)]), { ...ADAPTER, device: '0x9999' }),
    'other schema': good.replace('"schema": 1', '"schema": 2'),
  };
  assert.notEqual(bad['other schema'], good);
  for (const [what, text] of Object.entries(bad)) assert.equal(decodeEntry(text, ADAPTER).size, 0, what);

  const store = memoryTuningStore();
  store.entries.set(storeName(ADAPTER), bad.stale);
  assert.equal((await readPicks(store, ADAPTER)).size, 0);
  const other = { ...DESC, K: 64 };
  await writePicks(store, ADAPTER, new Map([pick(other, TUNING)]));
  const read = await readPicks(store, ADAPTER);
  assert.deepEqual([...read.keys()], [shapeKey(other)], 'the stale pick is gone, the new one kept');
  assert.match(store.entries.get(storeName(ADAPTER))!, new RegExp(`"kernels": "${KERNEL_VERSION}"`));
});

test('store: picks with a wrong key, an impossible tuning or a malformed shape are dropped, the rest kept', () => {
  const entry = JSON.parse(encodeEntry(new Map([pick(DESC, TUNING)]), ADAPTER)) as { picks: Record<string, unknown> };
  const ok = entry.picks[shapeKey(DESC)] as StoredPick;
  entry.picks[shapeKey({ ...DESC, K: 256 })] = ok;                                       // key of another shape
  entry.picks[shapeKey({ ...DESC, C: 8 })] = { ...ok, desc: { ...DESC, C: 8 }, tuning: { ...TUNING, tq: 9 } };  // tq 9: no such block
  entry.picks[shapeKey({ ...DESC, C: 16 })] = { ...ok, desc: { ...DESC, C: 16 }, tuning: { ...TUNING, direct: 'yes' } };
  entry.picks[shapeKey({ ...DESC, C: 24 })] = { ...ok, desc: { ...DESC, C: 24, epilogue: 'gelu' } };
  entry.picks[shapeKey({ ...DESC, C: 28 })] = { ...ok, desc: { ...DESC, C: 28 }, ms: -1 };
  entry.picks[shapeKey({ ...DESC, C: 32 })] = { ...ok, desc: { ...DESC, C: 32 }, tuning: { family: 'tiled', bm: 32, bn: 32, bk: 16, tm: 4, tn: 5, splitK: 1 } };
  entry.picks[shapeKey({ ...DESC, C: 36 })] = { ...ok, desc: { ...DESC, C: 36 }, tuning: { ...TUNING, bm: 32 } };      // fields of two families
  entry.picks[shapeKey({ ...DESC, C: 40 })] = { ...ok, desc: { ...DESC, C: 40 }, tuning: { ...TUNING, family: 'subgroup' } };
  const read = decodeEntry(JSON.stringify(entry), ADAPTER);
  assert.deepEqual([...read.keys()], [shapeKey(DESC)]);
});

test('store: the Node file store keeps an entry per adapter in $XDG_CACHE_HOME/webgpu-resnext/tuning; a corrupt file is ignored and replaced', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tuning-'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = dir;
  try {
    const store = fileTuningStore();
    const path = join(dir, 'webgpu-resnext', 'tuning', `${storeName(ADAPTER)}.json`);
    assert.equal(await store.read(storeName(ADAPTER)), undefined);
    await writePicks(store, ADAPTER, new Map([pick(DESC, TUNING)]));
    assert.deepEqual((await readPicks(fileTuningStore(), ADAPTER)).get(shapeKey(DESC))?.tuning, TUNING);
    await writeFile(path, '{"schema": 1, "adapter": {"vendor": "acme"');
    assert.equal((await readPicks(store, ADAPTER)).size, 0);
    await writePicks(store, ADAPTER, new Map([pick(DESC, TUNING)]));
    assert.equal(decodeEntry(await readFile(path, 'utf8'), ADAPTER).size, 1);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    await rm(dir, { recursive: true });
  }
});

// ---- the tuning loop ----

/** Layers with `n` candidates each; layer i has i + 1 times the FLOPs of layer 0. */
function fakeLayers(count: number, n = 3): TuneLayer[] {
  return Array.from({ length: count }, (_, i) => {
    const desc = { ...DESC, K: 4 * (i + 1) };
    return { key: shapeKey(desc), desc, step: `layer${i}`, candidates: Array.from({ length: n }, (_, j) => ({ ...TUNING, jn: j + 1 })) };
  });
}

test('tuner: the budget is checked before each measurement (a fake clock: 10 ms a measurement), largest layers first', async () => {
  let now = 1000;
  const seen: string[] = [];
  const layers = fakeLayers(3);
  const r = await tuneLayers(layers, {
    budgetMs: 85, clock: () => now,
    measure: async (l, t) => { const jn = (t as RegisterTuning).jn; seen.push(`${l.step}/${jn}`); now += 10; return 5 - jn; },
  });
  // Measurements start at 0, 10, ..., 80 ms: nine, then the budget is spent. layer2's rival (jn 3) led,
  // so the heuristic and it are measured again in turns (CONFIRM_ROUNDS = 2) before layer1 starts.
  assert.equal(CONFIRM_ROUNDS, 2);
  assert.equal(r.measurements, 9);
  assert.deepEqual(seen, ['layer2/1', 'layer2/2', 'layer2/3', 'layer2/1', 'layer2/3', 'layer2/1', 'layer2/3', 'layer1/1', 'layer1/2']);
  assert.equal(r.stopped, 'budget');
  assert.equal(r.ms, 90);
  assert.deepEqual(r.picks.map((p) => p.step), ['layer2'], 'only the fully measured layer is tuned');
  assert.equal((r.picks[0].pick as RegisterTuning).jn, 3);
  assert.deepEqual(r.untuned, [layers[1].key, layers[0].key]);
});

test('tuner: an abort stops it before the next measurement; the layers done are kept', async () => {
  const abort = new AbortController();
  let calls = 0;
  const r = await tuneLayers(fakeLayers(2, 2), {
    budgetMs: Infinity, signal: abort.signal, clock: () => 0,
    measure: async () => { if (++calls === 3) abort.abort(); return 1; },
  });
  assert.equal(r.measurements, 3);
  assert.equal(r.stopped, 'aborted');
  assert.equal(r.picks.length, 1);
  assert.equal(r.untuned.length, 1);
});

test('tuner: a rival replaces the heuristic only when faster by the margin; a failed measurement is skipped', async () => {
  const [layer] = fakeLayers(1, 4);
  const times = (ms: number[]) => tuneLayers([layer], { budgetMs: Infinity, measure: async (_, t) => {
    const v = ms[(t as RegisterTuning).jn - 1];
    if (Number.isNaN(v)) throw new Error('pipeline rejected');
    return v;
  } });
  const close = await times([10, 10 * REPLACE_MARGIN + 0.01, 11, 12]);
  assert.ok(sameTuning(close.picks[0].pick, layer.candidates[0]), 'within the margin: the heuristic stays');
  const faster = await times([10, 9, NaN, 8]);
  assert.equal((faster.picks[0].pick as RegisterTuning).jn, 4);
  assert.equal(faster.picks[0].measured[2].ms, Infinity);
  assert.equal(faster.picks[0].heuristicMs, 10);
  assert.equal(faster.measurements, 4 + 2 * CONFIRM_ROUNDS, 'the four candidates, then the confirming rounds');
  assert.deepEqual(faster.picks[0].confirm, { heuristicMs: [10, 10], ms: [8, 8] });
});

test('tuner: a rival that led by one noisy sample is measured again in turns with the heuristic, and the medians decide', async () => {
  const [layer] = fakeLayers(1, 2);
  // Each tuning's measurements in order: the first pass, then the confirming rounds.
  const run = (heuristic: number[], rival: number[]) => {
    const seen: number[] = [];
    const queues = [[...heuristic], [...rival]];
    return tuneLayers([layer], { budgetMs: Infinity, measure: async (_, t) => {
      const i = (t as RegisterTuning).jn - 1;
      seen.push(i);
      return queues[i].shift()!;
    } }).then((r) => ({ r, seen }));
  };
  const fluke = await run([10, 10, 10], [7, 11, 10.5]);
  assert.ok(sameTuning(fluke.r.picks[0].pick, layer.candidates[0]), 'the rival\'s median (10.5) is no faster: the heuristic stays');
  assert.equal(fluke.r.picks[0].ms, 10);
  assert.deepEqual(fluke.seen, [0, 1, ...Array.from({ length: CONFIRM_ROUNDS }, () => [0, 1]).flat()], 'in turns');
  const real = await run([10, 12, 9.5], [8, 8.5, 15]);
  assert.ok(sameTuning(real.r.picks[0].pick, layer.candidates[1]), 'the rival\'s median (8.5) beats the heuristic\'s (10)');
  assert.equal(real.r.picks[0].heuristicMs, 10);
  assert.equal(real.r.picks[0].ms, 8.5);
  // A budget that runs out during the confirming rounds leaves the layer untuned (measured again next load).
  let now = 0;
  const cut = await tuneLayers([layer], { budgetMs: 25, clock: () => now, measure: async (_, t) => { now += 10; return (t as RegisterTuning).jn === 1 ? 10 : 5; } });
  assert.equal(cut.picks.length, 0);
  assert.deepEqual(cut.untuned, [layer.key]);
  assert.equal(cut.stopped, 'budget');
});

// ---- candidates ----

test('candidates: the heuristic first, no two alike, each within the device limits', async () => {
  const threads = await cpuThreads();
  for (const desc of [DESC, { ...DESC, H: 7, W: 7, C: 512, K: 2048, R: 1, S: 1, pad: 0 }, { ...DESC, groups: 32, C: 128, K: 128 }, { ...DESC, C: 3, R: 7, S: 7, stride: 2, pad: 3 }]) {
    const c = conv2dCandidates(ctx, desc, threads);
    assert.ok(sameTuning(c[0], defaultConv2dTuning(ctx, desc, threads)));
    assert.ok(c.length >= 2, 'at least one rival');
    if (ctx.cpuBacked) assert.ok(c.length <= CPU_CANDIDATES);
    for (let i = 0; i < c.length; i++) {
      assert.ok(fitsDevice(ctx, desc, c[i]));
      for (let j = 0; j < i; j++) assert.ok(!sameTuning(c[i], c[j]));
    }
  }
  assert.ok(!fitsDevice(ctx, { ...DESC, stride: 2 }, TUNING), 'the direct path needs stride 1');
});

// ---- a model's tuning ----

function fixture(family: string): { config: ResNetConfig; tensor: (name: string) => Float32Array; bytes: Uint8Array } {
  const config: ResNetConfig = { ...getArchitecture('resnet18'), name: 'tiny', layers: [1, 1, 1, 1], widths: [8, 8, 16, 16], inputSize: 32, numClasses: 10 };
  const bytes = randomWeights(config, { custom: true, seed: family.length });
  const h = parseSafetensors(bytes);
  const tensor = (name: string) => {
    const t = h.tensors.get(name)!;
    return toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end));
  };
  return { config, tensor, bytes };
}

test('model tuning: the first start measures every candidate of every shape (and confirms the rivals) and stores the picks; a second prepare finds them all and measures nothing', async () => {
  const { config } = fixture('a');
  const store = memoryTuningStore();
  const threads = await cpuThreads();
  let measurements = 0;
  // A fake measurement that makes the last candidate fastest, and a fake runner.
  const measure = async (l: TuneLayer, t: Conv2dTuning) => { measurements++; return 10 - l.candidates.indexOf(t); };
  const given: (TuningLookup | undefined)[] = [];
  const runner = { setTuning: (t: TuningLookup | undefined) => given.push(t) } as unknown as Runner;

  const first = await ModelTuning.prepare(ctx, config, { mode: 'auto', store, threads });
  const candidates = first.layers.reduce((n, l) => n + l.candidates.length, 0);
  assert.ok(first.layers.length >= 4);
  assert.equal(first.pending.length, first.layers.length);
  const r1 = await first.start(runner, { budgetMs: Infinity, measure });
  // Every candidate once, then the confirming rounds of each layer with a rival to its heuristic.
  const expected = candidates + 2 * CONFIRM_ROUNDS * first.layers.filter((l) => l.candidates.length > 1).length;
  assert.equal(measurements, expected);
  assert.equal(r1.run?.measurements, expected);
  assert.equal(given.length, 1, 'the picks differ from the heuristic: handed to the runner once');
  for (const l of first.layers) {
    assert.ok(sameTuning(given[0]!(l.desc)!, l.candidates[l.candidates.length - 1]), l.step);
  }
  assert.ok(r1.shapes.every((s) => s.source === 'tuned'));

  measurements = 0;
  const second = await ModelTuning.prepare(ctx, config, { mode: 'auto', store, threads });
  assert.equal(second.pending.length, 0);
  for (const l of second.layers) assert.ok(sameTuning(second.lookup(l.desc)!, l.candidates[l.candidates.length - 1]), `stored ${l.step}`);
  const r2 = await second.start(runner, { budgetMs: Infinity, measure });
  assert.equal(measurements, 0, 'a second load does no tuning');
  assert.equal(r2.run, undefined);
  assert.equal(r2.fromStore, second.layers.length);
  assert.equal(given.length, 1);

  const heuristic = await ModelTuning.prepare(ctx, config, { mode: 'heuristic', store, threads });
  assert.equal(heuristic.pending.length, 0);
  assert.equal(heuristic.lookup(first.layers[0].desc), undefined, "'heuristic' reads no stored pick");
});

test('model tuning: a stored pick the device cannot take is not used', async () => {
  const { config } = fixture('a');
  const threads = await cpuThreads();
  const probe = await ModelTuning.prepare(ctx, config, { mode: 'heuristic', threads });
  const l = probe.layers[0];
  const store = memoryTuningStore();
  const tooWide = { ...l.candidates[0], wgX: ctx.device.limits.maxComputeInvocationsPerWorkgroup * 2 };
  await writePicks(store, ADAPTER, new Map()); // another adapter's entry stays apart
  const adapter = (await ModelTuning.prepare(ctx, config, { mode: 'heuristic', threads })).adapter;
  await writePicks(store, adapter, new Map([pick(l.desc, tooWide)]));
  const t = await ModelTuning.prepare(ctx, config, { mode: 'auto', store, threads });
  assert.equal(t.lookup(l.desc), undefined);
  assert.equal(t.pending.length, t.layers.length);
});

test('runner: new picks are swapped in between inferences; the logits stay the heuristic picks\' within tolerance', async () => {
  const { config, tensor } = fixture('b');
  const threads = await cpuThreads();
  const runner = await Runner.create(ctx, config, (s) => foldStepWeights(s, tensor, config.bnEps),
    { normalization: { inputRange: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], resizeTo: 32 }, warmup: 'tuned' });
  const x = randomArray(2 * 3 * 32 * 32, rng(7));
  const before = await runner.runLogits(x, 2);
  const bytes = await runner.totalBytes();
  const tuning = await ModelTuning.prepare(ctx, config, { mode: 'auto', threads });
  // Every layer on its last candidate: none on the heuristic's.
  const picks = new Map(tuning.layers.map((l) => [shapeKey({ ...l.desc, N: 2 }), l.candidates[l.candidates.length - 1]]));
  const lookup: TuningLookup = (d) => picks.get(shapeKey(d));
  runner.setTuning(lookup);
  const during = await runner.runLogits(x, 2); // on either instance
  await runner.ready();
  const after = await runner.runLogits(x, 2);
  assertClose(during, before, { rtol: 1e-4, atol: 1e-5, what: 'during the swap' });
  assertClose(after, before, { rtol: 1e-4, atol: 1e-5, what: 'on the new picks' });
  assert.equal(await runner.totalBytes(), bytes, 'the old instance was freed');
  runner.dispose();
  await runner.idle();
});

test('loadModel tuning auto: a real tuning run; the logits equal the heuristic model\'s; a second load tunes nothing', async () => {
  const { config, bytes } = fixture('c');
  const store = memoryTuningStore();
  const phases: number[] = [];
  const x = randomArray(3 * 32 * 32, rng(9));
  const heuristic = await loadModel({ weights: bytes, config, device: ctx, tuning: 'heuristic', tuningStore: store, warmup: 'tuned' });
  const expected = await heuristic.run(x);
  assert.equal((await heuristic.tuning()).run, undefined);
  heuristic.dispose();
  assert.equal(store.entries.size, 0);

  const model = await loadModel({
    weights: bytes, config, device: ctx, tuning: 'auto', tuningStore: store, tuningBudgetMs: 600_000, warmup: 'tuned',
    onProgress: (p) => { if (p.phase === 'tune') phases.push(p.loaded); },
  });
  const first = await model.run(x); // while the tuner runs
  const report = await model.tuning();
  await model.ready();
  const tuned = await model.run(x);
  assertClose(first, expected, { rtol: 1e-4, atol: 1e-5, what: 'first inference' });
  assertClose(tuned, expected, { rtol: 1e-4, atol: 1e-5, what: 'tuned' });
  model.dispose();
  assert.ok(report.run && report.run.measurements >= report.shapes.length, 'every shape measured');
  assert.equal(report.run.stopped, undefined);
  assert.ok(report.shapes.every((s) => s.source === 'tuned' && s.ms! >= 0 && s.heuristicMs! >= 0));
  assert.equal(phases.at(-1), report.shapes.length);

  const again = await loadModel({ weights: bytes, config, device: ctx, tuning: 'auto', tuningStore: store, warmup: 'tuned' });
  const r2 = await again.tuning();
  assert.equal(r2.run, undefined, 'no tuning on the second load');
  assert.equal(r2.fromStore, report.shapes.length);
  assertClose(await again.run(x), expected, { rtol: 1e-4, atol: 1e-5, what: 'second load' });
  again.dispose();
  await assert.rejects(loadModel({ weights: bytes, config, device: ctx, tuning: 'fast' as 'auto' }), /tuning must be one of auto, heuristic/);
});
