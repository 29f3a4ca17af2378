// Image input -> RGBA8 pixels for the GPU preprocess step.
//
// Accepted:
//   anywhere      raw RGBA { data: Uint8Array | Uint8ClampedArray, width, height } (ImageData too)
//   browser       HTMLImageElement, SVGImageElement, ImageBitmap, HTMLCanvasElement, OffscreenCanvas,
//                 HTMLVideoElement, VideoFrame (drawn onto an OffscreenCanvas); Blob / encoded bytes
//                 (createImageBitmap)
//   Node          a JPEG or PNG file path, or its bytes (Buffer / Uint8Array / ArrayBuffer), decoded
//                 with jpeg-js and pngjs (pure JS)
// Anything else throws ImageInputError. Node-only modules are loaded with dynamic imports under
// names bundlers do not follow, so this file bundles for the browser.

import type { RgbaImage } from '../graph/steps.js';

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

/** Every kind of image classify() takes (browser types are structural, so Node needs no DOM). */
export type ImageInput =
  | RawImage
  | string
  | ArrayBuffer
  | Uint8Array
  | Blob
  | CanvasImageSource
  | OffscreenCanvas
  | VideoFrame;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Largest image side accepted, so a corrupt header cannot ask for gigabytes. */
export const MAX_IMAGE_SIDE = 16384;

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  const name = (x as object).constructor?.name;
  if (name === 'Object') return `an object with keys ${JSON.stringify(Object.keys(x).slice(0, 5))}`;
  return name ? `a ${name}` : Object.prototype.toString.call(x);
}

function checkSize(width: number, height: number, what: string): void {
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

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function sniff(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

// Module names in variables: bundlers leave these imports alone; they only run in Node.
const PNGJS = 'pngjs';
const JPEGJS = 'jpeg-js';

async function decodeInNode(bytes: Uint8Array, what: string): Promise<RgbaImage> {
  const kind = sniff(bytes);
  if (kind === 'png') {
    const { PNG } = (await import(/* @vite-ignore */ PNGJS)) as typeof import('pngjs');
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
    const jpeg = (await import(/* @vite-ignore */ JPEGJS)) as typeof import('jpeg-js');
    const decode = (jpeg.decode ?? (jpeg as unknown as { default: typeof import('jpeg-js') }).default.decode);
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024, maxResolutionInMP: 200 });
    } catch (e) {
      throw new ImageInputError(`${what}: not a readable JPEG (${(e as Error).message})`);
    }
    checkSize(img.width, img.height, what);
    return { data: img.data, width: img.width, height: img.height };
  }
  throw new ImageInputError(`${what}: not a PNG or JPEG image (the first bytes are ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing'})`);
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
  if (isRaw(input)) return fromRaw(input, isInstance(input, 'ImageData') ? 'ImageData' : 'raw image');
  if (typeof input === 'string') {
    if (!isNode) {
      throw new ImageInputError('a string image input is a file path, which only Node can read; in the browser pass an ' +
        'HTMLImageElement, ImageBitmap, ImageData, canvas, VideoFrame or Blob');
    }
    const fs = await import('node:fs/promises');
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(input);
    } catch (e) {
      throw new ImageInputError(`cannot read image file ${input}: ${(e as Error).message}`);
    }
    return decodeInNode(bytes, input);
  }
  if (input instanceof ArrayBuffer || input instanceof Uint8Array || isInstance(input, 'Blob')) {
    if (isNode && !isInstance(input, 'Blob')) {
      return decodeInNode(input instanceof ArrayBuffer ? new Uint8Array(input) : (input as Uint8Array), 'image bytes');
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
    `ImageData, ${isNode ? 'a JPEG/PNG file path or its bytes' : 'HTMLImageElement, ImageBitmap, canvas, VideoFrame or a Blob'}`);
}
