// Hostile input through the CLI commands that read it: each run must exit 1 with one typed line,
// stay within a generous memory bound (the process's peak RSS, measured in the child), finish well
// inside its time limit (no hang on a FIFO or device), and write nothing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fixturePath } from '../weights-tools/fixtures.js';
import { cliBounded, EMBEDDED, editSafetensors, jpegClaiming, pngClaiming, type BoundedRun } from './hostile.js';

const dir = mkdtempSync(join(tmpdir(), 'hostile-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Peak RSS allowed for a refused input: the CLI's own footprint (tsx, commander) is ~150 MiB. */
const MAX_RSS_MIB = 400;

function assertRefused(r: BoundedRun, pattern: RegExp, what: string): void {
  assert.equal(r.status, 1, `${what}: exit status 1 expected (stderr: ${r.stderr.slice(0, 1500)})`);
  assert.match(r.stderr, /^error: /m, what);
  assert.match(r.stderr, pattern, what);
  assert.doesNotMatch(r.stderr, /\n\s+at \S+ \(|internal error/, `${what}: no stack trace`);
  assert.ok(r.maxRssMiB < MAX_RSS_MIB, `${what}: peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

test('weights: a metadata config of 3,000,003 blocks, overlapping tensors, bad metadata: info and classify refuse, bounded', { timeout: 300_000 }, async () => {
  const huge = file('huge-layers.safetensors', editSafetensors(EMBEDDED, (h) => {
    h.__metadata__.config = JSON.stringify({ ...JSON.parse(h.__metadata__.config), layers: [1, 2, 3_000_000] });
  }));
  assertRefused(await cliBounded(['info', huge]), /3000003 residual blocks/, 'info, huge layers');
  const overlap = file('overlap.safetensors', editSafetensors(EMBEDDED, (h) => {
    const names = Object.keys(h).filter((k) => k !== '__metadata__');
    h[names[1]].data_offsets = [...h[names[0]].data_offsets];
    h[names[1]].shape = [...h[names[0]].shape];
    h[names[1]].dtype = h[names[0]].dtype;
  }));
  assertRefused(await cliBounded(['info', overlap]), /data_offsets .* overlap|leave a hole/, 'info, overlapping tensors');
  const metas: [string, Record<string, string>, RegExp][] = [
    ['labels-object', { labels: '{"length": 10}' }, /metadata 'labels' must be/],
    ['labels-numbers', { labels: '[1,2,3,4,5,6,7,8,9,10]' }, /metadata 'labels' must be/],
    ['labels-two', { labels: '["a","b"]' }, /metadata 'labels' has 2 names for 10 classes/],
    ['mean-infinite', { mean: '[1e999]' }, /metadata 'mean' must be/],
  ];
  for (const [name, edit, pattern] of metas) {
    const p = file(`${name}.safetensors`, editSafetensors(EMBEDDED, (h) => Object.assign(h.__metadata__, edit)));
    assertRefused(await cliBounded(['info', p]), pattern, `info, ${name}`);
    if (name === 'labels-object' || name === 'mean-infinite') {
      // classify refuses the same file before any GPU work.
      assertRefused(await cliBounded(['classify', 'assets/fashion-mnist/samples/sample-0000-ankle-boot.png', '--weights', p]), pattern, `classify, ${name}`);
    }
  }
});

test('convert: a --config of 3,000,003 blocks, /dev/zero and a FIFO are refused, bounded, nothing written', { timeout: 300_000 }, async () => {
  const out = join(dir, 'out.safetensors');
  const config = file('huge.config.json', JSON.stringify({ ...JSON.parse(readFileSync(fixturePath('cadene_tiny.config.json'), 'utf8')), layers: [1, 2, 3_000_000] }));
  assertRefused(await cliBounded(['convert', fixturePath('cadene_tiny_legacy.pth'), out, '--config', config]), /3000003 residual blocks/, 'convert --config huge');
  assertRefused(await cliBounded(['convert', '/dev/zero', out]), /not a regular file/, 'convert /dev/zero');
  assertRefused(await cliBounded(['convert', fifo, out], 60_000), /not a regular file/, 'convert FIFO');
  assertRefused(await cliBounded(['convert', fixturePath('tiny_zip.pth'), out, '--labels', '/dev/zero']), /not a regular file/, 'convert --labels /dev/zero');
  assert.ok(!existsSync(out), 'nothing written');
});

test('logits, embed, classify, info: devices, FIFOs and lying image headers are refused, bounded, nothing written', { timeout: 300_000 }, async () => {
  const out = join(dir, 'y.npy');
  assertRefused(await cliBounded(['logits', '--input', '/dev/zero', '--output', out]), /not a regular file/, 'logits /dev/zero');
  assertRefused(await cliBounded(['logits', '--input', fifo, '--output', out], 60_000), /not a regular file/, 'logits FIFO');
  assertRefused(await cliBounded(['info', '/dev/zero']), /not a regular file/, 'info /dev/zero');
  assertRefused(await cliBounded(['info', fifo], 60_000), /not a regular file/, 'info FIFO');
  assertRefused(await cliBounded(['classify', fifo], 60_000), /not a regular file/, 'classify FIFO');
  const png = file('wide.png', pngClaiming(16_711_708, 28));
  assert.ok(readFileSync(png).length < 100);
  assertRefused(await cliBounded(['classify', png]), /image size 16711708x28/, 'classify, PNG claiming 16711708 x 28');
  const jpg = file('big.jpg', jpegClaiming(60000, 60000));
  assertRefused(await cliBounded(['embed', jpg, '--output', out]), /image size 60000x60000/, 'embed, JPEG claiming 60000 x 60000');
  assert.ok(!existsSync(out), 'nothing written');
});
