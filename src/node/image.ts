// PNG and JPEG decoding in Node, with pure-JS decoders (pngjs, jpeg-js): the Node platform's
// decodeImage (src/image/decode.ts takes the browser's createImageBitmap instead).

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbaImage } from '../graph/steps.js';
import { checkSize, ImageInputError } from '../image/decode.js';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function sniff(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Decodes PNG or JPEG bytes (sniffed from the first bytes) to RGBA. */
export async function decodeImage(bytes: Uint8Array, what: string): Promise<RgbaImage> {
  const kind = sniff(bytes);
  if (kind === 'png') {
    let png: { width: number; height: number; data: Uint8Array };
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new ImageInputError(`${what}: not a readable PNG (${(e as Error).message})`);
    }
    checkSize(png.width, png.height, what);
    return { data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
  }
  if (kind === 'jpeg') {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024, maxResolutionInMP: 200 });
    } catch (e) {
      throw new ImageInputError(`${what}: not a readable JPEG (${(e as Error).message})`);
    }
    checkSize(img.width, img.height, what);
    return { data: img.data, width: img.width, height: img.height };
  }
  throw new ImageInputError(`${what}: not a PNG or JPEG image (the first bytes are ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing'})`);
}
