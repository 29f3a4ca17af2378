// Shader sources, feature variants and the pipeline cache.
//
// Every kernel lives in shaders/<name>.wgsl. Feature variants are written as `#if NAME` /
// `#elif NAME` / `#else` / `#endif` lines and resolved by wgsl-preprocessor; every NAME used
// by a shader must be given a value, so a typo fails loudly instead of silently dropping code.
// Tuning values are WGSL `override` constants, set per pipeline.

// The package's package.json names no entry point, so the file is imported by its path.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { isNode, keepAlive, type GpuContext } from './device.js';

/** One URL per kernel family; static so that bundlers (Vite) pick the files up. */
const SHADER_URLS = {
  conv2d: new URL('../../shaders/conv2d.wgsl', import.meta.url),
  pool2d: new URL('../../shaders/pool2d.wgsl', import.meta.url),
  linear: new URL('../../shaders/linear.wgsl', import.meta.url),
  softmax: new URL('../../shaders/softmax.wgsl', import.meta.url),
  topk: new URL('../../shaders/topk.wgsl', import.meta.url),
  preprocess: new URL('../../shaders/preprocess.wgsl', import.meta.url),
  layout: new URL('../../shaders/layout.wgsl', import.meta.url),
} as const;

export type ShaderName = keyof typeof SHADER_URLS;
export type Defines = Record<string, boolean>;

const sourceCache = new Map<ShaderName, Promise<string>>();

export function shaderSource(name: ShaderName): Promise<string> {
  let p = sourceCache.get(name);
  if (!p) {
    const url = SHADER_URLS[name];
    p = isNode
      ? import('node:fs/promises').then((fs) => fs.readFile(url, 'utf8'))
      : fetch(url).then((r) => {
        if (!r.ok) throw new Error(`could not load shader ${url}: HTTP ${r.status}`);
        return r.text();
      });
    sourceCache.set(name, p);
  }
  return p;
}

const DIRECTIVE = /#(if|elif)[ \t]+([A-Za-z_][A-Za-z0-9_]*)/g;

/** Resolves `#if NAME` blocks with wgsl-preprocessor, taking each NAME's value from `defines`. */
export function preprocess(source: string, defines: Defines, what = 'shader'): string {
  const strings: string[] = [];
  const values: boolean[] = [];
  let last = 0;
  for (const m of source.matchAll(DIRECTIVE)) {
    const name = m[2];
    if (!(name in defines)) throw new Error(`${what}: #${m[1]} ${name} has no value (defines: ${Object.keys(defines).join(', ') || 'none'})`);
    strings.push(source.slice(last, m.index) + `#${m[1]} `);
    values.push(defines[name]);
    last = m.index! + m[0].length;
  }
  strings.push(source.slice(last));
  const raw = Object.assign([...strings], { raw: strings }) as unknown as TemplateStringsArray;
  return wgsl(raw, ...values);
}

/** A compute pipeline built once per (shader, defines, overrides) and device. */
export interface PipelineKey {
  shader: ShaderName;
  defines?: Defines;
  overrides?: Record<string, number>;
  entryPoint?: string;
}

const pipelineCaches = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** What getPipeline compiled on one device (bench/first-prediction.ts reports it). */
export interface PipelineStats {
  /** Distinct pipelines compiled (cache misses that succeeded), and those being compiled now. */
  compiled: number;
  pending: number;
  /** Sum of the createComputePipelineAsync wall times (overlapping compilations each count in full). */
  compileMs: number;
  /** Each compiled pipeline's label and wall time, in completion order. */
  pipelines: { label: string; ms: number }[];
}

const statsOf = new WeakMap<GPUDevice, PipelineStats>();

/** Pipelines compiled so far on `ctx`'s device through getPipeline, and how long each took (live: updated in place). */
export function pipelineStats(ctx: GpuContext): PipelineStats {
  let s = statsOf.get(ctx.device);
  if (!s) statsOf.set(ctx.device, s = { compiled: 0, pending: 0, compileMs: 0, pipelines: [] });
  return s;
}

export function getPipeline(ctx: GpuContext, key: PipelineKey): Promise<GPUComputePipeline> {
  const { device } = ctx;
  let cache = pipelineCaches.get(device);
  if (!cache) pipelineCaches.set(device, cache = new Map());
  const id = JSON.stringify([key.shader, key.entryPoint ?? 'main', sorted(key.defines), sorted(key.overrides)]);
  let p = cache.get(id);
  if (!p) {
    p = (async () => {
      const code = preprocess(await shaderSource(key.shader), key.defines ?? {}, `${key.shader}.wgsl`);
      const label = `${key.shader}${describeVariant(key)}`;
      const module = device.createShaderModule({ label, code });
      const stats = pipelineStats(ctx);
      const start = performance.now();
      stats.pending++;
      const pipeline = await keepAlive(device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint: key.entryPoint ?? 'main', constants: key.overrides },
      })).catch(async (e: Error) => {
        const info = await module.getCompilationInfo();
        const msgs = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
        throw new Error(`pipeline ${label} failed: ${e.message}${msgs ? '\n' + msgs : ''}`);
      }).finally(() => stats.pending--);
      const ms = performance.now() - start;
      stats.compiled++;
      stats.compileMs += ms;
      stats.pipelines.push({ label, ms });
      return pipeline;
    })();
    p.catch(() => cache!.delete(id));
    cache.set(id, p);
  }
  return p;
}

function sorted<T>(o: Record<string, T> | undefined): [string, T][] {
  return Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function describeVariant(key: PipelineKey): string {
  const flags = sorted(key.defines).filter(([, v]) => v).map(([k]) => k);
  const ov = sorted(key.overrides).map(([k, v]) => `${k}=${v}`);
  const parts = [...flags, ...ov];
  return parts.length ? `[${parts.join(',')}]` : '';
}
