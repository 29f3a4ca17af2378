// Reads a PyTorch checkpoint (or a .safetensors file) from memory into a map of f32 tensors,
// without executing any pickle code. Browser-safe: Uint8Array in, no Node imports.
//
// Containers, detected by their first bytes:
//   zip     (torch >= 1.6): `<archive>/data.pkl` with persistent ids
//           ('storage', storage_type, key, location, numel); storage bytes in `<archive>/data/<key>`.
//   legacy  (torch 0.1.10 to 1.5, Cadene's files): pickles back to back — magic number
//           0x1950a86a20f9469cfc6c, protocol version 1001, sys_info, the main pickle (persistent ids
//           ('storage', storage_type, root_key, location, numel, view_metadata)), the sorted list
//           of storage keys — then per key an int64 LE element count and the raw bytes.
//   tar     (before 0.1.10): members `storages` (count; per storage a pickled (key, location,
//           storage_type), int64 element count, bytes; then a pickled list of storage views),
//           `tensors` (count; per tensor a pickled (key, storage_key, tensor_type), int32 ndim,
//           4 pad bytes, ndim int64 sizes, ndim int64 strides, int64 offset) and `pickle` (the
//           object, whose persistent ids are tensor keys).
//   safetensors: u64 header length + JSON header (re-conversion of an existing file).
//
// The object found is unwrapped to its state dict: a bare state dict, {'state_dict': ...},
// {'model': ...} (or {'model_state_dict': ...}), and a `module.` prefix on every name (DataParallel)
// is stripped. Every tensor becomes a dense row-major Float32Array (f64 rounds to f32; integer
// tensors such as num_batches_tracked are converted too, their dtype kept for the key maps).

import { ByteReader } from './bytes.js';
import { CheckpointFormatError, PickleFormatError } from './errors.js';
import { describe, DTYPE_SIZE, makeTensorRef, PyGlobal, PyValue, StorageRef, StorageRoot, TensorRef, TorchDType,
  unpickle } from './pickle.js';
import { readTar, isTar } from './tar.js';
import { isZip, readZipDirectory, readZipEntry } from './zip.js';
import { f16ToF32, parseSafetensors, toFloat32, WeightsFormatError, type DType } from '../weights/safetensors.js';

export type ContainerFormat = 'zip' | 'legacy' | 'tar' | 'safetensors';

export interface LoadedTensor {
  /** PyTorch shape. */
  shape: number[];
  /** Element type in the file; `data` is always f32. */
  dtype: TorchDType;
  /** Dense, row-major. */
  data: Float32Array;
}

/** Tensor names (after unwrapping) -> tensors, in the file's order. */
export type StateDict = Map<string, LoadedTensor>;

export interface LoadProgress {
  /** Tensor bytes decoded so far, and in all (as stored in the file). */
  done: number;
  total: number;
}

export interface LoadedCheckpoint {
  format: ContainerFormat;
  tensors: StateDict;
  /** How the state dict was found, e.g. ["['state_dict']", "stripped 'module.'"]; empty for a bare one. */
  unwrapped: string[];
  /** Non-tensor entries of the state dict that were ignored. */
  skipped: string[];
  /** `__metadata__` of a .safetensors input. */
  metadata?: Record<string, string>;
}

export interface ReadOptions {
  onProgress?: (p: LoadProgress) => void;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

/** Recognises the container from its first bytes; throws CheckpointFormatError when none fits. */
export function detectContainer(bytes: Uint8Array): ContainerFormat {
  if (isZip(bytes)) return 'zip';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'legacy';
  if (isTar(bytes)) return 'tar';
  if (bytes.length >= 9 && bytes[8] === 0x7b /* '{' */) {
    const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(bytes.length - 8)) return 'safetensors';
  }
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CheckpointFormatError(`not a PyTorch checkpoint or .safetensors file (${bytes.length} bytes, first bytes: ${head || 'none'}); ` +
    'expected a zip archive, a legacy pickle stream, a tar archive or a safetensors header');
}

// ---- Storages -----------------------------------------------------------------------------------

function storageClass(v: PyValue, where: string): { dtype: TorchDType; untyped: boolean } {
  if (v instanceof PyGlobal && v.spec.storage) return v.spec.storage;
  throw new PickleFormatError(`${where}: ${describe(v)} is not a torch storage type`);
}

function keyString(v: PyValue, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw new PickleFormatError(`${where}: storage key ${describe(v)} is not a string`);
}

function count(v: PyValue, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new PickleFormatError(`${where}: ${describe(v)} is not a valid size`);
  return v;
}

/** Storage roots by key; a key seen again must describe the same bytes. */
class StorageTable {
  readonly roots = new Map<string, StorageRoot & { elementSize: number }>();

  root(key: string, dtype: TorchDType, untyped: boolean, numel: number, where: string): StorageRoot & { elementSize: number } {
    const elementSize = untyped ? 1 : DTYPE_SIZE[dtype];
    const byteLength = numel * elementSize;
    if (!Number.isSafeInteger(byteLength)) throw new PickleFormatError(`${where}: storage '${key}' size ${numel} is out of range`);
    let r = this.roots.get(key);
    if (!r) {
      r = { key, byteLength, bytes: null, elementSize };
      this.roots.set(key, r);
    } else if (r.byteLength !== byteLength) {
      throw new PickleFormatError(`${where}: storage '${key}' is declared with ${r.byteLength} and ${byteLength} bytes`);
    }
    return r;
  }

  /** Throws unless every root has its bytes. */
  checkResolved(): void {
    for (const r of this.roots.values()) {
      if (!r.bytes) throw new CheckpointFormatError(`storage '${r.key}' is referenced but its data is missing`);
    }
  }
}

function asTuple(pid: PyValue, where: string): PyValue[] {
  if (!Array.isArray(pid) || pid.length === 0) throw new PickleFormatError(`${where}: persistent id ${describe(pid)} is not a tuple`);
  if (pid[0] === 'module') {
    throw new CheckpointFormatError(`${where}: the checkpoint pickles an nn.Module; only state dicts are supported — ` +
      'save it with torch.save(model.state_dict(), path)');
  }
  if (pid[0] !== 'storage') throw new PickleFormatError(`${where}: unknown persistent id kind ${describe(pid[0])}`);
  return pid;
}

// ---- zip ----------------------------------------------------------------------------------------

function readZip(bytes: Uint8Array): PyValue {
  const entries = readZipDirectory(bytes);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    const names = [...entries.keys()];
    if (names.some((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\//.test(n))) {
      throw new CheckpointFormatError('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; ' +
        'load it with torch.jit.load and save model.state_dict() with torch.save');
    }
    throw new CheckpointFormatError(pkls.length === 0 ? `zip archive has no '<archive>/data.pkl' (entries: ${names.slice(0, 8).join(', ')})`
      : `zip archive has several data.pkl records: ${pkls.join(', ')}`);
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(readZipEntry(bytes, order)) !== 'little') {
    throw new CheckpointFormatError('big-endian checkpoints are not supported');
  }
  const table = new StorageTable();
  const where = pkls[0];
  const { value } = unpickle(readZipEntry(bytes, entries.get(pkls[0])!), {
    what: where,
    persistentLoad: (pid) => {
      const t = asTuple(pid, where);
      if (t.length !== 5) throw new PickleFormatError(`storage persistent id has ${t.length} fields, expected 5`);
      const cls = storageClass(t[1], where);
      const key = keyString(t[2], where);
      const root = table.root(key, cls.dtype, cls.untyped, count(t[4], `${where} storage '${key}' numel`), where);
      return new StorageRef(root, 0, root.byteLength, cls.dtype, cls.untyped);
    },
  });
  for (const root of table.roots.values()) {
    const name = `${prefix}data/${root.key}`;
    const entry = entries.get(name);
    if (!entry) throw new CheckpointFormatError(`zip archive has no record '${name}' for storage '${root.key}'`);
    const data = readZipEntry(bytes, entry);
    if (data.byteLength !== root.byteLength) {
      throw new CheckpointFormatError(`record '${name}' holds ${data.byteLength} bytes, its storage needs ${root.byteLength}`);
    }
    root.bytes = data;
  }
  return value;
}

// ---- legacy -------------------------------------------------------------------------------------

/** Reads `keys`' data (int64 element count + bytes each) from `r` into the table's roots. */
function readStorageData(r: ByteReader, table: StorageTable, keys: string[]): void {
  for (const key of keys) {
    const root = table.roots.get(key);
    if (!root) throw new CheckpointFormatError(`storage '${key}' is listed but never referenced`);
    if (root.bytes) throw new CheckpointFormatError(`storage '${key}' is listed twice`);
    const n = r.u64(`element count of storage '${key}'`);
    if (n * root.elementSize !== root.byteLength) {
      throw new CheckpointFormatError(`storage '${key}' holds ${n} elements, the pickle declared ${root.byteLength / root.elementSize}`);
    }
    root.bytes = r.take(root.byteLength, `data of storage '${key}'`);
  }
}

function readLegacy(bytes: Uint8Array): PyValue {
  const what = 'legacy checkpoint';
  const magic = unpickle(bytes, { what: `${what} magic number` });
  if (magic.value !== LEGACY_MAGIC) {
    throw new CheckpointFormatError(`not a PyTorch checkpoint: the first pickle is ${describe(magic.value)}, not the magic number`);
  }
  const version = unpickle(bytes, { offset: magic.end, what: `${what} protocol version` });
  if (version.value !== LEGACY_PROTOCOL_VERSION) {
    throw new CheckpointFormatError(`unsupported legacy protocol version ${describe(version.value)} (expected ${LEGACY_PROTOCOL_VERSION})`);
  }
  const sys = unpickle(bytes, { offset: version.end, what: `${what} sys_info` });
  if (sys.value instanceof Map && sys.value.get('little_endian') === false) {
    throw new CheckpointFormatError('big-endian checkpoints are not supported');
  }
  const table = new StorageTable();
  const where = `${what} main pickle`;
  const main = unpickle(bytes, {
    offset: sys.end,
    what: where,
    persistentLoad: (pid) => {
      const t = asTuple(pid, where);
      if (t.length !== 6) throw new PickleFormatError(`storage persistent id has ${t.length} fields, expected 6`);
      const cls = storageClass(t[1], where);
      const key = keyString(t[2], where);
      const root = table.root(key, cls.dtype, cls.untyped, count(t[4], `storage '${key}' numel`), where);
      const view = t[5];
      if (view === null) return new StorageRef(root, 0, root.byteLength, cls.dtype, cls.untyped);
      if (!Array.isArray(view) || view.length !== 3) throw new PickleFormatError(`${where}: bad storage view ${describe(view)}`);
      const offset = count(view[1], 'view offset') * root.elementSize;
      const size = count(view[2], 'view size') * root.elementSize;
      if (offset + size > root.byteLength) throw new PickleFormatError(`${where}: storage view passes the end of storage '${key}'`);
      return new StorageRef(root, offset, size, cls.dtype, cls.untyped);
    },
  });
  const keysPickle = unpickle(bytes, { offset: main.end, what: `${what} storage keys` });
  if (!Array.isArray(keysPickle.value)) throw new CheckpointFormatError(`${what}: storage key list is ${describe(keysPickle.value)}`);
  const keys = keysPickle.value.map((k) => keyString(k, `${what} storage keys`));
  readStorageData(new ByteReader(bytes, { start: keysPickle.end, what }), table, keys);
  table.checkResolved();
  return main.value;
}

// ---- tar ----------------------------------------------------------------------------------------

function readTarCheckpoint(bytes: Uint8Array): PyValue {
  const members = readTar(bytes);
  const member = (name: string) => {
    const m = members.get(name);
    if (!m) throw new CheckpointFormatError(`tar checkpoint has no '${name}' member (members: ${[...members.keys()].join(', ')})`);
    return m;
  };
  const table = new StorageTable();
  const storages = new Map<string, StorageRef>();

  const sBytes = member('storages');
  const sr = new ByteReader(sBytes, { what: "tar member 'storages'" });
  const next = (what: string, r: ByteReader, b: Uint8Array): PyValue => {
    const res = unpickle(b, { offset: r.pos, what });
    r.pos = res.end;
    return res.value;
  };
  const nStorages = count(next('storage count', sr, sBytes), 'storage count');
  for (let i = 0; i < nStorages; i++) {
    const args = next(`storage ${i} header`, sr, sBytes);
    if (!Array.isArray(args) || args.length !== 3) throw new CheckpointFormatError(`storage ${i}: header ${describe(args)} is not (key, location, type)`);
    const key = keyString(args[0], `storage ${i}`);
    const cls = storageClass(args[2], `storage ${i}`);
    const n = sr.u64(`element count of storage '${key}'`);
    const root = table.root(key, cls.dtype, cls.untyped, n, `storage ${i}`);
    if (root.bytes) throw new CheckpointFormatError(`storage '${key}' appears twice`);
    root.bytes = sr.take(root.byteLength, `data of storage '${key}'`);
    storages.set(key, new StorageRef(root, 0, root.byteLength, cls.dtype, cls.untyped));
  }
  const views = next('storage views', sr, sBytes);
  if (!Array.isArray(views)) throw new CheckpointFormatError(`storage view list is ${describe(views)}`);
  for (const v of views) {
    if (!Array.isArray(v) || v.length !== 4) throw new CheckpointFormatError(`storage view ${describe(v)} is not (target, root, offset, numel)`);
    const base = storages.get(keyString(v[1], 'storage view root'));
    if (!base) throw new CheckpointFormatError(`storage view of unknown storage ${describe(v[1])}`);
    const es = base.untyped ? 1 : DTYPE_SIZE[base.dtype];
    const offset = count(v[2], 'view offset') * es, size = count(v[3], 'view numel') * es;
    if (offset + size > base.byteLength) throw new CheckpointFormatError(`storage view ${describe(v[0])} passes the end of its root`);
    storages.set(keyString(v[0], 'storage view key'), new StorageRef(base.root, base.byteOffset + offset, size, base.dtype, base.untyped));
  }

  const tBytes = member('tensors');
  const tr = new ByteReader(tBytes, { what: "tar member 'tensors'" });
  const tensors = new Map<string, TensorRef>();
  const nTensors = count(next('tensor count', tr, tBytes), 'tensor count');
  for (let i = 0; i < nTensors; i++) {
    const args = next(`tensor ${i} header`, tr, tBytes);
    if (!Array.isArray(args) || args.length !== 3) throw new CheckpointFormatError(`tensor ${i}: header ${describe(args)} is not (key, storage, type)`);
    const key = keyString(args[0], `tensor ${i}`);
    const storage = storages.get(keyString(args[1], `tensor ${i} storage`));
    if (!storage) throw new CheckpointFormatError(`tensor '${key}' refers to unknown storage ${describe(args[1])}`);
    const ndim = tr.i32(`ndim of tensor '${key}'`);
    if (ndim < 0 || ndim > 64) throw new CheckpointFormatError(`tensor '${key}' has ${ndim} dimensions`);
    tr.skip(4, 'ndim padding');
    const shape = Array.from({ length: ndim }, () => tr.i64(`size of tensor '${key}'`));
    const stride = Array.from({ length: ndim }, () => tr.i64(`stride of tensor '${key}'`));
    const offset = tr.i64(`offset of tensor '${key}'`);
    tensors.set(key, makeTensorRef(storage, storage.dtype, offset, shape, stride, `tensor '${key}'`));
  }

  const where = "tar member 'pickle'";
  return unpickle(member('pickle'), {
    what: where,
    persistentLoad: (pid) => {
      if (Array.isArray(pid)) asTuple(pid, where); // a module container: refused with a clear message
      const key = keyString(typeof pid === 'string' && /^\d+$/.test(pid) ? String(Number(pid)) : pid, where);
      const t = tensors.get(key) ?? storages.get(key);
      if (!t) throw new PickleFormatError(`persistent id '${key}' names no tensor or storage`);
      return t;
    },
  }).value;
}

// ---- Unwrapping ---------------------------------------------------------------------------------

const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict'];

function findStateDict(root: PyValue, path: string[]): { dict: Map<PyValue, PyValue>; path: string[] } {
  if (!(root instanceof Map)) {
    throw new CheckpointFormatError(`the checkpoint holds ${describe(root)}${path.length ? ` at ${path.join('')}` : ''}, not a state dict`);
  }
  const values = [...root.values()];
  if (values.length > 0 && values.every((v) => v instanceof TensorRef)) return { dict: root, path };
  if (path.length < 2) {
    for (const k of WRAPPER_KEYS) {
      const v = root.get(k);
      if (v instanceof Map) return findStateDict(v, [...path, `['${k}']`]);
    }
  }
  if (values.some((v) => v instanceof TensorRef)) return { dict: root, path };
  const keys = [...root.keys()].slice(0, 12).map((k) => describe(k)).join(', ');
  throw new CheckpointFormatError(`no state dict found${path.length ? ` at ${path.join('')}` : ''}: ` +
    `no tensors among the keys [${keys}]; expected a state dict or {'state_dict': ...} / {'model': ...}`);
}

// ---- Materialising ------------------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Gathers a strided tensor into a dense row-major Float32Array. */
export function tensorToFloat32(t: TensorRef): Float32Array {
  const bytes = t.storage.root.bytes;
  if (!bytes) throw new CheckpointFormatError(`storage '${t.storage.root.key}' has no data`);
  const es = DTYPE_SIZE[t.dtype];
  const base = t.storage.byteOffset;
  const n = t.numel;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const nd = t.shape.length;
  let contiguous = true;
  for (let i = nd - 1, expect = 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.shape[i];
  }
  const start = base + t.offset * es;
  if (contiguous && t.dtype === 'float32' && LITTLE_ENDIAN) {
    // A byte copy: `bytes` may be a Node Buffer, whose slice() is a view into a shared pool.
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + n * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: (byte: number) => number = {
    float32: (p: number) => view.getFloat32(p, true),
    float64: (p: number) => view.getFloat64(p, true),
    float16: (p: number) => f16ToF32(view.getUint16(p, true)),
    bfloat16: (p: number) => { scratch[0] = view.getUint16(p, true) << 16; return scratchF[0]; },
    int64: (p: number) => Number(view.getBigInt64(p, true)),
    int32: (p: number) => view.getInt32(p, true),
    int16: (p: number) => view.getInt16(p, true),
    int8: (p: number) => view.getInt8(p),
    uint8: (p: number) => view.getUint8(p),
    bool: (p: number) => (view.getUint8(p) ? 1 : 0),
  }[t.dtype];
  // Odometer over the index space: `pos` is the element index of the current position.
  const idx = new Array<number>(nd).fill(0);
  let pos = t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = read(base + pos * es);
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) { pos += t.stride[d]; break; }
      pos -= (t.shape[d] - 1) * t.stride[d];
      idx[d] = 0;
    }
  }
  return out;
}
const scratch = new Uint32Array(1);
const scratchF = new Float32Array(scratch.buffer);

// ---- Entry points -------------------------------------------------------------------------------

/** Runs the container reader and the unpickler; returns the raw object (tensors not yet decoded). */
export function unpickleCheckpoint(bytes: Uint8Array): { format: Exclude<ContainerFormat, 'safetensors'>; root: PyValue } {
  const format = detectContainer(bytes);
  switch (format) {
    case 'zip': return { format, root: readZip(bytes) };
    case 'legacy': return { format, root: readLegacy(bytes) };
    case 'tar': return { format, root: readTarCheckpoint(bytes) };
    case 'safetensors': throw new CheckpointFormatError('a .safetensors file holds no pickle');
  }
}

const SAFETENSORS_DTYPES: Record<DType, TorchDType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' };

function readSafetensorsInput(bytes: Uint8Array, opts: ReadOptions): LoadedCheckpoint {
  try {
    const h = parseSafetensors(bytes);
    const tensors: StateDict = new Map();
    const total = [...h.tensors.values()].reduce((a, e) => a + e.end - e.begin, 0);
    let done = 0;
    // Data-section order is the file's canonical order.
    const ordered = [...h.tensors.entries()].sort((a, b) => a[1].begin - b[1].begin);
    for (const [name, e] of ordered) {
      const raw = bytes.subarray(h.dataOffset + e.begin, h.dataOffset + e.end);
      tensors.set(name, { shape: e.shape, dtype: SAFETENSORS_DTYPES[e.dtype], data: toFloat32(e.dtype, raw) });
      done += e.end - e.begin;
      opts.onProgress?.({ done, total });
    }
    return { format: 'safetensors', tensors, unwrapped: [], skipped: [], metadata: h.metadata };
  } catch (e) {
    if (e instanceof WeightsFormatError) throw new CheckpointFormatError(`.safetensors input: ${e.message}`);
    throw e;
  }
}

/**
 * Most tensor values a file of `fileBytes` may decode to: 2 per byte plus 2^20. A checkpoint's
 * values take at least 1 byte each (2 or 4 for float tensors), so a genuine file decodes to at
 * most 1 value per byte, 2 with every weight tied (stored once, viewed twice); more means views
 * that repeat or expand their storage.
 */
export function maxDecodedValues(fileBytes: number): number {
  return 2 * fileBytes + 2 ** 20;
}

/**
 * Reads a checkpoint held in memory: detects the container, unpickles safely, unwraps the state
 * dict and decodes every tensor to f32. Throws only CheckpointError subclasses for bad input.
 */
export function readCheckpoint(bytes: Uint8Array, opts: ReadOptions = {}): LoadedCheckpoint {
  const format = detectContainer(bytes);
  if (format === 'safetensors') return readSafetensorsInput(bytes, opts);
  const { root } = unpickleCheckpoint(bytes);
  const { dict, path } = findStateDict(root, []);
  const unwrapped = [...path];
  const entries: [string, TensorRef][] = [];
  const skipped: string[] = [];
  for (const [k, v] of dict) {
    if (typeof k !== 'string') throw new CheckpointFormatError(`state dict key ${describe(k)} is not a string`);
    if (v instanceof TensorRef) entries.push([k, v]);
    else skipped.push(k);
  }
  if (entries.length > 0 && entries.every(([k]) => k.startsWith('module.'))) {
    for (const e of entries) e[0] = e[0].slice('module.'.length);
    unwrapped.push("stripped 'module.'");
  }
  // Views may repeat or expand storage (stride 0), so decoded size is not bounded by the file
  // size by construction; bound it here so a hostile file cannot make us allocate gigabytes.
  const values = entries.reduce((a, [, t]) => a + t.numel, 0);
  if (values > maxDecodedValues(bytes.byteLength)) {
    throw new CheckpointFormatError(`the tensors would decode to ${values} values from a ${bytes.byteLength}-byte file ` +
      `(limit ${maxDecodedValues(bytes.byteLength)}); expanded or repeated views this large are not supported`);
  }
  const total = entries.reduce((a, [, t]) => a + t.numel * DTYPE_SIZE[t.dtype], 0);
  let done = 0;
  const tensors: StateDict = new Map();
  for (const [name, t] of entries) {
    tensors.set(name, { shape: [...t.shape], dtype: t.dtype, data: tensorToFloat32(t) });
    done += t.numel * DTYPE_SIZE[t.dtype];
    opts.onProgress?.({ done, total });
  }
  return { format, tensors, unwrapped, skipped };
}
