// Access to test/fixtures/checkpoints (made by weights-tools/make_checkpoint_fixtures.py with Debian
// torch) and small byte-building helpers for hand-written pickles.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'checkpoints');

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function fixtureBytes(name: string): Uint8Array {
  const b = readFileSync(fixturePath(name));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as T;
}

export function b64f32(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
  dtype: string;
  data: Float32Array;
  /** Cadene fixtures: the canonical name, recorded from the module's role when the model was built. */
  canonical?: string;
}

export interface Expectation {
  file: string;
  container: string;
  tensors: ExpectedTensor[];
  forward?: { input: { shape: number[]; data: Float32Array }; logits: { shape: number[]; data: Float32Array } };
}

/** `<fixture>.expect.json`: what torch.load returned for the fixture. */
export function expectation(pth: string): Expectation {
  const raw = fixtureJson<{ file: string; container: string; tensors: (Omit<ExpectedTensor, 'data'> & { data: string })[];
    forward?: { input: { shape: number[]; data: string }; logits: { shape: number[]; data: string } } }>(pth.replace(/\.pth$/, '.expect.json'));
  return {
    file: raw.file,
    container: raw.container,
    tensors: raw.tensors.map((t) => ({ ...t, data: b64f32(t.data) })),
    forward: raw.forward && {
      input: { shape: raw.forward.input.shape, data: b64f32(raw.forward.input.data) },
      logits: { shape: raw.forward.logits.shape, data: b64f32(raw.forward.logits.data) },
    },
  };
}

/** The torch.load-verified checkpoint fixtures and their containers. */
export const CHECKPOINTS = ['tiny_zip.pth', 'tiny_legacy.pth', 'tiny_py2_legacy.pth', 'tiny_tar.pth', 'cadene_tiny_legacy.pth',
  'torchvision_tiny_zip.pth'];

/** Concatenates pickle pieces: strings are latin-1 bytes (write opcodes as '\x80' etc.), arrays raw bytes. */
export function bytesOf(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0) & 0xff) : Uint8Array.from(p));
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

export function u32le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export function u64le(v: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
}
