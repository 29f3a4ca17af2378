// Checkpoint containers (zip, legacy, tar) against what torch.load returned, and broken files
// (truncated, wrong magic, corrupt zip directory, malicious pickles) giving typed errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectContainer, readCheckpoint } from '../../src/convert/checkpoint.js';
import { CheckpointError, CheckpointFormatError, UnsafePickleError } from '../../src/convert/errors.js';
import { assertClose } from '../helpers/compare.js';
import { CHECKPOINTS, expectation, fixtureBytes } from './fixtures.js';

for (const file of CHECKPOINTS) {
  test(`${file}: every tensor equals what torch.load gave`, () => {
    const exp = expectation(file);
    const ckpt = readCheckpoint(fixtureBytes(file));
    assert.equal(ckpt.format, exp.container);
    assert.deepEqual([...ckpt.tensors.keys()], exp.tensors.map((t) => t.name), 'names in file order');
    for (const t of exp.tensors) {
      const got = ckpt.tensors.get(t.name)!;
      assert.equal(got.dtype, t.dtype, `${t.name}: dtype`);
      assertClose(got.data, t.data, { atol: 0, rtol: 0, shape: { actual: got.shape, expected: t.shape }, what: `${file} ${t.name}` });
    }
  });
}

test('the tiny fixtures cover offsets, strides, shared storages and every float dtype', () => {
  // Guards the fixtures themselves: if the script stops producing these cases the tests above prove less.
  const names = expectation('tiny_zip.pth').tensors.map((t) => `${t.name}:${t.dtype}`);
  for (const n of ['half:float16', 'half_transposed:float16', 'double:float64', 'bf16:bfloat16', 'count:int64',
    'offset_view:float32', 'transposed:float32', 'shared_b:float32', 'expanded:float32', 'empty:float32']) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(expectation('tiny_py2_legacy.pth').tensors.some((t) => t.name === 'viewed'));
});

test('wrappers and DataParallel prefixes are unwrapped', () => {
  assert.deepEqual(readCheckpoint(fixtureBytes('tiny_py2_legacy.pth')).unwrapped, ["['model']"]);
  assert.deepEqual(readCheckpoint(fixtureBytes('torchvision_tiny_zip.pth')).unwrapped, ["['state_dict']", "stripped 'module.'"]);
  assert.deepEqual(readCheckpoint(fixtureBytes('tiny_zip.pth')).unwrapped, []);
});

test('progress reports tensor bytes up to the total', () => {
  const seen: [number, number][] = [];
  readCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { onProgress: (p) => seen.push([p.done, p.total]) });
  assert.ok(seen.length > 10);
  const total = seen[0][1];
  assert.ok(seen.every(([d, t], i) => t === total && d <= total && (i === 0 || d >= seen[i - 1][0])));
  assert.equal(seen[seen.length - 1][0], total);
});

test('containers are detected from their first bytes', () => {
  assert.equal(detectContainer(fixtureBytes('tiny_zip.pth')), 'zip');
  assert.equal(detectContainer(fixtureBytes('tiny_legacy.pth')), 'legacy');
  assert.equal(detectContainer(fixtureBytes('tiny_tar.pth')), 'tar');
  for (const junk of [new Uint8Array(0), new Uint8Array([1, 2, 3]), new TextEncoder().encode('<html>not found</html>')]) {
    assert.throws(() => readCheckpoint(junk), (e: unknown) => e instanceof CheckpointFormatError && /not a PyTorch checkpoint/.test(e.message));
  }
});

// ---- Hostile and broken files -------------------------------------------------------------------

test('malicious checkpoints are refused, naming the global', () => {
  const cases: [string, string][] = [
    ['malicious_os_system.pth', 'posix.system'],
    ['malicious_eval_legacy.pth', '__builtin__.eval'],
    ['full_module_zip.pth', 'torch.nn.modules.container.Sequential'],
  ];
  for (const [file, global] of cases) {
    assert.throws(() => readCheckpoint(fixtureBytes(file)), (e: unknown) => e instanceof UnsafePickleError && e.global === global, file);
  }
});

function throwsTyped(bytes: Uint8Array, pattern: RegExp | null, what: string): void {
  assert.throws(() => readCheckpoint(bytes), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `${what}: expected a CheckpointError, got ${(e as Error)?.stack ?? String(e)}`);
    if (pattern) assert.match(e.message, pattern, what);
    return true;
  });
}

test('truncated checkpoints give typed errors', () => {
  for (const file of ['tiny_zip.pth', 'tiny_legacy.pth', 'tiny_py2_legacy.pth', 'cadene_tiny_legacy.pth', 'torchvision_tiny_zip.pth']) {
    const bytes = fixtureBytes(file);
    const cuts = [1, 2, 8, 16, 64, 100, 300, 1000, bytes.length >> 1, bytes.length - 100, bytes.length - 9, bytes.length - 1];
    for (const n of cuts.filter((c) => c > 0 && c < bytes.length)) throwsTyped(bytes.subarray(0, n), null, `${file} cut at ${n}`);
  }
  // A tar archive ends in zero padding: cut inside its members.
  const tar = fixtureBytes('tiny_tar.pth');
  for (const n of [100, 511, 512, 700, 1024, 1500, 2000, 2600]) throwsTyped(tar.subarray(0, n), null, `tar cut at ${n}`);
});

test('a legacy file with a wrong magic number or protocol version is refused', () => {
  const bytes = fixtureBytes('tiny_legacy.pth').slice();
  assert.deepEqual([...bytes.subarray(2, 4)], [0x8a, 0x0a], 'LONG1 of 10 bytes');
  bytes[6] ^= 0x01;
  throwsTyped(bytes, /not the magic number/, 'magic');
  const v = fixtureBytes('tiny_legacy.pth').slice();
  const at = v.indexOf(0x4d, 14); // BININT2 1001 = 'M' e9 03
  assert.deepEqual([...v.subarray(at, at + 3)], [0x4d, 0xe9, 0x03]);
  v[at + 1] = 0xea;
  throwsTyped(v, /protocol version 1002/, 'version');
});

test('a legacy file whose storage sizes disagree with the pickle is refused', () => {
  const bytes = fixtureBytes('cadene_tiny_legacy.pth').slice();
  // The first storage record follows the key list; find it as the first int64 count after the last STOP ('.').
  const exp = readCheckpoint(bytes);
  assert.ok(exp.tensors.size > 0);
  const view = new DataView(bytes.buffer);
  const keysEnd = findLegacyDataStart(bytes);
  view.setBigUint64(keysEnd, view.getBigUint64(keysEnd, true) + 1n, true);
  throwsTyped(bytes, /holds \d+ elements, the pickle declared/, 'count');
  view.setBigUint64(keysEnd, 1n << 60n, true);
  throwsTyped(bytes, /elements, the pickle declared|out of range/, 'huge count');
});

/** Offset of the first storage's element count in a legacy file: just past the storage-key list pickle. */
function findLegacyDataStart(bytes: Uint8Array): number {
  // The key list is the fifth pickle; each pickle starts with PROTO 2 (0x80 0x02) and ends with STOP.
  let starts = 0;
  for (let i = 0; i < bytes.length - 1; i++) {
    if (bytes[i] === 0x2e && bytes[i + 1] === 0x80 && bytes[i + 2] === 0x02 && ++starts === 4) {
      // the key list: find its STOP followed by an int64 count
      for (let j = i + 1; j < bytes.length; j++) if (bytes[j] === 0x2e && bytes[j - 1] === 0x65 /* APPENDS */) return j + 1;
    }
  }
  throw new Error('key list not found');
}

/** Offsets of a zip's end record and central directory. */
function zipLayout(bytes: Uint8Array): { eocd: number; cd: number; view: DataView } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = bytes.length - 22; p >= 0; p--) {
    if (view.getUint32(p, true) === 0x06054b50) return { eocd: p, cd: view.getUint32(p + 16, true), view };
  }
  throw new Error('no end record');
}

test('a corrupt zip directory gives typed errors', () => {
  const fresh = () => fixtureBytes('tiny_zip.pth').slice();
  let b = fresh();
  let z = zipLayout(b);
  z.view.setUint32(z.eocd + 16, z.cd + 3, true); // directory offset off by 3
  throwsTyped(b, /central header signature|corrupt zip/, 'cd offset');
  b = fresh(); z = zipLayout(b);
  z.view.setUint32(z.eocd + 16, 0xfffffff0, true);
  throwsTyped(b, /corrupt zip/, 'cd offset huge');
  b = fresh(); z = zipLayout(b);
  z.view.setUint16(z.eocd + 10, 5000, true); // more entries than the directory holds
  throwsTyped(b, /cannot fit|corrupt zip/, 'entry count');
  b = fresh(); z = zipLayout(b);
  z.view.setUint32(z.cd, 0x12345678, true);
  throwsTyped(b, /bad central header signature/, 'cd signature');
  b = fresh(); z = zipLayout(b);
  z.view.setUint32(z.cd + 42, 7, true); // first entry's local header offset
  throwsTyped(b, /local header/, 'local header offset');
  b = fresh(); z = zipLayout(b);
  z.view.setUint32(z.cd + 42, 0xfffffff0, true);
  throwsTyped(b, /truncated|corrupt zip/, 'local header offset huge');
  b = fresh(); z = zipLayout(b);
  z.view.setUint16(z.cd + 10, 8, true); // first entry claims deflate
  throwsTyped(b, /compressed/, 'method');
  b = fresh(); z = zipLayout(b);
  const name = new TextDecoder().decode(b.subarray(z.cd + 46, z.cd + 46 + z.view.getUint16(z.cd + 28, true)));
  assert.match(name, /data\.pkl$/);
  b[z.cd + 46 + name.length - 1] = 0x58; // data.pkX
  throwsTyped(b, /no '<archive>\/data\.pkl'/, 'renamed data.pkl');
});

test('a zip whose storage record is missing or the wrong size is refused', () => {
  const b = fixtureBytes('tiny_zip.pth').slice();
  const z = zipLayout(b);
  // Rename every "<archive>/data/<key>" record in the directory.
  let renamed = 0;
  for (let p = z.cd; p < z.eocd; ) {
    const nameLen = z.view.getUint16(p + 28, true), extra = z.view.getUint16(p + 30, true), comment = z.view.getUint16(p + 32, true);
    const name = new TextDecoder().decode(b.subarray(p + 46, p + 46 + nameLen));
    const m = /\/data\/\d+$/.exec(name);
    if (m) { b[p + 46 + m.index + 4] = 0x78; renamed++; } // <archive>/datx/<key>: names stay unique
    p += 46 + nameLen + extra + comment;
  }
  assert.ok(renamed > 1);
  throwsTyped(b, /has no record '.*data\/\d+' for storage/, 'missing record');

  const c = fixtureBytes('tiny_zip.pth').slice();
  const zc = zipLayout(c);
  for (let p = zc.cd; p < zc.eocd; ) {
    const nameLen = zc.view.getUint16(p + 28, true), extra = zc.view.getUint16(p + 30, true), comment = zc.view.getUint16(p + 32, true);
    const name = new TextDecoder().decode(c.subarray(p + 46, p + 46 + nameLen));
    if (/\/data\/\d+$/.test(name)) {
      const size = zc.view.getUint32(p + 24, true);
      zc.view.setUint32(p + 20, size - 4, true);
      zc.view.setUint32(p + 24, size - 4, true);
      break;
    }
    p += 46 + nameLen + extra + comment;
  }
  throwsTyped(c, /holds \d+ bytes, its storage needs \d+/, 'short record');
});

test('a safetensors input with a broken header is a CheckpointFormatError', () => {
  const head = new TextEncoder().encode('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
  const b = new Uint8Array(8 + head.length + 8);
  new DataView(b.buffer).setBigUint64(0, BigInt(head.length), true);
  b.set(head, 8);
  throwsTyped(b, /safetensors input: .*past the end/, 'short data');
});

test('a zip whose end record defers to a zip64 end record reads the same', () => {
  // Rebuild the end of tiny_zip.pth the way large archives are written: zip64 end record + locator,
  // and 0xffff / 0xffffffff placeholders in the classic end record.
  const b = fixtureBytes('tiny_zip.pth');
  const { eocd, cd, view } = zipLayout(b);
  const count = view.getUint16(eocd + 10, true), size = view.getUint32(eocd + 12, true);
  const rec = new DataView(new ArrayBuffer(56 + 20 + 22));
  rec.setUint32(0, 0x06064b50, true);
  rec.setBigUint64(4, 44n, true);
  rec.setUint16(12, 45, true); rec.setUint16(14, 45, true);
  rec.setBigUint64(24, BigInt(count), true); rec.setBigUint64(32, BigInt(count), true);
  rec.setBigUint64(40, BigInt(size), true); rec.setBigUint64(48, BigInt(cd), true);
  rec.setUint32(56, 0x07064b50, true);
  rec.setBigUint64(64, BigInt(eocd), true);
  rec.setUint32(72, 1, true);
  rec.setUint32(76, 0x06054b50, true);
  rec.setUint16(84, 0xffff, true); rec.setUint16(86, 0xffff, true);
  rec.setUint32(88, 0xffffffff, true); rec.setUint32(92, 0xffffffff, true);
  const z64 = new Uint8Array(eocd + rec.byteLength);
  z64.set(b.subarray(0, eocd));
  z64.set(new Uint8Array(rec.buffer), eocd);
  const a = readCheckpoint(b), c = readCheckpoint(z64);
  assert.deepEqual([...c.tensors.keys()], [...a.tensors.keys()]);
  for (const [k, t] of a.tensors) assert.deepEqual(c.tensors.get(k)!.data, t.data, k);
  const broken = z64.slice();
  new DataView(broken.buffer).setUint32(eocd, 0, true); // zip64 record signature gone
  throwsTyped(broken, /zip64/, 'zip64 signature');
});
