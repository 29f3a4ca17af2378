// Streaming .safetensors reader: the header first (so the tensor list can be checked before the
// bulk of the file is read or any GPU memory is touched), then the data section, with progress in
// bytes. Sources: a URL string or URL (fetch), a fetch Response, a Blob / File, an ArrayBuffer or
// a typed array, and in Node a file path or file: URL (read in chunks through the Node platform,
// never whole up front).

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
   * GPU; 'compile': plan steps whose GPU pipelines are built (counted in steps, not bytes).
   */
  phase: 'download' | 'upload' | 'compile';
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

async function fromResponse(r: Response, what: string): Promise<ByteStream> {
  if (!r.ok) throw new WeightsFormatError(`${what}: HTTP ${r.status} ${r.statusText}`.trim());
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

async function openStream(source: WeightsSource): Promise<ByteStream> {
  if (typeof source === 'string' || source instanceof URL) {
    const s = source.toString();
    const platform = nodePlatform();
    if (platform && s.startsWith('file:')) return fromFile(platform, platform.fileURLToPath(s));
    if (platform && !isUrlString(s)) return fromFile(platform, s);
    let r: Response;
    try {
      r = await fetch(s);
    } catch (e) {
      throw new WeightsFormatError(`could not fetch weights from ${s}: ${(e as Error).message}`);
    }
    return fromResponse(r, s);
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
export async function openSafetensors(source: WeightsSource, onProgress?: ProgressCallback): Promise<SafetensorsReader> {
  const stream = await openStream(source);
  try {
    let total = stream.size ?? 0;
    onProgress?.({ loaded: 0, total, phase: 'download' });
    const reader = new ChunkReader(stream, (loaded) => onProgress?.({ loaded, total: Math.max(total, loaded), phase: 'download' }));
    let header: SafetensorsHeader;
    try {
      const n = headerLength(await reader.readExactly(8, 'the header length'), stream.size);
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
        await stream.close();
        return (name: string) => {
          const t = header.tensors.get(name);
          if (!t) throw new WeightsFormatError(`${stream.what}: no tensor '${name}'`);
          const bytes = data.subarray(t.begin, t.end);
          // Fast path: little-endian F32 on a little-endian machine is a plain copy.
          if (t.dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer);
          return toFloat32(t.dtype, bytes);
        };
      },
      close: () => stream.close(),
    };
  } catch (e) {
    await stream.close().catch(() => {});
    throw e;
  }
}
