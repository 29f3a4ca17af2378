// What an encoded PNG or JPEG says about itself before any pixel is decoded: its kind, its stored
// size and (JPEG) its EXIF orientation. The size is checked (checkSize) before a decoder runs, so a
// small file whose header claims 16,711,708 x 28 pixels is refused at once instead of after a
// multi-gigabyte decode. Browser-safe: bytes in, no Node imports. Every read is bounds-checked; a
// header that cannot be read throws ImageInputError.

import { ImageInputError } from './errors.js';

export interface ImageHeader {
  kind: 'png' | 'jpeg';
  /** As stored, before the EXIF orientation is applied. */
  width: number;
  height: number;
  /** EXIF orientation 1..8 (1: as stored; 5..8 swap width and height); 1 when absent or invalid. */
  orientation: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** 'png' or 'jpeg' from the first bytes, or undefined. */
export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** The kind, stored size and orientation; throws ImageInputError naming `what` when the header is unreadable. */
export function readImageHeader(bytes: Uint8Array, what: string): ImageHeader {
  const kind = sniffImage(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === 'png') {
    // Signature, then the IHDR chunk: length 13, 'IHDR', width and height (u32 big-endian).
    if (bytes.length < 24 || view.getUint32(12) !== 0x49484452) throw new ImageInputError(`${what}: not a readable PNG (no IHDR chunk first)`);
    return { kind, width: view.getUint32(16), height: view.getUint32(20), orientation: 1 };
  }
  if (kind === 'jpeg') return readJpegHeader(bytes, view, what);
  throw new ImageInputError(`${what}: not a PNG or JPEG image (the first bytes are ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing'})`);
}

/** Walks the JPEG's marker segments up to the first SOFn frame header, noting an EXIF orientation on the way. */
function readJpegHeader(bytes: Uint8Array, view: DataView, what: string): ImageHeader {
  let p = 2;
  let orientation = 1;
  for (;;) {
    // Fill bytes (0xff) may precede a marker.
    while (p < bytes.length && bytes[p] === 0xff && bytes[p + 1] === 0xff) p++;
    if (p + 4 > bytes.length || bytes[p] !== 0xff) throw new ImageInputError(`${what}: not a readable JPEG (no frame header before byte ${p})`);
    const marker = bytes[p + 1];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { p += 2; continue; } // no length
    if (marker === 0xd9 || marker === 0xda) throw new ImageInputError(`${what}: not a readable JPEG (no frame header before the scan data)`);
    const len = view.getUint16(p + 2);
    if (len < 2 || p + 2 + len > bytes.length) throw new ImageInputError(`${what}: not a readable JPEG (a segment at byte ${p} runs past the end)`);
    const body = p + 4;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (len < 8) throw new ImageInputError(`${what}: not a readable JPEG (short frame header)`);
      return { kind: 'jpeg', height: view.getUint16(body + 1), width: view.getUint16(body + 3), orientation };
    }
    if (marker === 0xe1 && orientation === 1) orientation = exifOrientation(bytes.subarray(body, p + 2 + len));
    p += 2 + len;
  }
}

/** The Orientation tag (0x0112) of IFD0 in an APP1 'Exif\0\0' segment body; 1 when absent or malformed. */
export function exifOrientation(app1: Uint8Array): number {
  if (app1.length < 14 || String.fromCharCode(...app1.subarray(0, 6)) !== 'Exif\0\0') return 1;
  const tiff = app1.subarray(6);
  const v = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const order = v.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const le = order === 0x4949;
  if (v.getUint16(2, le) !== 42) return 1;
  const ifd = v.getUint32(4, le);
  if (ifd + 2 > tiff.length) return 1;
  const n = v.getUint16(ifd, le);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > tiff.length) return 1;
    if (v.getUint16(e, le) === 0x0112) {
      const value = v.getUint16(e + 8, le); // type SHORT, count 1: the value sits in the entry
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}
