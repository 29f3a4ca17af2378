// Hostile input for every reader, in process: sizes that lie, containers that are wide or deep,
// byte ranges that overlap, metadata of the wrong type. Each must give its typed error (or, for a
// genuine but unusual file, the right answer), quickly and without large allocations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import jpeg from 'jpeg-js';
import { readCheckpoint, unpickleCheckpoint, maxDecodedValues } from '../../src/convert/checkpoint.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { CheckpointError, CheckpointFormatError, ConversionError, PickleFormatError } from '../../src/convert/errors.js';
import { StorageRef, unpickle } from '../../src/convert/pickle.js';
import { readImageHeader } from '../../src/image/header.js';
import { ImageInputError } from '../../src/image/errors.js';
import { boxDownscale, orient, shrinkFactor } from '../../src/image/resample.js';
import { NpyFormatError, parseNpy } from '../../src/io/npy.js';
import { decodeImage } from '../../src/node/image.js';
import { blockCountProblem, resolveConfig } from '../../src/weights/load.js';
import { decodeMetadata, encodeMetadata, parseSafetensors, WeightsFormatError, type ModelMetadata } from '../../src/weights/safetensors.js';
import { bytesOf, fixtureBytes, fixtureJson, u32le } from '../weights-tools/fixtures.js';
import { jpegClaiming, pngClaiming, safetensorsBytes, withExifOrientation } from './hostile.js';

/** Heap growth of `f` in MiB (after a GC when exposed), for "nothing large was allocated" checks. */
function heapGrowthMiB(f: () => void): number {
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  f();
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  return (after - before) / 2 ** 20;
}

// ---- pickle ------------------------------------------------------------------------------------

const BINFLOAT = (x: number) => { const b = new Uint8Array(9); b[0] = 0x47; new DataView(b.buffer).setFloat64(1, x, false); return b; };

/**
 * tiny_legacy.pth re-saved as {'state_dict': sd, 'loss_history': tuple(n floats)}: its main pickle
 * wrapped in a dict whose second entry is a MARK ... TUPLE of n BINFLOATs, as torch.save writes a
 * tuple of floats with protocol 2.
 */
function withLossHistory(n: number): Uint8Array {
  const bytes = fixtureBytes('tiny_legacy.pth');
  const magic = unpickle(bytes);
  const version = unpickle(bytes, { offset: magic.end });
  const sys = unpickle(bytes, { offset: version.end });
  const main = unpickle(bytes, { offset: sys.end, persistentLoad: () => new StorageRef({ key: 'k', byteLength: 2 ** 30, bytes: null }, 0, 2 ** 30, 'float32') });
  const body = bytes.subarray(sys.end + 2, main.end - 1); // without PROTO 2 and STOP
  assert.deepEqual([...bytes.subarray(sys.end, sys.end + 2)], [0x80, 0x02]);
  const floats = new Uint8Array(9 * n);
  for (let i = 0; i < n; i++) floats.set(BINFLOAT(1 / (i + 1)), 9 * i);
  const key = (s: string) => bytesOf([0x8c, s.length], s); // SHORT_BINUNICODE
  return bytesOf(bytes.subarray(0, sys.end), [0x80, 0x02, 0x7d, 0x28], key('state_dict'), body, key('loss_history'),
    [0x28], floats, [0x74, 0x75, 0x2e], bytes.subarray(main.end));
}

test('pickle: a checkpoint with a 200,000-float loss_history tuple reads (no recursion, no argument spreading)', () => {
  const plain = readCheckpoint(fixtureBytes('tiny_legacy.pth'));
  const ckpt = readCheckpoint(withLossHistory(200_000));
  assert.deepEqual(ckpt.unwrapped, ["['state_dict']"]);
  assert.deepEqual([...ckpt.tensors.keys()], [...plain.tensors.keys()]);
  for (const [name, t] of plain.tensors) assert.deepEqual(ckpt.tensors.get(name)!.data, t.data, name);
  const { root } = unpickleCheckpoint(withLossHistory(200_000));
  const history = (root as Map<unknown, unknown>).get('loss_history') as number[];
  assert.equal(history.length, 200_000);
  assert.equal(history[199_999], 1 / 200_000);
});

test('pickle: wide lists, dicts and sets of a million items, and deep nesting, stay typed', () => {
  const n = 1_000_000;
  const ints = new Uint8Array(2 * n).map((_, i) => (i % 2 === 0 ? 0x4b : i & 0xff)); // BININT1 x n
  for (const [open, close] of [[[0x5d, 0x28], [0x65]], [[0x28], [0x6c]], [[0x8f, 0x28], [0x90]], [[0x28], [0x91]]]) {
    const v = unpickle(bytesOf([0x80, 0x04], open, ints, close, [0x2e])).value as unknown[] | Set<unknown>;
    assert.equal(Array.isArray(v) ? v.length : v.size, Array.isArray(v) ? n : 128); // the odd bytes 1, 3, ... 255
  }
  const dict = unpickle(bytesOf([0x80, 0x04, 0x7d, 0x28], ints, [0x75, 0x2e])).value as Map<unknown, unknown>;
  assert.equal(dict.size, 64); // keys: the items at even positions, i = 1, 5, 9, ... (mod 256)
  const deep = bytesOf([0x80, 0x04], new Uint8Array(5000).fill(0x5d), new Uint8Array(4999).fill(0x61), [0x2e]); // ] x 5000, APPEND x 4999
  assert.throws(() => unpickle(deep), PickleFormatError);
  const marks = bytesOf([0x80, 0x04], new Uint8Array(100_000).fill(0x28), [0x2e]);
  assert.throws(() => unpickle(marks), PickleFormatError);
});

test('pickle: length fields beyond the input are refused before allocating', () => {
  for (const op of [[0x42, ...u32le(0xffffffff)], [0x58, ...u32le(0xfffffff0)], [0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
    [0x8d, 0, 0, 0, 0, 0, 0, 0, 0x10], [0x54, ...u32le(0x7fffffff)], [0x8b, ...u32le(0x7fffffff)], [0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0]]) {
    const grew = heapGrowthMiB(() => assert.throws(() => unpickle(bytesOf([0x80, 0x04], op, [0x2e])), PickleFormatError));
    assert.ok(grew < 64, `${op[0].toString(16)}: heap grew ${grew.toFixed(0)} MiB`);
  }
});

// ---- zip, tar, legacy storages ------------------------------------------------------------------

test('zip: a directory that claims 65,535 entries or a 4 GB record is refused', () => {
  const zip = fixtureBytes('tiny_zip.pth');
  const eocd = zip.length - 22;
  const many = zip.slice();
  new DataView(many.buffer).setUint16(eocd + 10, 0xfffe, true);
  assert.throws(() => readCheckpoint(many), CheckpointFormatError);
  const offset = zip.slice();
  new DataView(offset.buffer).setUint32(eocd + 16, 0xfffffff0, true);
  assert.throws(() => readCheckpoint(offset), CheckpointFormatError);
});

test('tar and legacy: storage element counts beyond the file are refused before allocating', () => {
  for (const file of ['tiny_tar.pth', 'tiny_legacy.pth']) {
    const bytes = fixtureBytes(file);
    // Every u64 position set to a huge count in turn would be slow; the count fields sit right
    // after their pickles, so overwrite 8-byte windows near the end of the pickled part instead.
    let typed = 0;
    for (let p = 0; p + 8 <= Math.min(bytes.length, 4096); p += 7) {
      const b = bytes.slice();
      new DataView(b.buffer).setBigUint64(p, 0x0fffffffffffffn, true);
      try { readCheckpoint(b); } catch (e) {
        assert.ok(e instanceof CheckpointError, `${file} @${p}: ${(e as Error).stack}`);
        typed++;
      }
    }
    assert.ok(typed > 10, `${file}: ${typed}`);
  }
});

test('the decode budget: at most 2 values per stored byte (plus 2^20)', () => {
  assert.equal(maxDecodedValues(35_600_000), 2 * 35_600_000 + 2 ** 20);
  // An expanded view: one float stored, read 2^27 times through stride 0.
  const pkl = fixtureBytes('tiny_zip.pth');
  assert.ok(pkl.length * 2 + 2 ** 20 < 2 ** 27);
});

// ---- safetensors ---------------------------------------------------------------------------------

const F32 = (n: number) => new Uint8Array(4 * n);

test('safetensors: data_offsets must cover the data exactly once, in order', () => {
  const t = (begin: number, end: number) => ({ dtype: 'F32', shape: [(end - begin) / 4], data_offsets: [begin, end] });
  assert.equal(parseSafetensors(safetensorsBytes({ a: t(0, 8), b: t(8, 16) }, F32(4))).tensors.size, 2);
  assert.equal(parseSafetensors(safetensorsBytes({ b: t(8, 16), a: t(0, 8) }, F32(4))).tensors.size, 2); // any header order
  const bad: [string, Record<string, unknown>, number][] = [
    ['overlap', { a: t(0, 8), b: t(4, 12) }, 3],
    ['the same range twice', { a: t(0, 8), b: t(0, 8) }, 2],
    ['hole', { a: t(0, 8), b: t(12, 20) }, 5],
    ['not from 0', { a: t(4, 12) }, 3],
    ['trailing bytes', { a: t(0, 8) }, 3],
  ];
  for (const [why, header, floats] of bad) {
    assert.throws(() => parseSafetensors(safetensorsBytes(header, F32(floats))), WeightsFormatError, why);
  }
});

test('safetensors: header lengths and shapes that lie are refused before allocating', () => {
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
  assert.throws(() => parseSafetensors(huge), WeightsFormatError);
  const big = { dtype: 'F32', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 8] };
  assert.throws(() => parseSafetensors(safetensorsBytes({ a: big }, F32(2))), WeightsFormatError);
  assert.throws(() => parseSafetensors(safetensorsBytes({ __metadata__: [1, 2] })), WeightsFormatError);
  assert.throws(() => parseSafetensors(safetensorsBytes({ __metadata__: { a: 1 } })), WeightsFormatError);
});

// ---- metadata and config -------------------------------------------------------------------------

const GOOD: ModelMetadata = {
  formatVersion: '1', arch: 'x', inputSize: 28, inputChannels: 1, resizeSize: 28, colorSpace: 'grey',
  inputRange: [0, 1], mean: [0.5], std: [0.25], labels: Array.from({ length: 10 }, (_, i) => `c${i}`),
};

test('metadata: validated once where it is parsed, with the network it will run', () => {
  const raw = encodeMetadata(GOOD);
  assert.deepEqual(decodeMetadata(raw, { numClasses: 10, inputChannels: 1 }), { ...GOOD, config: undefined, source: undefined });
  const bad: [string, Record<string, string>][] = [
    ['labels as an object', { labels: '{"length": 10}' }],
    ['labels as numbers', { labels: JSON.stringify([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) }],
    ['2 labels for 10 classes', { labels: '["a", "b"]' }],
    ['mean Infinity', { mean: '[1e999]' }],
    ['mean NaN as text', { mean: '["NaN"]' }],
    ['std 0', { std: '[0]' }],
    ['std negative', { std: '[-1]' }],
    ['mean per channel', { mean: '[0.5, 0.5, 0.5]' }],
    ['input_range reversed', { input_range: '[1, 0]' }],
    ['input_range infinite', { input_range: '[0, 1e999]' }],
    ['input_size 0', { input_size: '0' }],
    ['input_size huge', { input_size: '3000000' }],
    ['input_size fraction', { input_size: '28.5' }],
    ['resize_size below input_size', { resize_size: '27' }],
    ['resize_size huge', { resize_size: '100000' }],
    ['color_space unknown', { color_space: 'CMYK' }],
    ['color_space vs channels', { color_space: 'RGB' }],
    ['version', { format_version: '2' }],
    ['not JSON', { mean: '[0.5' }],
  ];
  for (const [why, edit] of bad) {
    assert.throws(() => decodeMetadata({ ...raw, ...edit }, { numClasses: 10, inputChannels: 1 }), WeightsFormatError, why);
  }
});

test('config: block counts from the input are bounded by the tensors present, before any plan is built', () => {
  assert.match(blockCountProblem({ layers: [1, 2, 3_000_000] }, 200)!, /3000003 residual blocks/);
  assert.equal(blockCountProblem({ layers: [1, 1, 1] }, 200), undefined);
  const meta = { arch: 'custom', config: JSON.stringify({ ...fixtureJson<object>('cadene_tiny.config.json'), layers: [1, 2, 3_000_000] }) };
  const grew = heapGrowthMiB(() => assert.throws(() => resolveConfig(meta, 'w', undefined, undefined, 100), WeightsFormatError));
  assert.ok(grew < 32, `heap grew ${grew.toFixed(0)} MiB`);
  const config = { ...fixtureJson<Record<string, unknown>>('cadene_tiny.config.json'), layers: [1, 2, 3_000_000] };
  assert.throws(() => convertCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { config }), ConversionError);
});

// ---- .npy ----------------------------------------------------------------------------------------

test('npy: shapes and header lengths that lie are refused without allocating', () => {
  const npy = (dict: string, data = new Uint8Array(0)) => {
    const h = dict.padEnd(118, ' ') + '\n';
    return bytesOf([0x93], 'NUMPY', [1, 0, h.length & 255, h.length >> 8], h, data);
  };
  for (const shape of ['(1000000, 1000000, 1000000)', '(99999999999999999999,)', '(-1,)', '(1, 2']) {
    assert.throws(() => parseNpy(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`)), NpyFormatError, shape);
  }
  const v2 = bytesOf([0x93], 'NUMPY', [2, 0], u32le(0xfffffff0), '{}');
  assert.throws(() => parseNpy(v2), NpyFormatError);
});

// ---- images --------------------------------------------------------------------------------------

test('images: the size comes from the header and is bounded before decoding (both decoders)', async () => {
  const claims: [string, Uint8Array][] = [
    ['PNG 16711708 x 28', pngClaiming(16_711_708, 28)],
    ['PNG 0 x 10', pngClaiming(0, 10)],
    ['PNG 16384 x 16384 (268 MP)', pngClaiming(16384, 16384)],
    ['JPEG 65535 x 65535', jpegClaiming(65535, 65535)],
    ['JPEG 0 x 0', jpegClaiming(0, 0)],
  ];
  for (const decoder of ['sharp', 'js']) {
    process.env.WEBGPU_RESNEXT_DECODER = decoder;
    for (const [why, bytes] of claims) {
      await assert.rejects(decodeImage(bytes, why), (e: Error) => e instanceof ImageInputError && /image size/.test(e.message), why);
    }
    // A plausible header with garbage data: a decode error, typed.
    await assert.rejects(decodeImage(pngClaiming(64, 64), 'bogus IDAT'), ImageInputError);
    await assert.rejects(decodeImage(jpegClaiming(64, 64), 'no scan'), ImageInputError);
  }
  delete process.env.WEBGPU_RESNEXT_DECODER;
  assert.throws(() => readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff]), 'segment past the end'), ImageInputError);
  assert.throws(() => readImageHeader(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'no IHDR'), ImageInputError);
});

test('images: the area reduction averages f x f blocks; orientation 1..8 maps pixels as EXIF says', () => {
  // 5 x 3 image, pixel value = 10 * y + x in every channel.
  const W = 5, H = 3;
  const data = new Uint8Array(W * H * 4).map((_, i) => 10 * Math.floor(i / 4 / W) + (Math.floor(i / 4) % W));
  const img = { data, width: W, height: H };
  assert.equal(shrinkFactor(5000, 4000, 512), 8);
  assert.equal(shrinkFactor(300, 400, 512), 1);
  const r = boxDownscale(img, 2);
  assert.equal(r.width, 3);
  assert.equal(r.height, 2);
  // Block (0,0): pixels 0,1,10,11 -> 5.5 -> 6 (rounded); block (2,1): pixel 24 only.
  assert.equal(r.data[0], 6);
  assert.equal(r.data[(1 * 3 + 2) * 4], 24);
  const at = (m: { data: Uint8Array | Uint8ClampedArray; width: number }, x: number, y: number) => m.data[(y * m.width + x) * 4];
  // Displayed top-left pixel for each orientation (stored corners: 0 top-left, 4 top-right, 20 bottom-left, 24 bottom-right).
  const topLeft: Record<number, number> = { 1: 0, 2: 4, 3: 24, 4: 20, 5: 0, 6: 20, 7: 24, 8: 4 };
  for (let o = 1; o <= 8; o++) {
    const d = orient(img, o);
    assert.deepEqual([d.width, d.height], o >= 5 ? [H, W] : [W, H], `orientation ${o}`);
    assert.equal(at(d, 0, 0), topLeft[o], `orientation ${o}`);
  }
});

test('images: EXIF orientation in Node — jpeg-js + orient() agrees with libvips (sharp) on every orientation', async () => {
  // An asymmetric 24 x 16 image: red rises left to right, green top to bottom.
  const W = 24, H = 16;
  const rgba = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) rgba.set([x * 10, y * 15, 128, 255], (y * W + x) * 4);
  const plain = new Uint8Array(jpeg.encode({ data: rgba, width: W, height: H }, 95).data);
  const sharp = (await import('sharp')).default;
  for (let o = 1; o <= 8; o++) {
    const bytes = withExifOrientation(plain, o, o % 2 === 0);
    const ref = await sharp(bytes).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true }); // libvips' autorotation
    process.env.WEBGPU_RESNEXT_DECODER = 'js';
    const got = await decodeImage(bytes, `orientation ${o}`);
    delete process.env.WEBGPU_RESNEXT_DECODER;
    assert.deepEqual([got.width, got.height], [ref.info.width, ref.info.height], `orientation ${o}`);
    let diff = 0;
    for (let i = 0; i < got.data.length; i++) diff = Math.max(diff, Math.abs(got.data[i] - ref.data[i]));
    assert.ok(diff <= 12, `orientation ${o}: max pixel difference ${diff} (decoders differ by a few levels; a wrong orientation by ~200)`);
  }
});
