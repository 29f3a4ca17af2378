// Per-step wall-clock timing of a model's plan, for adapters without timestamp-query (llvmpipe).
//
// Builds the ops the runner builds (src/graph/steps.ts createStepOp) over activation buffers
// assigned by liveness (src/graph/memory.ts), reusing the model's own packed weight buffers, then
// runs each step in its own submit and waits for the queue: a step's time is the wall time of its
// submit, so the per-submit overhead (a fraction of a millisecond) is included and the sum is a
// little above one whole-plan submit. In Node the process CPU time of each step is recorded too
// (on a CPU-backed adapter that is the adapter's work, whatever else loads the machine).

import { QuietWait, type GpuContext } from '../src/gpu/device.js';
import { elementCount, f32Bytes, type GpuTensor } from '../src/gpu/buffers.js';
import type { Dispatch } from '../src/gpu/dispatch.js';
import { planBuffers } from '../src/graph/memory.js';
import { createStepOp, stepTensorShape, type Normalization, type StepWeights } from '../src/graph/steps.js';
import { buildPlan, type Step } from '../src/models/plan.js';
import type { ResNetConfig } from '../src/models/config.js';
import { cpuMs } from './clock.js';

export interface StepTime {
  name: string;
  kind: Step['kind'];
  /** Median wall ms of the step's submit. */
  ms: number;
  /** Median process CPU ms (all threads) of the step; undefined outside Node. */
  cpuMs?: number;
  /** 2 x multiply-adds of the step. */
  flops: number;
}

const STORAGE = 0x80;
const COPY_DST = 0x8;
const COPY_SRC = 0x4;

// The NCHW plan has no preprocess step: these values are never used.
const NO_NORMALIZATION: Normalization = { inputRange: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], resizeTo: 256 };

/**
 * Times every step of the NCHW -> logits plan of `config` at batch N, `runs` passes (median),
 * after one untimed pass. `weightsOf(step)` gives the packed weight buffer of a conv / linear step.
 */
export async function timeSteps(ctx: GpuContext, config: ResNetConfig, N: number, runs: number,
  weightsOf: (step: string) => StepWeights): Promise<StepTime[]> {
  const { device } = ctx;
  const plan = buildPlan(config, { input: 'nchw', head: 'logits' });
  const shapeOf = (name: string) => stepTensorShape(plan, name, N);
  const memory = planBuffers(plan, (name) => f32Bytes(shapeOf(name)));
  const owned: GPUBuffer[] = [];
  const buffer = (label: string, size: number) => {
    const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 16) * 16), usage: STORAGE | COPY_DST | COPY_SRC });
    owned.push(b);
    return b;
  };
  try {
    const slots = memory.slotBytes.map((bytes, i) => buffer(`step-timer activations ${i} (batch ${N})`, bytes));
    const tensors = new Map<string, GpuTensor>();
    for (const [name, slot] of memory.slotOf) tensors.set(name, { buffer: slots[slot], shape: shapeOf(name) });
    const inputShape = shapeOf(plan.input);
    const input = { buffer: buffer(`step-timer input (N, C, H, W) batch ${N}`, f32Bytes(inputShape)), shape: inputShape };
    const x = benchInput(elementCount(inputShape));
    device.queue.writeBuffer(input.buffer, 0, x.buffer as ArrayBuffer, x.byteOffset, x.byteLength);
    tensors.set(plan.input, input);

    const dispatches: Dispatch[] = [];
    for (const s of plan.steps) {
      const op = await createStepOp(ctx, s, N, NO_NORMALIZATION);
      const w = s.kind === 'conv' || s.kind === 'linear' ? weightsOf(s.name) : undefined;
      dispatches.push(op.bind(s.inputs.map((t) => tensors.get(t)!), tensors.get(s.output)!, w));
    }
    const waits = dispatches.map(() => new QuietWait(ctx));
    const submit = (i: number) => waits[i].run(() => {
      const d = dispatches[i];
      const encoder = device.createCommandEncoder({ label: d.label });
      const pass = encoder.beginComputePass({ label: d.label });
      d.encode(pass);
      pass.end();
      device.queue.submit([encoder.finish()]);
    }, () => device.queue.onSubmittedWorkDone());
    for (let i = 0; i < dispatches.length; i++) await submit(i);
    const wall = dispatches.map(() => [] as number[]);
    const cpu = dispatches.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < dispatches.length; i++) {
        const c0 = cpuMs();
        const t0 = performance.now();
        await submit(i);
        wall[i].push(performance.now() - t0);
        const c1 = cpuMs();
        if (c0 !== undefined && c1 !== undefined) cpu[i].push(c1 - c0);
      }
    }
    return plan.steps.map((s, i) => ({
      name: s.name, kind: s.kind, ms: median(wall[i]), cpuMs: cpu[i].length ? median(cpu[i]) : undefined, flops: dispatches[i].flops ?? 0,
    }));
  } finally {
    await device.queue.onSubmittedWorkDone();
    for (const b of owned) b.destroy();
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A deterministic, well-scaled benchmark input: values in [-1, 1). */
export function benchInput(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = ((i * 2654435761) % 1000) / 500 - 1;
  return x;
}
