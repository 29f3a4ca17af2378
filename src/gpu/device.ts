// Device acquisition: the browser's navigator.gpu, or in Node the installed platform's adapter
// (src/node/device.ts: the `webgpu` package, Dawn).
//
// Adapter choice (option `adapter`, or env WEBGPU_ADAPTER in Node):
//   default     a hardware adapter if there is one, else SwiftShader
//   swiftshader Chromium's SwiftShader Vulkan ICD, core feature level
//   llvmpipe    Mesa's GLES driver (llvmpipe), compatibility feature level
// In the browser the choice is the browser's; only `default` is accepted there.

import { DeviceLostError, typedGpuError } from './errors.js';
import { ADAPTER_CHOICES, nodePlatform, type AdapterChoice, type AdapterSource } from '../platform.js';

export { ADAPTER_CHOICES, type AdapterChoice } from '../platform.js';

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: GPUAdapterInfo;
  featureLevel: 'core' | 'compatibility';
  /** Which path gave the adapter: a browser's, a hardware one, or a named software driver. */
  source: AdapterSource;
  /** True for CPU-backed adapters (SwiftShader, llvmpipe): kernels prefer barrier-free register tiles. */
  cpuBacked: boolean;
  hasTimestampQuery: boolean;
  /**
   * Sleep through most of a repeated job's expected time before awaiting its result (see QuietWait):
   * true in Node on SwiftShader, where queued work runs at submit on the same CPUs that the `webgpu`
   * package's polling of pending promises would take.
   */
  quietWait: boolean;
  /** Resolves when the device is lost; `lostReason` is set then. */
  lost: Promise<GPUDeviceLostInfo>;
  lostReason?: string;
  /** GPU errors no error scope caught (the device's 'uncapturederror' events) since checkDevice() last reported them. */
  uncaptured?: GPUError[];
}

export interface DeviceOptions {
  adapter?: AdapterChoice;
  /** Extra limits to ask for; each is clamped to what the adapter offers. */
  requiredLimits?: Record<string, number>;
}

export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

/** Limits worth raising above the defaults when the adapter offers more. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * True for adapters that run on the CPU: SwiftShader, llvmpipe / lavapipe / softpipe, WARP
 * ("Microsoft Basic Render Driver"), or any adapter flagged isFallbackAdapter.
 */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic/.test(text) ||
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
}

async function browserAdapter(choice: AdapterChoice): Promise<GPUAdapter> {
  if (choice !== 'default') {
    throw new WebGPUUnavailableError(`adapter '${choice}' can only be chosen in Node; the browser picks its own`);
  }
  const gpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
  if (!gpu && typeof process !== 'undefined' && process.versions?.node) {
    throw new WebGPUUnavailableError('in Node, import the package by its name (its "node" export condition installs ' +
      "Dawn, the 'webgpu' package) or, from the sources, src/node.ts");
  }
  if (!gpu) {
    throw new WebGPUUnavailableError(
      'this browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge (113+), ' +
      'Safari 26+, or Firefox 141+; on Linux Chrome needs --enable-unsafe-webgpu. ' +
      'The page must be served over https or from localhost.');
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGPUUnavailableError('navigator.gpu.requestAdapter() returned no adapter (WebGPU may be disabled or blocklisted)');
  return adapter;
}

/** What isWebGPUAvailable() found. */
export interface WebGPUAvailability {
  available: boolean;
  /** The adapter runs on the CPU (isSoftwareAdapter): it works, but large models are slow. */
  cpuFallback: boolean;
  /** Vendor / architecture / device / description of the adapter, when there is one. */
  adapter?: string;
  /** Why there is no adapter (the message acquireDevice would throw). */
  reason?: string;
}

/** The adapter's name: its non-empty info fields. */
export function adapterName(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ') || 'unknown';
}

/**
 * Whether acquireDevice() would find an adapter, without creating a device: cheap enough to call
 * before offering a model download. Never throws for a missing WebGPU; `reason` says why.
 */
export async function isWebGPUAvailable(options: { adapter?: AdapterChoice } = {}): Promise<WebGPUAvailability> {
  try {
    const platform = nodePlatform();
    const choice = options.adapter ?? platform?.defaultAdapter() ?? 'default';
    const adapter = platform ? (await platform.requestAdapter(choice)).adapter : await browserAdapter(choice);
    return { available: true, cpuFallback: isSoftwareAdapter(adapter.info), adapter: adapterName(adapter.info) };
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { available: false, cpuFallback: false, reason: e.message };
    throw e;
  }
}

/** Acquires an adapter and device, raising the limits that matter as far as the adapter allows. */
export async function acquireDevice(options: DeviceOptions = {}): Promise<GpuContext> {
  const platform = nodePlatform();
  const choice = options.adapter ?? platform?.defaultAdapter() ?? 'default';
  if (!(ADAPTER_CHOICES as readonly string[]).includes(choice)) {
    throw new WebGPUUnavailableError(`unknown adapter '${choice}': expected one of ${ADAPTER_CHOICES.join(', ')}`);
  }
  let adapter: GPUAdapter;
  let source: GpuContext['source'];
  if (platform) ({ adapter, source } = await platform.requestAdapter(choice));
  else { adapter = await browserAdapter(choice); source = 'browser'; }

  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapterLimits[name];
  for (const [name, value] of Object.entries(options.requiredLimits ?? {})) {
    const offered = adapterLimits[name];
    if (offered === undefined) throw new WebGPUUnavailableError(`unknown limit ${name}`);
    if (offered < value) {
      throw new WebGPUUnavailableError(`adapter limit ${name} is ${offered}, but ${value} is needed`);
    }
  }
  const requiredFeatures: GPUFeatureName[] = [];
  const hasTimestampQuery = adapter.features.has('timestamp-query');
  if (hasTimestampQuery) requiredFeatures.push('timestamp-query');
  // The subgroup conv family (shaders/conv2d-subgroup.wgsl) runs only on devices created with it.
  if (adapter.features.has('subgroups' as GPUFeatureName)) requiredFeatures.push('subgroups' as GPUFeatureName);
  // f16 storage in the kernels (precision 'f16'); without it they pack f16 pairs in u32 (core WGSL).
  if (adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');

  // A compatibility-level adapter lacks 'core-features-and-limits'.
  const featureLevel = adapter.features.has('core-features-and-limits' as GPUFeatureName) ? 'core' : 'compatibility';
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'resnext-runtime' });
  const ctx: GpuContext = {
    device,
    adapterInfo: adapter.info,
    featureLevel,
    source,
    cpuBacked: source === 'swiftshader' || source === 'llvmpipe' || isSoftwareAdapter(adapter.info),
    hasTimestampQuery,
    quietWait: platform !== undefined && source === 'swiftshader',
    lost: device.lost,
  };
  watchDevice(ctx, true);
  return ctx;
}

/**
 * Records on `ctx` the device's loss (`lostReason`) and the GPU errors no error scope caught
 * (`uncaptured`), for checkDevice() to report on the next call. With `silence`, the events are
 * marked handled (preventDefault), so that Dawn does not print them (on stdout in Node) nor the
 * browser on its console: they reach the caller as errors instead.
 */
export function watchDevice(ctx: GpuContext, silence: boolean): void {
  ctx.uncaptured ??= [];
  void ctx.device.lost.then((info) => {
    ctx.lostReason = `${info.reason}: ${info.message}`;
  });
  ctx.device.addEventListener('uncapturederror', (event) => {
    const e = event as GPUUncapturedErrorEvent;
    if (silence) e.preventDefault();
    const list = ctx.uncaptured ??= [];
    if (list.length < 16) list.push(e.error);
  });
}

/**
 * Throws a DeviceLostError when the device is lost, or the typed error (GpuOutOfMemoryError,
 * GpuValidationError, GpuError) of the first GPU error that no scope caught since the last check,
 * naming `what` the caller was doing; forgets the errors it reports.
 */
export function checkDevice(ctx: GpuContext, what: string): void {
  if (ctx.lostReason) {
    throw new DeviceLostError(`${what}: the GPU device was lost (${ctx.lostReason}); load the model again on a new device`);
  }
  const first = ctx.uncaptured?.[0];
  if (first) {
    ctx.uncaptured!.length = 0;
    throw typedGpuError(first, what);
  }
}

/**
 * Awaits `p` with a timer running. Dawn for Node (the `webgpu` package) does not keep Node's event
 * loop alive while createComputePipelineAsync or mapAsync is pending, so a script whose only
 * pending work is GPU work would exit (or abort) in the middle of it.
 */
export async function keepAlive<T>(p: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 50);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Waits for repeated GPU jobs (one inference of a given batch, say) without busy polling.
 *
 * While a mapAsync or onSubmittedWorkDone promise is pending, Dawn's binding for Node (the `webgpu`
 * package) polls the device from the main thread in a setImmediate loop. On SwiftShader, a CPU-backed
 * adapter whose worker threads run the queue as soon as it is submitted, that loop takes a CPU from
 * them: on a 2-CPU machine a ResNet-50 inference took 1.6x as long as with the main thread asleep
 * (bench/RESULTS.md). So when `ctx.quietWait` is set, `run()` sleeps on a timer for 85% of the job's
 * expected duration (submit to result) before it starts awaiting: the least of its last 4 runs, so
 * that one slow run does not make the next one sleep past its end. Nothing sleeps on other adapters,
 * or before a job's third run (the first may include compiling the pipelines, the second gives the
 * first estimate). llvmpipe, through Dawn's OpenGL backend, only makes progress while it is polled:
 * sleeping there would only add the sleep.
 * A run whose result was ready when the sleep ended took less than it measured: it counts as 70% of
 * the measurement, so that the estimate follows the work down quickly (from the second run, which
 * polled, the fourth is settled).
 */
export class QuietWait {
  private runs = 0;
  /** Durations (ms, submit to result) of the last runs, the first run's excepted. */
  private readonly recent: number[] = [];

  constructor(private readonly ctx: GpuContext) {}

  /** Runs `submit` (queue.submit of the job), sleeps if it can, then awaits `result` (its mapAsync or onSubmittedWorkDone). */
  async run<T>(submit: () => void, result: () => Promise<T>): Promise<T> {
    submit();
    const submittedAt = performance.now();
    let wokeAt: number | undefined;
    const sleepMs = this.recent.length ? 0.85 * Math.min(...this.recent) : 0;
    if (this.ctx.quietWait && sleepMs >= 2) {
      await new Promise((resolve) => setTimeout(resolve, sleepMs));
      wokeAt = performance.now();
    }
    const value = await result();
    const now = performance.now();
    const ms = now - submittedAt;
    const overslept = wokeAt !== undefined && now - wokeAt < Math.max(2, 0.02 * ms);
    if (++this.runs >= 2) {
      this.recent.push(overslept ? 0.7 * ms : ms);
      if (this.recent.length > 4) this.recent.shift();
    }
    return value;
  }
}

/** A short human-readable description: adapter, feature level, and the limits kernels care about. */
export function describeDevice(ctx: GpuContext): string {
  const i = ctx.adapterInfo;
  const l = ctx.device.limits;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  return [
    `adapter: ${adapterName(i)} (${ctx.source}, ${ctx.featureLevel} feature level${ctx.cpuBacked ? ', CPU-backed' : ''})`,
    `limits: maxStorageBufferBindingSize ${mib(l.maxStorageBufferBindingSize)}, maxBufferSize ${mib(l.maxBufferSize)}, ` +
      `workgroup storage ${l.maxComputeWorkgroupStorageSize} B, invocations/workgroup ${l.maxComputeInvocationsPerWorkgroup}, ` +
      `storage buffers/stage ${l.maxStorageBuffersPerShaderStage}`,
    `features: ${[...ctx.device.features].sort().join(', ') || 'none'}`,
  ].join('\n');
}
