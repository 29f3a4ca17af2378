// A byte stream of weights being read (from the network, a file, a Blob or memory) and the one
// reading of fetch Responses: HTTP errors and web pages become WeightsFormatErrors naming the
// address before their body is read. Shared by the weights reader (./source.ts) and the Hub
// loader (src/hub/).

import { WeightsFormatError } from './safetensors.js';

export interface LoadProgress {
  /** Bytes done so far in this phase ('compile': steps). */
  loaded: number;
  /** Bytes of this phase in all (the file size for 'download'; 0 when the server gives no length). */
  total: number;
  /**
   * 'download': bytes of the file read (network or disk); 'convert': tensors of a Hub model renamed
   * to the runtime's layout (src/hub/); 'upload': weight bytes written to the GPU; 'compile': plan
   * steps whose GPU pipelines are built (counted in steps, not bytes); 'tune': layer shapes timed by
   * the on-device tuner (src/tuning/), after loadModel returned.
   */
  phase: 'download' | 'convert' | 'upload' | 'compile' | 'tune';
  /** 'download' from a URL: true when the bytes come from the weights cache, not the network. */
  fromCache?: boolean;
}

export type ProgressCallback = (p: LoadProgress) => void;

export interface ByteStream {
  /** What the bytes are, for error messages: a path, a URL or 'an ArrayBuffer'. */
  what: string;
  /** Total bytes when known up front. */
  size?: number;
  chunks: AsyncIterator<Uint8Array>;
  close(): Promise<void>;
  /** A URL read through a weights cache: whether it was a hit, the store of a miss, dropping the entry. */
  cached?: { fromCache: boolean; stored: Promise<void>; discard(): Promise<void> };
}

/** The error for a response that is a web page: a missing file that a dev server answers with its index.html, or an error page. */
export function htmlPageError(what: string, status: number): WeightsFormatError {
  return new WeightsFormatError(`${what}: got an HTML page (HTTP ${status}), not a .safetensors file: is the path right? ` +
    '(a development server answers a missing file with its index.html)');
}

export function isHtml(r: Response): boolean {
  return /^\s*(text\/html|application\/xhtml)/i.test(r.headers.get('content-type') ?? '');
}

export async function fromResponse(r: Response, what: string): Promise<ByteStream> {
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

