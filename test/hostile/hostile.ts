// Builders of hostile inputs for the tests in test/hostile/ and the fuzzers: files whose headers
// lie about their sizes, and a CLI run that reports its peak memory.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EMBEDDED = `${ROOT}assets/fashion-mnist/fashion-mnist-resnext.safetensors`;

export interface BoundedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the CLI process, MiB. */
  maxRssMiB: number;
  ms: number;
}

/** Runs the CLI with `args` (killed after `timeoutMs`: status null) and measures its peak memory. */
export function cliBounded(args: string[], timeoutMs = 120_000): Promise<BoundedRun> {
  const dir = mkdtempSync(join(tmpdir(), 'maxrss-'));
  const file = join(dir, 'kb');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/hostile/maxrss.ts', 'cli/main.ts', ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAXRSS_FILE: file } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      let kb = NaN;
      try { kb = Number(readFileSync(file, 'utf8')); } catch { /* killed: no report */ }
      rmSync(dir, { recursive: true, force: true });
      resolve({ status, stdout, stderr, maxRssMiB: kb / 1024, ms: performance.now() - t0 });
    });
  });
}

/** A .safetensors file from a header object and a data section (no checks: headers may lie). */
export function safetensorsBytes(header: Record<string, unknown>, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

/** `file` (a .safetensors) with its header edited by `edit` and the same data section. */
export function editSafetensors(file: string, edit: (header: Record<string, any>) => void): Uint8Array {
  const bytes = new Uint8Array(readFileSync(file));
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, any>;
  edit(header);
  return safetensorsBytes(header, bytes.subarray(8 + n));
}

/** CRC-32 (PNG chunks). */
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** A PNG whose IHDR claims `width` x `height` (8-bit RGBA) with `idat` as its (possibly bogus) image data. */
export function pngClaiming(width: number, height: number, idat = new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** A JPEG that is only a baseline frame header claiming `width` x `height` (no scan data). */
export function jpegClaiming(width: number, height: number): Uint8Array {
  return new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 255, width >> 8, width & 255, 0x03,
    0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]);
}

/** A JPEG's bytes with an APP1 EXIF segment (IFD0 holding only Orientation = `o`) inserted after SOI. */
export function withExifOrientation(jpeg: Uint8Array, o: number, littleEndian = false): Uint8Array {
  const tiff = new Uint8Array(8 + 2 + 12 + 4);
  const v = new DataView(tiff.buffer);
  tiff.set(littleEndian ? [0x49, 0x49] : [0x4d, 0x4d], 0);
  v.setUint16(2, 42, littleEndian);
  v.setUint32(4, 8, littleEndian);
  v.setUint16(8, 1, littleEndian);
  v.setUint16(10, 0x0112, littleEndian);
  v.setUint16(12, 3, littleEndian); // SHORT
  v.setUint32(14, 1, littleEndian);
  v.setUint16(18, o, littleEndian);
  const body = new Uint8Array([...'Exif\0\0'].map((c) => c.charCodeAt(0)).concat([...tiff]));
  const seg = new Uint8Array(4 + body.length);
  seg.set([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255]);
  seg.set(body, 4);
  return new Uint8Array([...jpeg.subarray(0, 2), ...seg, ...jpeg.subarray(2)]);
}
