// The pickle VM: every protocol against what Python's pickle.load returned, and hostile input
// (code-execution globals, deep nesting, huge length fields, truncation) giving typed errors.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { CheckpointError, PickleFormatError, UnsafePickleError } from '../../src/convert/errors.js';
import { PyGlobal, StorageRef, TensorRef, unpickle, type PyValue, type StorageRoot } from '../../src/convert/pickle.js';
import { bytesOf, fixtureBytes, fixtureJson, u32le, u64le } from './fixtures.js';

/** The tagged JSON form make_checkpoint_fixtures.py writes for a Python value. */
function tagged(v: PyValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return { $float: 'nan' };
    if (!Number.isFinite(v)) return { $float: v > 0 ? 'inf' : '-inf' };
    return v;
  }
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return Object.isFrozen(v) ? { $tuple: v.map(tagged) } : { $list: v.map(tagged) };
  if (v instanceof Map) return { $dict: [...v].map(([k, x]) => [tagged(k), tagged(x)]) };
  if (v instanceof Set) return { $set: [...v].map(tagged).sort((a, b) => (a as number) - (b as number)) };
  throw new Error(`unexpected value ${String(v)}`);
}

const expected = fixtureJson<Record<string, unknown>>('pickles/expected.json');

for (const name of Object.keys(expected)) {
  test(`pickle ${name} decodes to what Python's pickle.load gave`, () => {
    const bytes = fixtureBytes(`pickles/${name}`);
    const { value, end } = unpickle(bytes);
    assert.equal(end, bytes.length);
    assert.deepEqual(tagged(value), expected[name]);
  });
}

test('a memoised object decodes to one shared JS object', () => {
  const { value } = unpickle(fixtureBytes('pickles/proto2.pkl'));
  const shared = (value as Map<PyValue, PyValue>).get('shared') as PyValue[];
  assert.equal(shared[0], shared[1]);
});

test('every truncation of a pickle is a PickleFormatError', () => {
  const bytes = fixtureBytes('pickles/proto2.pkl');
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => unpickle(bytes.subarray(0, n)), PickleFormatError, `prefix of ${n} bytes`);
  }
});

// ---- Code execution attempts --------------------------------------------------------------------

const SENTINEL = '/tmp/webgpu-resnext-pwned';

function assertUnsafe(bytes: Uint8Array, global: string): void {
  assert.throws(() => unpickle(bytes), (e: unknown) => {
    assert.ok(e instanceof UnsafePickleError, `expected UnsafePickleError, got ${String(e)}`);
    assert.equal(e.global, global);
    assert.match(e.message, new RegExp(global.replace(/\./g, '\\.')));
    return true;
  });
  assert.equal(existsSync(SENTINEL), false, 'nothing may have run');
}

test('os.system / posix.system through GLOBAL + REDUCE is refused by name', () => {
  assertUnsafe(bytesOf(`cposix\nsystem\n(S'touch ${SENTINEL}'\ntR.`), 'posix.system');
  assertUnsafe(bytesOf('\x80\x02cos\nsystem\nX', u32le(5), 'id -u\x85R.'), 'os.system');
  assertUnsafe(bytesOf('\x80\x02cnt\nsystem\nU\x03dir\x85R.'), 'nt.system');
});

test('builtins.eval / exec / getattr, through GLOBAL and STACK_GLOBAL, are refused', () => {
  assertUnsafe(bytesOf('\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R.'), 'builtins.eval');
  assertUnsafe(bytesOf('c__builtin__\neval\n(Vprint(1)\ntR.'), '__builtin__.eval');
  assertUnsafe(bytesOf('\x80\x02cbuiltins\nexec\n.'), 'builtins.exec');
  assertUnsafe(bytesOf('\x80\x02cbuiltins\ngetattr\n.'), 'builtins.getattr');
});

test('unknown classes are refused through INST, OBJ, NEWOBJ and NEWOBJ_EX', () => {
  assertUnsafe(bytesOf("(S'ls'\nisubprocess\nPopen\n."), 'subprocess.Popen');
  assertUnsafe(bytesOf('\x80\x02(c__main__\nEvil\no.'), '__main__.Evil');
  assertUnsafe(bytesOf('\x80\x02c__main__\nEvil\n)\x81.'), '__main__.Evil');
  assertUnsafe(bytesOf('\x80\x04\x8c\x05numpy\x8c\x05dtype\x93)}\x92.'), 'numpy.dtype');
  assertUnsafe(bytesOf('\x80\x02ctorch.nn.modules.conv\nConv2d\n)\x81.'), 'torch.nn.modules.conv.Conv2d');
});

test('whitelisted names that are not callables cannot be called', () => {
  assertUnsafe(bytesOf('\x80\x02ctorch\nfloat32\n)R.'), 'torch.float32');
  assertUnsafe(bytesOf('\x80\x02ctorch\nFloatStorage\nK\x05\x85R.'), 'torch.FloatStorage');
  // A global may not be smuggled in as a callable value from the memo either.
  assertUnsafe(bytesOf('\x80\x02ctorch\nfloat32\nq\x00h\x00)R.'), 'torch.float32');
});

test('extension-registry opcodes and out-of-band buffers are refused', () => {
  assert.throws(() => unpickle(bytesOf('\x80\x02\x82\x01)R.')), PickleFormatError);
  assert.throws(() => unpickle(bytesOf('\x80\x05\x97.')), PickleFormatError);
});

// ---- Resource bounds ----------------------------------------------------------------------------

function assertFormatError(bytes: Uint8Array, pattern: RegExp, opts = {}): void {
  const t0 = performance.now();
  assert.throws(() => unpickle(bytes, opts), (e: unknown) => {
    assert.ok(e instanceof PickleFormatError, `expected PickleFormatError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
  assert.ok(performance.now() - t0 < 5000, 'must fail fast');
}

test('deeply nested lists, tuples, dicts and MARKs give typed errors, not a stack overflow', () => {
  const n = 200_000;
  assertFormatError(bytesOf('\x80\x02', ']'.repeat(n), 'a'.repeat(n - 1), '.'), /nested deeper than 1000/);
  assertFormatError(bytesOf('\x80\x02)', '\x85'.repeat(n), '.'), /nested deeper than 1000/);
  assertFormatError(bytesOf('\x80\x02', '('.repeat(n)), /MARKs nested deeper than 1000/);
  assertFormatError(bytesOf('\x80\x02', '}K\x01'.repeat(n), '}', 's'.repeat(n), '.'), /nested deeper than 1000/);
  assertFormatError(bytesOf('\x80\x02', '(K\x01'.repeat(n), '(', 'l'.repeat(n + 1), '.'), /nested deeper/);
});

test('huge length fields give typed errors without allocating', () => {
  assertFormatError(bytesOf('\x80\x04\x8d', u64le(1n << 62n), 'abc.'), /out of range/);
  assertFormatError(bytesOf('\x80\x04\x8d', u64le(1n << 40n), 'abc.'), /truncated/);
  assertFormatError(bytesOf('\x80\x03B', u32le(0xffffffff), 'abc.'), /truncated/);
  assertFormatError(bytesOf('\x80\x02X', u32le(0xfffffff0), 'abc.'), /truncated/);
  assertFormatError(bytesOf('\x80\x02T', u32le(0x80000000), 'abc.'), /negative BINSTRING length/);
  assertFormatError(bytesOf('\x80\x02\x8b', u32le(0x7fffffff), 'abc.'), /exceeds the limit/);
  assertFormatError(bytesOf('\x80\x04\x95', u64le(1n << 50n), 'N.'), /frame/);
  assertFormatError(bytesOf('\x80\x05\x96', u64le(0xffffffffffffn), '.'), /truncated/);
  assertFormatError(bytesOf('L', '9'.repeat(100_000), 'L\n.'), /more than 1024 bytes|longer than/);
});

test('the opcode budget bounds work and memory', () => {
  assertFormatError(bytesOf('\x80\x02', 'N'.repeat(5000), '.'), /more than 1000 opcodes/, { limits: { maxOps: 1000 } });
  assertFormatError(bytesOf('\x80\x04', 'N\x94'.repeat(5000), '.'), /more than 1000 opcodes/, { limits: { maxOps: 1000 } });
});

test('malformed streams give PickleFormatErrors', () => {
  assertFormatError(bytesOf('\x80\x02\xff.'), /unknown opcode 0xff/);
  assertFormatError(bytesOf('\x80\x06N.'), /unsupported pickle protocol 6/);
  assertFormatError(bytesOf('\x80\x02R.'), /stack underflow/);
  assertFormatError(bytesOf('\x80\x02NN.'), /STOP with 2 values/);
  assertFormatError(bytesOf('\x80\x02(N.'), /unclosed MARK/);
  assertFormatError(bytesOf('\x80\x02h\x07.'), /memo entry 7 does not exist/);
  assertFormatError(bytesOf('\x80\x02NNa.'), /cannot append to None/);
  assertFormatError(bytesOf('\x80\x02)Na.'), /cannot append to tuple/);
  assertFormatError(bytesOf('\x80\x02NNNs.'), /cannot set items/);
  assertFormatError(bytesOf('\x80\x02U\x01xQ.'), /persistent id/);
  assertFormatError(bytesOf("S'abc\n."), /quoted/);
  assertFormatError(bytesOf('Fnot-a-number\n.'), /not a number/);
  assertFormatError(bytesOf('I12x\n.'), /not an integer/);
  assertFormatError(bytesOf('\x80\x02ccollections\nOrderedDict\nK\x01\x85R.'), /cannot build/);
});

// ---- Tensor rebuilding --------------------------------------------------------------------------

/** A pickle calling torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
function rebuildPickle(offset: number, size: number[], stride: number[]): Uint8Array {
  const ints = (xs: number[]) => bytesOf('(', ...xs.map((x) => bytesOf('J', u32le(x))), 't');
  return bytesOf('\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(', 'U\x01sQ', 'J', u32le(offset), ints(size), ints(stride),
    '\x89ccollections\nOrderedDict\n)Rtq\x00R.');
}

function withStorage(elements: number): { persistentLoad: (pid: PyValue) => PyValue } {
  const root: StorageRoot = { key: 's', byteLength: elements * 4, bytes: new Uint8Array(elements * 4) };
  return { persistentLoad: () => new StorageRef(root, 0, root.byteLength, 'float32') };
}

test('_rebuild_tensor_v2 builds a strided view of a storage', () => {
  const { value } = unpickle(rebuildPickle(2, [2, 3], [1, 2]), withStorage(10));
  assert.ok(value instanceof TensorRef);
  assert.deepEqual([value.offset, value.shape, value.stride, value.dtype], [2, [2, 3], [1, 2], 'float32']);
});

test('tensor views past their storage or of absurd size are refused before any allocation', () => {
  assert.throws(() => unpickle(rebuildPickle(0, [3, 4], [4, 1]), withStorage(11)), /past the end of its 11-element storage/);
  assert.throws(() => unpickle(rebuildPickle(9, [2], [1]), withStorage(10)), /past the end/);
  assert.throws(() => unpickle(rebuildPickle(0, [65536, 65536], [0, 0]), withStorage(1)), /exceeds the limit/);
  assert.throws(() => unpickle(rebuildPickle(0, [2, 2], [1]), withStorage(4)), /differ in length/);
  assert.throws(() => unpickle(rebuildPickle(0, [0x80000000], [1]), withStorage(4)), /size .* is invalid/);
});

test('every failure above is a CheckpointError (one base type for callers)', () => {
  for (const bytes of [bytesOf('cposix\nsystem\n.'), bytesOf('\x80\x02\xff')]) {
    assert.throws(() => unpickle(bytes), CheckpointError);
  }
  assert.ok(PyGlobal); // the whitelist's value type is exported for consumers
});
