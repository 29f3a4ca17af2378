// Runs the CLI (and the benchmark) as a user does (`node --import tsx cli/main.ts ...`) with a
// bounded time, and the Fashion-MNIST data the tests compare against (PyTorch's outputs, committed
// with the model).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FASHION = `${ROOT}assets/fashion-mnist/`;

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI, `cli/main.ts`, with `args`: see runScript. */
export function cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return runScript('cli/main.ts', args, timeoutMs);
}

/**
 * Runs the TypeScript program `script` with `args` from the repository root; kills it after
 * `timeoutMs` (the status is null then). Asynchronous, so the test runner's own timeouts keep
 * working while it runs.
 */
export function runScript(script: string, args: string[], timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A user error: status 1, the expected message on stderr, no stack trace. */
export function assertUserError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.status, 1, `exit status 1 expected (stdout: ${r.stdout.slice(0, 500)}; stderr: ${r.stderr.slice(0, 2000)})`);
  assert.match(r.stderr, pattern);
  assert.match(r.stderr, /^error: /m);
  assert.doesNotMatch(r.stderr, /\n\s+at \S+ \(|internal error/, 'no stack trace for an expected error');
}

/** A usage error found by the parser: status 2. */
export function assertUsageError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.status, 2, `exit status 2 expected (stderr: ${r.stderr.slice(0, 2000)})`);
  assert.match(r.stderr, pattern);
}

export interface FashionSubset {
  count: number;
  labels: number[];
  torch_predictions: number[];
  /** (count, 10) */
  torch_logits: number[][];
  torch_accuracy: number;
  normalisation: { mean: number[]; std: number[] };
}

export function fashionSubset(): FashionSubset {
  return JSON.parse(readFileSync(`${FASHION}test-subset.json`, 'utf8')) as FashionSubset;
}

/** The committed test images, uint8 (count, 28, 28). */
export function fashionImages(): Uint8Array {
  return new Uint8Array(readFileSync(`${FASHION}test-subset-images.bin`));
}

export interface Sample {
  file: string;
  test_index: number;
  label: number;
  torch_prediction: number;
  torch_prediction_name: string;
}

export function fashionSamples(): Sample[] {
  return JSON.parse(readFileSync(`${FASHION}samples/samples.json`, 'utf8')) as Sample[];
}

/** Softmax of one row of logits, in float64. */
export function softmax(logits: readonly number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
