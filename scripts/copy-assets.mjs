// Copies what the compiled package loads at run time into dist/, at the same relative path the
// sources use: the embedded model with its samples (dist/src/models/default-model.js ->
// dist/assets/fashion-mnist/). Shaders need no copy: they are embedded (scripts/embed-shaders.mjs).
import { cpSync } from 'node:fs';

const from = (p) => new URL(`../${p}`, import.meta.url);
const to = (p) => new URL(`../dist/${p}`, import.meta.url);
cpSync(from('assets/fashion-mnist/fashion-mnist-resnext.safetensors'), to('assets/fashion-mnist/fashion-mnist-resnext.safetensors'));
cpSync(from('assets/fashion-mnist/samples'), to('assets/fashion-mnist/samples'), { recursive: true });
