// Copies of the embedded model's weights with one tensor changed (a NaN bias, a huge fc ...), for
// the tests of hostile weights.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_WEIGHTS_URL } from '../../src/models/default-model.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';

const EMBEDDED = new Uint8Array(readFileSync(fileURLToPath(DEFAULT_WEIGHTS_URL)));

/** A copy of the embedded weights (.safetensors bytes) with `edit` applied to tensor `name`'s f32 values. */
export function editedWeights(name: string, edit: (values: Float32Array) => void): Uint8Array {
  const bytes = EMBEDDED.slice();
  const h = parseSafetensors(bytes);
  const t = h.tensors.get(name);
  assert.ok(t && t.dtype === 'F32', `${name} is an f32 tensor of the embedded model`);
  const start = h.dataOffset + t.begin;
  const values = new Float32Array(bytes.buffer.slice(start, h.dataOffset + t.end));
  edit(values);
  bytes.set(new Uint8Array(values.buffer), start);
  return bytes;
}
