// Node's adapters: Dawn through the `webgpu` package, on a hardware Vulkan (or Metal, D3D12)
// driver, or on one of the two software drivers named by the adapter choice (src/gpu/device.ts).

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { WebGPUUnavailableError, isSoftwareAdapter } from '../gpu/device.js';
import { ADAPTER_CHOICES, type AdapterChoice, type AdapterSource } from '../platform.js';

export function adapterChoiceFromEnv(): AdapterChoice {
  const v = process.env.WEBGPU_ADAPTER;
  if (v === undefined || v === '') return 'default';
  if (!(ADAPTER_CHOICES as readonly string[]).includes(v)) {
    throw new WebGPUUnavailableError(`WEBGPU_ADAPTER=${v} is not one of ${ADAPTER_CHOICES.join(', ')}`);
  }
  return v as AdapterChoice;
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
  libraryPath = process.env.LD_LIBRARY_PATH ?? ''): string | undefined {
  const dirs = [...libraryPath.split(':').filter((d) => d), ...LIBRARY_DIRS];
  const missing = DRIVER_LIBRARIES[driver].filter((lib) => !dirs.some((d) => exists(`${d}/${lib.file}`)));
  if (missing.length === 0) return undefined;
  return missing.map((lib) => `${lib.what} (${lib.file.split('/').pop()}) is missing`).join(', ') +
    `: install it with apt-get install ${[...new Set(missing.map((lib) => lib.packages))].join(' ')} ` +
    '(npm test and npm start do this themselves through scripts/setup.mjs)';
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
      `the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}. Install it: npm install webgpu`);
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
  const list = (dir: string) => { try { return readdirSync(dir); } catch { return []; } };
  if (process.platform === 'linux' && !list('/dev/dri').some((f) => f.startsWith('renderD')) &&
    !list('/dev').some((f) => /^nvidia\d/.test(f))) return [];
  const dirs = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];
  return dirs.flatMap((dir) => list(dir)
    .filter((f) => f.endsWith('.json') && !/lvp|lavapipe|swiftshader/i.test(f)).map((f) => `${dir}/${f}`));
}

/** The adapter for `choice` (see src/gpu/device.ts), with the path that gave it. */
export async function nodeAdapter(choice: AdapterChoice): Promise<{ adapter: GPUAdapter; source: AdapterSource }> {
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
