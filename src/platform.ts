// What the runtime needs from Node that web APIs do not give: Dawn's adapters (the `webgpu`
// package), local files, PNG/JPEG decoding and the CPU count. Browsers and workers install
// nothing: the runtime uses navigator.gpu, fetch and createImageBitmap there. The Node entry
// (src/node.ts, chosen by the package's "node" export condition) installs src/node/platform.ts
// before any user code runs. Every `node:` import and Node-only package lives behind this one
// interface, so a bundler following the browser entry (src/index.ts) meets none of them.

export type AdapterChoice = 'default' | 'swiftshader' | 'llvmpipe';
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['default', 'swiftshader', 'llvmpipe'];

/** Which path gave the adapter: a browser's, a hardware one, or a named software driver. */
export type AdapterSource = 'browser' | 'hardware' | 'swiftshader' | 'llvmpipe';

/** A local file open for reading. */
export interface FileHandle {
  size: number;
  /** Reads up to `into.byteLength` bytes at `position`; resolves to the count read (0 at the end). */
  read(into: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Cached responses by key: the Cache API's Cache has this shape; in Node the platform keeps them as
 * files in the user's cache folder.
 */
export interface ResponseStore {
  match(key: string): Promise<Response | undefined>;
  /** Stores the response once its whole body arrived (rejects, storing nothing, when the body fails). */
  put(key: string, response: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/**
 * A place for the on-device tuner's entries (src/tuning/store.ts): text by name. Best effort: a write
 * may fail (quota, a read-only folder).
 */
export interface TuningStore {
  /** The entry's text, or undefined when there is none. */
  read(name: string): Promise<string | undefined>;
  write(name: string, text: string): Promise<void>;
}

export interface Platform {
  /** The adapter choice when the caller names none (Node: env WEBGPU_ADAPTER). */
  defaultAdapter(): AdapterChoice;
  requestAdapter(choice: AdapterChoice): Promise<{ adapter: GPUAdapter; source: AdapterSource }>;
  /** Opens a regular file; rejects with the system's error (its `code`: ENOENT, EACCES ..., ENOTREG for a device or FIFO). */
  openFile(path: string): Promise<FileHandle>;
  /** The local path of a file: URL. */
  fileURLToPath(url: string): string;
  /** A regular file's whole content; rejects (code EFBIG) when it is larger than `maxBytes`. */
  readFile(path: string, maxBytes?: number): Promise<Uint8Array>;
  /**
   * Decodes PNG or JPEG bytes to RGBA8 pixels (EXIF orientation applied; reduced by an integer
   * factor when the shorter side is more than `maxShorterSide`); throws ImageInputError naming
   * `what` when it cannot, before decoding when the header's size is out of bounds.
   */
  decodeImage(bytes: Uint8Array, what: string, maxShorterSide?: number): Promise<{ data: Uint8Array | Uint8ClampedArray; width: number; height: number }>;
  /**
   * Starts loading the image decoder in the background (Node: sharp's native library, about 0.1 s of
   * one core), so that the first decodeImage does not wait for it; loadModel calls it while the
   * model loads. Never rejects: a decoder that fails to load is reported by decodeImage.
   */
  prepareImageDecoder?(): void;
  /** Logical CPUs that a CPU-backed adapter runs workgroups on. */
  cpuThreads(): number;
  /** An environment variable (Node: process.env), e.g. HF_ENDPOINT. */
  env(name: string): string | undefined;
  /**
   * The response store `name` in the user's cache folder (Node: $WEBGPU_RESNEXT_CACHE, else
   * $XDG_CACHE_HOME/webgpu-resnext or ~/.cache/webgpu-resnext); undefined when it cannot be made.
   */
  openResponseStore?(name: string): Promise<ResponseStore | undefined>;
  /** Deletes the store `name` in the cache folder; false when there was none. */
  clearResponseStore?(name: string): Promise<boolean>;
  /** Where the on-device tuner keeps its picks (src/tuning/store.ts): Node, a file in the user's cache folder. */
  tuningStore?(): TuningStore;
}

let installed: Platform | undefined;

/** Installs the Node platform (src/node/install.ts does, once). */
export function installPlatform(platform: Platform): void {
  installed = platform;
}

/** The installed Node platform; undefined in browsers and workers. */
export function nodePlatform(): Platform | undefined {
  return installed;
}
