// Copies shaders/ into dist/ so the built package finds them at the same relative path
// (dist/src/gpu/shaders.js -> dist/shaders/*.wgsl) as the sources do (src/gpu -> shaders/).
import { cpSync } from 'node:fs';
cpSync(new URL('../shaders', import.meta.url), new URL('../dist/shaders', import.meta.url), { recursive: true });
