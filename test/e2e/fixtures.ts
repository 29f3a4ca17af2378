// Reading the PyTorch goldens written by test/fixtures/make_e2e_goldens.py.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.js';
import { buildPlan, type Model } from '../../src/index.js';
import { assertClose } from '../helpers/compare.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/e2e/', import.meta.url));

/** The families the generator writes. */
export const FAMILIES = ['basic', 'bottleneck', 'resnext', 'cadene32', 'cadene64', 'fbresnet', 'se_resnext', 'preact', 'preact_basic'] as const;

export function weightsPath(family: string, dir = FIXTURES): string {
  return `${dir}${dir.endsWith('/') ? '' : '/'}${family}.safetensors`;
}

/**
 * 'input' (N, C, H, W), torch's float64 'logits' (N, classes) and its float32 'logitsF32', with
 * `torchF32Error` = max |logitsF32 - logits|: the error float32 arithmetic brings to this network.
 */
export function readGolden(family: string, dir = FIXTURES): {
  input: Float32Array; inputShape: number[]; logits: Float32Array; logitsF32: Float32Array; torchF32Error: number; classes: number;
} {
  const bytes = new Uint8Array(readFileSync(`${dir}${dir.endsWith('/') ? '' : '/'}${family}.io.safetensors`));
  const h = parseSafetensors(bytes);
  const get = (name: string) => {
    const t = h.tensors.get(name)!;
    return { data: toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)), shape: t.shape };
  };
  const input = get('input');
  const logits = get('logits');
  const logitsF32 = get('logits_f32').data;
  const torchF32Error = logitsF32.reduce((m, v, i) => Math.max(m, Math.abs(v - logits.data[i])), 0);
  return { input: input.data, inputShape: input.shape, logits: logits.data, logitsF32, torchF32Error, classes: logits.shape[1] };
}

/** Indices of the k largest values of row `row` of a (rows, n) matrix, best first. */
export function topIndices(x: Float32Array, n: number, row: number, k: number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => x[row * n + b] - x[row * n + a]).slice(0, k);
}

/**
 * The same top-k as the golden, except that two classes whose golden logits are closer than `tie`
 * may swap (such an order is not determined by float32 arithmetic).
 */
export function assertSameTopK(actual: Float32Array, golden: Float32Array, n: number, rows: number, k: number, tie: number, what: string): void {
  for (let r = 0; r < rows; r++) {
    const a = topIndices(actual, n, r, k);
    const g = topIndices(golden, n, r, k);
    for (let j = 0; j < k; j++) {
      if (a[j] === g[j]) continue;
      const gap = Math.abs(golden[r * n + a[j]] - golden[r * n + g[j]]);
      assert.ok(gap <= tie, `${what} row ${r}: top-${k} ${JSON.stringify(a)} != torch ${JSON.stringify(g)} at rank ${j} (golden gap ${gap})`);
    }
  }
}

/**
 * The tolerance on a model's logits against the float64 golden, as a fraction of max |logit|:
 * 1e-4 at 'f32'; at 'f16' 3 * (conv layers) * 2^-11. Derivation of the f16 bound (README "Precision"):
 * each conv layer rounds its weights to f16 (error <= u * sum |w x|, a few u of its output in these
 * BatchNorm networks: validate() measures at most 1.7u per step) and its f16 output (u), u = 2^-11,
 * so a layer adds at most about 3u relative error, and D conv layers compound to at most 3 * D * u of
 * the logits' scale (BatchNorm keeps each layer's gain near 1).
 */
export function logitTolerance(model: Model): number {
  if (model.info.precision !== 'f16') return 1e-4;
  return 3 * buildPlan(model.info.config).steps.filter((s) => s.kind === 'conv').length * 2 ** -11;
}

/**
 * Runs `golden.input` (batch 2) through `model` and asserts the logits within logitTolerance(model) x
 * max|logit| of the float64 golden, and the same top-5 (ties within twice that). Returns the max
 * |diff| / max |logit| measured and the fraction allowed.
 */
export async function assertMatchesGolden(model: Model, golden: ReturnType<typeof readGolden>, what: string): Promise<{ error: number; allowed: number }> {
  const logits = await model.run(golden.input, { batch: 2 });
  let maxLogit = 0;
  let maxDiff = 0;
  for (let i = 0; i < golden.logits.length; i++) {
    maxLogit = Math.max(maxLogit, Math.abs(golden.logits[i]));
    maxDiff = Math.max(maxDiff, Math.abs(logits[i] - golden.logits[i]));
  }
  const allowed = logitTolerance(model);
  const tol = allowed * maxLogit;
  assertClose(logits, golden.logits, { atol: tol, rtol: 0, what: `${what} logits`, shape: { actual: [logits.length], expected: [2 * golden.classes] } });
  assertSameTopK(logits, golden.logits, golden.classes, 2, 5, 2 * tol, what);
  return { error: maxDiff / maxLogit, allowed };
}
