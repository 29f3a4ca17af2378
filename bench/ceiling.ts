// The adapter's ceiling: the project's best GEMM kernel (conv2d.wgsl's 1x1 path with the runtime's
// tuning or, on CPU-backed adapters, that block with the SIMD lanes turned, whichever is faster) on a
// large square matmul, (S x S) times (S x S), S = 1024 by default. Model rates are
// reported as a fraction of it. Samples can be taken between model runs (sample()), so that the
// ceiling and the models see the same load on a shared machine.

import { QuietWait, type GpuContext } from '../src/gpu/device.js';
import { createTensor, uploadTensor } from '../src/gpu/buffers.js';
import { submitDispatches, type Dispatch } from '../src/gpu/dispatch.js';
import { Conv2d, type Conv2dDesc, type Conv2dTuning } from '../src/ops/conv2d.js';
import { Conv2dWeights } from '../src/ops/conv2d-weights.js';
import { cpuMs } from './clock.js';
import { benchInput, median } from './step-timer.js';

export interface CeilingResult {
  /** S of the S x S x S matmul. */
  size: number;
  flops: number;
  tuning: Conv2dTuning;
  samples: number;
  medianMs: number;
  minMs: number;
  /** flops / median wall time and / best wall time. */
  gflops: number;
  gflopsBest: number;
  /** Median process CPU ms per run (Node). */
  cpuMedianMs?: number;
}

export class Ceiling {
  private readonly wall: number[] = [];
  private readonly cpu: number[] = [];
  private readonly wait: QuietWait;

  private constructor(private readonly ctx: GpuContext, readonly size: number, private readonly conv: Conv2d,
    private readonly dispatch: Dispatch, private readonly buffers: { destroy(): void }[]) {
    this.wait = new QuietWait(ctx);
  }

  /** The GEMM as a 1x1 convolution: M = S pixels (a 1 x S image), C = K = S channels. */
  static async create(ctx: GpuContext, size = 1024): Promise<Ceiling> {
    if (!Number.isInteger(size) || size < 4) throw new Error(`ceiling size must be an integer >= 4, got ${size}`);
    const desc: Conv2dDesc = { N: 1, H: 1, W: size, C: size, K: size, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'none' };
    const label = `ceiling gemm ${size}^3`;
    const a = uploadTensor(ctx, `${label} A (M, K)`, benchInput(size * size), [1, 1, size, size]);
    const weights = benchInput(size * size).map((v) => v / Math.sqrt(size));
    const c = createTensor(ctx, `${label} C (M, N)`, [1, 1, size, size]);
    const runtime = await Conv2d.create(ctx, desc, label);
    // The runtime's tuning, and on CPU-backed adapters the same block with the SIMD lanes the other way
    // (the cost model is an estimate): the faster of the two, by the best of 5 runs each taken in
    // alternation (so that other load hits both alike), is the ceiling.
    const candidates = [runtime];
    const t = runtime.tuning;
    if (ctx.cpuBacked && t.family !== 'tiled') {
      candidates.push(await Conv2d.create(ctx, desc, label, { ...t, channelLanes: !t.channelLanes, wgX: t.wgY, wgY: t.wgX }));
    }
    const trials: Ceiling[] = [];
    for (const conv of candidates) {
      const b = Conv2dWeights.create(ctx, `${label} weights`, desc, weights);
      const trial = new Ceiling(ctx, size, conv, conv.bind(a, b, c), [b]);
      await trial.sample(); // warm-up: some drivers compile at the first dispatch
      trial.wall.length = 0;
      trials.push(trial);
    }
    for (let r = 0; r < (trials.length > 1 ? 5 : 0); r++) {
      for (const trial of trials) await trial.sample();
    }
    const bestMs = (trial: Ceiling) => Math.min(...trial.wall);
    const [ceiling, ...slower] = trials.sort((p, q) => bestMs(p) - bestMs(q));
    for (const trial of slower) trial.dispose();
    ceiling.buffers.push(a.buffer, c.buffer);
    ceiling.wall.length = 0;
    ceiling.cpu.length = 0;
    return ceiling;
  }

  /** Times `n` runs of the matmul (each its own submit, waited for). */
  async sample(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      const c0 = cpuMs();
      const t0 = performance.now();
      await this.wait.run(() => submitDispatches(this.ctx, this.conv.label, [this.dispatch]), () => this.ctx.device.queue.onSubmittedWorkDone());
      this.wall.push(performance.now() - t0);
      const c1 = cpuMs();
      if (c0 !== undefined && c1 !== undefined) this.cpu.push(c1 - c0);
    }
  }

  result(): CeilingResult {
    const flops = this.conv.flops;
    const medianMs = median(this.wall);
    const minMs = Math.min(...this.wall);
    return {
      size: this.size, flops, tuning: { ...this.conv.tuning }, samples: this.wall.length, medianMs, minMs,
      gflops: flops / medianMs / 1e6, gflopsBest: flops / minMs / 1e6,
      cpuMedianMs: this.cpu.length ? median(this.cpu) : undefined,
    };
  }

  dispose(): void {
    for (const b of this.buffers) b.destroy();
  }
}
