// `npm start` (after scripts/setup.mjs): the main job out of the box, on the embedded model.
//
// By default it builds the demo and serves it on http://127.0.0.1:5173 with the embedded model
// preloaded (scripts/serve-demo.mjs; its flags --port, --host, --dev pass through) and prints the URL.
// With --samples it classifies the sample images shipped with the embedded Fashion-MNIST model
// (assets/fashion-mnist/samples/*.png) in Node through the CLI (`classify --json`, the same code
// path a user runs) and prints each prediction beside the image's true label, and the adapter.
//
// Usage: node scripts/start.mjs [--port N] [--dev] | --samples [--adapter default|swiftshader|llvmpipe]
// Exit status with --samples: the CLI's (0 on success).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const samplesDir = 'assets/fashion-mnist/samples/';
const args = process.argv.slice(2);

/** Runs `cli/main.ts` with `cliArgs`; resolves with its status and stdout (stderr passes through). */
function runCli(cliArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...cliArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
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

if (args.includes('--samples')) {
  const i = args.indexOf('--adapter');
  process.exitCode = await classifySamples(i >= 0 ? args[i + 1] : undefined);
} else {
  await import('./serve-demo.mjs'); // reads the same argv; serves until Ctrl+C
}
