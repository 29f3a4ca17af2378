// The package as a user gets it: `npm pack` (which builds), the tarball unpacked into a project
// outside the repository, and used from there by Vite, webpack 5 and esbuild (each build clean: no
// error, no warning), in headless Chromium (each bundle classifies a shipped sample: the Vite and
// webpack bundles with the embedded model the bundler emitted, esbuild's with the model served
// beside it), the single-file CDN bundle (the embedded model from dist/assets/ beside it), a Node
// ESM script (the embedded model), and tsc on a browser and a Node consumer project (skipLibCheck
// false; ImageInput is not `any`).
// The project's node_modules holds the unpacked package and links to the repository's copies of its
// dependencies and of the consumers' tools, as `npm install <tarball>` would lay them out, offline.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { launchChromium, missingPrerequisite, REPO_ROOT, serveStatic } from '../browser/harness.js';

const PACKAGE = 'webgpu-resnext';
/** What the consumer project links from the repository's node_modules. */
const LINKED = ['wgsl-preprocessor', 'pngjs', 'jpeg-js', 'webgpu', '@webgpu/types', '@types/node', 'webpack'];
const SAMPLE = JSON.parse(readFileSync(join(REPO_ROOT, 'assets/fashion-mnist/samples/samples.json'), 'utf8'))[0] as
  { file: string; torch_prediction: number; torch_prediction_name: string };
const MODEL = 'dist/assets/fashion-mnist/fashion-mnist-resnext.safetensors';

let work: string;
let app: string;
let installed: string;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'package-consumer-'));
  const pack = run('npm', ['pack', '--pack-destination', work], REPO_ROOT);
  assert.equal(pack.status, 0, `npm pack failed:\n${pack.out}`);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack left no tarball:\n${pack.out}`);
  app = join(work, 'app');
  installed = join(app, 'node_modules', PACKAGE);
  mkdirSync(installed, { recursive: true });
  const untar = run('tar', ['-xzf', join(work, tarball), '-C', installed, '--strip-components=1'], work);
  assert.equal(untar.status, 0, untar.out);
  for (const dep of LINKED) {
    mkdirSync(dirname(join(app, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules', dep), join(app, 'node_modules', dep));
  }
  write(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the entries, the bundle, the model, the users\' README and the LICENSE, and no sources', () => {
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { private?: boolean; license: string };
  assert.equal(pkg.private, undefined);
  assert.equal(pkg.license, 'MIT');
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node.js', 'dist/src/node.d.ts',
    'dist/webgpu-resnext.browser.js', 'dist/cli/main.js', MODEL, `dist/assets/fashion-mnist/samples/${SAMPLE.file}`, 'LICENSE']) {
    assert.doesNotThrow(() => readFileSync(join(installed, file)), `${file} is missing from the tarball`);
  }
  assert.equal(readFileSync(join(installed, 'README.md'), 'utf8'), readFileSync(join(REPO_ROOT, 'package/README.md'), 'utf8'));
  assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /^MIT License[\s\S]*webgpu-resnext contributors/);
  assert.deepEqual(readdirSync(installed).sort(), ['LICENSE', 'README.md', 'dist', 'package.json']);
  // The contributors' README is back in place after the pack.
  assert.match(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'), /## Layout/);
});

test('a Node ESM script imports the node entry and classifies a sample PNG by path with the embedded model', () => {
  write(join(app, 'node-app.mjs'), `
import { loadModel } from '${PACKAGE}';
const resolved = import.meta.resolve('${PACKAGE}');
const model = await loadModel();
const [top] = await model.classify('node_modules/${PACKAGE}/dist/assets/fashion-mnist/samples/${SAMPLE.file}', { topK: 1 });
model.dispose();
console.log(JSON.stringify({ resolved, top }));
`);
  const r = run(process.execPath, ['node-app.mjs'], app);
  assert.equal(r.status, 0, `the Node script failed:\n${r.out}`);
  const { resolved, top } = JSON.parse(r.out.trim().split('\n').find((l) => l.startsWith('{'))!) as
    { resolved: string; top: { index: number; label: string } };
  assert.match(resolved, /\/node_modules\/webgpu-resnext\/dist\/src\/node\.js$/);
  assert.equal(top.index, SAMPLE.torch_prediction);
  assert.equal(top.label, SAMPLE.torch_prediction_name);
});

test('tsc: browser and Node consumer projects check with skipLibCheck false; ImageInput is not any', () => {
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const common = { strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022' };
  const projects = {
    browser: {
      compilerOptions: { ...common, module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: ['@webgpu/types'] },
      code: `import { loadModel, type ImageInput } from '${PACKAGE}';
const model = await loadModel({ weights: '/model.safetensors' });
const img = document.querySelector('img')!;
const top = await model.classify(img, { topK: 3 });
const inputs: ImageInput[] = [img, new ImageData(1, 1), await createImageBitmap(img), new Blob([]), document.createElement('canvas')];
const device: GPUDevice = (await (await navigator.gpu.requestAdapter())!.requestDevice());
await loadModel({ weights: new Uint8Array(8), device });
export const label: string = top[0].label + inputs.length;
`,
    },
    node: {
      compilerOptions: { ...common, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'] },
      code: `import { loadModel, missingDriverLibrary, type ImageInput } from '${PACKAGE}';
const model = await loadModel({ weights: 'model.safetensors', adapter: 'llvmpipe' });
const input: ImageInput = { data: new Uint8Array(4), width: 1, height: 1 };
const top = await model.classify(['a.png', input, new Uint8Array(8)], { topK: 3 });
export const label: string = top[0][0].label + String(missingDriverLibrary('llvmpipe', () => true));
`,
    },
  };
  for (const [name, p] of Object.entries(projects)) {
    const dir = join(app, `tsc-${name}`);
    write(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...p.compilerOptions, typeRoots: ['../node_modules/@types', '../node_modules'] }, include: ['*.ts'] }));
    write(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    write(join(dir, 'app.ts'), p.code);
    // One run: the project is clean but for the negative check, a number given as an image.
    write(join(dir, 'wrong.ts'), `import type { ImageInput } from '${PACKAGE}';\nexport const x: ImageInput = 42;\n`);
    const bad = run(process.execPath, [tsc, '-p', dir], dir);
    assert.notEqual(bad.status, 0, `${name}: const x: ImageInput = 42 type-checked (ImageInput is any?)`);
    assert.match(bad.out, /wrong\.ts\(2,14\): error TS2322/);
    assert.equal(bad.out.match(/error TS/g)?.length, 1, `tsc on the ${name} consumer: only wrong.ts may fail:\n${bad.out}`);
  }
});

/**
 * The browser app each bundler builds (and the CDN bundle runs): classify the sample served by the
 * test, with the embedded model (loadModel() with no weights: the bundler emits the package's model
 * file) or with the given weights URL; `from` is where loadModel is imported from.
 */
const APP_SOURCE = (name: string, { weights, from = PACKAGE }: { weights?: string; from?: string } = {}) => `
import { loadModel } from '${from}';
async function main() {
  const model = await loadModel(${weights ? `{ weights: ${JSON.stringify(weights)} }` : ''});
  const blob = await (await fetch('/sample.png')).blob();
  const [top] = await model.classify(blob, { topK: 1 });
  model.dispose();
  return top;
}
window.results ??= {};
window.results[${JSON.stringify(name)}] = main().catch((e) => ({ error: String(e && e.stack || e) }));
`;

test('Vite, webpack 5 and esbuild build the browser entry cleanly; each bundle and the CDN bundle classify in Chromium', async (t) => {
  const www = join(work, 'www');
  const warnings: string[] = [];

  write(join(app, 'vite/index.html'), '<!doctype html><script type="module" src="./main.js"></script>');
  write(join(app, 'vite/main.js'), APP_SOURCE('vite'));
  const vite = await import('vite');
  const logger = vite.createLogger('info');
  const collect = (msg: string) => { warnings.push(`vite: ${msg}`); };
  await vite.build({
    root: join(app, 'vite'), base: './', configFile: false, logLevel: 'warn',
    customLogger: { ...logger, warn: collect, warnOnce: collect, error: collect },
    build: { outDir: join(www, 'vite'), emptyOutDir: true, target: 'es2022' },
  });

  // webpack runs in its own process, as a user's build would: its minifier's worker processes must
  // not inherit this test process's loader flags.
  write(join(app, 'webpack/main.js'), APP_SOURCE('webpack'));
  write(join(app, 'webpack/build.mjs'), `
import webpack from 'webpack';
webpack({
  mode: 'production', context: ${JSON.stringify(app)}, entry: './webpack/main.js',
  output: { path: ${JSON.stringify(join(www, 'webpack'))}, filename: 'main.js' },
  performance: { hints: false },
}, (e, stats) => {
  if (e) throw e;
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  console.log(JSON.stringify([...info.errors, ...info.warnings].map((m) => m.message)));
});
`);
  const wp = run(process.execPath, ['webpack/build.mjs'], app);
  assert.equal(wp.status, 0, `webpack failed:\n${wp.out}`);
  for (const m of JSON.parse(wp.out.trim().split('\n')[0]) as string[]) warnings.push(`webpack: ${m}`);

  // esbuild leaves new URL('…', import.meta.url) alone: the app names the model file it serves.
  write(join(app, 'esbuild/main.js'), APP_SOURCE('esbuild', { weights: '/model.safetensors' }));
  const esbuild = await import('esbuild');
  const es = await esbuild.build({
    absWorkingDir: app, entryPoints: ['esbuild/main.js'], bundle: true, format: 'esm', platform: 'browser',
    target: 'es2022', outfile: join(www, 'esbuild/main.js'), logLevel: 'silent',
  });
  for (const m of [...es.errors, ...es.warnings]) warnings.push(`esbuild: ${m.text}`);
  assert.deepEqual(warnings, [], 'the bundlers must build the browser entry with no error or warning');

  const viteHtml = readFileSync(join(www, 'vite/index.html'), 'utf8');
  const viteScript = /src="\.\/(assets\/[^"]+\.js)"/.exec(viteHtml)?.[1];
  assert.ok(viteScript, `no script in Vite's index.html:\n${viteHtml}`);
  for (const dir of ['vite', 'webpack', 'esbuild']) {
    for (const f of readdirSync(join(www, dir), { recursive: true }) as string[]) {
      if (f.endsWith('.js')) assert.doesNotMatch(readFileSync(join(www, dir, f), 'utf8'), /["']node:|\.wgsl["']/, `${dir}/${f}`);
    }
  }
  // The CDN bundle is served as a CDN serves the package: dist/ with dist/assets/ beside the bundle.
  cpSync(join(installed, 'dist'), join(www, 'package/dist'), { recursive: true });
  // webpack's bundle is a classic script, as html-webpack-plugin emits it: its automatic publicPath
  // (where the emitted model is fetched from) is read from the running script's src.
  const cdnBundle = '/package/dist/webgpu-resnext.browser.js';
  write(join(www, 'index.html'), `<!doctype html>
<script type="module" src="./vite/${viteScript}"></script>
<script src="./webpack/main.js"></script>
<script type="module" src="./esbuild/main.js"></script>
<script type="module">
  import * as api from '${cdnBundle}';
  window.cdnExports = { loadModel: typeof api.loadModel, ImageInputError: typeof api.ImageInputError };
</script>
<script type="module">${APP_SOURCE('cdn', { from: cdnBundle })}</script>`);

  const skip = missingPrerequisite();
  if (skip) { t.skip(skip); return; }
  const extra = new Map<string, Uint8Array>([
    ['/model.safetensors', readFileSync(join(installed, MODEL))],
    ['/sample.png', readFileSync(join(installed, 'dist/assets/fashion-mnist/samples', SAMPLE.file))],
  ]);
  const server = await serveStatic(www, extra);
  const browser = await launchChromium(240_000);
  try {
    await browser.page.goto(server.url);
    const results = await browser.page.evaluate(async () => {
      const w = window as unknown as { results: Record<string, Promise<unknown>>; cdnExports: unknown };
      while (!w.results || Object.keys(w.results).length < 4 || !w.cdnExports) await new Promise((r) => setTimeout(r, 100));
      return { cdnExports: w.cdnExports, ...Object.fromEntries(await Promise.all(Object.entries(w.results).map(async ([k, p]) => [k, await p]))) };
    }) as Record<string, { index: number; label: string; error?: string }>;
    const log = `\n${browser.log.join('\n')}`;
    assert.deepEqual(results.cdnExports, { loadModel: 'function', ImageInputError: 'function' }, `the CDN bundle${log}`);
    for (const name of ['vite', 'webpack', 'esbuild', 'cdn']) {
      assert.equal(results[name].error, undefined, `${name}: ${results[name].error}${log}`);
      assert.equal(results[name].index, SAMPLE.torch_prediction, `${name} top-1: ${results[name].label}`);
      assert.equal(results[name].label, SAMPLE.torch_prediction_name);
    }
    // Where each app's weights came from: the bundlers' emitted copies of the embedded model, the
    // file the esbuild app names, and the package's dist/assets/ for the CDN bundle.
    const weights = server.requests.filter((r) => r.endsWith('.safetensors')).sort();
    assert.equal(weights.length, 4, `weights requests: ${weights.join(', ')}`);
    assert.ok(weights.includes('/model.safetensors'), `esbuild: ${weights.join(', ')}`);
    assert.ok(weights.includes(`/package/${MODEL}`), `CDN bundle: ${weights.join(', ')}`);
    assert.ok(weights.some((r) => /^\/vite\/assets\/[^/]+\.safetensors$/.test(r)), `Vite: ${weights.join(', ')}`);
    assert.ok(weights.some((r) => /^\/webpack\/[^/]+\.safetensors$/.test(r)), `webpack: ${weights.join(', ')}`);
  } finally {
    await browser.close();
    await server.close();
  }
});
