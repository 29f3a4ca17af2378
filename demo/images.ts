// Image inputs for the demo: files (picker, drop, paste), gallery URLs and the webcam.
// Every source ends as an ImageBitmap decoded without colour-space conversion, so the pixels the
// model sees are the file's own (a PNG gives the same RGBA bytes as Node's PNG decoder).

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/bmp', 'image/avif'];

export function isImageFile(f: File): boolean {
  return f.type.startsWith('image/') || /\.(png|jpe?g|webp|gif|bmp|avif)$/i.test(f.name);
}

export async function decodeImage(blob: Blob, what: string): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`${what} is not an image this browser can decode (${blob.type || 'unknown type'}): ${(e as Error).message}`);
  }
}

export async function fetchImage(url: string): Promise<ImageBitmap> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not load ${url}: HTTP ${r.status}`);
  return decodeImage(await r.blob(), url);
}

/** Draws `image` into `canvas`, scaled to fit `maxSide` while keeping the aspect ratio. */
export function drawPreview(canvas: HTMLCanvasElement, image: CanvasImageSource & { width: number; height: number },
  maxSide = 224): void {
  const scale = Math.min(maxSide / image.width, maxSide / image.height);
  canvas.width = Math.max(1, Math.round(image.width * scale));
  canvas.height = Math.max(1, Math.round(image.height * scale));
  const g = canvas.getContext('2d');
  if (!g) return;
  // Tiny images (28x28 Fashion-MNIST) look better with crisp pixels.
  g.imageSmoothingEnabled = scale < 2;
  g.drawImage(image, 0, 0, canvas.width, canvas.height);
}

/** The webcam: start, grab a frame, stop. */
export class Webcam {
  private stream?: MediaStream;

  static available(): boolean {
    return typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
  }

  static async hasCamera(): Promise<boolean> {
    if (!Webcam.available() || !navigator.mediaDevices.enumerateDevices) return false;
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    return devices.some((d) => d.kind === 'videoinput');
  }

  get running(): boolean {
    return this.stream !== undefined;
  }

  async start(video: HTMLVideoElement): Promise<void> {
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (e) {
      throw new Error(`the webcam could not be opened: ${(e as Error).message}`);
    }
    video.srcObject = this.stream;
    await video.play();
  }

  async grab(video: HTMLVideoElement): Promise<ImageBitmap> {
    if (!this.stream || video.videoWidth === 0) throw new Error('the webcam is not running');
    return createImageBitmap(video);
  }

  stop(video: HTMLVideoElement): void {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = undefined;
    video.srcObject = null;
  }
}
