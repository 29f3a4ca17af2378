// Minimal zip reader for PyTorch's archives (torch >= 1.6): central directory (with zip64), stored
// entries only. PyTorch writes every record uncompressed and pads each local header's extra field
// so the data starts on a 64-byte boundary; the data offset is therefore computed from the local
// header (30 + name length + extra length), never assumed. Browser-safe.

import { ByteReader, decodeUtf8 } from './bytes.js';
import { CheckpointFormatError } from './errors.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is refused when the entry is read. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

function zipError(m: string): CheckpointFormatError {
  return new CheckpointFormatError(`corrupt zip archive: ${m}`);
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

/** Reads the central directory. Throws CheckpointFormatError on any inconsistency. */
export function readZipDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the end of the file.
  let eocd = -1;
  for (let p = n - 22; p >= Math.max(0, n - 22 - 65535); p--) {
    if (view.getUint32(p, true) === EOCD_SIG && p + 22 + view.getUint16(p + 20, true) === n) { eocd = p; break; }
  }
  if (eocd < 0) throw zipError('end of central directory not found (truncated file?)');
  const e = new ByteReader(bytes, { start: eocd + 4, error: CheckpointFormatError, what: 'corrupt zip archive' });
  const disk = e.u16(), cdDisk = e.u16();
  e.u16('entries on disk');
  let count = e.u16('entry count');
  let cdSize = e.u32('central directory size');
  let cdOffset = e.u32('central directory offset');
  if (disk !== 0 || cdDisk !== 0) throw zipError('multi-disk archives are not supported');
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) throw zipError('zip64 locator missing');
    const z = new ByteReader(bytes, { start: loc + 8, error: CheckpointFormatError, what: 'corrupt zip archive' });
    const recOffset = z.u64('zip64 record offset');
    const rec = new ByteReader(bytes, { start: recOffset, end: loc, error: CheckpointFormatError, what: 'corrupt zip archive' });
    if (rec.u32('zip64 signature') !== ZIP64_EOCD_SIG) throw zipError('bad zip64 end of central directory signature');
    rec.skip(8 + 2 + 2 + 4 + 4 + 8, 'zip64 record');
    count = rec.u64('zip64 entry count');
    cdSize = rec.u64('zip64 central directory size');
    cdOffset = rec.u64('zip64 central directory offset');
  }
  if (cdOffset + cdSize > eocd) throw zipError(`central directory (offset ${cdOffset}, ${cdSize} bytes) overlaps its end record`);
  if (count * 46 > cdSize) throw zipError(`${count} entries cannot fit a ${cdSize}-byte central directory`);
  const r = new ByteReader(bytes, { start: cdOffset, end: cdOffset + cdSize, error: CheckpointFormatError, what: 'corrupt zip archive' });
  const entries = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    if (r.u32('central header signature') !== CENTRAL_SIG) throw zipError(`entry ${i}: bad central header signature`);
    r.skip(4, 'versions');
    const flags = r.u16('flags');
    const method = r.u16('method');
    r.skip(8, 'time, date, crc');
    let compressedSize = r.u32('compressed size');
    let size = r.u32('size');
    const nameLen = r.u16('name length'), extraLen = r.u16('extra length'), commentLen = r.u16('comment length');
    r.skip(8, 'disk, attributes');
    let localHeaderOffset = r.u32('local header offset');
    const name = decodeUtf8(r.take(nameLen, 'entry name'));
    const extra = new ByteReader(r.take(extraLen, 'extra field'), { error: CheckpointFormatError, what: `corrupt zip archive: entry '${name}'` });
    r.skip(commentLen, 'entry comment');
    if (flags & 1) throw zipError(`entry '${name}' is encrypted`);
    while (extra.remaining >= 4) {
      const id = extra.u16('extra id'), len = extra.u16('extra length');
      const body = new ByteReader(extra.take(len, 'extra body'), { error: CheckpointFormatError, what: `corrupt zip archive: entry '${name}' zip64 field` });
      if (id !== 0x0001) continue;
      if (size === 0xffffffff) size = body.u64('zip64 size');
      if (compressedSize === 0xffffffff) compressedSize = body.u64('zip64 compressed size');
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = body.u64('zip64 local header offset');
    }
    if (entries.has(name)) throw zipError(`duplicate entry '${name}'`);
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
  }
  return entries;
}

/** The bytes of a stored entry (a view into `bytes`, no copy). */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  if (entry.method !== 0) {
    throw new CheckpointFormatError(`zip entry '${entry.name}' is compressed (method ${entry.method}); PyTorch ` +
      'archives store records uncompressed — was the file re-zipped by another tool?');
  }
  if (entry.compressedSize !== entry.size) throw zipError(`stored entry '${entry.name}' has differing sizes`);
  const r = new ByteReader(bytes, { start: entry.localHeaderOffset, error: CheckpointFormatError, what: `corrupt zip archive: entry '${entry.name}'` });
  if (r.u32('local header signature') !== LOCAL_SIG) throw zipError(`entry '${entry.name}': bad local header signature at offset ${entry.localHeaderOffset}`);
  r.skip(22, 'local header');
  const nameLen = r.u16('local name length'), extraLen = r.u16('local extra length');
  r.skip(nameLen + extraLen, 'local name and extra field');
  return r.take(entry.size, 'entry data');
}
