// PNG and JPEG decoding in Node: the Node platform's decodeImage (src/image/decode.ts takes the
// browser's createImageBitmap instead).
//
// The header is read first (src/image/header.ts) and its size bounded (checkSize) before any
// decoder runs. Then one of two decoders:
//   sharp    (libvips with libjpeg-turbo and libpng, as browsers and PIL decode; an optional
//            dependency, used when it loads): native, about 3x faster than the fallback on a
//            5000 x 5000 JPEG with under half its memory; EXIF orientation applied (rotate()).
//   pure JS  (pngjs, jpeg-js; the fallback, and `WEBGPU_RESNEXT_DECODER=js`): EXIF orientation
//            applied by orient() after the reduction.
// Either way the decoded image is reduced at once by the same area filter (boxDownscale) to a
// shorter side of at most maxShorterSide (when given), so raw pixels, a PNG and a JPEG of the same
// image are reduced alike, and only one full-size decode is alive per call. (libvips' shrink-on-load
// would save the full-size decode of a JPEG, but reduce differently from the other paths.)

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbaImage } from '../graph/steps.js';
import { checkSize, ImageInputError, MAX_IMAGE_PIXELS } from '../image/errors.js';
import { readImageHeader, type ImageHeader } from '../image/header.js';
import { boxDownscale, orient, shrinkFactor } from '../image/resample.js';

export type ImageDecoder = 'sharp' | 'js';

type Sharp = typeof import('sharp').default;
let sharpModule: Promise<Sharp | null> | undefined;

/** sharp when it is installed and loads (its prebuilt libvips), else null; `WEBGPU_RESNEXT_DECODER=js` forces the fallback. */
function loadSharp(): Promise<Sharp | null> {
  if (process.env.WEBGPU_RESNEXT_DECODER === 'js') return Promise.resolve(null);
  sharpModule ??= import('sharp').then((m) => m.default, () => null);
  return sharpModule;
}

/** Loads the decoder now, in the background (Platform.prepareImageDecoder). */
export function prepareImageDecoder(): void {
  void loadSharp();
}

/** Which decoder decodeImage uses here. */
export async function imageDecoder(): Promise<ImageDecoder> {
  return (await loadSharp()) ? 'sharp' : 'js';
}

/** Decodes PNG or JPEG bytes (sniffed from the first bytes) to RGBA, oriented, reduced to `maxShorterSide`. */
export async function decodeImage(bytes: Uint8Array, what: string, maxShorterSide?: number): Promise<RgbaImage> {
  const header = readImageHeader(bytes, what);
  checkSize(header.width, header.height, what);
  const sharp = await loadSharp();
  return sharp ? decodeWithSharp(sharp, bytes, header, what, maxShorterSide) : decodeWithJs(bytes, header, what, maxShorterSide);
}

async function decodeWithSharp(sharp: Sharp, bytes: Uint8Array, header: ImageHeader, what: string,
  maxShorterSide: number | undefined): Promise<RgbaImage> {
  let img: RgbaImage;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error', sequentialRead: true });
    if (header.orientation > 1) pipeline = pipeline.rotate(); // the EXIF orientation the header gave
    const { data, info } = await pipeline.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`${info.channels} channels after ensureAlpha`);
    img = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    throw new ImageInputError(`${what}: not a readable ${header.kind === 'png' ? 'PNG' : 'JPEG'} (${(e as Error).message.split('\n')[0]})`);
  }
  return boxDownscale(img, shrinkFactor(img.width, img.height, maxShorterSide));
}

function decodeWithJs(bytes: Uint8Array, header: ImageHeader, what: string, maxShorterSide: number | undefined): RgbaImage {
  let img: RgbaImage;
  if (header.kind === 'png') {
    let png: { width: number; height: number; data: Uint8Array };
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new ImageInputError(`${what}: not a readable PNG (${(e as Error).message})`);
    }
    img = { data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
  } else {
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
    } catch (e) {
      throw new ImageInputError(`${what}: not a readable JPEG (${(e as Error).message})`);
    }
  }
  if (img.width !== header.width || img.height !== header.height) {
    throw new ImageInputError(`${what}: the decoder gave ${img.width}x${img.height}, the header says ${header.width}x${header.height}`);
  }
  // Reduce first (the full-size pixels are garbage once this returns), then orient the small image.
  const small = boxDownscale(img, shrinkFactor(img.width, img.height, maxShorterSide));
  return orient(small, header.orientation);
}
