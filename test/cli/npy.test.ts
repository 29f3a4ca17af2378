// The .npy reader and writer against files NumPy wrote (test/cli/fixtures/make_npy_fixtures.py).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NpyFormatError, parseNpy, readNpyFloat32, writeNpyFloat32 } from '../../src/io/npy.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

/** The array make_npy_fixtures.py saves, (2, 3) row-major. */
const A = [-1, -0.5, 0, 0.5, 1, 1.5];

test('reads float32 arrays NumPy wrote (versions 1.0 and 2.0, 2-D, 1-D, 0-D)', () => {
  for (const name of ['f4_2x3.npy', 'f4_2x3_v2.npy']) {
    const x = readNpyFloat32(fixture(name), name);
    assert.deepEqual(x.shape, [2, 3], name);
    assert.deepEqual([...x.data], A, name);
  }
  assert.deepEqual(readNpyFloat32(fixture('f4_5.npy')).shape, [5]);
  assert.deepEqual([...readNpyFloat32(fixture('f4_5.npy')).data], [1, 2, 3, 4, 5]);
  const s = readNpyFloat32(fixture('f4_scalar.npy'));
  assert.deepEqual(s.shape, []);
  assert.deepEqual([...s.data], [3.25]);
});

test('writes the same bytes as NumPy', () => {
  assert.deepEqual(writeNpyFloat32(new Float32Array(A), [2, 3]), fixture('f4_2x3.npy'));
  assert.deepEqual(writeNpyFloat32(new Float32Array([1, 2, 3, 4, 5]), [5]), fixture('f4_5.npy'));
  assert.deepEqual(writeNpyFloat32(new Float32Array([3.25]), []), fixture('f4_scalar.npy'));
  const big = writeNpyFloat32(new Float32Array(2 * 10 * 1000), [2, 10, 1000]);
  const back = readNpyFloat32(big);
  assert.deepEqual(back.shape, [2, 10, 1000]);
  assert.equal((big.byteLength - back.data.byteLength) % 64, 0, 'data 64-byte aligned');
  assert.throws(() => writeNpyFloat32(new Float32Array(5), [2, 3]), /5 values do not fill shape \(2, 3\)/);
});

test('other dtypes and layouts are refused, naming what the file holds', () => {
  assert.throws(() => readNpyFloat32(fixture('f8_2x3.npy'), 'x.npy'), /x\.npy holds float64 \('<f8'\), expected float32 \('<f4'\)/);
  assert.throws(() => readNpyFloat32(fixture('u1_4.npy'), 'x.npy'), /holds uint8 \('\|u1'\)/);
  assert.throws(() => readNpyFloat32(fixture('f4_2x3_bigendian.npy'), 'x.npy'), /holds big-endian float32 \('>f4'\)/);
  assert.throws(() => readNpyFloat32(fixture('f4_2x3_fortran.npy'), 'x.npy'), /Fortran \(column-major\) order/);
  // parseNpy itself reads any of them.
  assert.deepEqual(parseNpy(fixture('f8_2x3.npy')).shape, [2, 3]);
  assert.equal(parseNpy(fixture('f4_2x3_fortran.npy')).fortranOrder, true);
});

test('corrupt files give NpyFormatError, never a crash', () => {
  const good = fixture('f4_2x3.npy');
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode('{"not": "npy"}'), /not a \.npy file/],
    [good.subarray(0, 8), /not a \.npy file/],
    [good.subarray(0, 60), /header claims 118 bytes .*truncated/],
    [good.subarray(0, good.byteLength - 4), /needs 24 data bytes, the file has 20 \(truncated\)/],
    [new Uint8Array([...good, 0, 0, 0, 0]), /trailing bytes/],
  ];
  const edit = (from: string, to: string) => {
    const text = new TextDecoder('latin1').decode(good);
    assert.ok(text.includes(from));
    return new Uint8Array([...text.replace(from, to.padEnd(from.length, ' '))].map((c) => c.charCodeAt(0)));
  };
  cases.push([edit("'shape': (2, 3)", "'shape': (2, x)"), /not a tuple of integers/]);
  cases.push([edit("'fortran_order': False", "'fortran_order': 0"), /cannot read|not True or False/]);
  cases.push([edit("'descr': '<f4'", "'desc': '<f4'"), /no 'descr'/]);
  cases.push([edit('{', '['), /not a dict literal/]);
  const v9 = good.slice();
  v9[6] = 9;
  cases.push([v9, /version 9\.0 is not supported/]);
  for (const [bytes, pattern] of cases) {
    assert.throws(() => readNpyFloat32(bytes, 'bad.npy'), (e: unknown) => e instanceof NpyFormatError && pattern.test(e.message),
      `expected ${pattern}`);
  }
});
