// Vite config for the demo. Run from the repository root:
//   npx vite --config demo/vite.config.ts            (dev server)
//   npx vite build --config demo/vite.config.ts      (-> demo/dist)
//
// The app imports the library straight from ../src (no prebuilt package) and the embedded model
// from ../assets, so the dev server must be allowed to read the whole repository. The library
// loads its shaders with `new URL('../../shaders/x.wgsl', import.meta.url)` and the demo loads
// the model the same way: Vite turns each such URL into an emitted asset at build time.

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const demoRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Modules only the Node code paths of the library import (lazily); never loaded in a browser. */
const NODE_ONLY = ['webgpu', 'pngjs', 'jpeg-js', /^node:/];

export default defineConfig({
  root: demoRoot,
  base: './',
  publicDir: 'public',
  // Keep weights and shaders as files: a .wgsl inlined as a data: URL would also work, but a
  // real file is easier to inspect, and weights must never be inlined.
  assetsInclude: ['**/*.wgsl', '**/*.safetensors', '**/*.bin'],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2048,
    rolldownOptions: { external: NODE_ONLY },
  },
  // The weights worker (demo/weights-worker.ts) is started with { type: 'module' }.
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['webgpu'] },
  server: {
    host: '127.0.0.1',
    fs: { allow: [repoRoot] },
  },
  preview: { host: '127.0.0.1' },
});
