// Builds the demo (demo/ -> demo/dist) and serves the build on http://127.0.0.1 (WebGPU needs a
// secure context: localhost counts as one). Prints the URL and serves until Ctrl+C.
// Usage: node scripts/serve-demo.mjs [--no-build] [--dev] [--port N] [--host H]
//   --no-build  serve the existing demo/dist
//   --dev       run Vite's dev server on the sources instead (live reload)

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const port = Number(option('--port', '5173'));
const host = option('--host', '127.0.0.1');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve-demo: --port ${option('--port')} is not a port number`);
  process.exit(2);
}

const configFile = fileURLToPath(new URL('../demo/vite.config.ts', import.meta.url));
const dist = fileURLToPath(new URL('../demo/dist/index.html', import.meta.url));
const vite = await import('vite');

let server;
if (flag('--dev')) {
  server = await vite.createServer({ configFile, server: { host, port } });
  await server.listen();
} else {
  if (!flag('--no-build')) await vite.build({ configFile });
  else if (!existsSync(dist)) {
    console.error('serve-demo: demo/dist is missing; run without --no-build first');
    process.exit(1);
  }
  server = await vite.preview({ configFile, preview: { host, port } });
}
const urls = server.resolvedUrls?.local ?? [];
console.log(`\nDemo: ${urls[0] ?? `http://${host}:${port}/`}  (Ctrl+C to stop)`);
console.log('Needs a browser with WebGPU: Chrome/Edge 113+ (Linux: --enable-unsafe-webgpu), Safari 26+, Firefox 141+.');

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
