// Streaming .safetensors reader: the header first (so the tensor list can be checked before the
// bulk of the file is read or any GPU memory is touched), then the data section, with progress in
// bytes. Sources: a URL string or URL (fetch), a fetch Response, a Blob / File, an ArrayBuffer or
// a typed array, and in Node a file path or file: URL (read in chunks through the Node platform,
// never whole up front). URLs go through the weights cache (./cache.ts) where there is a Cache API.
// Every stream is read to its end, never cancelled after a successful load (a cancelled fetch
// shows in the browser's network log as a failed request). Bytes that are not a .safetensors file
// are named for what they look like (an HTML page, a PyTorch checkpoint, ...).

import { fetchWithCache } from './cache.js';
import { nodePlatform, type FileHandle, type Platform } from '../platform.js';
import { headerLength, parseHeader, toFloat32, WeightsFormatError, type SafetensorsHeader } from './safetensors.js';

export type WeightsSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView;

export interface LoadProgress {
  /** Bytes done so far in this phase ('compile': steps). */
  loaded: number;
  /** Bytes of this phase in all (the file size for 'download'; 0 when the server gives no length). */
  total: number;
  /**
   * 'download': bytes of the file read (network or disk); 'upload': weight bytes written to the
   * GPU; 'compile': plan steps whose GPU pipelines are built (counted in steps, not bytes); 'tune':
   * layer shapes timed by the on-device tuner (src/tuning/), after loadModel returned.
   */
  phase: 'download' | 'upload' | 'compile' | 'tune';
  /** 'download' from a URL: true when the bytes come from the weights cache, not the network. */
  fromCache?: boolean;
}

export interface OpenOptions {
  /** Use the weights cache for URL sources (default true; see ./cache.ts). */
  cache?: boolean;
}

export type ProgressCallback = (p: LoadProgress) => void;

/** Bytes read per chunk from a file in Node. */
const FILE_CHUNK = 4 * 2 ** 20;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface ByteStream {
  /** What the bytes are, for error messages: a path, a URL or 'an ArrayBuffer'. */
  what: string;
  /** Total bytes when known up front. */
  size?: number;
  chunks: AsyncIterator<Uint8Array>;
  close(): Promise<void>;
  /** A URL read through the weights cache: whether it was a hit, the store of a miss, dropping the entry. */
  cached?: { fromCache: boolean; stored: Promise<void>; discard(): Promise<void> };
}

/** Buffers an async sequence of chunks and hands out exact byte counts. */
class ChunkReader {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private done = false;
  /** Bytes consumed by readExactly so far. */
  position = 0;

  constructor(private readonly stream: ByteStream, private readonly onBytes: (loaded: number) => void) {}

  private received = 0;

  /** True once the stream has ended. */
  get finished(): boolean { return this.done; }

  /** Up to `n` of the next bytes, without consuming them (fewer when the stream ends first). */
  async peek(n: number): Promise<Uint8Array> {
    while (this.pendingBytes < n && await this.pull()) { /* pull more */ }
    const out = new Uint8Array(Math.min(n, this.pendingBytes));
    let o = 0;
    for (const c of this.pending) {
      if (o >= out.byteLength) break;
      const take = Math.min(c.byteLength, out.byteLength - o);
      out.set(c.subarray(0, take), o);
      o += take;
    }
    return out;
  }

  /** Reads the stream to its end, dropping what is left. */
  async drain(): Promise<void> {
    while (await this.pull()) { /* read on */ }
    this.pending = [];
    this.pendingBytes = 0;
  }

  private async pull(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.stream.chunks.next();
    if (r.done) { this.done = true; return false; }
    const chunk = r.value;
    if (chunk.byteLength > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.byteLength;
      this.received += chunk.byteLength;
      this.onBytes(this.received);
    }
    return true;
  }

  /** The next `n` bytes; throws WeightsFormatError naming `what` when the stream ends first. */
  async readExactly(n: number, what: string): Promise<Uint8Array> {
    while (this.pendingBytes < n) {
      if (!(await this.pull())) {
        throw new WeightsFormatError(`${this.stream.what}: the file ends ${this.position + this.pendingBytes} bytes in, ` +
          `inside ${what} (needs ${n} bytes from byte ${this.position}): truncated or corrupt .safetensors file`);
      }
    }
    let out: Uint8Array;
    if (this.pending[0].byteLength >= n) {
      out = this.pending[0].subarray(0, n);
      this.pending[0] = this.pending[0].subarray(n);
      if (this.pending[0].byteLength === 0) this.pending.shift();
    } else {
      out = new Uint8Array(n);
      let o = 0;
      while (o < n) {
        const c = this.pending[0];
        const take = Math.min(c.byteLength, n - o);
        out.set(c.subarray(0, take), o);
        o += take;
        if (take === c.byteLength) this.pending.shift(); else this.pending[0] = c.subarray(take);
      }
    }
    this.pendingBytes -= n;
    this.position += n;
    return out;
  }
}

function isUrlString(s: string): boolean {
  return /^(https?|data|blob):/i.test(s);
}

/** A string that is neither a URL nor a path, such as a model name ('resnet50'). */
function isBareName(s: string): boolean {
  return /^[\w-]+$/.test(s);
}

const HOW_TO_GET_WEIGHTS = 'Give the URL or path of a .safetensors file: convert a PyTorch checkpoint with ' +
  '`webgpu-resnext convert model.pth model.safetensors` (or convertCheckpoint() in the browser), ' +
  'or call loadModel() without weights for the embedded Fashion-MNIST model';

/** The error for a response that is a web page: a missing file that a dev server answers with its index.html, or an error page. */
function htmlPageError(what: string, status: number): WeightsFormatError {
  return new WeightsFormatError(`${what}: got an HTML page (HTTP ${status}), not a .safetensors file: is the path right? ` +
    '(a development server answers a missing file with its index.html)');
}

function isHtml(r: Response): boolean {
  return /^\s*(text\/html|application\/xhtml)/i.test(r.headers.get('content-type') ?? '');
}

async function fromResponse(r: Response, what: string): Promise<ByteStream> {
  if (!r.ok) {
    await r.body?.cancel().catch(() => {});
    throw new WeightsFormatError(`${what}: HTTP ${r.status} ${r.statusText}`.trim() +
      (r.status === 404 ? ': no file at that address, is the path right?' : ''));
  }
  if (isHtml(r)) {
    await r.body?.cancel().catch(() => {});
    throw htmlPageError(what, r.status);
  }
  if (!r.body) throw new WeightsFormatError(`${what}: the response has no body`);
  // Content-Length counts the encoded bytes; only trust it when the body is not re-encoded.
  const len = r.headers.get('content-length');
  const encoded = (r.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const size = len !== null && !encoded && /^\d+$/.test(len) ? Number(len) : undefined;
  const reader = r.body.getReader();
  return {
    what, size,
    chunks: {
      async next() {
        const { done, value } = await reader.read();
        return done ? { done: true, value: undefined } : { done: false, value };
      },
    },
    close: async () => { await reader.cancel().catch(() => {}); },
  };
}

function fromBytes(bytes: Uint8Array, what: string): ByteStream {
  let sent = false;
  return {
    what, size: bytes.byteLength,
    chunks: {
      async next() {
        if (sent) return { done: true, value: undefined };
        sent = true;
        return { done: false, value: bytes };
      },
    },
    close: async () => {},
  };
}

async function fromFile(platform: Platform, path: string): Promise<ByteStream> {
  let handle: FileHandle;
  try {
    handle = await platform.openFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WeightsFormatError(code === 'ENOENT' ? `weights file not found: ${path}` : `cannot open weights file ${path}: ${(e as Error).message}`);
  }
  const size = handle.size;
  let position = 0;
  return {
    what: path, size,
    chunks: {
      async next() {
        const buf = new Uint8Array(Math.min(FILE_CHUNK, Math.max(size - position, 0)) || 1);
        const bytesRead = await handle.read(buf, position);
        if (bytesRead === 0) return { done: true, value: undefined };
        position += bytesRead;
        return { done: false, value: buf.subarray(0, bytesRead) };
      },
    },
    close: () => handle.close(),
  };
}

async function openStream(source: WeightsSource, options: OpenOptions): Promise<ByteStream> {
  if (typeof source === 'string' || source instanceof URL) {
    const s = source.toString();
    const platform = nodePlatform();
    if (typeof source === 'string' && isBareName(s) && !(platform && await fileExists(platform, s))) {
      throw new WeightsFormatError(`weights '${s}' is not a URL or a path to a file (a model name is not enough). ${HOW_TO_GET_WEIGHTS}.`);
    }
    if (platform && s.startsWith('file:')) return fromFile(platform, platform.fileURLToPath(s));
    if (platform && !isUrlString(s)) return fromFile(platform, s);
    let fetched: Awaited<ReturnType<typeof fetchWithCache>>;
    try {
      fetched = await fetchWithCache(s, options.cache ?? true, (r) => !isHtml(r));
    } catch (e) {
      throw new WeightsFormatError(`could not fetch weights from ${s}: ${(e as Error).message}`);
    }
    const stream = await fromResponse(fetched.response, s);
    return { ...stream, cached: fetched };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) return fromResponse(source, source.url || 'the response');
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const reader = source.stream().getReader();
    return {
      what: (source as { name?: string }).name ?? 'the Blob', size: source.size,
      chunks: {
        async next() {
          const { done, value } = await reader.read();
          return done ? { done: true, value: undefined } : { done: false, value };
        },
      },
      close: async () => { await reader.cancel().catch(() => {}); },
    };
  }
  if (source instanceof ArrayBuffer) return fromBytes(new Uint8Array(source), 'the ArrayBuffer');
  if (ArrayBuffer.isView(source)) {
    return fromBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), 'the byte array');
  }
  throw new TypeError('weights must be a URL or path string, URL, Response, Blob, ArrayBuffer or typed array, ' +
    `got ${Object.prototype.toString.call(source)}`);
}

async function fileExists(platform: Platform, path: string): Promise<boolean> {
  try {
    await (await platform.openFile(path)).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * What bytes that are not a .safetensors file look like, for the error message: a PyTorch
 * checkpoint (zip or legacy pickle), an HTML page, JSON or other text, or else their hex.
 */
export function describeNonSafetensors(head: Uint8Array): string | undefined {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head);
  if (head[0] === 0x50 && head[1] === 0x4b) {
    return 'not a .safetensors file: it is a zip archive, as a PyTorch checkpoint (.pth) is: convert it with ' +
      '`webgpu-resnext convert model.pth model.safetensors` or convertCheckpoint()';
  }
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return 'not a .safetensors file: it is a Python pickle, as a legacy PyTorch checkpoint (.pth) is: convert it with ' +
      '`webgpu-resnext convert model.pth model.safetensors` or convertCheckpoint()';
  }
  if (/^\s*<(!doctype|html|head|body|\?xml)/i.test(text)) return 'got an HTML page, not a .safetensors file: is the path right?';
  const printable = head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  if (printable && /^\s*[{[]/.test(text)) return `not a .safetensors file: it is JSON text ('${text.slice(0, 32)}...')`;
  if (printable) return `not a .safetensors file: it is text ('${text.slice(0, 32)}...')`;
  return undefined;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** An open .safetensors stream whose header has been read and parsed. */
export interface SafetensorsReader {
  what: string;
  header: SafetensorsHeader;
  /** Bytes of the data section (the largest tensor end offset). */
  dataBytes: number;
  /**
   * Reads the rest of the data section and returns an accessor that decodes one tensor to f32
   * (F16, BF16 and F64 expanded). Call at most once.
   */
  readData(): Promise<(name: string) => Float32Array>;
  close(): Promise<void>;
}

/**
 * Opens `source` and reads only the header. Progress ('download' phase) is reported as chunks
 * arrive, with total = the file size when known.
 */
export async function openSafetensors(source: WeightsSource, onProgress?: ProgressCallback, options: OpenOptions = {}): Promise<SafetensorsReader> {
  const stream = await openStream(source, options);
  const fromCache = stream.cached ? { fromCache: stream.cached.fromCache } : {};
  const reader = new ChunkReader(stream, (loaded) => onProgress?.({ loaded, total: Math.max(total, loaded), phase: 'download', ...fromCache }));
  let total = stream.size ?? 0;
  const close = async () => {
    if (!reader.finished) await stream.close();
  };
  try {
    onProgress?.({ loaded: 0, total, phase: 'download', ...fromCache });
    let header: SafetensorsHeader;
    try {
      const head = await reader.peek(64);
      const looksLike = describeNonSafetensors(head);
      if (looksLike) throw new WeightsFormatError(`${stream.what}: ${looksLike}`);
      let n: number;
      try {
        n = headerLength(await reader.readExactly(8, 'the header length'), stream.size);
      } catch (e) {
        if (!(e instanceof WeightsFormatError) || head.byteLength < 8) throw e;
        throw new WeightsFormatError(`${e.message}; its first bytes are ${hex(head.subarray(0, 16))}`);
      }
      const json = await reader.readExactly(n, 'the JSON header');
      header = parseHeader(json, stream.size !== undefined ? stream.size - 8 - n : undefined);
    } catch (e) {
      // Name the file in the container's own messages.
      if (e instanceof WeightsFormatError && !e.message.startsWith(stream.what)) throw new WeightsFormatError(`${stream.what}: ${e.message}`);
      throw e;
    }
    let dataBytes = 0;
    for (const t of header.tensors.values()) dataBytes = Math.max(dataBytes, t.end);
    if (!total) total = header.dataOffset + dataBytes;
    let used = false;
    return {
      what: stream.what, header, dataBytes,
      async readData() {
        if (used) throw new Error('readData() may be called once');
        used = true;
        const data = await reader.readExactly(dataBytes, `the tensor data (${dataBytes} bytes after the header)`);
        // Read to the end (bytes after the data section are ignored), so that a fetch completes:
        // cancelling it would show as a failed request in the browser's network log.
        await reader.drain();
        await stream.close();
        await stream.cached?.stored;
        return (name: string) => {
          const t = header.tensors.get(name);
          if (!t) throw new WeightsFormatError(`${stream.what}: no tensor '${name}'`);
          const bytes = data.subarray(t.begin, t.end);
          // Fast path: little-endian F32 on a little-endian machine is a plain copy.
          if (t.dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer);
          return toFloat32(t.dtype, bytes);
        };
      },
      close,
    };
  } catch (e) {
    await close().catch(() => {});
    if (e instanceof WeightsFormatError) await stream.cached?.discard().catch(() => {});
    throw e;
  }
}
