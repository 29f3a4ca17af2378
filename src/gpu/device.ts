// Device acquisition for the browser (navigator.gpu) and Node (the `webgpu` package, Dawn).
//
// Adapter choice (option `adapter`, or env WEBGPU_ADAPTER in Node):
//   default     a hardware adapter if there is one, else SwiftShader
//   swiftshader Chromium's SwiftShader Vulkan ICD, core feature level
//   llvmpipe    Mesa's GLES driver (llvmpipe), compatibility feature level
// In the browser the choice is the browser's; only `default` is accepted there.

export type AdapterChoice = 'default' | 'swiftshader' | 'llvmpipe';
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['default', 'swiftshader', 'llvmpipe'];

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: GPUAdapterInfo;
  featureLevel: 'core' | 'compatibility';
  /** Which path gave the adapter: a browser's, a hardware one, or a named software driver. */
  source: 'browser' | 'hardware' | 'swiftshader' | 'llvmpipe';
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
}

export interface DeviceOptions {
  adapter?: AdapterChoice;
  /** Extra limits to ask for; each is clamped to what the adapter offers. */
  requiredLimits?: Record<string, number>;
}

export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Folders where Linux distributions put shared libraries (the dynamic loader's default search path). */
const LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];

/** The system libraries each Node adapter path loads at run time, and the Debian packages that ship them. */
const DRIVER_LIBRARIES = {
  swiftshader: [
    { file: 'libvulkan.so.1', what: 'the Vulkan loader', packages: 'libvulkan1' },
    { file: 'chromium/libvk_swiftshader.so', what: "SwiftShader's Vulkan driver", packages: 'chromium' },
  ],
  llvmpipe: [
    { file: 'libEGL.so.1', what: 'the EGL loader', packages: 'libegl1' },
    { file: 'libEGL_mesa.so.0', what: "Mesa's EGL driver", packages: 'libegl-mesa0' },
    { file: 'libGLESv2.so.2', what: 'the GLES library', packages: 'libgles2' },
  ],
} as const;

/**
 * Why a Node adapter path gave no adapter: the first system library it needs that is not in the
 * usual library folders (or LD_LIBRARY_PATH), with the package that installs it; `exists` is
 * injectable for tests. Undefined when every library is there.
 */
export function missingDriverLibrary(driver: 'swiftshader' | 'llvmpipe', exists: (path: string) => boolean,
  libraryPath = typeof process !== 'undefined' ? process.env.LD_LIBRARY_PATH ?? '' : ''): string | undefined {
  const dirs = [...libraryPath.split(':').filter((d) => d), ...LIBRARY_DIRS];
  const missing = DRIVER_LIBRARIES[driver].filter((lib) => !dirs.some((d) => exists(`${d}/${lib.file}`)));
  if (missing.length === 0) return undefined;
  return missing.map((lib) => `${lib.what} (${lib.file.split('/').pop()}) is missing`).join(', ') +
    `: install it with apt-get install ${[...new Set(missing.map((lib) => lib.packages))].join(' ')} ` +
    '(npm test and npm start do this themselves through scripts/setup.mjs)';
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

export const isNode = typeof process !== 'undefined' && !!process.versions?.node;

export function adapterChoiceFromEnv(): AdapterChoice {
  const v = typeof process !== 'undefined' ? process.env.WEBGPU_ADAPTER : undefined;
  if (v === undefined || v === '') return 'default';
  if (!(ADAPTER_CHOICES as readonly string[]).includes(v)) {
    throw new WebGPUUnavailableError(`WEBGPU_ADAPTER=${v} is not one of ${ADAPTER_CHOICES.join(', ')}`);
  }
  return v as AdapterChoice;
}

/**
 * True for adapters that run on the CPU: SwiftShader, llvmpipe / lavapipe / softpipe, WARP
 * ("Microsoft Basic Render Driver"), or any adapter flagged isFallbackAdapter.
 */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic/.test(text) ||
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
}

type NodeGpu = { create(flags: string[]): GPU; globals: object };
let nodeGpuModule: Promise<NodeGpu> | undefined;
/**
 * Every Dawn instance created, kept for the life of the process: once a GPU object is garbage
 * collected, work Dawn still has in flight (async pipeline creation) crashes the process.
 */
const liveInstances: GPU[] = [];

async function nodeGpu(): Promise<NodeGpu> {
  nodeGpuModule ??= import('webgpu').then((m) => {
    Object.assign(globalThis, m.globals); // GPUBufferUsage, GPUMapMode, ...
    return m as unknown as NodeGpu;
  }).catch((e: unknown) => {
    throw new WebGPUUnavailableError(
      `the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}. Run npm install.`);
  });
  const m = await nodeGpuModule;
  return {
    globals: m.globals,
    create(flags: string[]): GPU {
      const gpu = m.create(flags);
      liveInstances.push(gpu);
      return gpu;
    },
  };
}

/**
 * Vulkan ICD manifests of hardware drivers (the loader's standard folders, minus software drivers),
 * or none when Linux shows no GPU device node: probing drivers without a GPU only prints warnings.
 */
async function hardwareVulkanIcds(): Promise<string[]> {
  const { readdirSync } = await import('node:fs');
  const list = (dir: string) => { try { return readdirSync(dir); } catch { return []; } };
  if (process.platform === 'linux' && !list('/dev/dri').some((f) => f.startsWith('renderD')) &&
    !list('/dev').some((f) => /^nvidia\d/.test(f))) return [];
  const dirs = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];
  return dirs.flatMap((dir) => list(dir)
    .filter((f) => f.endsWith('.json') && !/lvp|lavapipe|swiftshader/i.test(f)).map((f) => `${dir}/${f}`));
}

async function nodeAdapter(choice: AdapterChoice): Promise<{ adapter: GPUAdapter; source: GpuContext['source'] }> {
  const { existsSync, mkdirSync } = await import('node:fs');
  // Mesa complains loudly without a runtime dir.
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = '/tmp/xdg-runtime';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  const gpuModule = await nodeGpu();

  if (choice === 'llvmpipe') {
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = gpuModule.create(['backend=opengles']);
    const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (!adapter) {
      const why = missingDriverLibrary('llvmpipe', existsSync) ??
        'its libraries are installed, so Mesa\'s EGL driver refused the device (run with EGL_LOG_LEVEL=debug to see why)';
      throw new WebGPUUnavailableError(`no llvmpipe adapter: ${why}`);
    }
    return { adapter, source: 'llvmpipe' };
  }

  if (choice === 'default' && process.platform !== 'linux') {
    // macOS (Metal) and Windows (D3D12): Dawn's own choice of backend.
    const adapter = await gpuModule.create([]).requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return { adapter, source: isSoftwareAdapter(adapter.info) ? 'swiftshader' : 'hardware' };
    throw new WebGPUUnavailableError('Dawn found no GPU adapter on this machine');
  }
  if (choice === 'default' && !process.env.VK_ICD_FILENAMES) {
    // A hardware Vulkan adapter, if the system has one. Only hardware drivers' ICDs are offered to
    // the probe: Mesa's lavapipe would be rejected by Dawn with a warning on stderr.
    const icds = await hardwareVulkanIcds();
    if (icds.length > 0) {
      process.env.VK_ICD_FILENAMES = icds.join(':');
      try {
        const adapter = await gpuModule.create(['backend=vulkan']).requestAdapter({ powerPreference: 'high-performance' });
        if (adapter && !isSoftwareAdapter(adapter.info)) return { adapter, source: 'hardware' };
      } finally {
        delete process.env.VK_ICD_FILENAMES;
      }
    }
  }
  if (choice === 'default' && process.env.VK_ICD_FILENAMES) {
    // The caller picked a Vulkan driver explicitly: use it as is.
    const adapter = await gpuModule.create(['backend=vulkan']).requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return { adapter, source: isSoftwareAdapter(adapter.info) ? 'swiftshader' : 'hardware' };
  }

  if (!existsSync(SWIFTSHADER_ICD)) {
    throw new WebGPUUnavailableError(
      `no ${choice === 'default' ? 'hardware GPU adapter and no ' : ''}SwiftShader adapter: ${SWIFTSHADER_ICD} is missing. ` +
      'Install Debian\'s chromium (apt-get install chromium), which ships SwiftShader\'s Vulkan driver, ' +
      'or pick --adapter llvmpipe after apt-get install mesa-vulkan-drivers libegl-mesa0 libgles2.');
  }
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const adapter = await gpuModule.create(['backend=vulkan']).requestAdapter();
  if (!adapter) {
    const why = missingDriverLibrary('swiftshader', existsSync) ??
      `the Vulkan loader and the driver are installed, but the driver offered no device (check ${SWIFTSHADER_ICD} and run with VK_LOADER_DEBUG=error to see why)`;
    throw new WebGPUUnavailableError(`SwiftShader's Vulkan driver (${SWIFTSHADER_ICD}) gave no adapter: ${why}`);
  }
  return { adapter, source: 'swiftshader' };
}

async function browserAdapter(choice: AdapterChoice): Promise<GPUAdapter> {
  if (choice !== 'default') {
    throw new WebGPUUnavailableError(`adapter '${choice}' can only be chosen in Node; the browser picks its own`);
  }
  const gpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
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
    const choice = options.adapter ?? (isNode ? adapterChoiceFromEnv() : 'default');
    const adapter = isNode ? (await nodeAdapter(choice)).adapter : await browserAdapter(choice);
    return { available: true, cpuFallback: isSoftwareAdapter(adapter.info), adapter: adapterName(adapter.info) };
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { available: false, cpuFallback: false, reason: e.message };
    throw e;
  }
}

/** Acquires an adapter and device, raising the limits that matter as far as the adapter allows. */
export async function acquireDevice(options: DeviceOptions = {}): Promise<GpuContext> {
  const choice = options.adapter ?? (isNode ? adapterChoiceFromEnv() : 'default');
  if (!(ADAPTER_CHOICES as readonly string[]).includes(choice)) {
    throw new WebGPUUnavailableError(`unknown adapter '${choice}': expected one of ${ADAPTER_CHOICES.join(', ')}`);
  }
  let adapter: GPUAdapter;
  let source: GpuContext['source'];
  if (isNode) ({ adapter, source } = await nodeAdapter(choice));
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
    quietWait: isNode && source === 'swiftshader',
    lost: device.lost,
  };
  void device.lost.then((info) => {
    ctx.lostReason = `${info.reason}: ${info.message}`;
  });
  return ctx;
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
