// `npm start` (after scripts/setup.mjs): the main job out of the box, on the embedded model.
//
// For now it classifies the sample images shipped with the embedded Fashion-MNIST model
// (assets/fashion-mnist/samples/*.png) through the CLI (`classify --json`, the same code path a
// user runs) and prints each prediction beside the image's true label, and the WebGPU adapter.
// When the demo is ready, `npm start` builds and serves it instead: make main() call
// serveDemo() (scripts/serve-demo.mjs prints the URL) and keep classifySamples() as
// `node scripts/start.mjs --samples`.
//
// Usage: node scripts/start.mjs [--samples] [--adapter default|swiftshader|llvmpipe]
// Exit status: the CLI's (0 on success).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const samplesDir = 'assets/fashion-mnist/samples/';
const args = process.argv.slice(2);

/** Runs `src/cli.ts` with `cliArgs`; resolves with its status and stdout (stderr passes through). */
function runCli(cliArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...cliArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? 1, stdout }));
  });
}

/** Classifies the shipped samples with the embedded model and prints a table. Returns the exit status. */
async function classifySamples(adapter) {
  // samples.json: [{ file, test_index, label, label_name, torch_prediction, torch_prediction_name }]
  const samples = JSON.parse(readFileSync(new URL(`../${samplesDir}samples.json`, import.meta.url), 'utf8'));
  const files = samples.map((s) => `${samplesDir}${s.file}`);
  console.log(`Classifying ${files.length} Fashion-MNIST test images with the embedded model (WebGPU; ` +
    'the first run compiles the kernels, which takes a while on a CPU adapter)...');
  const t0 = performance.now();
  const r = await runCli(['classify', ...files, '--json', '--top', '3', ...(adapter ? ['--adapter', adapter] : [])]);
  if (r.status !== 0) return r.status;
  const out = JSON.parse(r.stdout);
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);

  console.log(`\nmodel    ${out.arch} (${out.weights.replace(root, '')})`);
  console.log(`adapter  ${out.adapter}\n`);
  const w = Math.max(...samples.map((s) => s.file.length));
  const lw = Math.max(...samples.map((s) => s.label_name.length));
  console.log(`${'image'.padEnd(w)}  ${'label'.padEnd(lw)}  prediction (top 3)`);
  let correct = 0;
  out.results.forEach((res, i) => {
    const s = samples[i];
    const [best, ...rest] = res.top;
    const ok = best.index === s.label;
    if (ok) correct++;
    const others = rest.map((c) => `${c.label} ${(c.probability * 100).toFixed(1)}%`).join(', ');
    console.log(`${s.file.padEnd(w)}  ${s.label_name.padEnd(lw)}  ${ok ? 'ok ' : 'NO '} ${best.label} ` +
      `${(best.probability * 100).toFixed(1)}%   (${others})`);
  });
  console.log(`\n${correct} of ${samples.length} correct, in ${seconds} s. ` +
    'Classify your own JPEG or PNG files with: npm run cli -- classify <files...>');
  return 0;
}

async function main() {
  const i = args.indexOf('--adapter');
  const adapter = i >= 0 ? args[i + 1] : undefined;
  return classifySamples(adapter);
}

process.exitCode = await main();
