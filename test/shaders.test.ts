// src/gpu/shaders.ts: the #include and #if resolution every kernel goes through (no GPU needed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preprocess } from '../src/gpu/shaders.js';
import { SHADER_SOURCES } from '../src/gpu/shader-sources.js';

test('#include half puts in shaders/half.wgsl, whose own #if lines are then resolved', () => {
  const src = 'enable f16;\n#if F16\n#include half\n#endif\nfn main() {}\n';
  const packed = preprocess(src, { F16: true, SHADER_F16: false });
  assert.match(packed, /alias Half4 = vec2<u32>;/);
  assert.doesNotMatch(packed, /alias Half4 = vec4<f16>|^#include/m);
  const native = preprocess(src, { F16: true, SHADER_F16: true });
  assert.match(native, /alias Half4 = vec4<f16>;/);
  assert.doesNotMatch(native, /vec2<u32>/);
  // Outside a true #if the fragment is dropped with its block.
  assert.doesNotMatch(preprocess(src, { F16: false, SHADER_F16: false }), /Half4|F16_MAX/);
});

test('the f16 kernels take their f16 helpers from half.wgsl and declare none of their own', () => {
  for (const name of ['conv2d', 'pool2d', 'se'] as const) {
    const source = SHADER_SOURCES[name];
    assert.match(source, /^#include half$/m, name);
    assert.doesNotMatch(source, /alias Half4|const F16_MAX/, name);
  }
});

test('an unknown #include, or a #if without a value, is an error naming the shader', () => {
  assert.throws(() => preprocess('#include nope\n', {}, 'x.wgsl'), /x\.wgsl: #include nope: no shaders\/nope\.wgsl/);
  assert.throws(() => preprocess('#include half\n', {}, 'x.wgsl'), /x\.wgsl: #if SHADER_F16 has no value/);
});
