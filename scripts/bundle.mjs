// The single-file ESM bundle for <script type="module"> and CDNs: dist/webgpu-resnext.browser.js,
// the browser entry (dist/src/index.js) with its dependencies, minified. Run after tsc (npm run build).
//
// The embedded model is located relative to its module (src/models/default-model.ts:
// new URL('../../assets/...', import.meta.url)). Inside the bundle that module's import.meta.url
// would be the bundle's own URL, one folder higher than dist/src/models/, so the bundle gives its
// modules the URL that dist/src/models/default-model.js has beside it: the model then resolves to
// dist/assets/, where scripts/copy-assets.mjs put it. The bundle is checked to use import.meta.url
// nowhere else.
//
// timm's ImageNet-12k class names (src/labels/imagenet-12k.ts, about 300 kB) stay out of the bundle: its
// dynamic import is left to the browser, pointing at dist/src/labels/imagenet-12k.js beside the bundle,
// so only a page that loads an ImageNet-12k model fetches them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/index.js'],
  outfile: 'dist/webgpu-resnext.browser.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  metafile: true,
  define: { 'import.meta.url': 'MODELS_MODULE_URL' },
  banner: { js: "const MODELS_MODULE_URL = new URL('./src/models/default-model.js', import.meta.url).href;" },
  logLevel: 'warning',
  plugins: [{
    name: 'imagenet-12k-labels-on-demand',
    setup(b) {
      b.onResolve({ filter: /\/imagenet-12k\.js$/ }, (args) => args.kind === 'dynamic-import'
        ? { path: './src/labels/imagenet-12k.js', external: true } : undefined);
    },
  }],
});
const misplaced = Object.keys(result.metafile.inputs)
  .filter((path) => !path.endsWith('/default-model.js') && readFileSync(join(root, path), 'utf8').includes('import.meta.url'));
if (misplaced.length > 0) {
  console.error(`bundle: ${misplaced.join(', ')} use import.meta.url, which the bundle relocates to src/models/`);
  process.exit(1);
}
