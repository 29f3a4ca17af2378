// Activation buffer planning by liveness: every tensor a step writes gets a slot (one GPUBuffer),
// and tensors whose lifetimes do not overlap share a slot. Assignment is "greedy by size" (as in
// TensorFlow Lite's arena planner): the largest tensors are placed first, each in the first slot
// whose tensors are all dead while it lives, else in a new slot; a slot is as large as its first
// (largest) tensor. A ResNet block keeps its input, conv1's and conv2's outputs and the shortcut
// alive at once, so a whole network needs about four slots.

import type { Plan } from '../models/plan.js';

export interface MemoryPlan {
  /** Size in bytes of each slot (the largest tensor it ever holds). */
  slotBytes: number[];
  /** Tensor name -> slot index, for every tensor produced by a step. */
  slotOf: Map<string, number>;
  /** Sum of slot sizes: the activation memory of one instance of the plan. */
  peakBytes: number;
  /** What one buffer per tensor would take, for comparison. */
  unsharedBytes: number;
}

/**
 * Assigns every step output of `plan` to a slot. `bytesOf(name)` gives a tensor's size for the
 * batch being planned. Tensors with role 'input' are not planned (the runner uploads into them);
 * the output lives to the end. A tensor lives from the step that writes it to the last step that
 * reads it, both included, so a step's output never shares a slot with its own inputs (the
 * kernels read and write different buffers).
 */
export function planBuffers(plan: Plan, bytesOf: (name: string) => number): MemoryPlan {
  const life = new Map<string, { name: string; first: number; last: number; bytes: number }>();
  plan.steps.forEach((s, i) => {
    if (life.has(s.output)) throw new Error(`plan: tensor '${s.output}' is written by two steps`);
    for (const t of s.inputs) {
      const l = life.get(t);
      if (l) l.last = i;
    }
    life.set(s.output, { name: s.output, first: i, last: s.output === plan.output ? plan.steps.length : i, bytes: bytesOf(s.output) });
  });

  // Largest first; ties in plan order, so the result does not depend on the sort's stability.
  const order = [...life.values()].sort((a, b) => b.bytes - a.bytes || a.first - b.first);
  const slots: { bytes: number; tensors: { first: number; last: number }[] }[] = [];
  const slotOf = new Map<string, number>();
  for (const t of order) {
    let k = slots.findIndex((slot) => slot.tensors.every((o) => o.last < t.first || t.last < o.first));
    if (k < 0) {
      k = slots.length;
      slots.push({ bytes: t.bytes, tensors: [] });
    }
    slots[k].tensors.push(t);
    slotOf.set(t.name, k);
  }
  const slotBytes = slots.map((s) => s.bytes);
  const unsharedBytes = [...life.values()].reduce((n, t) => n + t.bytes, 0);
  return { slotBytes, slotOf, peakBytes: slotBytes.reduce((a, b) => a + b, 0), unsharedBytes };
}
