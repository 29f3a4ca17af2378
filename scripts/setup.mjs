// Installs what `npm start`, `npm test` and `npm run bench` need on a fresh Debian machine with
// only Node: the npm packages, Debian's chromium (SwiftShader's Vulkan driver for Node's WebGPU,
// and the browser for the browser tests) and the system's Vulkan loader, libvulkan1 (chromium keeps
// a private copy in its own folder; Node's `webgpu` loads the system's). Each step is skipped when
// already done.
// Usage: node scripts/setup.mjs [--torch] [--mesa]
//   --torch  also Debian's python3-torch (PyTorch goldens, FULL=1 tests, fixture generators)
//   --mesa   also Mesa's GLES driver (the llvmpipe adapter)

import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));

function run(cmd) {
  console.log(`setup: ${cmd}`);
  execSync(cmd, { cwd: root, stdio: 'inherit' });
}

// npm packages: install when node_modules is missing or older than the lock file.
const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs)) {
  run('npm install --no-audit --no-fund');
}

// A system library is there when the dynamic loader's cache knows it.
let ldCache = '';
try { ldCache = execSync('/sbin/ldconfig -p', { encoding: 'utf8' }); } catch { /* not glibc: every check below installs */ }
const hasLibrary = (file) => ldCache.includes(` ${file} `);

const apt = [];
if (!existsSync('/usr/lib/chromium/libvk_swiftshader.so') || !existsSync('/usr/bin/chromium')) apt.push('chromium');
if (!hasLibrary('libvulkan.so.1')) apt.push('libvulkan1');
if (args.has('--mesa') && !(hasLibrary('libEGL_mesa.so.0') && hasLibrary('libGLESv2.so.2'))) {
  apt.push('mesa-vulkan-drivers', 'libegl-mesa0', 'libgles2');
}
if (args.has('--torch')) {
  try { execSync('/usr/bin/python3 -c "import torch"', { stdio: 'ignore' }); } catch { apt.push('python3-torch', 'python3-torchvision'); }
  // Pillow: the resize goldens of timm's evaluation transform (make_pillow_resize_golden.py, make_hub_fixtures.py).
  try { execSync('/usr/bin/python3 -c "import PIL"', { stdio: 'ignore' }); } catch { apt.push('python3-pil'); }
}
if (apt.length) {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  try {
    run(`${sudo}apt-get update -qq`);
    run(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${apt.join(' ')}`);
  } catch {
    console.error(`setup: could not install ${apt.join(', ')} with apt-get. Install them by hand (Debian package names).`);
    process.exit(1);
  }
}
