// Drives the browser benchmark: bundles bench/browser/ with Vite's programmatic API into a temporary
// folder, serves it on 127.0.0.1 (WebGPU needs a secure context: localhost counts), opens it in
// Debian's headless Chromium through playwright-core (never a downloaded browser), and waits for
// `window.__benchResult`. With --first, one fresh Chromium per architecture, the embedded model's
// weights served beside the bundle as /embedded.safetensors.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED, EMBEDDED_WEIGHTS, type BrowserFirstPredictionResult } from '../first-prediction.js';
import type { BenchOptions } from '../options.js';
import type { BenchResult } from '../report.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--headless', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wgsl': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json',
};

async function bundle(): Promise<string> {
  const { build } = await import('vite');
  const root = fileURLToPath(new URL('.', import.meta.url));
  const outDir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
  await build({
    root,
    base: './',
    configFile: false,
    logLevel: 'warn',
    assetsInclude: ['**/*.wgsl'],
    build: {
      outDir, emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0, chunkSizeWarningLimit: 4096,
      // Node-only modules the library imports lazily on its Node paths.
      rolldownOptions: { external: ['webgpu', /^node:/] },
    },
  });
  return outDir;
}

/** Serves `dir`, and `extra` (URL path -> file) beside it. */
function serve(dir: string, extra: ReadonlyMap<string, string> = new Map()): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = extra.get(path) ?? normalize(join(dir, path));
    if (!extra.has(path) && file !== dir && !file.startsWith(dir + sep)) { res.writeHead(403).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      if (a === null || typeof a === 'string') { fail(new Error('no TCP address')); return; }
      ok({
        url: `http://127.0.0.1:${a.port}/`,
        close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
      });
    });
  });
}

/** Opens `url` in a fresh headless Chromium and returns what the page leaves in `window.__benchResult`. */
async function pageResult<T>(url: string, log: (line: string) => void): Promise<T> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.text().startsWith('bench: ')) log(`browser: ${m.text().slice(7)}`); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    // The page (bench/browser/main.ts) sets these globals; typed here so this file stands alone.
    type BenchWindow = { __benchResult?: T; __benchError?: string };
    const done = await page.waitForFunction(() => {
      const w = window as unknown as BenchWindow;
      return w.__benchResult ?? (w.__benchError ? { error: w.__benchError } : undefined);
    },
      undefined, { timeout: 0, polling: 1000 });
    const value = await done.jsonValue() as T | { error: string };
    if (typeof value === 'object' && value !== null && 'error' in value) {
      throw new Error(`browser benchmark failed: ${value.error}${errors.length ? '\n' + errors.join('\n') : ''}`);
    }
    return value as T;
  } finally {
    await browser.close();
  }
}

/** Bundles the page, serves it (and `extra`) while `use` runs, then cleans up. */
async function withPage<T>(o: BenchOptions, log: (line: string) => void, extra: ReadonlyMap<string, string>,
  use: (url: string) => Promise<T>): Promise<T> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM_PATH)`);
  if (o.adapter !== 'default') log(`browser: --adapter ${o.adapter} does not apply; Chromium picks its own adapter`);
  if (o.kernels !== 'auto') log(`browser: --kernels ${o.kernels} applies to the Node run only; the page uses 'auto'`);
  log('browser: bundling bench/browser with Vite');
  const dir = await bundle();
  const server = await serve(dir, extra);
  try {
    return await use(server.url);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runInBrowser(o: BenchOptions, log: (line: string) => void): Promise<BenchResult> {
  const q = new URLSearchParams({
    arch: o.archs.join(','), size: String(o.size), batch: o.batches.join(','), runs: String(o.runs),
    ceiling: String(o.ceilingSize), steps: o.steps, slowest: String(o.slowest),
    ...(o.tuningModes ? { tuning: o.tuningModes.join(',') } : {}),
    ...(o.tuningBudgetMs !== undefined ? { tuningBudget: String(o.tuningBudgetMs) } : {}),
  });
  return withPage(o, log, new Map(), (url) => pageResult<BenchResult>(`${url}?${q}`, log));
}

/** --first --browser: each architecture's time to the first prediction, in a fresh Chromium each. */
export function runFirstInBrowser(o: BenchOptions, log: (line: string) => void): Promise<BrowserFirstPredictionResult[]> {
  const extra = new Map([[`/${EMBEDDED}.safetensors`, fileURLToPath(EMBEDDED_WEIGHTS)]]);
  return withPage(o, log, extra, async (url) => {
    const out: BrowserFirstPredictionResult[] = [];
    for (const arch of o.archs) {
      log(`browser: first prediction: ${arch}, in a fresh Chromium`);
      const q = new URLSearchParams({ first: arch, size: String(o.size), ...(arch === EMBEDDED ? { weights: `${EMBEDDED}.safetensors` } : {}) });
      out.push(await pageResult<BrowserFirstPredictionResult>(`${url}?${q}`, log));
    }
    return out;
  });
}
