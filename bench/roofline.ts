// The roofline view of a model's convolutions (src/ops/conv2d-traffic.ts): per conv layer of the plan,
// FLOPs, the bytes a kernel family with its launch geometry asks of global memory, the arithmetic
// intensity, and roofline times on assumed devices. Estimates on paper: no kernel runs here. Used by
// `npm run bench -- --layers` (the measured model with the adapter's pick) and by bench/roofline-table.ts
// (the tables of bench/RESULTS.md). Imports nothing from Node (the bench runs in the browser too).

import type { GpuContext } from '../src/gpu/device.js';
import type { ResNetConfig } from '../src/models/config.js';
import { buildPlan, type ConvStep } from '../src/models/plan.js';
import { convDesc } from '../src/graph/steps.js';
import { describeTuning, type Conv2dDesc, type Conv2dTuning, type RegisterTuning } from '../src/ops/conv2d-geometry.js';
import { hardwareConv2dTuning } from '../src/ops/conv2d-hardware.js';
import { registerConv2dTuning } from '../src/ops/conv2d-tuning.js';
import { conv2dTraffic, rooflineEstimate, type Conv2dTraffic, type RooflineDevice, type TrafficFamily } from '../src/ops/conv2d-traffic.js';

/** One conv layer of a plan at batch N. */
export interface ConvLayer {
  name: string;
  desc: Conv2dDesc;
}

/** The conv layers of `config` at batch N, in plan order. */
export function convLayers(config: ResNetConfig, N: number): ConvLayer[] {
  return buildPlan(config).steps.filter((s): s is ConvStep => s.kind === 'conv').map((s) => ({ name: s.name, desc: convDesc(s, N) }));
}

/** 'HxW C->K RxS/stride Ggroups' of a layer. */
export function shapeText(d: Conv2dDesc): string {
  return `${d.H}x${d.W} ${d.C}->${d.K} ${d.R}x${d.S}${d.stride > 1 ? '/' + d.stride : ''}${d.groups > 1 ? ' G' + d.groups : ''}` +
    `${d.epilogue.startsWith('residual') ? ' +res' : ''}${d.preAct ? ' pre' : ''}`;
}

/**
 * The hardware pick before the kernel families (main at 0a42c3c, what the tables of bench/RESULTS.md call
 * today's): the register family's launch geometry on a hardware (non-CPU) adapter with the WebGPU default
 * limits (registerConv2dTuning, asked through a context that has only what it reads).
 */
export function hardwarePick(desc: Conv2dDesc): RegisterTuning {
  const ctx = { cpuBacked: false, source: 'hardware', device: { limits: { maxComputeInvocationsPerWorkgroup: 256 } } } as unknown as GpuContext;
  return registerConv2dTuning(ctx, desc);
}

/**
 * The kernel families' pick on a hardware adapter of `vendor` (GPUAdapterInfo.vendor, e.g. 'apple',
 * 'nvidia') with the WebGPU default limits: the tiled rule table of src/ops/conv2d-hardware.ts.
 */
export function rulePick(vendor: string, desc: Conv2dDesc): Conv2dTuning {
  const limits = {
    maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256,
    maxComputeWorkgroupStorageSize: 16384, maxComputeWorkgroupsPerDimension: 65535, maxStorageBufferBindingSize: 128 << 20,
  };
  const ctx = { source: 'hardware', cpuBacked: false, adapterInfo: { vendor, architecture: '', device: '', description: '' }, device: { limits } };
  return hardwareConv2dTuning(ctx as unknown as GpuContext, desc);
}

/**
 * The traffic model's family for a runtime tuning: the tiled family with split-K as 'split-k'; the
 * subgroup family with subgroups of `subgroupSize` lanes.
 */
export function trafficFamilyOf(t: Conv2dTuning, subgroupSize: number): TrafficFamily {
  if (t.family === 'tiled') {
    return t.splitK > 1 ? { family: 'split-k', bm: t.bm, bn: t.bn, bk: t.bk, splits: t.splitK } : { family: 'tiled', bm: t.bm, bn: t.bn, bk: t.bk };
  }
  if (t.family === 'subgroup') return { family: 'subgroup', tq: t.tq, jn: t.jn, wg: t.wg, subgroupSize };
  return { family: 'register', tuning: t };
}

/** One layer's traffic per family (same order as the families given). */
export interface LayerTraffic {
  name: string;
  /** Layers of the same shape merged into this row (bench/roofline-table.ts merges them). */
  count: number;
  desc: Conv2dDesc;
  traffic: Conv2dTraffic[];
}

/** Per layer, the traffic of each family; `familiesOf` gives a layer's families (the pick depends on the shape). */
export function layerTraffic(layers: ConvLayer[], familiesOf: (d: Conv2dDesc) => TrafficFamily[]): LayerTraffic[] {
  return layers.map((l) => ({ name: l.name, count: 1, desc: l.desc, traffic: familiesOf(l.desc).map((f) => conv2dTraffic(l.desc, f)) }));
}

/** Rows of the same shape merged (first name, count): the repeated blocks of a stage. */
export function mergeSameShape(rows: LayerTraffic[]): LayerTraffic[] {
  const out = new Map<string, LayerTraffic>();
  for (const r of rows) {
    const key = JSON.stringify(r.desc);
    const seen = out.get(key);
    if (seen) seen.count += r.count;
    else out.set(key, { ...r });
  }
  return [...out.values()];
}

export const mb = (bytes: number) => (bytes / 1e6).toFixed(2);
export const mflop = (flops: number) => (flops / 1e6).toFixed(1);

/** The whole model: sums over layers (each row counted `count` times). */
export function totals(rows: LayerTraffic[]): { flops: number; bytes: number[]; compulsory: number } {
  const n = rows[0]?.traffic.length ?? 0;
  return {
    flops: rows.reduce((a, r) => a + r.count * r.traffic[0].flops, 0),
    bytes: Array.from({ length: n }, (_, i) => rows.reduce((a, r) => a + r.count * r.traffic[i].bytes.total, 0)),
    compulsory: rows.reduce((a, r) => a + r.count * r.traffic[0].compulsoryBytes, 0),
  };
}

/** Header and cells of the traffic table: layer, shape, MFLOP, then MB and FLOP/byte per family; a total row last. */
export function trafficCells(rows: LayerTraffic[], familyNames: string[]): { header: string[]; cells: string[][] } {
  const header = ['layer', 'shape', 'MFLOP', 'min MB', ...familyNames.flatMap((f) => [`${f} MB`, `${f} F/B`])];
  const cells = rows.map((r) => [
    r.count > 1 ? `${r.name} (x${r.count})` : r.name, shapeText(r.desc), mflop(r.traffic[0].flops), mb(r.traffic[0].compulsoryBytes),
    ...r.traffic.flatMap((t) => [mb(t.bytes.total), t.intensity.toFixed(1)]),
  ]);
  const tot = totals(rows);
  cells.push(['total', '', mflop(tot.flops), mb(tot.compulsory), ...tot.bytes.flatMap((b) => [mb(b), (tot.flops / b).toFixed(1)])]);
  return { header, cells };
}

/** Header and cells of a roofline table on `device`: per family the estimated ms (m: memory-bound); a total row last. */
export function rooflineCells(rows: LayerTraffic[], familyNames: string[], device: RooflineDevice): { header: string[]; cells: string[][] } {
  const header = ['layer', 'floor ms', ...familyNames.map((f) => `${f} ms`)];
  const sums = new Array<number>(familyNames.length).fill(0);
  let floor = 0;
  const ms = (v: number) => v.toFixed(3);
  const cells = rows.map((r) => {
    const est = r.traffic.map((t) => rooflineEstimate(t, device));
    est.forEach((e, i) => { sums[i] += r.count * e.ms; });
    // The floor: the least of the families' floors (compulsory bytes, each family's executed FLOPs).
    const f = Math.min(...est.map((e) => e.floorMs));
    floor += r.count * f;
    return [r.count > 1 ? `${r.name} (x${r.count})` : r.name, ms(f), ...est.map((e) => `${ms(e.ms)}${e.bound === 'memory' ? ' m' : ''}`)];
  });
  cells.push(['total', ms(floor), ...sums.map(ms)]);
  return { header, cells };
}

/** A markdown table. */
export function markdownTable(header: string[], cells: string[][]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...cells.map(line)].join('\n');
}

/** The per-layer view the bench prints (--layers): FLOPs, bytes for the adapter's pick, intensity. */
export interface LayerView {
  name: string;
  shape: string;
  tuning: string;
  flops: number;
  bytes: number;
  compulsoryBytes: number;
  intensity: number;
  workgroups: number;
}

/**
 * The layers of `config` at batch N with the traffic of the tuning `pick` gives each (the runtime's pick on
 * the bench's adapter), subgroup tunings with subgroups of `subgroupSize` lanes.
 */
export async function layerViews(config: ResNetConfig, N: number, pick: (d: Conv2dDesc) => Promise<Conv2dTuning>,
  subgroupSize: number): Promise<LayerView[]> {
  const views: LayerView[] = [];
  for (const l of convLayers(config, N)) {
    const tuning = await pick(l.desc);
    const t = conv2dTraffic(l.desc, trafficFamilyOf(tuning, subgroupSize));
    views.push({
      name: l.name, shape: shapeText(l.desc), tuning: describeTuning(tuning), flops: t.flops, bytes: t.bytes.total,
      compulsoryBytes: t.compulsoryBytes, intensity: t.intensity, workgroups: t.workgroups,
    });
  }
  return views;
}
