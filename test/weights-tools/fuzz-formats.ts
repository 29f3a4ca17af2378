// Property-based fuzzing (fast-check) of every reader: for each format, inputs generated from
// scratch and mutated from genuine files must give a valid result (checked against the format's
// own invariants) or that reader's typed error — never another exception, a hang or a crash.
// Used by fuzz.test.ts with a few hundred inputs per format (fixed seed) and by `npm run fuzz`
// (FUZZ_RUNS=10000).

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import fc from 'fast-check';
import { readCheckpoint } from '../../src/convert/checkpoint.js';
import { CheckpointError } from '../../src/convert/errors.js';
import { unpickle } from '../../src/convert/pickle.js';
import { ImageInputError, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../../src/image/errors.js';
import { NpyFormatError, parseNpy } from '../../src/io/npy.js';
import { PlanError, buildPlan } from '../../src/models/plan.js';
import { decodeImage } from '../../src/node/image.js';
import { resolveConfig } from '../../src/weights/load.js';
import { decodeMetadata, parseSafetensors, WeightsFormatError } from '../../src/weights/safetensors.js';
import { jpegClaiming, pngClaiming, safetensorsBytes, withExifOrientation } from '../hostile/hostile.js';
import { fixtureBytes, fixtureJson } from './fixtures.js';

export interface FuzzTarget {
  name: string;
  /** Inputs: generated from scratch or mutated from a genuine file. */
  input: fc.Arbitrary<unknown>;
  /** Reads the input; returns normally (after checking the result's invariants) or throws. */
  run(input: unknown): unknown;
  /** The reader's typed errors. */
  typed(e: unknown): boolean;
}

export interface FuzzCounts {
  runs: number;
  ok: number;
  typed: number;
  maxMs: number;
}

/** Byte edits of a genuine file: overwrite, insert, delete, truncate, biased to its first and last 600 bytes. */
export function mutated(files: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({
    kind: fc.constantFrom('set', 'set', 'ff', 'zero', 'insert', 'delete', 'truncate'),
    where: fc.oneof(fc.nat(600), fc.nat(600).map((n) => -1 - n), fc.double({ min: 0, max: 1, noNaN: true })),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  });
  return fc.record({ file: fc.constantFrom(...files), edits: fc.array(edit, { minLength: 1, maxLength: 4 }) }).map(({ file, edits }) => {
    let b = file.slice();
    for (const e of edits) {
      const n = b.length;
      const p = Math.max(0, Math.min(n, typeof e.where === 'number' && Number.isInteger(e.where)
        ? (e.where >= 0 ? e.where : n + e.where) : Math.floor((e.where as number) * n)));
      if (e.kind === 'set') b.set(e.bytes.subarray(0, Math.max(0, n - p)), p);
      else if (e.kind === 'ff' || e.kind === 'zero') b.fill(e.kind === 'ff' ? 0xff : 0, p, Math.min(n, p + e.bytes.length));
      else if (e.kind === 'insert') b = Uint8Array.from([...b.subarray(0, p), ...e.bytes, ...b.subarray(p)]);
      else if (e.kind === 'delete') b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(Math.min(n, p + e.bytes[0]))]);
      else b = b.slice(0, p);
    }
    return b;
  });
}

const CHECKPOINTS = ['tiny_zip.pth', 'tiny_legacy.pth', 'tiny_py2_legacy.pth', 'tiny_tar.pth', 'torchvision_tiny_zip.pth'];
const PICKLES = ['proto0.pkl', 'proto1.pkl', 'proto2.pkl', 'proto3.pkl', 'proto4.pkl', 'proto5.pkl', 'py2_proto0.pkl', 'py2_proto2.pkl'];

/** Opcode soup: a protocol header, then opcodes with short (often lying) arguments. */
const opcodeSoup = fc.array(fc.tuple(fc.constantFrom(...'()0125FIJKLMNRSTUVXabcdeghjlpqrstu}]G'.split('').map((c) => c.charCodeAt(0)),
  0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x93, 0x94, 0x95, 0x96), fc.uint8Array({ maxLength: 9 })),
{ maxLength: 64 }).map((ops) => Uint8Array.from([0x80, 4, ...ops.flatMap(([op, arg]) => [op, ...arg]), 0x2e]));

const dtypes = fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'F32', 'F32');
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** A safetensors header of a few tensors, laid out validly and then possibly disturbed. */
const safetensorsFile = fc.record({
  tensors: fc.array(fc.record({ dtype: dtypes, shape: fc.array(fc.nat(6), { maxLength: 3 }) }), { maxLength: 5 }),
  shift: fc.array(fc.integer({ min: -8, max: 8 }), { maxLength: 5 }),
  extra: fc.integer({ min: -4, max: 4 }),
  metadata: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())), { nil: undefined }),
}).map(({ tensors, shift, extra, metadata }) => {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  tensors.forEach((t, i) => {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[t.dtype] ?? 1);
    const begin = Math.max(0, offset + (shift[i] ?? 0));
    header[`t${i}`] = { dtype: t.dtype, shape: t.shape, data_offsets: [begin, begin + bytes] };
    offset += bytes;
  });
  return safetensorsBytes(header, new Uint8Array(Math.max(0, offset + extra)));
});

/** The format's invariant on an accepted file: tensors cover [0, data length) exactly once. */
function checkSafetensors(bytes: Uint8Array): void {
  const h = parseSafetensors(bytes);
  const ranges = [...h.tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let end = 0;
  for (const t of ranges) {
    if (t.begin !== end) throw new Error(`accepted a hole or overlap at ${t.begin}`);
    end = t.end;
  }
  if (end !== bytes.length - h.dataOffset) throw new Error('accepted trailing bytes');
}

const npyFile = fc.record({
  version: fc.constantFrom(1, 1, 2, 3, 4),
  descr: fc.constantFrom("'<f4'", "'>f4'", "'|u1'", "'<f8'", "'<f4", '3', "'weird'"),
  fortran: fc.constantFrom('False', 'True', 'maybe'),
  shape: fc.oneof(fc.array(fc.nat(5), { maxLength: 4 }).map((s) => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`),
    fc.constantFrom('(99999999999999999999,)', '(-1,)', '(1,', '()', '(2**40,)')),
  extra: fc.integer({ min: -8, max: 8 }),
  headerLen: fc.option(fc.nat(0xffff), { nil: undefined }),
}).map(({ version, descr, fortran, shape, extra, headerLen }) => {
  const dict = `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`.padEnd(100, ' ') + '\n';
  const n = /^\((\d+(, )?)*,?\)$/.test(shape) ? shape.slice(1, -1).split(',').filter((x) => x.trim()).reduce((a, x) => a * Number(x), 1) : 1;
  const len = headerLen ?? dict.length;
  const pre = version === 1 ? [0x93, 78, 85, 77, 80, 89, 1, 0, len & 255, len >> 8] : [0x93, 78, 85, 77, 80, 89, version, 0, len & 255, (len >> 8) & 255, 0, 0];
  return Uint8Array.from([...pre, ...new TextEncoder().encode(dict), ...new Uint8Array(n * 4 > 2 ** 20 ? 16 : Math.max(0, n * 4 + extra))]); // a lying shape gets a few bytes
});

/** Small genuine images (encoded by pngjs and jpeg-js, independent of the readers under test). */
function smallImages(): { png: Uint8Array[]; jpeg: Uint8Array[] } {
  const rgba = (w: number, h: number) => Buffer.from(Array.from({ length: w * h * 4 }, (_, i) => (i * 37) & 255));
  const png = [[7, 5], [16, 16], [3, 9]].map(([w, h]) => new Uint8Array(PNG.sync.write(Object.assign(new PNG({ width: w, height: h }), { data: rgba(w, h) }))));
  const jpg = [[8, 8], [17, 9], [5, 12]].map(([w, h]) => new Uint8Array(jpeg.encode({ data: rgba(w, h), width: w, height: h }, 80).data));
  return { png, jpeg: [...jpg, withExifOrientation(jpg[1], 6), withExifOrientation(jpg[2], 3, true)] };
}

function checkImage(img: { width: number; height: number; data: { length: number } }, bound: number | undefined): void {
  if (img.width < 1 || img.height < 1 || img.width > MAX_IMAGE_SIDE || img.height > MAX_IMAGE_SIDE || img.width * img.height > MAX_IMAGE_PIXELS) {
    throw new Error(`accepted an image of ${img.width}x${img.height}`);
  }
  if (img.data.length !== img.width * img.height * 4) throw new Error('pixel count does not match the size');
  if (bound !== undefined && Math.min(img.width, img.height) > bound) throw new Error(`not reduced to ${bound}: ${img.width}x${img.height}`);
}

const claimedSize = fc.tuple(fc.oneof(fc.nat(70_000), fc.constantFrom(0, 1, 16384, 16385, 2 ** 31, 2 ** 32 - 1)),
  fc.oneof(fc.nat(70_000), fc.constantFrom(0, 1, 28, 16384)));

const METADATA_KEYS = ['format_version', 'arch', 'input_size', 'input_channels', 'resize_size', 'color_space', 'input_range', 'mean', 'std', 'labels'];
const jsonish = fc.oneof(fc.json({ maxDepth: 2 }), fc.array(fc.double(), { maxLength: 4 }).map((a) => JSON.stringify(a)),
  fc.constantFrom('[1e999]', '[0.5]', '[0.5,0.5,0.5]', '[0,1]', '["a"]', 'imagenet', 'grey', 'RGB', '224', '28', '1', '3', '0', '-1', '1e9', 'NaN'));

export function fuzzTargets(): FuzzTarget[] {
  const images = smallImages();
  const config = fixtureJson<Record<string, unknown>>('cadene_tiny.config.json');
  const decoders = fc.constantFrom('sharp', 'js');
  const image = (kind: 'png' | 'jpeg'): FuzzTarget => ({
    name: kind,
    input: fc.record({
      bytes: fc.oneof(mutated(images[kind]), claimedSize.map(([w, h]) => (kind === 'png' ? pngClaiming(w, h) : jpegClaiming(w & 0xffff, h & 0xffff))),
        fc.constantFrom(...images[kind])),
      decoder: decoders,
      bound: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
    }),
    async run(x) {
      const { bytes, decoder, bound } = x as { bytes: Uint8Array; decoder: string; bound?: number };
      process.env.WEBGPU_RESNEXT_DECODER = decoder;
      try {
        checkImage(await decodeImage(bytes, 'fuzz', bound), bound);
      } finally {
        delete process.env.WEBGPU_RESNEXT_DECODER;
      }
    },
    typed: (e) => e instanceof ImageInputError,
  });
  return [
    {
      name: 'pickle',
      input: fc.oneof(mutated(PICKLES.map((p) => fixtureBytes(`pickles/${p}`))), opcodeSoup),
      run: (b) => unpickle(b as Uint8Array),
      typed: (e) => e instanceof CheckpointError,
    },
    {
      name: 'checkpoint (zip, legacy, tar)',
      input: mutated(CHECKPOINTS.map(fixtureBytes)),
      run: (b) => readCheckpoint(b as Uint8Array),
      typed: (e) => e instanceof CheckpointError,
    },
    {
      name: 'safetensors',
      input: fc.oneof(safetensorsFile, mutated([fixtureBytes('../e2e/basic.safetensors')])),
      run: (b) => checkSafetensors(b as Uint8Array),
      typed: (e) => e instanceof WeightsFormatError,
    },
    {
      name: 'npy',
      input: fc.oneof(npyFile, mutated([fixtureBytes('../../cli/fixtures/f4_2x3.npy'), fixtureBytes('../../cli/fixtures/f4_2x3_v2.npy')])),
      run: (b) => {
        const a = parseNpy(b as Uint8Array);
        const item = { f4: 4, u1: 1, f8: 8 }[a.descr.slice(1)] ?? 0;
        if (item && a.data.length !== a.shape.reduce((x, y) => x * y, 1) * item) throw new Error('accepted a wrong data length');
      },
      typed: (e) => e instanceof NpyFormatError,
    },
    image('png'),
    image('jpeg'),
    {
      name: 'metadata',
      input: fc.record({
        raw: fc.dictionary(fc.constantFrom(...METADATA_KEYS), jsonish),
        expect: fc.option(fc.record({ numClasses: fc.integer({ min: 1, max: 12 }), inputChannels: fc.constantFrom(1, 3) }), { nil: undefined }),
      }),
      run: (x) => {
        const { raw, expect } = x as { raw: Record<string, string>; expect?: { numClasses: number; inputChannels: number } };
        const m = decodeMetadata(raw, expect);
        const channels = expect?.inputChannels ?? m.inputChannels;
        if (m.mean.length !== channels || m.std.length !== channels || ![...m.mean, ...m.std, ...m.inputRange].every(Number.isFinite) ||
          !m.std.every((s) => s > 0) || !(m.inputRange[0] < m.inputRange[1]) || !(m.resizeSize >= m.inputSize)) {
          throw new Error(`accepted bad metadata ${JSON.stringify(m)}`);
        }
        if (typeof m.labels !== 'string' && (!m.labels.every((l) => typeof l === 'string') || (expect && m.labels.length !== expect.numClasses))) {
          throw new Error('accepted bad labels');
        }
      },
      typed: (e) => e instanceof WeightsFormatError,
    },
    {
      name: 'config',
      input: fc.record({
        edits: fc.dictionary(fc.constantFrom(...Object.keys(config)), fc.oneof(fc.jsonValue({ maxDepth: 1 }),
          fc.array(fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constant(3_000_000)), { maxLength: 5 }))),
        tensors: fc.nat(200),
      }),
      run: (x) => {
        const { edits, tensors } = x as { edits: Record<string, unknown>; tensors: number };
        const c = resolveConfig({ arch: 'custom', config: JSON.stringify({ ...config, ...edits }) }, 'fuzz', undefined, undefined, tensors);
        buildPlan(c);
      },
      typed: (e) => e instanceof WeightsFormatError || e instanceof PlanError,
    },
  ];
}

/** Runs `runs` inputs of `t` (fixed `seed`); throws on the first untyped error or invariant failure. */
export async function fuzz(t: FuzzTarget, runs: number, seed: number): Promise<FuzzCounts> {
  const counts: FuzzCounts = { runs: 0, ok: 0, typed: 0, maxMs: 0 };
  await fc.assert(fc.asyncProperty(t.input, async (x) => {
    const t0 = performance.now();
    try {
      await t.run(x);
      counts.ok++;
    } catch (e) {
      if (!t.typed(e)) throw e;
      counts.typed++;
    } finally {
      counts.runs++;
      counts.maxMs = Math.max(counts.maxMs, performance.now() - t0);
    }
  }), { numRuns: runs, seed, endOnFailure: true });
  return counts;
}
