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

/** Sample images shipped with the embedded model (28x28 grey PNGs, one or more per class). */
export const DEFAULT_SAMPLES_URL = new URL('../../assets/fashion-mnist/samples/', import.meta.url);

/** A file: URL as a local path (what node:url's fileURLToPath does, without importing it here). */
function urlToPath(url: URL): string {
  if (url.protocol !== 'file:') return url.href;
  const path = decodeURIComponent(url.pathname);
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1).replaceAll('/', '\\') : path; // Windows: /C:/x -> C:\x
}
