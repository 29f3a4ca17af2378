// Kernel microbenchmark: one convolution shape across kernel variants (bench/variants.ts), GFLOP/s
// each. Variants are timed in alternation (round-robin) so that other load on the machine hits them
// alike; each variant's output is compared with the production kernel's (max |diff|).

import { readFile } from 'node:fs/promises';
import { QuietWait, type GpuContext } from '../src/gpu/device.js';
import { checkBindingSize, createTensor, readTensor, uploadBuffer, uploadTensor, type GpuTensor } from '../src/gpu/buffers.js';
import { boundDispatch, submitDispatches, uniformBuffer, type Dispatch } from '../src/gpu/dispatch.js';
import { preprocess } from '../src/gpu/shaders.js';
import { Conv2d, type Conv2dDesc } from '../src/ops/conv2d.js';
import { conv2dFlops, conv2dOutputSize, describeTuning } from '../src/ops/conv2d-geometry.js';
import { cpuThreads, defaultConv2dTuning } from '../src/ops/conv2d-tuning.js';
import { Conv2dWeights, packConv2dWeights } from '../src/ops/conv2d-weights.js';
import { cpuMs, cpuRate } from './clock.js';
import { benchInput, median } from './step-timer.js';
import type { KernelVariant } from './variants.js';

export interface MicroVariantResult {
  name: string;
  tuning: string;
  medianMs: number;
  gflops: number;
  gflopsBest: number;
  cpuGflops?: number;
  /** max |output - production kernel's output|. */
  maxDiff?: number;
  error?: string;
}

export interface MicroResult {
  shape: string;
  desc: Conv2dDesc;
  flops: number;
  variants: MicroVariantResult[];
}

/** Layers worth watching: the ResNet-50 / ResNeXt-101 32x4d shapes that take the most time, and the stem. */
export const MICRO_SHAPES: Record<string, Conv2dDesc> = {
  'resnet50 layer1 3x3 56x56 64->64': { N: 1, H: 56, W: 56, C: 64, K: 64, R: 3, S: 3, stride: 1, pad: 1, groups: 1, epilogue: 'relu' },
  'resnext101_32x4d layer1 3x3 G32 56x56 128': { N: 1, H: 56, W: 56, C: 128, K: 128, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  'resnext101_32x4d layer3 3x3 G32 14x14 512': { N: 1, H: 14, W: 14, C: 512, K: 512, R: 3, S: 3, stride: 1, pad: 1, groups: 32, epilogue: 'relu' },
  'resnext101_32x4d layer3 1x1 14x14 1024->512': { N: 1, H: 14, W: 14, C: 1024, K: 512, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'relu' },
  'resnet50 layer4 1x1 7x7 512->2048 +res': { N: 1, H: 7, W: 7, C: 512, K: 2048, R: 1, S: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual-relu' },
  'stem 7x7/2 224x224 3->64': { N: 1, H: 224, W: 224, C: 3, K: 64, R: 7, S: 7, stride: 2, pad: 3, groups: 1, epilogue: 'relu' },
};

/** Parses 'N,H,W,C,K,R,stride,pad,groups[,epilogue]'. */
export function parseShape(text: string): Conv2dDesc {
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.slice(0, 9).map(Number);
  if (parts.length < 9 || nums.some((n) => !Number.isInteger(n))) {
    throw new Error(`--shape '${text}': expected N,H,W,C,K,R,stride,pad,groups[,none|relu|residual-relu] (integers)`);
  }
  const [N, H, W, C, K, R, stride, pad, groups] = nums;
  const epilogue = (parts[9] ?? 'relu') as Conv2dDesc['epilogue'];
  return { N, H, W, C, K, R, S: R, stride, pad, groups, epilogue };
}

export function describeShape(d: Conv2dDesc): string {
  const [P, Q] = conv2dOutputSize(d);
  return `N${d.N} ${d.H}x${d.W}x${d.C} -> ${P}x${Q}x${d.K} ${d.R}x${d.S}/${d.stride} pad ${d.pad} G${d.groups} ${d.epilogue}`;
}

const sources = new Map<string, Promise<string>>();
function variantSource(file: string): Promise<string> {
  let p = sources.get(file);
  if (!p) sources.set(file, p = readFile(new URL(`./kernels/${file}`, import.meta.url), 'utf8'));
  return p;
}

/**
 * The dispatch of a bench/kernels/ variant for `conv`'s shape and tuning: the variant's source with the
 * production pipeline's defines and overrides, Params and grid, and the packed weights in a storage
 * buffer (binding 2) instead of a texture. `owned` collects the GPU objects made here.
 */
async function bufferWeightsDispatch(ctx: GpuContext, conv: Conv2d, source: string, weight: Float32Array, bias: Float32Array,
  x: GpuTensor, y: GpuTensor, residual: GpuTensor | undefined, owned: { destroy(): void }[]): Promise<Dispatch> {
  const label = `${conv.label} (${conv.layout.length} floats of weights in a buffer)`;
  const { defines, overrides } = conv.pipelineKey;
  const module = ctx.device.createShaderModule({ label, code: preprocess(source, defines, label) });
  const pipeline = await ctx.device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint: 'main', constants: overrides } });
  checkBindingSize(ctx, conv.layout.length * 4, `${label}: packed weights`);
  const weights = uploadBuffer(ctx, `${conv.label} weights`, packConv2dWeights(conv.layout, weight, bias));
  owned.push(weights);
  const tensors = conv.tensorBindings(x, y, residual);
  const uniform = uniformBuffer(ctx, conv.label, conv.params);
  const entries: GPUBindGroupEntry[] = [
    { binding: 0, resource: { buffer: uniform } },
    { binding: 1, resource: tensors.input },
    { binding: 2, resource: { buffer: weights, size: conv.layout.length * 4 } },
    { binding: 4, resource: tensors.output },
  ];
  if (tensors.residual) entries.push({ binding: 3, resource: tensors.residual });
  const bindGroup = ctx.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
  return boundDispatch(label, pipeline, bindGroup, conv.grid, [uniform], conv.flops);
}

export async function benchShape(ctx: GpuContext, name: string, desc: Conv2dDesc, variants: KernelVariant[], runs: number,
  cpus: number): Promise<MicroResult> {
  const label = `micro ${name}`;
  const x = uploadTensor(ctx, `${label} input`, benchInput(desc.N * desc.H * desc.W * desc.C), [desc.N, desc.H, desc.W, desc.C]);
  const L = desc.R * desc.S * (desc.C / desc.groups);
  const weight = benchInput(desc.K * L).map((v) => v * Math.sqrt(3 / L));
  const bias = benchInput(desc.K).map((v) => v * 0.1);
  const [P, Q] = conv2dOutputSize(desc);
  const residual = desc.epilogue === 'residual-relu'
    ? uploadTensor(ctx, `${label} residual`, benchInput(desc.N * P * Q * desc.K), [desc.N, P, Q, desc.K]) : undefined;
  const buffers: { destroy(): void }[] = [x.buffer];
  if (residual) buffers.push(residual.buffer);

  type Live = { v: KernelVariant; conv?: Conv2d; dispatch?: Dispatch; output?: ReturnType<typeof createTensor>; wait: QuietWait; wall: number[]; cpu: number[]; error?: string };
  const live: Live[] = [];
  const runtime = defaultConv2dTuning(ctx, desc, ctx.cpuBacked ? await cpuThreads() : undefined);
  for (const v of variants) {
    const entry: Live = { v, wait: new QuietWait(ctx), wall: [], cpu: [] };
    live.push(entry);
    try {
      const conv = await Conv2d.create(ctx, desc, `${label} ${v.name}`, v.tuning?.(ctx, desc, runtime));
      const y = createTensor(ctx, `${label} ${v.name} output`, conv.outputShape);
      buffers.push(y.buffer);
      ctx.device.pushErrorScope('validation');
      if (v.file) {
        entry.dispatch = await bufferWeightsDispatch(ctx, conv, await variantSource(v.file), weight, bias, x, y, residual, buffers);
      } else {
        const w = Conv2dWeights.create(ctx, `${label} ${v.name} weights`, desc, weight, bias);
        buffers.push(w);
        entry.dispatch = conv.bind(x, w, y, residual);
      }
      submitDispatches(ctx, label, [entry.dispatch]); // warm-up (drivers that compile at the first dispatch)
      await ctx.device.queue.onSubmittedWorkDone();
      const err = await ctx.device.popErrorScope();
      if (err) throw new Error(err.message);
      entry.conv = conv;
      entry.output = y;
    } catch (e) {
      entry.error = (e as Error).message.split('\n')[0];
      entry.dispatch = undefined;
    }
  }
  for (let r = 0; r < runs; r++) {
    for (const e of live) {
      if (!e.dispatch) continue;
      const c0 = cpuMs();
      const t0 = performance.now();
      await e.wait.run(() => submitDispatches(ctx, label, [e.dispatch!]), () => ctx.device.queue.onSubmittedWorkDone());
      e.wall.push(performance.now() - t0);
      const c1 = cpuMs();
      if (c0 !== undefined && c1 !== undefined) e.cpu.push(c1 - c0);
    }
  }
  const flops = conv2dFlops(desc);
  const reference = live.find((e) => e.output);
  const refValues = reference ? await readTensor(ctx, reference.output!) : undefined;
  const results: MicroVariantResult[] = [];
  for (const e of live) {
    if (!e.conv) { results.push({ name: e.v.name, tuning: '-', medianMs: NaN, gflops: NaN, gflopsBest: NaN, error: e.error }); continue; }
    let maxDiff: number | undefined;
    if (refValues && e !== reference) {
      const got = await readTensor(ctx, e.output!);
      maxDiff = 0;
      for (let i = 0; i < got.length; i++) {
        const d = Math.abs(got[i] - refValues[i]);
        maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
      }
    }
    const medianMs = median(e.wall);
    results.push({
      name: e.v.name, tuning: describeTuning(e.conv.tuning), medianMs, gflops: flops / medianMs / 1e6,
      gflopsBest: flops / Math.min(...e.wall) / 1e6, cpuGflops: cpuRate(flops, e.cpu.length ? median(e.cpu) : undefined, cpus), maxDiff,
    });
  }
  await ctx.device.queue.onSubmittedWorkDone();
  for (const b of buffers) b.destroy();
  return { shape: `${name}: ${describeShape(desc)}`, desc, flops, variants: results };
}
