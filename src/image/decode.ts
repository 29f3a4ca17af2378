// Image input -> RGBA8 pixels for the GPU preprocess step.
//
// Accepted:
//   anywhere      raw RGBA { data: Uint8Array | Uint8ClampedArray, width, height } (ImageData too)
//   browser       HTMLImageElement, SVGImageElement, ImageBitmap, HTMLCanvasElement, OffscreenCanvas,
//                 HTMLVideoElement, VideoFrame (drawn onto an OffscreenCanvas); Blob / encoded bytes
//                 (createImageBitmap)
//   Node          a JPEG or PNG file path (a regular file of at most MAX_IMAGE_FILE_BYTES), or its
//                 bytes (Buffer / Uint8Array / ArrayBuffer), decoded by the Node platform
//                 (src/node/image.ts: the size read from the header and bounded first; EXIF
//                 orientation applied, as browsers do)
// Anything else throws ImageInputError.
//
// Memory: with `maxShorterSide` (classify() and embed() pass 2 x the model's resize size) an image
// is reduced right after decoding (src/image/resample.ts; in the browser it is drawn at the reduced
// size), so what is kept and uploaded to the GPU does not grow with the photo's size.

import type { RgbaImage } from '../graph/steps.js';
import { nodePlatform } from '../platform.js';
import { checkSize, ImageInputError, MAX_IMAGE_FILE_BYTES } from './errors.js';
import { boxDownscale, shrinkFactor } from './resample.js';

export type { RgbaImage } from '../graph/steps.js';
export { checkSize, ImageInputError, MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from './errors.js';

export interface ToRgbaOptions {
  /** Reduce an image whose shorter side is longer than this (by an integer factor, area filter). */
  maxShorterSide?: number;
}

/** Raw RGBA pixels: 4 bytes per pixel, row-major, no padding. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/**
 * The browser's image sources, typed by the members toRgba reads so that the package's types need
 * no DOM library: HTMLImageElement, HTMLCanvasElement, HTMLVideoElement, ImageBitmap, OffscreenCanvas
 * (width, height), SVGImageElement (animated lengths) and VideoFrame (display size).
 */
export type BrowserImageSource =
  | { readonly width: number; readonly height: number }
  | { readonly width: { readonly baseVal: { readonly value: number } }; readonly height: { readonly baseVal: { readonly value: number } } }
  | { readonly displayWidth: number; readonly displayHeight: number };

/** A Blob or File of encoded image bytes (typed by its members, as BrowserImageSource is). */
export interface ImageBlob {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Every kind of image classify() takes. */
export type ImageInput =
  | RawImage
  | string
  | ArrayBuffer
  | Uint8Array
  | ImageBlob
  | BrowserImageSource;

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  const name = (x as object).constructor?.name;
  if (name === 'Object') return `an object with keys ${JSON.stringify(Object.keys(x).slice(0, 5))}`;
  return name ? `a ${name}` : Object.prototype.toString.call(x);
}

function isRaw(x: unknown): x is RawImage {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Partial<RawImage>;
  return (r.data instanceof Uint8Array || r.data instanceof Uint8ClampedArray) &&
    typeof r.width === 'number' && typeof r.height === 'number';
}

function fromRaw(r: RawImage, what: string, opts: ToRgbaOptions): RgbaImage {
  checkSize(r.width, r.height, what);
  const need = r.width * r.height * 4;
  if (r.data.length !== need) {
    throw new ImageInputError(`${what}: ${r.data.length} bytes do not match ${r.width}x${r.height} RGBA (${need} bytes: 4 per pixel, no row padding)`);
  }
  const img = { data: r.data, width: r.width, height: r.height };
  return boxDownscale(img, shrinkFactor(img.width, img.height, opts.maxShorterSide));
}

/** Draws a browser image source onto an OffscreenCanvas (reduced as opts say) and reads its RGBA pixels. */
function drawToRgba(src: CanvasImageSource | OffscreenCanvas | VideoFrame, width: number, height: number, what: string,
  opts: ToRgbaOptions): RgbaImage {
  checkSize(width, height, what);
  if (typeof OffscreenCanvas === 'undefined') throw new ImageInputError(`${what}: OffscreenCanvas is not available here to read its pixels`);
  const f = shrinkFactor(width, height, opts.maxShorterSide);
  const w = Math.ceil(width / f), h = Math.ceil(height / f);
  const canvas = new OffscreenCanvas(w, h);
  const g = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
  if (!g) throw new ImageInputError(`${what}: could not get a 2D context to read its pixels`);
  if (f > 1) g.imageSmoothingQuality = 'high';
  g.drawImage(src as CanvasImageSource, 0, 0, w, h);
  const data = g.getImageData(0, 0, w, h);
  return { data: data.data, width: w, height: h };
}

function has(name: string): boolean {
  return typeof (globalThis as Record<string, unknown>)[name] === 'function';
}

function isInstance(x: unknown, name: string): boolean {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && x instanceof (ctor as new () => unknown);
}

/** Converts any accepted input to RGBA8 pixels; throws ImageInputError for anything else. */
export async function toRgba(input: unknown, opts: ToRgbaOptions = {}): Promise<RgbaImage> {
  const platform = nodePlatform();
  if (isRaw(input)) return fromRaw(input, isInstance(input, 'ImageData') ? 'ImageData' : 'raw image', opts);
  if (typeof input === 'string') {
    if (!platform) {
      throw new ImageInputError('a string image input is a file path, which only Node can read; in the browser pass an ' +
        'HTMLImageElement, ImageBitmap, ImageData, canvas, VideoFrame or Blob');
    }
    let bytes: Uint8Array;
    try {
      bytes = await platform.readFile(input, MAX_IMAGE_FILE_BYTES);
    } catch (e) {
      throw new ImageInputError(`cannot read image file ${input}: ${(e as Error).message}`);
    }
    return platform.decodeImage(bytes, input, opts.maxShorterSide);
  }
  if (input instanceof ArrayBuffer || input instanceof Uint8Array || isInstance(input, 'Blob')) {
    if (platform && !isInstance(input, 'Blob')) {
      return platform.decodeImage(input instanceof ArrayBuffer ? new Uint8Array(input) : (input as Uint8Array), 'image bytes', opts.maxShorterSide);
    }
    if (!has('createImageBitmap')) throw new ImageInputError('cannot decode encoded image bytes here (no createImageBitmap)');
    const blob = isInstance(input, 'Blob') ? input as Blob : new Blob([input as ArrayBuffer]);
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch (e) {
      throw new ImageInputError(`the image bytes could not be decoded: ${(e as Error).message}`);
    }
    try {
      return drawToRgba(bitmap, bitmap.width, bitmap.height, 'image bytes', opts);
    } finally {
      bitmap.close();
    }
  }
  if (isInstance(input, 'HTMLImageElement')) {
    const img = input as HTMLImageElement;
    if (!img.complete || img.naturalWidth === 0) {
      throw new ImageInputError('the HTMLImageElement has not finished loading (or failed to): await img.decode() first');
    }
    return drawToRgba(img, img.naturalWidth, img.naturalHeight, 'HTMLImageElement', opts);
  }
  if (isInstance(input, 'HTMLVideoElement')) {
    const v = input as HTMLVideoElement;
    return drawToRgba(v, v.videoWidth, v.videoHeight, 'HTMLVideoElement', opts);
  }
  if (isInstance(input, 'VideoFrame')) {
    const f = input as VideoFrame;
    return drawToRgba(f, f.displayWidth, f.displayHeight, 'VideoFrame', opts);
  }
  for (const name of ['ImageBitmap', 'HTMLCanvasElement', 'OffscreenCanvas', 'SVGImageElement']) {
    if (isInstance(input, name)) {
      const s = input as { width: number | SVGAnimatedLength; height: number | SVGAnimatedLength };
      const w = typeof s.width === 'number' ? s.width : s.width.baseVal.value;
      const h = typeof s.height === 'number' ? s.height : s.height.baseVal.value;
      return drawToRgba(input as CanvasImageSource, w, h, name, opts);
    }
  }
  throw new ImageInputError(`not an image: got ${describe(input)}. classify() takes raw RGBA { data, width, height }, ` +
    `ImageData, ${platform ? 'a JPEG/PNG file path or its bytes' : 'HTMLImageElement, ImageBitmap, canvas, VideoFrame or a Blob'}`);
}
