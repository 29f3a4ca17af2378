// Minimal tar reader for PyTorch's oldest checkpoints (before 0.1.10): ustar/GNU/PAX headers,
// regular-file members only, returned as views into the input. Browser-safe.

import { decodeLatin1, decodeUtf8 } from './bytes.js';
import { CheckpointFormatError } from './errors.js';

const BLOCK = 512;

export function isTar(bytes: Uint8Array): boolean {
  // "ustar" at offset 257 (POSIX "ustar\0", GNU "ustar  ").
  return bytes.length >= 263 && decodeLatin1(bytes.subarray(257, 262)) === 'ustar';
}

function field(h: Uint8Array, off: number, len: number): string {
  const b = h.subarray(off, off + len);
  const z = b.indexOf(0);
  return decodeUtf8(z >= 0 ? b.subarray(0, z) : b);
}

function numberField(h: Uint8Array, off: number, len: number, what: string): number {
  if (h[off] & 0x80) { // GNU base-256: big-endian, top bit of the first byte is the marker
    let v = h[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[off + i];
    if (!Number.isSafeInteger(v)) throw new CheckpointFormatError(`corrupt tar archive: ${what} is out of range`);
    return v;
  }
  const s = decodeLatin1(h.subarray(off, off + len)).replace(/[\0 ]+$/g, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new CheckpointFormatError(`corrupt tar archive: ${what} '${s}' is not octal`);
  return parseInt(s, 8);
}

/** Regular-file members by name. */
export function readTar(bytes: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let pos = 0;
  let longName: string | null = null;
  while (pos + BLOCK <= bytes.length) {
    const h = bytes.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== numberField(h, 148, 8, 'checksum')) throw new CheckpointFormatError(`corrupt tar archive: bad header checksum at offset ${pos}`);
    const size = numberField(h, 124, 12, 'member size');
    const type = String.fromCharCode(h[156] || 0x30);
    const dataStart = pos + BLOCK;
    if (size > bytes.length - dataStart) {
      throw new CheckpointFormatError(`truncated tar archive: member at offset ${pos} needs ${size} bytes, only ${bytes.length - dataStart} left`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    const prefix = field(h, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    longName = null;
    if (type === 'L') {
      longName = field(data, 0, data.length);
    } else if (type === 'x') {
      // PAX extended header: records "<len> key=value\n"; only `path` matters here.
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(decodeUtf8(data));
      if (m) longName = m[1];
    } else if (type === '0' || type === '7') {
      out.set(name.replace(/^\.\//, ''), data);
    }
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
