// Image input -> RGBA8 pixels for the GPU preprocess step.
//
// Accepted:
//   anywhere      raw RGBA { data: Uint8Array | Uint8ClampedArray, width, height } (ImageData too)
//   browser       HTMLImageElement, SVGImageElement, ImageBitmap, HTMLCanvasElement, OffscreenCanvas,
//                 HTMLVideoElement, VideoFrame (drawn onto an OffscreenCanvas); Blob / encoded bytes
//                 (createImageBitmap)
//   Node          a JPEG or PNG file path, or its bytes (Buffer / Uint8Array / ArrayBuffer), read and
//                 decoded by the Node platform (src/node/image.ts: jpeg-js and pngjs, pure JS)
// Anything else throws ImageInputError.

import type { RgbaImage } from '../graph/steps.js';
import { nodePlatform } from '../platform.js';

export type { RgbaImage } from '../graph/steps.js';

export class ImageInputError extends TypeError {
  override name = 'ImageInputError';
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

/** Largest image side accepted, so a corrupt header cannot ask for gigabytes. */
export const MAX_IMAGE_SIDE = 16384;

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  const name = (x as object).constructor?.name;
  if (name === 'Object') return `an object with keys ${JSON.stringify(Object.keys(x).slice(0, 5))}`;
  return name ? `a ${name}` : Object.prototype.toString.call(x);
}

export function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
    width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ImageInputError(`${what}: image size ${width}x${height} is not between 1x1 and ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE}`);
  }
}

function isRaw(x: unknown): x is RawImage {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Partial<RawImage>;
  return (r.data instanceof Uint8Array || r.data instanceof Uint8ClampedArray) &&
    typeof r.width === 'number' && typeof r.height === 'number';
}

function fromRaw(r: RawImage, what = 'raw image'): RgbaImage {
  checkSize(r.width, r.height, what);
  const need = r.width * r.height * 4;
  if (r.data.length !== need) {
    throw new ImageInputError(`${what}: ${r.data.length} bytes do not match ${r.width}x${r.height} RGBA (${need} bytes: 4 per pixel, no row padding)`);
  }
  return { data: r.data, width: r.width, height: r.height };
}

/** Draws a browser image source onto an OffscreenCanvas and reads its RGBA pixels. */
function drawToRgba(src: CanvasImageSource | OffscreenCanvas | VideoFrame, width: number, height: number, what: string): RgbaImage {
  checkSize(width, height, what);
  if (typeof OffscreenCanvas === 'undefined') throw new ImageInputError(`${what}: OffscreenCanvas is not available here to read its pixels`);
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
  if (!g) throw new ImageInputError(`${what}: could not get a 2D context to read its pixels`);
  g.drawImage(src as CanvasImageSource, 0, 0, width, height);
  const data = g.getImageData(0, 0, width, height);
  return { data: data.data, width, height };
}

function has(name: string): boolean {
  return typeof (globalThis as Record<string, unknown>)[name] === 'function';
}

function isInstance(x: unknown, name: string): boolean {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && x instanceof (ctor as new () => unknown);
}

/** Converts any accepted input to RGBA8 pixels; throws ImageInputError for anything else. */
export async function toRgba(input: unknown): Promise<RgbaImage> {
  const platform = nodePlatform();
  if (isRaw(input)) return fromRaw(input, isInstance(input, 'ImageData') ? 'ImageData' : 'raw image');
  if (typeof input === 'string') {
    if (!platform) {
      throw new ImageInputError('a string image input is a file path, which only Node can read; in the browser pass an ' +
        'HTMLImageElement, ImageBitmap, ImageData, canvas, VideoFrame or Blob');
    }
    let bytes: Uint8Array;
    try {
      bytes = await platform.readFile(input);
    } catch (e) {
      throw new ImageInputError(`cannot read image file ${input}: ${(e as Error).message}`);
    }
    return platform.decodeImage(bytes, input);
  }
  if (input instanceof ArrayBuffer || input instanceof Uint8Array || isInstance(input, 'Blob')) {
    if (platform && !isInstance(input, 'Blob')) {
      return platform.decodeImage(input instanceof ArrayBuffer ? new Uint8Array(input) : (input as Uint8Array), 'image bytes');
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
      return drawToRgba(bitmap, bitmap.width, bitmap.height, 'image bytes');
    } finally {
      bitmap.close();
    }
  }
  if (isInstance(input, 'HTMLImageElement')) {
    const img = input as HTMLImageElement;
    if (!img.complete || img.naturalWidth === 0) {
      throw new ImageInputError('the HTMLImageElement has not finished loading (or failed to): await img.decode() first');
    }
    return drawToRgba(img, img.naturalWidth, img.naturalHeight, 'HTMLImageElement');
  }
  if (isInstance(input, 'HTMLVideoElement')) {
    const v = input as HTMLVideoElement;
    return drawToRgba(v, v.videoWidth, v.videoHeight, 'HTMLVideoElement');
  }
  if (isInstance(input, 'VideoFrame')) {
    const f = input as VideoFrame;
    return drawToRgba(f, f.displayWidth, f.displayHeight, 'VideoFrame');
  }
  for (const name of ['ImageBitmap', 'HTMLCanvasElement', 'OffscreenCanvas', 'SVGImageElement']) {
    if (isInstance(input, name)) {
      const s = input as { width: number | SVGAnimatedLength; height: number | SVGAnimatedLength };
      const w = typeof s.width === 'number' ? s.width : s.width.baseVal.value;
      const h = typeof s.height === 'number' ? s.height : s.height.baseVal.value;
      return drawToRgba(input as CanvasImageSource, w, h, name);
    }
  }
  throw new ImageInputError(`not an image: got ${describe(input)}. classify() takes raw RGBA { data, width, height }, ` +
    `ImageData, ${platform ? 'a JPEG/PNG file path or its bytes' : 'HTMLImageElement, ImageBitmap, canvas, VideoFrame or a Blob'}`);
}
