// Drives the browser benchmark: bundles bench/browser/ with Vite's programmatic API into a temporary
// folder, serves it on 127.0.0.1 (WebGPU needs a secure context: localhost counts), opens it in
// Debian's headless Chromium through playwright-core (never a downloaded browser), and waits for
// `window.__benchResult`.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
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

function serve(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (file !== dir && !file.startsWith(dir + sep)) { res.writeHead(403).end(); return; }
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

export async function runInBrowser(o: BenchOptions, log: (line: string) => void): Promise<BenchResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM_PATH)`);
  if (o.adapter !== 'default') log(`browser: --adapter ${o.adapter} does not apply; Chromium picks its own adapter`);
  log('browser: bundling bench/browser with Vite');
  const dir = await bundle();
  const server = await serve(dir);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.text().startsWith('bench: ')) log(`browser: ${m.text().slice(7)}`); });
    page.on('pageerror', (e) => errors.push(e.message));
    const q = new URLSearchParams({
      arch: o.archs.join(','), size: String(o.size), batch: o.batches.join(','), runs: String(o.runs),
      ceiling: String(o.ceilingSize), steps: o.steps, slowest: String(o.slowest),
    });
    await page.goto(`${server.url}?${q}`);
    // The page (bench/browser/main.ts) sets these globals; typed here so this file stands alone.
    type BenchWindow = { __benchResult?: BenchResult; __benchError?: string };
    const done = await page.waitForFunction(() => {
      const w = window as unknown as BenchWindow;
      return w.__benchResult ?? (w.__benchError ? { error: w.__benchError } : undefined);
    },
      undefined, { timeout: 0, polling: 1000 });
    const value = await done.jsonValue() as BenchResult | { error: string };
    if ('error' in value) throw new Error(`browser benchmark failed: ${value.error}${errors.length ? '\n' + errors.join('\n') : ''}`);
    return value;
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
