// Loading weights: every source kind gives the same model; progress in bytes; F16 / BF16 files are
// expanded to f32; the config comes from the options or the file's metadata, and is checked by the
// plan's validator as everywhere else a config enters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  getArchitecture, loadModel, openSafetensors, parseSafetensors, PlanError, writeSafetensors, type LoadProgress, type ResNetConfig,
} from '../src/index.js';
import { resolveConfig } from '../src/weights/load.js';
import type { WeightsSource } from '../src/weights/source.js';
import { randomWeights } from '../src/weights/random.js';
import { parseModelConfig } from '../src/convert/convert.js';
import { ConversionError } from '../src/convert/errors.js';
import { toFloat32 } from '../src/weights/safetensors.js';
import { assertClose } from './helpers/compare.js';
import { testContext } from './helpers/gpu.js';
import { readGolden, weightsPath } from './e2e/fixtures.js';

const path = weightsPath('cadene32');
const bytes = new Uint8Array(readFileSync(path));
const golden = readGolden('cadene32');

async function logitsFrom(weights: WeightsSource, onProgress?: (p: LoadProgress) => void) {
  const model = await loadModel({ weights, device: await testContext(), onProgress });
  try {
    return await model.run(golden.input, { batch: 2 });
  } finally {
    model.dispose();
  }
}

test('path, file: URL, ArrayBuffer, Uint8Array, Response and Blob give identical logits', async () => {
  const events: LoadProgress[] = [];
  const reference = await logitsFrom(path, (p) => events.push(p));
  assertClose(reference, golden.logits, { atol: 1e-4 * Math.max(...golden.logits.map(Math.abs)), rtol: 0 });
  const sources: [string, WeightsSource][] = [
    ['file URL', pathToFileURL(path)],
    ['file URL string', pathToFileURL(path).href],
    ['ArrayBuffer', bytes.slice().buffer],
    ['Uint8Array', bytes],
    ['Response', new Response(bytes.slice())],
    ['Blob', new Blob([bytes.slice()])],
  ];
  for (const [what, source] of sources) assert.deepEqual(await logitsFrom(source), reference, what);

  // Progress: bytes read, then bytes uploaded, each rising to its total.
  const download = events.filter((e) => e.phase === 'download');
  const upload = events.filter((e) => e.phase === 'upload');
  const compile = events.filter((e) => e.phase === 'compile');
  assert.ok(download.length >= 2 && upload.length >= 2 && compile.length >= 2);
  assert.equal(events.findIndex((e) => e.phase === 'upload'), download.length, 'uploads follow the download');
  assert.equal(events.findIndex((e) => e.phase === 'compile'), download.length + upload.length, 'compile progress follows the uploads');
  for (const phase of [download, upload, compile]) {
    for (let i = 1; i < phase.length; i++) assert.ok(phase[i].loaded >= phase[i - 1].loaded);
    const last = phase[phase.length - 1];
    assert.equal(last.loaded, last.total);
  }
  assert.equal(download[download.length - 1].total, bytes.length);
});

test('a streamed Response reports progress against Content-Length, chunk by chunk', async () => {
  const events: LoadProgress[] = [];
  const chunks = 17;
  const step = Math.ceil(bytes.length / chunks);
  const body = new ReadableStream({
    start(c) { for (let i = 0; i < bytes.length; i += step) c.enqueue(bytes.slice(i, i + step)); c.close(); },
  });
  const response = new Response(body, { headers: { 'content-length': String(bytes.length) } });
  await logitsFrom(response, (p) => events.push(p));
  const download = events.filter((e) => e.phase === 'download');
  assert.equal(download.length, chunks + 1, 'one event at the start, then one per chunk');
  assert.ok(download.every((e) => e.total === bytes.length));
});

/** The fixture re-encoded with every tensor in `dtype`. */
function reencode(dtype: 'F16' | 'BF16'): { file: Uint8Array; rounded: Map<string, Float32Array> } {
  const h = parseSafetensors(bytes);
  const tensors = [...h.tensors].map(([name, t]) => ({
    name, shape: t.shape, data: toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)),
  }));
  if (dtype === 'F16') {
    const file = writeSafetensors(tensors, h.metadata, 'F16');
    const back = parseSafetensors(file);
    const rounded = new Map([...back.tensors].map(([n, t]) => [n, toFloat32(t.dtype, file.subarray(back.dataOffset + t.begin, back.dataOffset + t.end))]));
    return { file, rounded };
  }
  // BF16 by hand: the top 16 bits of each f32 (truncation), little-endian.
  const header: Record<string, unknown> = { __metadata__: h.metadata };
  let offset = 0;
  const parts: Uint8Array[] = [];
  const rounded = new Map<string, Float32Array>();
  for (const t of tensors) {
    const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const u16 = Uint16Array.from(u32, (v) => v >>> 16);
    rounded.set(t.name, new Float32Array(Uint32Array.from(u16, (v) => v << 16).buffer));
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + u16.byteLength] };
    parts.push(new Uint8Array(u16.buffer));
    offset += u16.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const file = new Uint8Array(8 + json.length + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  let p = 8 + json.length;
  for (const part of parts) { file.set(part, p); p += part.length; }
  return { file, rounded };
}

for (const dtype of ['F16', 'BF16'] as const) {
  test(`${dtype} weights are expanded at load: same logits as f32 weights holding the rounded values`, async () => {
    const { file, rounded } = reencode(dtype);
    assert.ok(file.length < bytes.length * 0.6);
    const fromHalf = await logitsFrom(file);
    const f32 = writeSafetensors([...rounded].map(([name, data]) => ({ name, shape: parseSafetensors(bytes).tensors.get(name)!.shape, data })),
      parseSafetensors(bytes).metadata);
    assert.deepEqual(fromHalf, await logitsFrom(f32));
    if (dtype === 'F16') {
      // And close to the full-precision model (BF16's 8-bit mantissa, truncated, moves these logits by ~10%).
      const max = Math.max(...golden.logits.map(Math.abs));
      assertClose(fromHalf, golden.logits, { atol: 0.01 * max, rtol: 0, what: `${dtype} logits` });
    }
  });
}

test('the config: options first, then a known arch in the metadata, then its config JSON', async () => {
  const reader = await openSafetensors(bytes);
  await reader.close();
  const meta = reader.header.metadata;
  assert.equal(meta.arch, 'custom');
  const fromFile = resolveConfig(meta, 'x');
  assert.equal(fromFile.name, 'cadene32');
  assert.equal(fromFile.groups, 32);
  assert.equal(resolveConfig({ ...meta, arch: 'resnet50' }, 'x').name, 'resnet50', 'a table name wins over the config JSON');
  assert.equal(resolveConfig({ ...meta, arch: 'my-net' }, 'x').name, 'cadene32', 'an unknown name uses the config JSON');
  assert.equal(resolveConfig(meta, 'x', 'resnext50_32x4d').name, 'resnext50_32x4d');
  const custom: ResNetConfig = { ...getArchitecture('resnet18'), name: 'mine' };
  assert.equal(resolveConfig(meta, 'x', 'resnet50', custom).name, 'mine');
  assert.throws(() => resolveConfig({ ...meta, config: '{oops' }, 'x'), /metadata 'config' is not valid JSON/);
});

test('one config validator: loadModel, random weights and the converter refuse a bad config alike', async () => {
  const bad: ResNetConfig = { ...getArchitecture('resnet18'), name: 'bad', layers: [2, 2] }; // 4 widths for 2 stages
  const why = /widths \(\[64,128,256,512\]\) must give one width per stage \(2 stages\)/;
  await assert.rejects(loadModel({ weights: bytes, config: bad, device: await testContext() }), (e: Error) =>
    e instanceof PlanError && e.message.startsWith("config 'bad': ") && why.test(e.message));
  assert.throws(() => randomWeights(bad), (e: Error) => e instanceof PlanError && why.test(e.message));
  assert.throws(() => parseModelConfig(bad), (e: Error) => e instanceof ConversionError && why.test(e.message));
});

test('labels: from the metadata, overridden by the caller, checked against the class count', async () => {
  const ctx = await testContext();
  const labels = Array.from({ length: 10 }, (_, i) => `thing ${i}`);
  const m = await loadModel({ weights: bytes, device: ctx, labels });
  assert.equal(m.labels[3], 'thing 3');
  m.dispose();
  await assert.rejects(loadModel({ weights: bytes, device: ctx, labels: ['a', 'b'] }), /2 names given for 10 classes/);
  const h = parseSafetensors(bytes);
  const tensors = [...h.tensors].map(([name, t]) => ({ name, shape: t.shape, data: toFloat32(t.dtype, bytes.subarray(h.dataOffset + t.begin, h.dataOffset + t.end)) }));
  const wrong = writeSafetensors(tensors, { ...h.metadata, labels: JSON.stringify(['x']) });
  await assert.rejects(loadModel({ weights: wrong, device: ctx }), /metadata 'labels' has 1 names for 10 classes/);
});
