// Bad checkpoints: weights of another architecture, truncated or corrupt files. Each gives a
// typed error that says what is wrong, before anything reaches the GPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  expectedTensors, loadModel, parseSafetensors, WeightsFormatError, WeightsMismatchError, writeSafetensors,
  type ResNetConfig,
} from '../../src/index.js';
import { testContext } from '../helpers/gpu.js';
import { weightsPath } from './fixtures.js';

const resnextBytes = new Uint8Array(readFileSync(weightsPath('resnext')));
const resnextConfig = JSON.parse(parseSafetensors(resnextBytes).metadata.config) as ResNetConfig;

/** A checkpoint with every tensor `config` expects (constant values), plus `extra`, minus `drop`. */
function checkpoint(config: ResNetConfig, drop: string[] = [], extra: string[] = []): Uint8Array {
  const tensors = expectedTensors(config).filter((t) => !drop.includes(t.name))
    .map((t) => ({ name: t.name, shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(0.5) }));
  for (const name of extra) tensors.push({ name, shape: [2], data: new Float32Array(2) });
  return writeSafetensors(tensors, { format_version: '1', arch: config.name });
}

test('ResNet weights for a ResNeXt config: the error names the mis-shaped grouped convs', async () => {
  // Same widths, groups 1: the torchvision ResNet counterpart of the fixture's ResNeXt (8 groups).
  const resnetLike: ResNetConfig = { ...resnextConfig, name: 'resnet-like', groups: 1, widthPerGroup: 64 };
  const bytes = checkpoint(resnetLike);
  await assert.rejects(loadModel({ weights: bytes, config: resnextConfig, device: await testContext() }), (e: Error) => {
    assert.ok(e instanceof WeightsMismatchError, `${e.name}: ${e.message}`);
    assert.deepEqual(e.misshaped.map((m) => m.name), ['layer1.0.conv2.weight', 'layer2.0.conv2.weight', 'layer2.1.conv2.weight']);
    assert.deepEqual(e.missing, []);
    assert.deepEqual(e.unexpected, []);
    assert.match(e.message, /does not hold resnext weights \(the file's metadata says arch 'resnet-like'\)/);
    assert.match(e.message, /layer1\.0\.conv2\.weight is F32 \[16, 16, 3, 3\], expected \[16, 2, 3, 3\]/);
    return true;
  });
});

test('missing and unexpected tensors are named', async () => {
  const bytes = checkpoint(resnextConfig, ['layer2.1.bn3.running_var', 'fc.bias'], ['layer9.0.conv1.weight']);
  await assert.rejects(loadModel({ weights: bytes, config: resnextConfig, device: await testContext() }), (e: Error) => {
    assert.ok(e instanceof WeightsMismatchError);
    assert.deepEqual(e.missing, ['layer2.1.bn3.running_var', 'fc.bias']);
    assert.deepEqual(e.unexpected, ['layer9.0.conv1.weight']);
    assert.match(e.message, /2 missing: layer2\.1\.bn3\.running_var \[128\], fc\.bias \[12\]; 1 unexpected: layer9\.0\.conv1\.weight \[2\]/);
    return true;
  });
});

test('the tensor check runs on the header, before the data is read', async () => {
  // A stream that fails right after the header: the mismatch is reported, so no data was needed.
  const bytes = checkpoint({ ...resnextConfig, groups: 1, widthPerGroup: 64 });
  const header = bytes.slice(0, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)));
  let sent = false;
  const stream = new Response(new ReadableStream({
    pull(c) {
      if (sent) c.error(new Error('network down'));
      else { c.enqueue(header); sent = true; }
    },
  }));
  await assert.rejects(loadModel({ weights: stream, config: resnextConfig, device: await testContext() }), WeightsMismatchError);
});

test('truncated files: in memory, as a file, and streamed without a length', async () => {
  const ctx = await testContext();
  const cut = resnextBytes.subarray(0, Math.floor(resnextBytes.length * 0.6));
  await assert.rejects(loadModel({ weights: cut, device: ctx }), (e: Error) =>
    e instanceof WeightsFormatError && /past the end of the file \(truncated\?\)/.test(e.message));

  const dir = mkdtempSync(join(tmpdir(), 'weights-'));
  try {
    const path = join(dir, 'cut.safetensors');
    writeFileSync(path, cut);
    await assert.rejects(loadModel({ weights: path, device: ctx }), (e: Error) =>
      e instanceof WeightsFormatError && e.message.includes(path) && /truncated/.test(e.message));
    await assert.rejects(loadModel({ weights: join(dir, 'missing.safetensors'), device: ctx }), /weights file not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // No Content-Length: the reader only finds out when the stream ends.
  const chunked = new Response(new ReadableStream({
    start(c) { for (let i = 0; i < cut.length; i += 4096) c.enqueue(cut.slice(i, i + 4096)); c.close(); },
  }));
  await assert.rejects(loadModel({ weights: chunked, device: ctx }), (e: Error) =>
    e instanceof WeightsFormatError && /the file ends \d+ bytes in, inside the tensor data .* truncated/.test(e.message));

  await assert.rejects(loadModel({ weights: resnextBytes.subarray(0, 5), device: ctx }), /the file ends 5 bytes in, inside the header length/);
  await assert.rejects(loadModel({ weights: resnextBytes.subarray(0, 100), device: ctx }), /header length \d+ is out of bounds/);
});

test('corrupt header and unusable inputs', async () => {
  const ctx = await testContext();
  const bad = resnextBytes.slice();
  bad[8] = 0x7b + 1; // the JSON header no longer starts with '{'
  await assert.rejects(loadModel({ weights: bad, device: ctx }), /header is not JSON/);
  const noArch = writeSafetensors([{ name: 'x', shape: [1], data: new Float32Array(1) }], { format_version: '1' });
  await assert.rejects(loadModel({ weights: noArch, device: ctx }), /no architecture given/);
  await assert.rejects(loadModel({ weights: 42 as unknown as Uint8Array, device: ctx }), TypeError);
  await assert.rejects(loadModel({ weights: resnextBytes, arch: 'resnet9000', device: ctx }), /unknown architecture 'resnet9000'/);
  await assert.rejects(loadModel({ weights: resnextBytes, config: { ...resnextConfig, groups: 0 }, device: ctx }),
    /config 'resnext': groups must be a positive integer, got 0/);
});
