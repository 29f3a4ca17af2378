// Per-step wall-clock timing of a model's plan, for adapters without timestamp-query (llvmpipe).
//
// Builds the runner's own instance of the NCHW -> logits plan (src/graph/instance.ts createInstance),
// bound to the model's packed weights, and runs it step by step with the runner's step loop
// (runSteps: each step in its own submit, waited for): a step's time is the wall time of its
// submit, so the per-submit overhead (a fraction of a millisecond) is included and the sum is a
// little above one whole-plan submit. In Node the process CPU time of each step is recorded too
// (on a CPU-backed adapter that is the adapter's work, whatever else loads the machine).

import type { GpuContext } from '../src/gpu/device.js';
import type { RawImage } from '../src/image/decode.js';
import { elementCount } from '../src/gpu/buffers.js';
import { createInstance, destroyInstance, runSteps, stepFlops } from '../src/graph/instance.js';
import type { Normalization, StepWeights } from '../src/graph/steps.js';
import type { Step } from '../src/models/plan.js';
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

// The NCHW plan has no preprocess step: these values are never used.
const NO_NORMALIZATION: Normalization = { inputRange: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], resizeTo: 256 };

/**
 * Times every step of the NCHW -> logits plan of `config` at batch N, `runs` passes (median),
 * after one untimed pass. `weightsOf(step)` gives the packed weights of a conv / linear step.
 */
export async function timeSteps(ctx: GpuContext, config: ResNetConfig, N: number, runs: number,
  weightsOf: (step: string) => StepWeights): Promise<StepTime[]> {
  const inst = await createInstance(ctx, config, { input: 'nchw', head: 'logits', topK: 0, batch: N }, NO_NORMALIZATION, weightsOf);
  try {
    const input = inst.input!;
    const x = benchInput(elementCount(input.shape));
    ctx.device.queue.writeBuffer(input.buffer, 0, x.buffer as ArrayBuffer, x.byteOffset, x.byteLength);
    const steps = inst.plan.steps;
    const wall = steps.map(() => [] as number[]);
    const cpu = steps.map(() => [] as number[]);
    for (let r = -1; r < runs; r++) {
      let t0 = 0;
      let c0: number | undefined;
      await runSteps(ctx, inst, {
        before: () => {
          c0 = cpuMs();
          t0 = performance.now();
        },
        after: (i) => {
          if (r < 0) return;
          wall[i].push(performance.now() - t0);
          const c1 = cpuMs();
          if (c0 !== undefined && c1 !== undefined) cpu[i].push(c1 - c0);
        },
      });
    }
    return steps.map((s, i) => ({
      name: s.name, kind: s.kind, ms: median(wall[i]), cpuMs: cpu[i].length ? median(cpu[i]) : undefined,
      flops: stepFlops(inst, i),
    }));
  } finally {
    await ctx.device.queue.onSubmittedWorkDone();
    destroyInstance(inst);
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

/** A deterministic size x size benchmark image (opaque RGBA pixels). */
export function benchImage(size: number): RawImage {
  const data = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : (i * 37) % 251;
  return { width: size, height: size, data };
}
