// NumPy's .npy format (versions 1.0, 2.0, 3.0), just enough for float32 tensors to and from Python:
// `np.save('x.npy', x.astype(np.float32))` / `np.load('y.npy')`.
//
// File layout: magic '\x93NUMPY', u8 major, u8 minor, header length (u16 LE for 1.0, u32 LE for
// 2.0 / 3.0), then an ASCII (3.0: UTF-8) Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }
// padded with spaces and a final '\n' so the data starts 64-byte aligned, then the raw array bytes
// in C (row-major) order unless fortran_order is True.

export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // '\x93NUMPY'

/** Alignment of the data section written by numpy (and by writeNpyFloat32). */
const ALIGN = 64;

/** Bytes per element of the dtypes we can name in messages. */
const ITEM_BYTES: Record<string, number> = { b1: 1, i1: 1, u1: 1, i2: 2, u2: 2, f2: 2, i4: 4, u4: 4, f4: 4, i8: 8, u8: 8, f8: 8, c8: 8, c16: 16 };

const DTYPE_NAMES: Record<string, string> = {
  b1: 'bool', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16', f2: 'float16', i4: 'int32', u4: 'uint32',
  f4: 'float32', i8: 'int64', u8: 'uint64', f8: 'float64', c8: 'complex64', c16: 'complex128',
};

export interface NpyArray {
  /** The dtype descriptor as written, e.g. '<f4', '|u1', '>f8'. */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** The raw bytes after the header (exactly product(shape) x item size). */
  data: Uint8Array;
}

/** numpy's name for a descriptor ('<f4' -> 'float32'), for messages. */
export function dtypeName(descr: string): string {
  const m = /^([<>|=])([a-zA-Z]\d+)$/.exec(descr);
  if (!m) return `'${descr}'`;
  const name = DTYPE_NAMES[m[2]] ?? m[2];
  return m[1] === '>' ? `big-endian ${name}` : name;
}

/** Python tuple literal as numpy writes shapes: '(2, 3)', '(5,)', '()'. */
export function formatShape(shape: readonly (number | string)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Parses the header dict; only the three keys numpy writes are accepted. */
function parseHeaderDict(text: string, what: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const bad = (why: string) => new NpyFormatError(`${what}: bad .npy header (${why}): ${text.trim().slice(0, 120)}`);
  const body = /^\s*\{(.*)\}\s*$/s.exec(text);
  if (!body) throw bad('not a dict literal');
  // A dict of string keys to a string, a boolean or a tuple of integers: split on top-level commas.
  const entries = new Map<string, string>();
  const re = /\s*'(\w+)'\s*:\s*('[^']*'|True|False|\([^)]*\))\s*(,|$)/gy;
  let rest = body[1];
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < rest.length && (m = re.exec(rest)) !== null) {
    if (entries.has(m[1])) throw bad(`key '${m[1]}' repeated`);
    entries.set(m[1], m[2]);
    pos = re.lastIndex;
    if (m[3] === '') break;
  }
  rest = rest.slice(pos);
  if (rest.trim() !== '') throw bad(`cannot read '${rest.trim().slice(0, 40)}'`);
  for (const key of ['descr', 'fortran_order', 'shape']) if (!entries.has(key)) throw bad(`no '${key}'`);
  if (entries.size !== 3) throw bad(`unexpected keys ${[...entries.keys()].filter((k) => !['descr', 'fortran_order', 'shape'].includes(k)).join(', ')}`);

  const descrLit = entries.get('descr')!;
  if (!descrLit.startsWith("'")) throw bad("'descr' is not a string (structured dtypes are not supported)");
  const fo = entries.get('fortran_order')!;
  if (fo !== 'True' && fo !== 'False') throw bad("'fortran_order' is not True or False");
  const shapeLit = entries.get('shape')!;
  if (!shapeLit.startsWith('(')) throw bad("'shape' is not a tuple");
  const inner = shapeLit.slice(1, -1).trim();
  const parts = inner === '' ? [] : inner.split(',').map((s) => s.trim().replace(/L$/, ''));
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // '(5,)'
  if (parts.some((s) => !/^\d+$/.test(s))) throw bad("'shape' is not a tuple of integers");
  const shape = parts.map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d))) throw bad("'shape' has a dimension too large");
  return { descr: descrLit.slice(1, -1), fortranOrder: fo === 'True', shape };
}

/** Parses a .npy file held in memory; checks the magic, the header and the data length. */
export function parseNpy(bytes: Uint8Array, what = 'the .npy file'): NpyArray {
  if (bytes.byteLength < 10 || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new NpyFormatError(`${what}: not a .npy file (no '\\x93NUMPY' magic at the start)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new NpyFormatError(`${what}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyFormatError(`${what}: .npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0, 3.0 are)`);
  }
  if (start + headerLen > bytes.byteLength) {
    throw new NpyFormatError(`${what}: the .npy header claims ${headerLen} bytes but the file has ${bytes.byteLength - start} after the preamble (truncated?)`);
  }
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(start, start + headerLen));
  } catch {
    throw new NpyFormatError(`${what}: the .npy header is not valid text`);
  }
  const { descr, fortranOrder, shape } = parseHeaderDict(text, what);
  const data = bytes.subarray(start + headerLen);
  const code = /^[<>|=]([a-zA-Z]\d+)$/.exec(descr)?.[1];
  const itemBytes = code !== undefined ? ITEM_BYTES[code] : undefined;
  if (itemBytes !== undefined) {
    const need = shape.reduce((a, b) => a * b, 1) * itemBytes;
    if (data.byteLength !== need) {
      throw new NpyFormatError(`${what}: ${dtypeName(descr)} ${formatShape(shape)} needs ${need} data bytes, the file has ` +
        `${data.byteLength} (${data.byteLength < need ? 'truncated' : 'trailing bytes'})`);
    }
  }
  return { descr, fortranOrder, shape, data };
}

/** A C-order little-endian float32 array ('<f4'); anything else throws, naming what was found. */
export function readNpyFloat32(bytes: Uint8Array, what = 'the .npy file'): { shape: number[]; data: Float32Array } {
  const a = parseNpy(bytes, what);
  if (a.descr !== '<f4') {
    throw new NpyFormatError(`${what} holds ${dtypeName(a.descr)} ('${a.descr}'), expected float32 ('<f4'): ` +
      'save it with x.astype(np.float32)');
  }
  if (a.fortranOrder) {
    throw new NpyFormatError(`${what} is in Fortran (column-major) order; save a C-order array (np.ascontiguousarray(x))`);
  }
  // Copy: the data section need not be 4-byte aligned within the file's buffer.
  const data = new Float32Array(a.data.slice().buffer);
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
    const v = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    for (let i = 0; i < data.length; i++) data[i] = v.getFloat32(i * 4, true);
  }
  return { shape: a.shape, data };
}

/** Serialises a C-order float32 array as a version 1.0 .npy file ('<f4'), data 64-byte aligned. */
export function writeNpyFloat32(data: Float32Array, shape: readonly number[]): Uint8Array {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`bad shape [${shape.join(', ')}]`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new RangeError(`${data.length} values do not fill shape ${formatShape(shape)}`);
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  const preamble = 10;
  const total = Math.ceil((preamble + dict.length + 1) / ALIGN) * ALIGN;
  dict = dict.padEnd(total - preamble - 1, ' ') + '\n';
  if (dict.length > 0xffff) throw new RangeError('shape too long for a version 1.0 .npy header');
  const out = new Uint8Array(total + n * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[preamble + i] = dict.charCodeAt(i);
  for (let i = 0; i < n; i++) view.setFloat32(total + i * 4, data[i], true);
  return out;
}
