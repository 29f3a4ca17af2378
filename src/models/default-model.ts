// The embedded default model: a small ResNeXt trained on Fashion-MNIST (28x28 grey, 10 classes),
// made by weights-tools/train_fashion_mnist.py and converted with `convert` (see
// assets/fashion-mnist/README.md). The CLI, `npm start`, the demo and the tests use it when no
// weights are named.
//
// The location is a URL relative to this module, which works in Node (loadModel reads file: URLs)
// and in bundlers (Vite turns `new URL('...', import.meta.url)` into an emitted asset). From
// src/models/ the assets folder is two levels up; a build that moves this module must keep that
// relation (dist/src/models/ -> dist/assets/: scripts/copy-assets.mjs copies the model there).

/** The embedded model's .safetensors, as a URL (file: in Node). */
export const DEFAULT_WEIGHTS_URL = new URL('../../assets/fashion-mnist/fashion-mnist-resnext.safetensors', import.meta.url);

/** The embedded model's .safetensors in Node: a file path (decoded from DEFAULT_WEIGHTS_URL). */
export const DEFAULT_WEIGHTS: string = urlToPath(DEFAULT_WEIGHTS_URL);

/** The embedded model's class names (Fashion-MNIST's, in class-index order; also in its metadata). */
export const DEFAULT_LABELS: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
  'Sneaker', 'Bag', 'Ankle boot'];

/** One sample image of the embedded model: its URL (file: in Node) and its true class index. */
export interface DefaultSample {
  url: URL;
  label: number;
}

/**
 * The sample images (assets/fashion-mnist/samples/samples.json lists the same files, with
 * PyTorch's predictions). One literal URL each, so that bundlers emit every image.
 */
export const DEFAULT_SAMPLES: readonly DefaultSample[] = [
  { url: new URL('../../assets/fashion-mnist/samples/sample-0000-ankle-boot.png', import.meta.url), label: 9 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0001-pullover.png', import.meta.url), label: 2 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0002-trouser.png', import.meta.url), label: 1 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0004-shirt.png', import.meta.url), label: 6 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0006-coat.png', import.meta.url), label: 4 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0007-shirt.png', import.meta.url), label: 6 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0008-sandal.png', import.meta.url), label: 5 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0009-sneaker.png', import.meta.url), label: 7 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0013-dress.png', import.meta.url), label: 3 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0016-pullover.png', import.meta.url), label: 2 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0018-bag.png', import.meta.url), label: 8 },
  { url: new URL('../../assets/fashion-mnist/samples/sample-0019-t-shirt-top.png', import.meta.url), label: 0 },
];

/** A file: URL as a local path (what node:url's fileURLToPath does, without importing it here). */
function urlToPath(url: URL): string {
  if (url.protocol !== 'file:') return url.href;
  const path = decodeURIComponent(url.pathname);
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1).replaceAll('/', '\\') : path; // Windows: /C:/x -> C:\x
}
