// The image input's error type and size bounds, shared by the decoders (browser-safe).

export class ImageInputError extends TypeError {
  override name = 'ImageInputError';
}

/** Largest image side accepted, so a corrupt header cannot ask for gigabytes. */
export const MAX_IMAGE_SIDE = 16384;

/** Most pixels of an image accepted (a 64-megapixel photo, 8192 x 8192): checked from the header, before decoding. */
export const MAX_IMAGE_PIXELS = 2 ** 26;

/** Largest encoded image file read (bytes). */
export const MAX_IMAGE_FILE_BYTES = 256 * 2 ** 20;

/** Throws ImageInputError unless width x height is between 1 x 1 and MAX_IMAGE_SIDE a side, MAX_IMAGE_PIXELS in all. */
export function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
    width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ImageInputError(`${what}: image size ${width}x${height} is not between 1x1 and ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE}`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ImageInputError(`${what}: image size ${width}x${height} is more than ${MAX_IMAGE_PIXELS / 2 ** 20} megapixels`);
  }
}
