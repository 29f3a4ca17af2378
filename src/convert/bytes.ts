// Bounds-checked little-endian reads over a Uint8Array (browser-safe: no Node imports).
//
// Every read checks the remaining length first and throws the error type the caller chose, so a
// truncated or lying length field becomes a typed error instead of a RangeError or a huge allocation.

import { CheckpointError, CheckpointFormatError } from './errors.js';

type ErrorClass = new (message: string) => CheckpointError;

export class ByteReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos: number;
  /** Reads never go past `end` (exclusive). */
  readonly end: number;
  private readonly fail: ErrorClass;
  private readonly what: string;

  constructor(bytes: Uint8Array, opts: { start?: number; end?: number; error?: ErrorClass; what?: string } = {}) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = opts.start ?? 0;
    this.end = opts.end ?? bytes.byteLength;
    this.fail = opts.error ?? CheckpointFormatError;
    this.what = opts.what ?? 'file';
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  error(message: string): CheckpointError {
    return new this.fail(`${this.what}: ${message}`);
  }

  /** Throws unless `n` more bytes exist; `field` names what was being read. */
  need(n: number, field: string): void {
    if (!(n >= 0) || n > this.remaining) {
      throw this.error(`truncated: ${field} needs ${n} bytes at offset ${this.pos}, only ${Math.max(0, this.remaining)} left`);
    }
  }

  u8(field = 'byte'): number {
    this.need(1, field);
    return this.bytes[this.pos++];
  }

  u16(field = 'u16'): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(field = 'i32'): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A 64-bit integer that must be a safe non-negative JS number (sizes, counts, offsets). */
  u64(field = 'u64'): number {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error(`${field} ${v} is out of range`);
    this.pos += 8;
    return Number(v);
  }

  /** A signed 64-bit integer that must fit a safe JS number. */
  i64(field = 'i64'): number {
    this.need(8, field);
    const v = this.view.getBigInt64(this.pos, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.error(`${field} ${v} is out of range`);
    }
    this.pos += 8;
    return Number(v);
  }

  f64be(field = 'f64'): number {
    this.need(8, field);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /** A view (no copy) of the next `n` bytes. */
  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** Bytes up to (not including) the next '\n', consuming the newline. */
  line(field: string, maxLength = 1 << 20): Uint8Array {
    const limit = Math.min(this.end, this.pos + maxLength + 1);
    for (let i = this.pos; i < limit; i++) {
      if (this.bytes[i] === 0x0a) {
        const out = this.bytes.subarray(this.pos, i);
        this.pos = i + 1;
        return out;
      }
    }
    throw this.error(this.end - this.pos > maxLength
      ? `${field} at offset ${this.pos} is longer than ${maxLength} bytes`
      : `truncated: ${field} at offset ${this.pos} has no terminating newline`);
  }
}

const utf8 = new TextDecoder('utf-8');

/** UTF-8 decoding; invalid sequences become U+FFFD (names stay readable in messages). */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** Latin-1 (bytes 0..255 map to U+0000..U+00FF), for ASCII text fields. */
export function decodeLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  }
  return s;
}
