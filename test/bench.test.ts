// The benchmark: its targets from given figures, and `npm run bench` (bench/main.ts) end to end on
// small models (64x64 inputs, a 128^3 ceiling) and on one conv shape in --micro mode, as a user runs it.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BatchResult, ModelResult } from '../bench/model-bench.js';
import { computeTargets, type BenchResult } from '../bench/report.js';
import type { CeilingResult } from '../bench/ceiling.js';
import { getArchitecture } from '../src/models/config.js';
import { buildPlan } from '../src/models/plan.js';
import { cli, runScript } from './cli/run.js';

const bench = (args: string[], timeoutMs: number) => runScript('bench/main.ts', args, timeoutMs);

function batch(timesMs: number[], flops: number, memoryRatio: number): BatchResult {
  const sorted = [...timesMs].sort((a, b) => a - b);
  const medianMs = sorted[sorted.length >> 1];
  return {
    batch: 1, firstMs: 0, timesMs, medianMs, minMs: sorted[0], gflops: flops / medianMs / 1e6, gflopsBest: flops / sorted[0] / 1e6,
    weightBytes: 100, instanceBytes: 10, activationBytes: 8, peakBytes: 110, twoLargestBytes: 8, memoryRatio,
  };
}

function model(arch: string, flops: number, b: BatchResult): ModelResult {
  return { arch, size: 224, params: 1, flopsPerImage: flops, generateMs: 0, loadMs: 0, batches: [b] };
}

test('targets: rate / ceiling, memory, and the ResNeXt / ResNet time as the median of per-round ratios', () => {
  const ceiling = { gflops: 40, flops: 1, medianMs: 1 } as CeilingResult;
  // Round 3 of ResNeXt was hit by other load: the ratio of medians (400 / 100 = 4) would fail the target,
  // the per-round ratios (1.9, 1.97, 4) have median 1.97.
  const r50 = model('resnet50', 8e9, batch([100, 300, 100], 8e9, 1.02));
  const x101 = model('resnext101_32x4d', 15.6e9, batch([190, 590, 400], 15.6e9, 1.2));
  const targets = computeTargets([r50, x101], ceiling, 2);
  const byName = (s: string) => {
    const t = targets.find((x) => x.name.includes(s));
    assert.ok(t, `no target named like '${s}' in ${targets.map((x) => x.name).join('; ')}`);
    return t;
  };
  const rate = byName('resnet50 batch 1: rate');
  assert.equal(rate.value, 80 / 40); // 8 GFLOP in 100 ms = 80 GFLOP/s
  assert.equal(rate.met, true);
  const x101rate = byName('resnext101_32x4d batch 1: rate');
  assert.ok(Math.abs(x101rate.value - 15.6e9 / 400 / 1e6 / 40) < 1e-12);
  assert.equal(x101rate.met, x101rate.value >= 0.6);
  assert.equal(byName('resnet50 batch 1: peak GPU memory').met, true);
  const mem = byName('resnext101_32x4d batch 1: peak GPU memory');
  assert.equal(mem.value, 1.2);
  assert.equal(mem.met, false);
  const ratio = byName('resnext101_32x4d / resnet50 time');
  assert.ok(Math.abs(ratio.value - 590 / 300) < 1e-12, `ratio ${ratio.value}`);
  assert.equal(ratio.met, true);
  assert.match(ratio.detail, /median of 3 per-round ratios \(1\.90 to 4\.00\)/);
});

test('bench: two small models side by side, with the ceiling, steps, memory and JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const json = join(dir, 'bench.json');
    const archs = ['resnet18', 'resnext50_32x4d'];
    const r = await bench(['--arch', archs.join(','), '--size', '64', '--batch', '1', '--runs', '2',
      '--ceiling-size', '128', '--steps', 'wall', '--layers', '--json', json, '--quiet'], 600_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ceiling: conv2d 1x1 GEMM 128\^3/);
    assert.match(r.stdout, /resnet18 batch 1: per conv layer, the runtime's pick on this adapter/);
    const out = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    assert.ok(out.ceiling && out.ceiling.gflops > 0 && out.ceiling.samples >= 4, JSON.stringify(out.ceiling));
    assert.deepEqual(out.models.map((m) => m.arch), archs);
    for (const m of out.models) {
      const [b] = m.batches;
      assert.equal(b.timesMs.length, 2);
      assert.ok(b.gflops > 0 && b.medianMs > 0 && b.firstMs > 0, `${m.arch}: ${JSON.stringify(b)}`);
      // Peak = weights + this batch size's instance, which holds at least the two largest live activations.
      assert.ok(b.memoryRatio >= 1 && b.memoryRatio <= 1.1, `${m.arch} memory ratio ${b.memoryRatio}`);
      const plan = buildPlan({ ...getArchitecture(m.arch), inputSize: 64 }, { input: 'nchw', head: 'logits' });
      assert.equal(b.steps?.count, plan.steps.length, b.stepsError);
      assert.ok(b.steps!.byGroup.some((g) => g.group === (m.arch === 'resnet18' ? 'conv 3x3' : 'conv 3x3 G32')));
    }
    // --layers: one row per conv step of each model, bytes at least every tensor once (the JSON has them either way).
    assert.deepEqual(out.layers?.map((l) => `${l.arch} ${l.batch}`), archs.map((a) => `${a} 1`));
    for (const l of out.layers!) {
      const convs = buildPlan({ ...getArchitecture(l.arch), inputSize: 64 }).steps.filter((s) => s.kind === 'conv');
      assert.deepEqual(l.views.map((v) => v.name), convs.map((s) => s.name));
      for (const v of l.views) assert.ok(v.flops > 0 && v.bytes >= v.compulsoryBytes && v.intensity > 0, JSON.stringify(v));
      assert.match(r.stdout, new RegExp(`${l.views[0].name} .*${l.views[0].tuning}`));
    }
    // Only ResNet-50 / ResNeXt-101 have targets; the ceiling is there, so the memory targets are listed.
    assert.ok(out.targets.every((t) => t.name.includes('peak GPU memory')), out.targets.map((t) => t.name).join('; '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --tuning auto,heuristic: each model once per tuner mode, side by side, with the tuner\'s run; bad modes are usage errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const json = join(dir, 'bench.json');
    // A budget of 1 ms: the tuner takes at most one measurement and stops (a full run is in test/tuning.test.ts).
    const r = await bench(['--arch', 'resnet18', '--size', '32', '--batch', '1', '--runs', '2', '--ceiling-size', '64', '--steps', 'none',
      '--tuning', 'heuristic,auto', '--tuning-budget', '1', '--json', json, '--quiet'], 600_000);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    assert.deepEqual(out.models.map((m) => [m.label, m.tuning?.mode]),
      [['resnet18 (tuning heuristic)', 'heuristic'], ['resnet18 (tuning auto)', 'auto']]);
    const [h, a] = out.models.map((m) => m.tuning!);
    assert.equal(h.measurements, 0);
    assert.ok(a.measurements <= 1, `${a.measurements} measurements within a 1 ms budget`);
    assert.equal(a.stopped, 'budget');
    assert.ok(a.shapes > 1 && a.tuned <= 1);
    assert.match(r.stdout, /on-device tuner/);
    assert.match(r.stdout, /tuned \/ heuristic time, side by side/);
    assert.match(r.stdout, /resnet18 +1 +\d+ +\d+ +\d\.\d{3}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const bad of [['--tuning', 'fast'], ['--tuning', 'auto,auto'], ['--micro', '--tuning', 'auto']]) {
    const r = await bench(bad, 60_000);
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
  }
});

test('bench --first: time to the first prediction of the embedded model per warmup, each in a fresh process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const json = join(dir, 'first.json');
    const r = await bench(['--first', '--arch', 'embedded', '--runs', '2', '--json', json, '--quiet'], 600_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /embedded \(fast-first\): first prediction [\d.]+ s/);
    const out = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    assert.deepEqual(out.first?.map((f) => f.warmup), ['fast-first', 'tuned']);
    const [fast, tuned] = out.first!;
    for (const f of out.first!) {
      assert.ok(f.firstPredictionMs > 0 && f.pipelines > 0 && f.compileMs > 0 && f.steadyMs > 0, JSON.stringify(f));
    }
    // The CPU-backed test adapters have first-use kernels: fewer pipelines first, the tuned ones compiled afterwards.
    assert.equal(tuned.readyMs, undefined);
    assert.ok(fast.readyMs !== undefined && fast.readyMs >= fast.firstPredictionMs, JSON.stringify(fast));
    assert.ok(fast.pipelines < tuned.pipelines && fast.pipelinesTotal > fast.pipelines, JSON.stringify(fast));
    const bad = await bench(['--first', '--warmup', 'slow'], 60_000);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--warmup: 'slow' is not fast-first or tuned/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --micro: one conv shape across kernel variants, each checked against the production kernel', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const json = join(dir, 'micro.json');
    const r = await bench(['--micro', '--shape', '1,12,12,32,32,3,1,1,8', '--variant', 'default', '--variant', 'v4',
      '--variant', '16x16', '--tuning', '{"tq":2,"jn":1,"direct":true}', '--runs', '2', '--json', json, '--quiet'], 300_000);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    assert.equal(out.micro?.length, 1);
    const [shape] = out.micro!;
    assert.deepEqual(shape.variants.map((v) => v.name), ['default', 'v4', '16x16', 'tuning1']);
    assert.match(shape.variants[3].tuning, /^8px x 4ch .*direct/);
    for (const v of shape.variants) {
      assert.equal(v.error, undefined);
      assert.ok(v.gflops > 0, `${v.name}: ${v.gflops}`);
      if (v.name !== 'default') assert.ok(v.maxDiff !== undefined && v.maxDiff < 1e-4, `${v.name}: max diff ${v.maxDiff}`);
    }
    const bad = await bench(['--micro', '--variant', 'no-such-kernel'], 60_000);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown kernel variant 'no-such-kernel'/);
    const badTuning = await bench(['--micro', '--tuning', '{"tq":2,"rows":3}'], 60_000);
    assert.equal(badTuning.status, 2);
    assert.match(badTuning.stderr, /--tuning: unknown field 'rows'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bench is a repository tool: npm run bench, not a command of the installed CLI', async () => {
  const r = await cli(['bench'], 60_000);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'bench'/);
});
