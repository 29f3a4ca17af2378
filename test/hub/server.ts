// A local stand-in for the Hugging Face Hub for the tests: two HTTP servers on 127.0.0.1, laid out
// as the Hub is.
//   hub   /<owner>/<name>/resolve/<revision>/<file>: config.json (JSON) is answered directly;
//         model.safetensors with a 302 redirect to the file host (the Hub's weights live on a CDN)
//   files /blobs/<owner>/<name>/<file>: the bytes, with ETag, Content-Length, Accept-Ranges, HEAD
//         and Range (206) requests
// Both send CORS headers (Access-Control-Allow-Origin: *, the validators exposed), as the Hub does.
// A repo that does not exist gets 401 (the Hub's answer, which hides private repos), a missing file
// 404, an unknown revision 404. Repos are folders of test/fixtures/hub/ plus `extra` files given in
// memory; `html` repo paths answer every file with a web page. Every request is logged.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HUB_FIXTURES = fileURLToPath(new URL('../fixtures/hub/', import.meta.url));

export interface HubRequest { origin: 'hub' | 'files'; method: string; path: string; range?: string }

export interface FakeHub {
  /** The endpoint to use as HF_ENDPOINT / hubEndpoint. */
  endpoint: string;
  /** The file host's origin (where model.safetensors redirects to). */
  filesOrigin: string;
  requests: HubRequest[];
  /** Replaces (or adds) a file of a repo: `files.get('timm/x')!.set('model.safetensors', bytes)`. */
  files: Map<string, Map<string, Uint8Array>>;
  /** Repos whose every file is answered with an HTML page (200). */
  html: Set<string>;
  close(): Promise<void>;
}

/** The fixture repos: test/fixtures/hub/<owner>/<name>/<file>. */
export function fixtureRepos(): Map<string, Map<string, Uint8Array>> {
  const repos = new Map<string, Map<string, Uint8Array>>();
  for (const owner of readdirSync(HUB_FIXTURES)) {
    if (!statSync(join(HUB_FIXTURES, owner)).isDirectory()) continue;
    for (const name of readdirSync(join(HUB_FIXTURES, owner))) {
      const dir = join(HUB_FIXTURES, owner, name);
      if (!statSync(dir).isDirectory()) continue;
      repos.set(`${owner}/${name}`, new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))])));
    }
  }
  return repos;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'etag, content-length, content-range, accept-ranges, x-repo-commit, location',
  'access-control-allow-headers': 'range, content-type',
};

function etag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

export async function startFakeHub(): Promise<FakeHub> {
  const requests: HubRequest[] = [];
  const files = fixtureRepos();
  const html = new Set<string>();
  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body?: Uint8Array | string) => {
    res.writeHead(status, { ...CORS, ...headers });
    res.end(body);
  };

  const cdn = await listen((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ origin: 'files', method: req.method ?? 'GET', path, range: req.headers.range });
    if (req.method === 'OPTIONS') return send(res, 204, {});
    const m = /^\/blobs\/([^/]+\/[^/]+)\/([^/]+)$/.exec(path);
    const bytes = m ? files.get(m[1])?.get(m[2]) : undefined;
    if (!bytes) return send(res, 404, { 'content-type': 'text/plain' }, 'not found');
    const headers = { 'content-type': 'application/octet-stream', etag: etag(bytes), 'accept-ranges': 'bytes' };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] === '' ? bytes.byteLength - 1 : Number(range[2]), bytes.byteLength - 1);
      if (start > end) return send(res, 416, { 'content-range': `bytes */${bytes.byteLength}` });
      const part = bytes.subarray(start, end + 1);
      return send(res, 206, { ...headers, 'content-length': String(part.byteLength), 'content-range': `bytes ${start}-${end}/${bytes.byteLength}` },
        req.method === 'HEAD' ? undefined : part);
    }
    send(res, 200, { ...headers, 'content-length': String(bytes.byteLength) }, req.method === 'HEAD' ? undefined : bytes);
  });

  const hub = await listen((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ origin: 'hub', method: req.method ?? 'GET', path, range: req.headers.range });
    if (req.method === 'OPTIONS') return send(res, 204, {});
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/([^/]+)$/.exec(path);
    if (!m) return send(res, 404, { 'content-type': 'text/plain' }, 'Invalid path');
    const [, repo, revision, file] = m;
    if (html.has(repo)) return send(res, 200, { 'content-type': 'text/html; charset=utf-8' }, '<!doctype html><html><body>Hugging Face</body></html>');
    const repoFiles = files.get(repo);
    if (!repoFiles) return send(res, 401, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' }, '{"error":"Repository not found"}');
    if (revision !== 'main') return send(res, 404, { 'content-type': 'application/json', 'x-error-code': 'RevisionNotFound' }, '{"error":"Invalid rev id"}');
    const bytes = repoFiles.get(file);
    if (!bytes) return send(res, 404, { 'content-type': 'application/json', 'x-error-code': 'EntryNotFound' }, '{"error":"Entry not found"}');
    if (file.endsWith('.safetensors')) {
      return send(res, 302, { location: `${cdn.origin}/blobs/${repo}/${file}`, 'x-linked-etag': etag(bytes), 'content-type': 'text/plain' },
        req.method === 'HEAD' ? undefined : 'Found');
    }
    send(res, 200, { 'content-type': 'application/json', etag: etag(bytes), 'content-length': String(bytes.byteLength) },
      req.method === 'HEAD' ? undefined : bytes);
  });

  return {
    endpoint: hub.origin, filesOrigin: cdn.origin, requests, files, html,
    async close() {
      for (const s of [hub.server, cdn.server]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
