// Copies what the compiled package loads at run time into dist/, at the same relative paths the
// sources use: shaders/ (dist/src/gpu/shaders.js -> dist/shaders/*.wgsl) and the embedded model
// with its samples (dist/src/models/default-model.js -> dist/assets/fashion-mnist/).
import { cpSync } from 'node:fs';

const from = (p) => new URL(`../${p}`, import.meta.url);
const to = (p) => new URL(`../dist/${p}`, import.meta.url);
cpSync(from('shaders'), to('shaders'), { recursive: true });
cpSync(from('assets/fashion-mnist/fashion-mnist-resnext.safetensors'), to('assets/fashion-mnist/fashion-mnist-resnext.safetensors'));
cpSync(from('assets/fashion-mnist/samples'), to('assets/fashion-mnist/samples'), { recursive: true });
