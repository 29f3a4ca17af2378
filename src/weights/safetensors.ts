// The .safetensors container (parse and write) and this project's metadata in it.
//
// File layout: u64 little-endian header length n, n bytes of JSON header, then the tensor data.
// Header: { "__metadata__": { string: string }, "<name>": { dtype, shape, data_offsets: [begin, end] } }
// with offsets relative to the start of the data section.

export type DType = 'F32' | 'F16' | 'BF16' | 'F64';
const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
  /** Byte offset of the data section from the start of the file (8 + header length). */
  dataOffset: number;
}

export class WeightsFormatError extends Error {
  override name = 'WeightsFormatError';
}

/** Upper bound for the JSON header, so a corrupt length cannot make us allocate gigabytes. */
export const MAX_HEADER_BYTES = 16 * 2 ** 20;

/** Reads the header length from the first 8 bytes; throws on an implausible value. */
export function headerLength(first8: Uint8Array, fileBytes?: number): number {
  if (first8.byteLength < 8) throw new WeightsFormatError('not a .safetensors file: shorter than 8 bytes');
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = Number(view.getBigUint64(0, true));
  if (n < 2 || n > MAX_HEADER_BYTES || (fileBytes !== undefined && 8 + n > fileBytes)) {
    throw new WeightsFormatError(`not a .safetensors file: header length ${n} is out of bounds` +
      (fileBytes !== undefined ? ` for a ${fileBytes}-byte file` : ''));
  }
  return n;
}

/**
 * Parses and bounds-checks the JSON header. `dataBytes` is the size of the data section when known.
 * Entries whose name `ignore` accepts (a Hub file's I64 BatchNorm counters) are not returned and
 * their dtype is not checked, but their data_offsets are: they count in the exact coverage check.
 */
export function parseHeader(json: Uint8Array, dataBytes?: number, ignore?: (name: string) => boolean): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new WeightsFormatError(`not a .safetensors file: header is not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new WeightsFormatError('not a .safetensors file: header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  const ignored: Array<[string, { begin: number; end: number }]> = [];
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v !== null && (typeof v !== 'object' || Array.isArray(v))) throw new WeightsFormatError('__metadata__ is not a JSON object');
      for (const [k, s] of Object.entries((v ?? {}) as Record<string, unknown>)) {
        if (typeof s !== 'string') throw new WeightsFormatError(`metadata '${k}' is not a string`);
        metadata[k] = s;
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new WeightsFormatError(`tensor '${name}': entry is not an object`);
    if (ignore?.(name)) {
      const o = e.data_offsets;
      if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && d >= 0) || o[0] > o[1] ||
        (dataBytes !== undefined && o[1] > dataBytes)) {
        throw new WeightsFormatError(`tensor '${name}': bad data_offsets ${JSON.stringify(o)}`);
      }
      ignored.push([name, { begin: o[0], end: o[1] }]);
      continue;
    }
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
      throw new WeightsFormatError(`tensor '${name}': dtype ${String(e.dtype)} is not supported (F32, F16, BF16, F64)`);
    }
    const dtype = e.dtype as DType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new WeightsFormatError(`tensor '${name}': bad shape ${JSON.stringify(e.shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1]) {
      throw new WeightsFormatError(`tensor '${name}': bad data_offsets ${JSON.stringify(offs)}`);
    }
    const shape = e.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (offs[1] - offs[0] !== expected) {
      throw new WeightsFormatError(`tensor '${name}': ${offs[1] - offs[0]} bytes do not match ${dtype} shape [${shape.join(', ')}]`);
    }
    if (dataBytes !== undefined && offs[1] > dataBytes) {
      throw new WeightsFormatError(`tensor '${name}': data ends at byte ${offs[1]}, past the end of the file (truncated?)`);
    }
    tensors.set(name, { dtype, shape, begin: offs[0], end: offs[1] });
  }
  // The data section is covered exactly once, in order: sorted by offset, each tensor starts where
  // the previous one ends, the first at 0, the last at the end of the file (when its size is known).
  const ordered = [...tensors, ...ignored].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let end = 0;
  for (const [name, t] of ordered) {
    if (t.begin !== end) {
      throw new WeightsFormatError(`tensor '${name}': data_offsets [${t.begin}, ${t.end}] ${t.begin < end ? 'overlap' : 'leave a hole after'} ` +
        `the data before it (which ends at byte ${end}); tensors must cover the data section exactly once`);
    }
    end = t.end;
  }
  if (dataBytes !== undefined && end !== dataBytes) {
    throw new WeightsFormatError(`the tensors end at byte ${end} of a ${dataBytes}-byte data section (trailing bytes)`);
  }
  return { metadata, tensors, dataOffset: 8 + json.byteLength };
}

/** Parses a whole file held in memory. */
export function parseSafetensors(bytes: Uint8Array): SafetensorsHeader {
  const n = headerLength(bytes, bytes.byteLength);
  return parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n);
}

/** An IEEE half-precision value (its 16 bits) as a number. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decodes one tensor's raw little-endian bytes to f32. */
export function toFloat32(dtype: DType, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true); break;
    case 'F64': for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true)); break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
  }
  return out;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Rounds f32 to IEEE half (round to nearest even), as little-endian u16 bits. */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  if ((h & 0x7fff) >= 0x7c00) return sign | 0x7c00;
  return sign | h;
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Serialises tensors (in the given order) as F32 or F16, with string metadata. */
export function writeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string>,
  dtype: 'F32' | 'F16' = 'F32'): Uint8Array {
  const bytesPer = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor '${t.name}': ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + n * bytesPer] };
    offset += n * bytesPer;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8; // keep the data section 8-byte aligned
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let p = 8 + json.byteLength;
  for (const t of tensors) {
    if (dtype === 'F32') {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(p + i * 4, t.data[i], true);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setUint16(p + i * 2, f32ToF16Bits(t.data[i]), true);
    }
    p += t.data.length * bytesPer;
  }
  return out;
}

// ---- This project's metadata ------------------------------------------------------------------

export const FORMAT_VERSION = '1';

/** What `__metadata__` holds, decoded. Keys in the file are snake_case strings. */
export interface ModelMetadata {
  /** 'format_version' */
  formatVersion: string;
  /** 'arch': a name from ARCHITECTURES, or 'custom' with the table entry in 'config' (JSON). */
  arch: string;
  config?: string;
  /** 'source': where the weights came from, e.g. 'cadene:resnext101_32x4d'. */
  source?: string;
  /** 'input_size', 'input_channels' */
  inputSize: number;
  inputChannels: number;
  /**
   * 'resize_size': an image's shorter side is resized to this before the centre crop to
   * inputSize (torchvision's evaluation transform: 256 then 224). Equal to inputSize: no zoom.
   */
  resizeSize: number;
  /** 'color_space': 'RGB' or 'grey' */
  colorSpace: 'RGB' | 'grey';
  /** 'input_range': JSON [lo, hi], the range pixels are scaled to before normalising */
  inputRange: [number, number];
  /** 'mean', 'std': JSON arrays, one value per input channel */
  mean: number[];
  std: number[];
  /**
   * 'labels': 'imagenet' for the shipped ImageNet-1k list, 'imagenet-12k' for timm's ImageNet-12k
   * list (11821 classes, loaded on demand), or a JSON array of class names
   */
  labels: 'imagenet' | 'imagenet-12k' | string[];
  /**
   * 'interpolation': 'bilinear' or 'bicubic' for Pillow's antialiased resize (timm's evaluation
   * transform); absent: PyTorch's bilinear on a float tensor, no antialiasing.
   */
  interpolation?: 'bilinear' | 'bicubic';
  /**
   * 'test_input_size', 'test_resize_size': a larger evaluation size the weights were validated at
   * (timm's pretrained_cfg test_input_size and test_crop_pct), used with loadModel's
   * `resolution: 'test'`.
   */
  testInputSize?: number;
  testResizeSize?: number;
}

export function encodeMetadata(m: ModelMetadata): Record<string, string> {
  const out: Record<string, string> = {
    format_version: m.formatVersion,
    arch: m.arch,
    input_size: String(m.inputSize),
    input_channels: String(m.inputChannels),
    resize_size: String(m.resizeSize),
    color_space: m.colorSpace,
    input_range: JSON.stringify(m.inputRange),
    mean: JSON.stringify(m.mean),
    std: JSON.stringify(m.std),
    labels: typeof m.labels === 'string' ? m.labels : JSON.stringify(m.labels),
  };
  if (m.config !== undefined) out.config = m.config;
  if (m.interpolation !== undefined) out.interpolation = m.interpolation;
  if (m.testInputSize !== undefined) out.test_input_size = String(m.testInputSize);
  if (m.testResizeSize !== undefined) out.test_resize_size = String(m.testResizeSize);
  if (m.source !== undefined) out.source = m.source;
  return out;
}

/**
 * The shorter side images are resized to for a network of crop `inputSize`: the metadata's
 * 'resize_size' belongs to its own input_size; for another crop size (a config given by the
 * caller) torchvision's default ratio applies.
 */
export function resizeSizeFor(meta: ModelMetadata, inputSize: number): number {
  return meta.inputSize === inputSize ? meta.resizeSize : defaultResizeSize(inputSize);
}

/** torchvision's ImageNet evaluation resize for a crop of `inputSize`: 224 -> 256. */
export function defaultResizeSize(inputSize: number): number {
  return Math.floor(inputSize / 0.875);
}

/** Largest input_size and resize_size the metadata may name (ImageNet models use 224 / 256). */
export const MAX_INPUT_SIZE = 4096;

/** What the network to run says about the input, for decodeMetadata's cross-checks. */
export interface MetadataExpectations {
  numClasses: number;
  inputChannels: number;
}

/**
 * Decodes and validates `__metadata__`: missing keys get ImageNet defaults, anything malformed
 * throws a WeightsFormatError naming the key. Checked here, once, for every reader: labels are
 * 'imagenet', 'imagenet-12k' or a JSON array of strings (exactly `expect.numClasses` of them when
 * given), mean and
 * std are finite with one entry per input channel (std > 0), input_range is two finite numbers
 * lo < hi, input_size and resize_size are integers with input_size <= resize_size <= 4 x input_size
 * (at most MAX_INPUT_SIZE), likewise test_input_size and test_resize_size, interpolation is
 * 'bilinear' or 'bicubic', color_space fits input_channels.
 */
export function decodeMetadata(raw: Record<string, string>, expect?: MetadataExpectations): ModelMetadata {
  const bad = (key: string, why: string) =>
    new WeightsFormatError(`metadata '${key}' ${why} (got ${JSON.stringify(raw[key] ?? null).slice(0, 80)})`);
  const json = (key: string): unknown => {
    try { return JSON.parse(raw[key]); } catch {
      throw bad(key, 'is not valid JSON');
    }
  };
  const version = raw.format_version ?? FORMAT_VERSION;
  if (version !== FORMAT_VERSION) {
    throw new WeightsFormatError(`weights format version ${version.slice(0, 20)} is not supported (this runtime reads version ${FORMAT_VERSION})`);
  }
  const int = (key: string, fallback: number, min: number, max: number): number => {
    if (raw[key] === undefined) return fallback;
    const v = /^[0-9]{1,9}$/.test(raw[key]) ? Number(raw[key]) : NaN;
    if (!(v >= min && v <= max)) throw bad(key, `must be an integer from ${min} to ${max}`);
    return v;
  };
  const inputSize = int('input_size', 224, 1, MAX_INPUT_SIZE);
  const inputChannels = int('input_channels', 3, 1, 4);
  const resizeSize = int('resize_size', Math.min(defaultResizeSize(inputSize), 4 * inputSize), inputSize,
    Math.min(4 * inputSize, 2 * MAX_INPUT_SIZE));
  const colorSpace = raw.color_space ?? (inputChannels === 1 ? 'grey' : 'RGB');
  if (colorSpace !== 'RGB' && colorSpace !== 'grey') throw bad('color_space', "must be 'RGB' or 'grey'");
  if ((colorSpace === 'grey') !== (inputChannels === 1) || (colorSpace === 'RGB' && inputChannels !== 3)) {
    throw bad('color_space', `does not fit ${inputChannels} input channel${inputChannels === 1 ? '' : 's'}`);
  }
  const channels = expect?.inputChannels ?? inputChannels;
  const numbers = (key: string, fallback: number[], n: number, what: string, ok: (x: number) => boolean): number[] => {
    if (raw[key] === undefined) {
      if (fallback.length !== n) throw bad(key, `is required for ${n}-channel input (the ImageNet default has 3 values)`);
      return fallback;
    }
    const v = json(key);
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && ok(x))) {
      throw bad(key, `must be a JSON array of ${n} ${what}`);
    }
    return v as number[];
  };
  const mean = numbers('mean', [0.485, 0.456, 0.406], channels, `finite numbers (one per input channel)`, () => true);
  const std = numbers('std', [0.229, 0.224, 0.225], channels, `finite numbers > 0 (one per input channel)`, (x) => x > 0);
  const inputRange = numbers('input_range', [0, 1], 2, 'finite numbers [lo, hi]', () => true) as [number, number];
  if (!(inputRange[0] < inputRange[1])) throw bad('input_range', 'must be [lo, hi] with lo < hi');
  let labels: ModelMetadata['labels'] = 'imagenet';
  if (raw.labels === 'imagenet-12k') {
    labels = 'imagenet-12k';
  } else if (raw.labels !== undefined && raw.labels !== 'imagenet') {
    const v = json('labels');
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('labels', "must be 'imagenet', 'imagenet-12k' or a JSON array of strings");
    if (expect && v.length !== expect.numClasses) {
      throw new WeightsFormatError(`metadata 'labels' has ${v.length} names for ${expect.numClasses} classes`);
    }
    labels = v as string[];
  }
  if (raw.interpolation !== undefined && raw.interpolation !== 'bilinear' && raw.interpolation !== 'bicubic') {
    throw bad('interpolation', "must be 'bilinear' or 'bicubic'");
  }
  const testInputSize = raw.test_input_size === undefined ? undefined : int('test_input_size', 0, 1, MAX_INPUT_SIZE);
  if (raw.test_resize_size !== undefined && testInputSize === undefined) throw bad('test_resize_size', 'needs test_input_size');
  const testResizeSize = raw.test_resize_size === undefined || testInputSize === undefined ? undefined
    : int('test_resize_size', 0, testInputSize, Math.min(4 * testInputSize, 2 * MAX_INPUT_SIZE));
  // The optional fields appear only when the file has them (a decoded file equals its metadata object).
  const optional: Partial<ModelMetadata> = {};
  if (raw.interpolation !== undefined) optional.interpolation = raw.interpolation as ModelMetadata['interpolation'];
  if (testInputSize !== undefined) optional.testInputSize = testInputSize;
  if (testResizeSize !== undefined) optional.testResizeSize = testResizeSize;
  return {
    ...optional,
    formatVersion: version,
    arch: raw.arch ?? 'unknown',
    config: raw.config,
    source: raw.source,
    inputSize,
    resizeSize,
    inputChannels,
    colorSpace,
    inputRange,
    mean,
    std,
    labels,
  };
}
