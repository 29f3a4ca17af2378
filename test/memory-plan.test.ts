// The activation buffer planner: no two tensors that are alive at the same time share a buffer,
// a step never writes the buffer it reads, and reuse brings the total well under one buffer per
// tensor. Lifetimes are recomputed here from the plan, independently of the planner.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getArchitecture } from '../src/models/config.js';
import { buildPlan, type Plan } from '../src/models/plan.js';
import { planBuffers } from '../src/graph/memory.js';
import { f32Bytes } from '../src/gpu/buffers.js';

function check(plan: Plan, N: number) {
  const bytes = (name: string) => f32Bytes([N, ...plan.tensors.get(name)!.shape]);
  const m = planBuffers(plan, bytes);
  // Lifetime of each step output: [index of its step, index of its last reader] (the output: the end).
  const life = new Map<string, [number, number]>();
  plan.steps.forEach((s, i) => {
    life.set(s.output, [i, s.output === plan.output ? plan.steps.length : i]);
    for (const t of s.inputs) if (life.has(t)) life.get(t)![1] = i;
  });
  const names = [...life.keys()];
  for (const a of names) {
    assert.ok(m.slotOf.has(a), `${a} has no buffer`);
    assert.ok(m.slotBytes[m.slotOf.get(a)!] >= bytes(a), `${a} does not fit its buffer`);
    for (const b of names) {
      if (a >= b || m.slotOf.get(a) !== m.slotOf.get(b)) continue;
      const [a0, a1] = life.get(a)!;
      const [b0, b1] = life.get(b)!;
      // Sharing is fine only when one is dead before the other is written (a reader may not be its writer).
      assert.ok(a1 < b0 || b1 < a0, `${a} [${a0}, ${a1}] and ${b} [${b0}, ${b1}] share buffer ${m.slotOf.get(a)}`);
    }
  }
  for (const s of plan.steps) {
    for (const t of s.inputs) assert.notEqual(m.slotOf.get(t), m.slotOf.get(s.output), `${s.name} reads and writes one buffer`);
  }
  // The most bytes alive during any one step: no assignment can use less than this.
  let maxLive = 0;
  plan.steps.forEach((_, i) => {
    let live = 0;
    for (const [t, [a0, a1]] of life) if (a0 <= i && i <= a1) live += bytes(t);
    maxLive = Math.max(maxLive, live);
  });
  return { ...m, maxLive };
}

test('ResNet / ResNeXt plans: live tensors never share a buffer; reuse cuts memory', () => {
  for (const arch of ['resnet18', 'resnet50', 'resnext101_32x4d', 'fbresnet152']) {
    for (const options of [{}, { input: 'image' as const, head: 'topk' as const, topK: 5 }]) {
      const m = check(buildPlan(getArchitecture(arch), options), 2);
      assert.ok(m.slotBytes.length <= 5, `${arch}: ${m.slotBytes.length} buffers`);
      assert.ok(m.peakBytes <= 1.25 * m.maxLive, `${arch}: peak ${m.peakBytes} vs the largest live set ${m.maxLive}`);
      assert.ok(m.peakBytes < m.unsharedBytes / 2, `${arch}: peak ${m.peakBytes} vs unshared ${m.unsharedBytes}`);
    }
  }
});

test('resnet50 batch 1 at 224x224: peak activation memory near the largest live set', () => {
  const plan = buildPlan(getArchitecture('resnet50'));
  const m = check(plan, 1);
  // In layer1 a bottleneck block holds its 56x56x256 input, conv1's and conv2's 56x56x64 outputs and
  // the 56x56x256 shortcut or output: the stem's 112x112x64 output (3.2 MB) and the 56x56x256 maps
  // (3.2 MB each) dominate. Four buffers of at most 3.2 MB.
  assert.ok(m.peakBytes <= 4 * 112 * 112 * 64 * 4, `peak ${m.peakBytes}`);
});
