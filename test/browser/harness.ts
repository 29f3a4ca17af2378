// Browser test harness: build the demo with Vite, serve the build on 127.0.0.1, and drive Debian's
// Chromium through playwright-core. Nothing here downloads a browser: /usr/bin/chromium is used as
// installed (apt-get install chromium; scripts/setup.mjs does it).

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags that work as root on a GPU-less machine (see shared PLATFORM.md). */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--headless', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Why the browser tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium, or set CHROMIUM_PATH)`;
  return undefined;
}

/** Builds the demo into a fresh temporary folder (never touches demo/dist) and returns it. */
export async function buildDemo(): Promise<string> {
  const { build } = await import('vite');
  const outDir = mkdtempSync(join(tmpdir(), 'demo-dist-'));
  await build({
    configFile: join(REPO_ROOT, 'demo', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml',
  '.wgsl': 'text/plain; charset=utf-8', '.safetensors': 'application/octet-stream', '.bin': 'application/octet-stream',
  '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8',
};

export interface StaticServer {
  url: string;
  /** Paths requested so far (for diagnostics). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A minimal static file server for `dir` on 127.0.0.1 and a free port. `extra` maps URL paths
 * ('/test-weights/x.safetensors') to bytes served beside the files, for tests.
 */
export async function serveStatic(dir: string, extra: ReadonlyMap<string, Uint8Array> = new Map()): Promise<StaticServer> {
  const root = resolve(dir);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const bytes = extra.get(path);
    if (bytes) {
      res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream', 'content-length': bytes.byteLength });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) { res.writeHead(403).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`); return; }
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': body.byteLength,
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('static server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    requests,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console messages and page errors, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile (user data dir) and opens one page. */
export async function launchChromium(timeoutMs = 30_000): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'demo-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: timeoutMs,
      viewport: { width: 1280, height: 1000 },
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(timeoutMs);
  const page = context.pages()[0] ?? await context.newPage();
  const log: string[] = [];
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    log,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Dispatches a drop of one file (bytes) on the element matching `selector`, as a user's drag would. */
export async function dropFile(page: Page, selector: string, name: string, bytes: Uint8Array, type = ''): Promise<void> {
  // Bytes travel as base64: page.evaluate arguments must be JSON-serialisable.
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  await page.evaluate(({ selector, name, b64, type }) => {
    const bin = atob(b64);
    const data = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
    const dt = new DataTransfer();
    dt.items.add(new File([data], name, { type }));
    const target = document.querySelector(selector);
    if (!target) throw new Error(`no element matches ${selector}`);
    for (const kind of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, { selector, name, b64, type });
}
