// Activation buffer planning by liveness: every tensor a step writes gets a slot (one GPUBuffer),
// and a slot is reused once the last step reading its tensor has run. ResNets are nearly a
// chain, so a greedy in-order assignment is close to the minimum: a bottleneck block keeps its
// input, conv1's and conv2's outputs and the shortcut alive at once, and nothing more.

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
 * the output lives to the end. A step's output never shares a slot with its own inputs (the
 * kernels read and write different buffers), because inputs are released only after the output
 * has been placed.
 */
export function planBuffers(plan: Plan, bytesOf: (name: string) => number): MemoryPlan {
  const lastUse = new Map<string, number>();
  plan.steps.forEach((s, i) => { for (const t of s.inputs) lastUse.set(t, i); });
  lastUse.set(plan.output, Infinity);

  const slotBytes: number[] = [];
  const slotOf = new Map<string, number>();
  const free = new Set<number>();
  let unsharedBytes = 0;
  plan.steps.forEach((s, i) => {
    const need = bytesOf(s.output);
    unsharedBytes += need;
    // Best fit among the free slots; else grow the largest free one; else a new slot.
    let pick = -1;
    for (const k of free) {
      if (slotBytes[k] >= need && (pick < 0 || slotBytes[k] < slotBytes[pick])) pick = k;
    }
    if (pick < 0) {
      for (const k of free) if (pick < 0 || slotBytes[k] > slotBytes[pick]) pick = k;
    }
    if (pick < 0) { pick = slotBytes.length; slotBytes.push(0); }
    free.delete(pick);
    slotBytes[pick] = Math.max(slotBytes[pick], need);
    if (slotOf.has(s.output)) throw new Error(`plan: tensor '${s.output}' is written by two steps`);
    slotOf.set(s.output, pick);
    // Release what this step was the last reader of (and an output nobody reads).
    const done = s.inputs.filter((t) => lastUse.get(t) === i);
    if (!lastUse.has(s.output)) done.push(s.output);
    for (const t of done) {
      const k = slotOf.get(t);
      if (k !== undefined) free.add(k);
    }
  });
  return { slotBytes, slotOf, peakBytes: slotBytes.reduce((a, b) => a + b, 0), unsharedBytes };
}
