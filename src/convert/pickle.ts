// A pickle virtual machine that never executes code: it understands the opcodes of pickle protocols
// 0 to 5 (Python 2's string opcodes included) and builds only whitelisted globals — the handful
// of PyTorch and collections names a state dict needs. Any other global is refused, by name, at the
// GLOBAL / STACK_GLOBAL opcode, before anything could call it.
//
// Browser-safe: works on Uint8Array, no Node imports.
//
// Python values map to JS as follows:
//   None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
//   str -> string, bytes / bytearray -> Uint8Array, list -> array, tuple -> frozen array,
//   dict / OrderedDict -> Map, set / frozenset -> Set, whitelisted globals -> PyGlobal,
//   rebuilt tensors -> TensorRef, storages (from persistent ids) -> StorageRef.
//
// Resource bounds (all give a PickleFormatError): every length field is checked against the bytes
// left, so no allocation exceeds the input size; at most `maxOps` opcodes run (which bounds stack,
// memo and container sizes, and time); MARK nesting and container nesting (tracked as containers
// are filled, bottom-up) stay within `maxDepth`; integers are at most `maxIntBytes` long. The VM
// itself is iterative: deep nesting never recurses in JS, and wide containers (a tuple of millions of
// floats) are never spread as call arguments. Pickles may legally hold cycles, so code
// walking a result must not recurse blindly; this project's consumers only look a few levels deep.

import { ByteReader, decodeLatin1, decodeUtf8 } from './bytes.js';
import { PickleFormatError, UnsafePickleError } from './errors.js';

// ---- Torch element types ----------------------------------------------------------------------

export type TorchDType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' |
  'uint8' | 'bool';

export const DTYPE_SIZE: Record<TorchDType, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

// ---- Values -----------------------------------------------------------------------------------

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | Map<PyValue, PyValue> |
  Set<PyValue> | PyGlobal | StorageRef | TensorRef;

/** A whitelisted global (class, function or constant) as the pickle named it. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string, readonly spec: GlobalSpec) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface GlobalSpec {
  /** REDUCE / INST / OBJ: calling the global with positional arguments. */
  call?: (args: PyValue[], self: PyGlobal) => PyValue;
  /** NEWOBJ / NEWOBJ_EX: cls.__new__(cls, *args). */
  construct?: (args: PyValue[], self: PyGlobal) => PyValue;
  /** A torch storage class (torch.FloatStorage ...): its element type. `untyped` for UntypedStorage. */
  storage?: { dtype: TorchDType; untyped: boolean };
  /** A torch dtype constant (torch.float32 ...). */
  dtype?: TorchDType;
  /** A tensor class: torch.FloatTensor & co (tar format), torch.Tensor, torch.nn.Parameter. */
  tensorClass?: TorchDType | 'any';
}

/** The bytes behind one or more storages; filled in by the container reader after unpickling. */
export interface StorageRoot {
  key: string;
  byteLength: number;
  /** Exactly `byteLength` bytes once resolved; null while the pickle is still being read. */
  bytes: Uint8Array | null;
}

/** A typed window into a StorageRoot (legacy files may hold views of a root storage). */
export class StorageRef {
  constructor(readonly root: StorageRoot, readonly byteOffset: number, readonly byteLength: number,
    readonly dtype: TorchDType, readonly untyped = false) {}
}

/** A tensor as a strided view of a storage. `offset` and `stride` count elements of `dtype`. */
export class TensorRef {
  constructor(readonly storage: StorageRef, readonly dtype: TorchDType, readonly offset: number,
    readonly shape: number[], readonly stride: number[]) {}
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** Largest tensor (in elements) this reader materialises: 2^28 (1 GiB as f32). */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/**
 * Validates a strided view of `storage` and returns it as a TensorRef. `where` prefixes messages.
 * Rejects negative sizes/strides, more than MAX_TENSOR_ELEMENTS elements, and any element outside
 * the storage (checked against the storage's declared size, before its bytes are read).
 */
export function makeTensorRef(storage: StorageRef, dtype: TorchDType, offset: number, shape: number[],
  stride: number[], where: string): TensorRef {
  const bad = (msg: string) => new PickleFormatError(`${where}: ${msg}`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw bad(`storage offset ${offset} is invalid`);
  if (shape.length !== stride.length) throw bad(`size [${shape}] and stride [${stride}] differ in length`);
  if (shape.length > 64) throw bad(`${shape.length} dimensions is too many`);
  let numel = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    if (!Number.isSafeInteger(shape[i]) || shape[i] < 0) throw bad(`size [${shape}] is invalid`);
    if (!Number.isSafeInteger(stride[i]) || stride[i] < 0) throw bad(`stride [${stride}] is invalid`);
    numel *= shape[i];
    if (numel > MAX_TENSOR_ELEMENTS) throw bad(`size [${shape}] exceeds the limit of ${MAX_TENSOR_ELEMENTS} elements`);
  }
  if (numel > 0) {
    for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
    const storageElems = Math.floor(storage.byteLength / DTYPE_SIZE[dtype]);
    if (!(last < storageElems)) {
      throw bad(`view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last}, ` +
        `past the end of its ${storageElems}-element storage`);
    }
  }
  return new TensorRef(storage, dtype, offset, [...shape], [...stride]);
}

// ---- The whitelist ----------------------------------------------------------------------------

function asInt(v: PyValue, what: string): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new PickleFormatError(`${what} is not an integer: ${describe(v)}`);
  return v;
}

function asIntList(v: PyValue, what: string): number[] {
  if (!Array.isArray(v)) throw new PickleFormatError(`${what} is not a tuple of integers: ${describe(v)}`);
  return v.map((x, i) => asInt(x, `${what}[${i}]`));
}

function argCount(args: PyValue[], min: number, max: number, fn: string): void {
  if (args.length < min || args.length > max) {
    throw new PickleFormatError(`${fn} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

function rebuild(args: PyValue[], fn: string, dtypeArg?: PyValue): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new PickleFormatError(`${fn}: first argument is not a storage: ${describe(storage)}`);
  let dtype = storage.dtype;
  if (dtypeArg !== undefined) {
    if (!(dtypeArg instanceof PyGlobal) || !dtypeArg.spec.dtype) {
      throw new PickleFormatError(`${fn}: dtype argument is not a torch dtype: ${describe(dtypeArg)}`);
    }
    dtype = dtypeArg.spec.dtype;
    if (!storage.untyped && storage.dtype !== dtype) {
      throw new PickleFormatError(`${fn}: dtype ${dtype} does not match the ${storage.dtype} storage`);
    }
  }
  return makeTensorRef(storage, dtype, asInt(offset, `${fn} storage_offset`), asIntList(size, `${fn} size`),
    asIntList(stride, `${fn} stride`), fn);
}

function tensorArg(v: PyValue, fn: string): TensorRef {
  if (!(v instanceof TensorRef)) throw new PickleFormatError(`${fn}: argument is not a tensor: ${describe(v)}`);
  return v;
}

function orderedDict(args: PyValue[]): Map<PyValue, PyValue> {
  argCount(args, 0, 1, 'collections.OrderedDict');
  const m = new Map<PyValue, PyValue>();
  const init = args[0];
  if (init === undefined || init === null) return m;
  if (init instanceof Map) {
    for (const [k, v] of init) m.set(k, v);
    return m;
  }
  if (!Array.isArray(init)) throw new PickleFormatError(`collections.OrderedDict: cannot build from ${describe(init)}`);
  for (const pair of init) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new PickleFormatError('collections.OrderedDict: items must be pairs');
    m.set(pair[0], pair[1]);
  }
  return m;
}

const STORAGE_TYPES: Record<string, TorchDType> = {
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
const TENSOR_TYPES: Record<string, TorchDType> = {
  DoubleTensor: 'float64', FloatTensor: 'float32', HalfTensor: 'float16', BFloat16Tensor: 'bfloat16',
  LongTensor: 'int64', IntTensor: 'int32', ShortTensor: 'int16', CharTensor: 'int8', ByteTensor: 'uint8',
  BoolTensor: 'bool',
};
const DTYPE_NAMES: Record<string, TorchDType> = {
  float64: 'float64', double: 'float64', float32: 'float32', float: 'float32', float16: 'float16', half: 'float16',
  bfloat16: 'bfloat16', int64: 'int64', long: 'int64', int32: 'int32', int: 'int32', int16: 'int16', short: 'int16',
  int8: 'int8', uint8: 'uint8', bool: 'bool',
};

/** The globals a PyTorch state dict may name, keyed "module.name". Everything else is refused. */
export const TORCH_GLOBALS: ReadonlyMap<string, GlobalSpec> = (() => {
  const g = new Map<string, GlobalSpec>();
  g.set('collections.OrderedDict', { call: orderedDict, construct: () => new Map() });
  g.set('torch._utils._rebuild_tensor', {
    call: (a) => { argCount(a, 4, 4, '_rebuild_tensor'); return rebuild(a, '_rebuild_tensor'); },
  });
  g.set('torch._utils._rebuild_tensor_v2', {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    call: (a) => { argCount(a, 6, 7, '_rebuild_tensor_v2'); return rebuild(a, '_rebuild_tensor_v2'); },
  });
  g.set('torch._utils._rebuild_tensor_v3', {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
    call: (a) => { argCount(a, 7, 8, '_rebuild_tensor_v3'); return rebuild(a, '_rebuild_tensor_v3', a[6]); },
  });
  g.set('torch._utils._rebuild_parameter', {
    // (data, requires_grad, backward_hooks): a Parameter is just its tensor here.
    call: (a) => { argCount(a, 3, 3, '_rebuild_parameter'); return tensorArg(a[0], '_rebuild_parameter'); },
  });
  g.set('torch._utils._rebuild_parameter_with_state', {
    call: (a) => { argCount(a, 4, 4, '_rebuild_parameter_with_state'); return tensorArg(a[0], '_rebuild_parameter_with_state'); },
  });
  g.set('torch._tensor._rebuild_from_type_v2', {
    // (func, new_type, args, state): tensor subclasses (Parameter, Tensor) reduce to func(*args).
    call: (a) => {
      argCount(a, 4, 4, '_rebuild_from_type_v2');
      const [func, type, args] = a;
      if (!(func instanceof PyGlobal) || !func.spec.call) throw new PickleFormatError('_rebuild_from_type_v2: func is not callable');
      if (!(type instanceof PyGlobal) || !type.spec.tensorClass) {
        throw new PickleFormatError(`_rebuild_from_type_v2: ${describe(type)} is not a tensor class`);
      }
      if (!Array.isArray(args)) throw new PickleFormatError('_rebuild_from_type_v2: args is not a tuple');
      return tensorArg(func.spec.call(args, func), '_rebuild_from_type_v2');
    },
  });
  g.set('torch.Size', { call: (a) => { argCount(a, 0, 1, 'torch.Size'); return Object.freeze(asIntList(a[0] ?? [], 'torch.Size')) as PyValue[]; } });
  g.set('torch.Tensor', { tensorClass: 'any' });
  g.set('torch.nn.parameter.Parameter', { tensorClass: 'any' });
  for (const [name, dtype] of Object.entries(STORAGE_TYPES)) {
    g.set(`torch.${name}`, { storage: { dtype, untyped: false } });
    g.set(`torch.cuda.${name}`, { storage: { dtype, untyped: false } });
  }
  for (const name of ['torch.UntypedStorage', 'torch.storage.UntypedStorage', 'torch.storage._UntypedStorage']) {
    g.set(name, { storage: { dtype: 'uint8', untyped: true } });
  }
  for (const [name, dtype] of Object.entries(TENSOR_TYPES)) {
    g.set(`torch.${name}`, { tensorClass: dtype });
    g.set(`torch.cuda.${name}`, { tensorClass: dtype });
  }
  for (const [name, dtype] of Object.entries(DTYPE_NAMES)) g.set(`torch.${name}`, { dtype });
  return g;
})();

// ---- The VM -----------------------------------------------------------------------------------

export interface PickleLimits {
  /** Opcodes executed per pickle; bounds time, stack, memo and container sizes. */
  maxOps: number;
  /** MARK nesting and container nesting. */
  maxDepth: number;
  /** Bytes of one integer (LONG1 / LONG4 / text LONG digits / 2.4). */
  maxIntBytes: number;
}

export const DEFAULT_LIMITS: PickleLimits = { maxOps: 1 << 24, maxDepth: 1000, maxIntBytes: 1024 };

export interface UnpickleOptions {
  /** Byte offset where the pickle starts (legacy files hold several pickles back to back). */
  offset?: number;
  /** Resolves persistent ids (PERSID / BINPERSID); without it they are an error. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Whitelist, "module.name" -> spec; defaults to TORCH_GLOBALS. */
  globals?: ReadonlyMap<string, GlobalSpec>;
  limits?: Partial<PickleLimits>;
  /** Prefix for error messages, e.g. 'archive/data.pkl'. */
  what?: string;
}

export interface UnpickleResult {
  value: PyValue;
  /** Offset just past the STOP opcode. */
  end: number;
}

/** Short printable description of a value for error messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (Array.isArray(v)) return `${Object.isFrozen(v) ? 'tuple' : 'list'}[${v.length}]`;
  if (v instanceof Map) return `dict[${v.size}]`;
  if (v instanceof Set) return `set[${v.size}]`;
  if (v instanceof PyGlobal) return v.qualname;
  if (v instanceof TensorRef) return `tensor ${v.dtype}[${v.shape.join(', ')}]`;
  if (v instanceof StorageRef) return `storage ${v.dtype}[${v.byteLength} bytes]`;
  return typeof v;
}

const OP_NAMES: Record<number, string> = {};
function op(ch: string | number, name: string): number {
  const code = typeof ch === 'string' ? ch.charCodeAt(0) : ch;
  OP_NAMES[code] = name;
  return code;
}
const MARK = op('(', 'MARK'), STOP = op('.', 'STOP'), POP = op('0', 'POP'), POP_MARK = op('1', 'POP_MARK'),
  DUP = op('2', 'DUP'), FLOAT = op('F', 'FLOAT'), INT = op('I', 'INT'), BININT = op('J', 'BININT'),
  BININT1 = op('K', 'BININT1'), LONG = op('L', 'LONG'), BININT2 = op('M', 'BININT2'), NONE = op('N', 'NONE'),
  PERSID = op('P', 'PERSID'), BINPERSID = op('Q', 'BINPERSID'), REDUCE = op('R', 'REDUCE'),
  STRING = op('S', 'STRING'), BINSTRING = op('T', 'BINSTRING'), SHORT_BINSTRING = op('U', 'SHORT_BINSTRING'),
  UNICODE = op('V', 'UNICODE'), BINUNICODE = op('X', 'BINUNICODE'), APPEND = op('a', 'APPEND'),
  BUILD = op('b', 'BUILD'), GLOBAL = op('c', 'GLOBAL'), DICT = op('d', 'DICT'), EMPTY_DICT = op('}', 'EMPTY_DICT'),
  APPENDS = op('e', 'APPENDS'), GET = op('g', 'GET'), BINGET = op('h', 'BINGET'), INST = op('i', 'INST'),
  LONG_BINGET = op('j', 'LONG_BINGET'), LIST = op('l', 'LIST'), EMPTY_LIST = op(']', 'EMPTY_LIST'),
  OBJ = op('o', 'OBJ'), PUT = op('p', 'PUT'), BINPUT = op('q', 'BINPUT'), LONG_BINPUT = op('r', 'LONG_BINPUT'),
  SETITEM = op('s', 'SETITEM'), TUPLE = op('t', 'TUPLE'), EMPTY_TUPLE = op(')', 'EMPTY_TUPLE'),
  SETITEMS = op('u', 'SETITEMS'), BINFLOAT = op('G', 'BINFLOAT'),
  PROTO = op(0x80, 'PROTO'), NEWOBJ = op(0x81, 'NEWOBJ'), EXT1 = op(0x82, 'EXT1'), EXT2 = op(0x83, 'EXT2'),
  EXT4 = op(0x84, 'EXT4'), TUPLE1 = op(0x85, 'TUPLE1'), TUPLE2 = op(0x86, 'TUPLE2'), TUPLE3 = op(0x87, 'TUPLE3'),
  NEWTRUE = op(0x88, 'NEWTRUE'), NEWFALSE = op(0x89, 'NEWFALSE'), LONG1 = op(0x8a, 'LONG1'), LONG4 = op(0x8b, 'LONG4'),
  BINBYTES = op('B', 'BINBYTES'), SHORT_BINBYTES = op('C', 'SHORT_BINBYTES'),
  SHORT_BINUNICODE = op(0x8c, 'SHORT_BINUNICODE'), BINUNICODE8 = op(0x8d, 'BINUNICODE8'),
  BINBYTES8 = op(0x8e, 'BINBYTES8'), EMPTY_SET = op(0x8f, 'EMPTY_SET'), ADDITEMS = op(0x90, 'ADDITEMS'),
  FROZENSET = op(0x91, 'FROZENSET'), NEWOBJ_EX = op(0x92, 'NEWOBJ_EX'), STACK_GLOBAL = op(0x93, 'STACK_GLOBAL'),
  MEMOIZE = op(0x94, 'MEMOIZE'), FRAME = op(0x95, 'FRAME'), BYTEARRAY8 = op(0x96, 'BYTEARRAY8'),
  NEXT_BUFFER = op(0x97, 'NEXT_BUFFER'), READONLY_BUFFER = op(0x98, 'READONLY_BUFFER');

/** Two's-complement little-endian integer (LONG1 / LONG4 payloads). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return narrow(v);
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** \n \t \r \\ \' \" \a \b \f \v -> byte value. */
const SIMPLE_ESCAPES: Record<number, number> = { 0x6e: 10, 0x74: 9, 0x72: 13, 0x5c: 0x5c, 0x27: 0x27, 0x22: 0x22,
  0x61: 7, 0x62: 8, 0x66: 12, 0x76: 11 };

/** Python 2 `repr(str)` literal body (STRING opcode): quotes stripped, backslash escapes decoded, to bytes. */
function decodeStringLiteral(line: Uint8Array, fail: (m: string) => PickleFormatError): Uint8Array {
  const q = line[0];
  if (line.length < 2 || (q !== 0x27 && q !== 0x22) || line[line.length - 1] !== q) {
    throw fail('STRING argument is not a quoted string');
  }
  const out: number[] = [];
  const hex = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);
  for (let i = 1; i < line.length - 1; i++) {
    const c = line[i];
    if (c !== 0x5c) { out.push(c); continue; }
    const e = line[++i];
    if (i >= line.length - 1) throw fail('STRING ends inside an escape');
    if (e in SIMPLE_ESCAPES) { out.push(SIMPLE_ESCAPES[e]); continue; }
    if (e === 0x78) { // \xhh
      const h1 = hex(line[i + 1] ?? 0), h2 = hex(line[i + 2] ?? 0);
      if (h1 < 0 || h2 < 0 || i + 2 >= line.length - 1) throw fail('STRING has a bad \\x escape');
      out.push(h1 * 16 + h2); i += 2; continue;
    }
    if (e >= 0x30 && e <= 0x37) { // \ooo
      let v = e - 0x30;
      for (let k = 0; k < 2 && i + 1 < line.length - 1 && line[i + 1] >= 0x30 && line[i + 1] <= 0x37; k++) v = v * 8 + line[++i] - 0x30;
      out.push(v & 0xff); continue;
    }
    out.push(0x5c, e); // unknown escapes stay literal, as in Python
  }
  return Uint8Array.from(out);
}

/** raw-unicode-escape (UNICODE opcode): latin-1 bytes plus \uXXXX and \UXXXXXXXX escapes. */
function decodeRawUnicodeEscape(line: Uint8Array, fail: (m: string) => PickleFormatError): string {
  let s = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === 0x5c && (line[i + 1] === 0x75 || line[i + 1] === 0x55)) {
      // An odd number of backslashes before u/U starts an escape; raw-unicode-escape has no other escapes.
      let back = 0;
      for (let j = i - 1; j >= 0 && line[j] === 0x5c; j--) back++;
      if (back % 2 === 0) {
        const n = line[i + 1] === 0x75 ? 4 : 8;
        const digits = decodeLatin1(line.subarray(i + 2, i + 2 + n));
        if (digits.length !== n || !/^[0-9a-fA-F]+$/.test(digits)) throw fail('UNICODE has a bad \\u escape');
        const cp = parseInt(digits, 16);
        if (cp > 0x10ffff) throw fail('UNICODE escape is beyond U+10FFFF');
        s += String.fromCodePoint(cp);
        i += 1 + n;
        continue;
      }
    }
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Runs one pickle starting at `opts.offset` and returns its value. Throws PickleFormatError for
 * malformed input and UnsafePickleError for any global outside the whitelist.
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): UnpickleResult {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const globals = opts.globals ?? TORCH_GLOBALS;
  const what = opts.what ?? 'pickle';
  const r = new ByteReader(bytes, { start: opts.offset ?? 0, error: PickleFormatError, what });
  let opStart = r.pos;
  let opcode = 0;
  const fail = (m: string) =>
    new PickleFormatError(`${what}: ${m} (opcode ${OP_NAMES[opcode] ?? `0x${opcode.toString(16)}`} at offset ${opStart})`);

  let stack: PyValue[] = [];
  const metastack: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  const depth = new WeakMap<object, number>();

  const pop = (): PyValue => {
    if (stack.length === 0) throw fail('stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) throw fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) throw fail('no MARK on the stack');
    stack = prev;
    return items;
  };
  const depthOf = (v: PyValue): number => (typeof v === 'object' && v !== null ? depth.get(v) ?? 0 : 0);
  /** Records that `parent` now contains `children` (an array, never spread: containers may hold millions of items); refuses nesting beyond maxDepth. */
  const nest = (parent: object, children: readonly PyValue[]): void => {
    let d = depth.get(parent) ?? 0;
    for (const c of children) d = Math.max(d, depthOf(c) + 1);
    if (d > limits.maxDepth) throw fail(`containers nested deeper than ${limits.maxDepth} levels`);
    depth.set(parent, d);
  };
  const tuple = (items: PyValue[]): PyValue[] => {
    nest(items, items);
    return Object.freeze(items) as PyValue[];
  };
  const str = (b: Uint8Array): string => decodeUtf8(b);
  const text = (field: string): string => decodeLatin1(r.line(field, 4096));
  const intFromText = (s: string, field: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?[0-9]+$/.test(t)) throw fail(`${field} '${s.slice(0, 40)}' is not an integer`);
    if (t.length > limits.maxIntBytes * 2.5) throw fail(`${field} has more than ${limits.maxIntBytes} bytes`);
    return narrow(BigInt(t));
  };
  const lookupGlobal = (module: string, name: string): PyGlobal => {
    const key = `${module}.${name}`;
    const spec = globals.get(key);
    if (!spec) throw new UnsafePickleError(key);
    return new PyGlobal(module, name, spec);
  };
  const callGlobal = (fn: PyValue, args: PyValue, how: 'call' | 'construct'): PyValue => {
    if (!(fn instanceof PyGlobal)) throw fail(`cannot call ${describe(fn)}`);
    if (!Array.isArray(args)) throw fail(`arguments of ${fn.qualname} are not a tuple: ${describe(args)}`);
    const impl = how === 'call' ? fn.spec.call : fn.spec.construct;
    if (!impl) throw new UnsafePickleError(fn.qualname, how === 'call' ? 'it is not a callable on the whitelist' : 'it cannot be instantiated');
    try {
      return impl([...args], fn);
    } catch (e) {
      if (e instanceof PickleFormatError) throw fail(e.message);
      throw e;
    }
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof Map)) throw fail(`cannot set items on ${describe(target)}`);
    if (items.length % 2 !== 0) throw fail('odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    nest(target, items);
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) throw fail(`cannot append to ${describe(target)}`);
    for (const it of items) target.push(it);
    nest(target, items);
  };
  const persistent = (pid: PyValue): PyValue => {
    if (!opts.persistentLoad) throw fail('persistent id in a pickle that allows none');
    try {
      return opts.persistentLoad(pid);
    } catch (e) {
      if (e instanceof PickleFormatError) throw fail(e.message);
      throw e;
    }
  };

  let ops = 0;
  let proto = 0;
  for (;;) {
    if (++ops > limits.maxOps) throw fail(`more than ${limits.maxOps} opcodes`);
    opStart = r.pos;
    opcode = r.u8('opcode');
    switch (opcode) {
      case PROTO:
        proto = r.u8('protocol');
        if (proto > 5) throw fail(`unsupported pickle protocol ${proto}`);
        break;
      case FRAME: {
        const n = r.u64('frame length');
        if (n > r.remaining) throw fail(`truncated: frame of ${n} bytes, only ${r.remaining} left`);
        break;
      }
      case STOP: {
        if (metastack.length !== 0) throw fail('STOP inside an unclosed MARK');
        if (stack.length !== 1) throw fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: r.pos };
      }
      case MARK:
        if (metastack.length >= limits.maxDepth) throw fail(`MARKs nested deeper than ${limits.maxDepth}`);
        metastack.push(stack);
        stack = [];
        break;
      case POP:
        if (stack.length === 0) popMark(); // Python 3.x: POP with an empty stack discards the mark
        else stack.pop();
        break;
      case POP_MARK: popMark(); break;
      case DUP: stack.push(top()); break;

      // Numbers
      case NONE: stack.push(null); break;
      case NEWTRUE: stack.push(true); break;
      case NEWFALSE: stack.push(false); break;
      case BININT: stack.push(r.i32('BININT')); break;
      case BININT1: stack.push(r.u8('BININT1')); break;
      case BININT2: stack.push(r.u16('BININT2')); break;
      case INT: {
        const s = text('INT');
        stack.push(s === '01' ? true : s === '00' ? false : intFromText(s, 'INT'));
        break;
      }
      case LONG: stack.push(intFromText(text('LONG'), 'LONG')); break;
      case LONG1: case LONG4: {
        const n = opcode === LONG1 ? r.u8('LONG1 length') : r.i32('LONG4 length');
        if (n < 0) throw fail('negative LONG4 length');
        if (n > limits.maxIntBytes) throw fail(`integer of ${n} bytes exceeds the limit of ${limits.maxIntBytes}`);
        stack.push(decodeLong(r.take(n, 'LONG bytes')));
        break;
      }
      case FLOAT: {
        const s = text('FLOAT');
        const t = s.trim().toLowerCase();
        const v = t === 'inf' || t === '+inf' ? Infinity : t === '-inf' ? -Infinity : t === 'nan' ? NaN :
          /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/.test(t) ? Number(t) : undefined;
        if (v === undefined) throw fail(`FLOAT '${s.slice(0, 40)}' is not a number`);
        stack.push(v);
        break;
      }
      case BINFLOAT: stack.push(r.f64be('BINFLOAT')); break;

      // Strings and bytes
      case STRING: stack.push(str(decodeStringLiteral(r.line('STRING'), fail))); break;
      case BINSTRING: {
        const n = r.i32('BINSTRING length');
        if (n < 0) throw fail('negative BINSTRING length');
        stack.push(str(r.take(n, 'BINSTRING')));
        break;
      }
      case SHORT_BINSTRING: stack.push(str(r.take(r.u8('SHORT_BINSTRING length'), 'SHORT_BINSTRING'))); break;
      case UNICODE: stack.push(decodeRawUnicodeEscape(r.line('UNICODE'), fail)); break;
      case SHORT_BINUNICODE: stack.push(str(r.take(r.u8('SHORT_BINUNICODE length'), 'SHORT_BINUNICODE'))); break;
      case BINUNICODE: stack.push(str(r.take(r.u32('BINUNICODE length'), 'BINUNICODE'))); break;
      case BINUNICODE8: stack.push(str(r.take(r.u64('BINUNICODE8 length'), 'BINUNICODE8'))); break;
      case SHORT_BINBYTES: stack.push(r.take(r.u8('SHORT_BINBYTES length'), 'SHORT_BINBYTES').slice()); break;
      case BINBYTES: stack.push(r.take(r.u32('BINBYTES length'), 'BINBYTES').slice()); break;
      case BINBYTES8: stack.push(r.take(r.u64('BINBYTES8 length'), 'BINBYTES8').slice()); break;
      case BYTEARRAY8: stack.push(r.take(r.u64('BYTEARRAY8 length'), 'BYTEARRAY8').slice()); break;
      case NEXT_BUFFER: throw fail('out-of-band buffers are not supported');
      case READONLY_BUFFER: top(); break;

      // Containers
      case EMPTY_TUPLE: stack.push(tuple([])); break;
      case TUPLE1: stack.push(tuple([pop()])); break;
      case TUPLE2: { const b = pop(), a = pop(); stack.push(tuple([a, b])); break; }
      case TUPLE3: { const c = pop(), b = pop(), a = pop(); stack.push(tuple([a, b, c])); break; }
      case TUPLE: { const items = popMark(); stack.push(tuple(items)); break; }
      case EMPTY_LIST: stack.push([]); break;
      case LIST: { const items = popMark(); nest(items, items); stack.push(items); break; }
      case APPEND: { const v = pop(); appendItems(top(), [v]); break; }
      case APPENDS: { const items = popMark(); appendItems(top(), items); break; }
      case EMPTY_DICT: stack.push(new Map()); break;
      case DICT: { const items = popMark(); const m = new Map<PyValue, PyValue>(); setItems(m, items); stack.push(m); break; }
      case SETITEM: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }
      case SETITEMS: { const items = popMark(); setItems(top(), items); break; }
      case EMPTY_SET: stack.push(new Set()); break;
      case ADDITEMS: {
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw fail(`cannot add items to ${describe(s)}`);
        for (const it of items) s.add(it);
        nest(s, items);
        break;
      }
      case FROZENSET: { const items = popMark(); const s = new Set(items); nest(s, items); stack.push(s); break; }

      // Memo
      case PUT: {
        const i = intFromText(text('PUT'), 'PUT index');
        if (typeof i !== 'number' || i < 0) throw fail('bad PUT index');
        memo.set(i, top());
        break;
      }
      case BINPUT: memo.set(r.u8('BINPUT index'), top()); break;
      case LONG_BINPUT: memo.set(r.u32('LONG_BINPUT index'), top()); break;
      case MEMOIZE: memo.set(memo.size, top()); break;
      case GET: case BINGET: case LONG_BINGET: {
        const i = opcode === GET ? intFromText(text('GET'), 'GET index') : opcode === BINGET ? r.u8('BINGET index') : r.u32('LONG_BINGET index');
        if (typeof i !== 'number' || !memo.has(i)) throw fail(`memo entry ${i} does not exist`);
        stack.push(memo.get(i) as PyValue);
        break;
      }

      // Globals and objects: only whitelisted names are ever resolved.
      case GLOBAL: {
        const module = text('GLOBAL module');
        const name = text('GLOBAL name');
        stack.push(lookupGlobal(module, name));
        break;
      }
      case STACK_GLOBAL: {
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL needs two strings');
        stack.push(lookupGlobal(module, name));
        break;
      }
      case REDUCE: { const args = pop(); const fn = pop(); stack.push(callGlobal(fn, args, 'call')); break; }
      case NEWOBJ: { const args = pop(); const cls = pop(); stack.push(callGlobal(cls, args, 'construct')); break; }
      case NEWOBJ_EX: {
        const kwargs = pop(), args = pop(), cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size !== 0) throw fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(callGlobal(cls, args, 'construct'));
        break;
      }
      case INST: {
        const cls = lookupGlobal(text('INST module'), text('INST name'));
        stack.push(callGlobal(cls, popMark(), 'call'));
        break;
      }
      case OBJ: {
        const items = popMark();
        if (items.length === 0) throw fail('OBJ without a class');
        stack.push(callGlobal(items[0], items.slice(1), 'call'));
        break;
      }
      case BUILD: {
        const state = pop();
        const obj = top();
        // OrderedDict state (a state dict's `_metadata` attribute) and tensor states carry nothing we use.
        if (!(obj instanceof Map || obj instanceof TensorRef)) throw fail(`BUILD on ${describe(obj)} is not supported`);
        if (!(state === null || state instanceof Map || Array.isArray(state))) throw fail(`BUILD state ${describe(state)} is not supported`);
        break;
      }
      case PERSID: stack.push(persistent(decodeLatin1(r.line('PERSID', 4096)))); break;
      case BINPERSID: stack.push(persistent(pop())); break;
      case EXT1: case EXT2: case EXT4: throw fail('the copyreg extension registry is not supported');
      default:
        throw fail(`unknown opcode 0x${opcode.toString(16).padStart(2, '0')}`);
    }
  }
}
