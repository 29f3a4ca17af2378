// The converter on timm's ResNet names and Cadene's senet154 / se_resnet: layouts, name mapping, what
// inference reads, detection (timm's table after ours), --arch with timm names. State dicts are made of
// the names and shapes in the published checkpoints (timm's resnet.py modules, Cadene's senet.py), listed
// by hand below, or from the plan where only the mapping is under test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getArchitecture } from '../../src/models/config.js';
import { expectedTensors } from '../../src/models/plan.js';
import { timmArchConfig } from '../../src/models/timm.js';
import { convertCheckpoint, detectArchitecture, inferConfig } from '../../src/convert/convert.js';
import { detectLayout, mapKeys } from '../../src/convert/keymaps.js';
import { ConversionError } from '../../src/convert/errors.js';

const shapesOf = (c: Parameters<typeof expectedTensors>[0]) => new Map(expectedTensors(c).map((t) => [t.name, t.shape]));

test("timm's module names: the canonical ones of the new pieces, in timm's state-dict order", () => {
  // timm resnet50d / ecaresnet50t / resnetrs50 state dicts (names as timm writes them).
  const d = expectedTensors(timmArchConfig('resnet50d')).map((t) => t.name);
  assert.deepEqual(d.slice(0, 16), ['conv1.0.weight', 'conv1.1.weight', 'conv1.1.bias', 'conv1.1.running_mean', 'conv1.1.running_var',
    'conv1.3.weight', 'conv1.4.weight', 'conv1.4.bias', 'conv1.4.running_mean', 'conv1.4.running_var',
    'conv1.6.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'layer1.0.conv1.weight']);
  assert.ok(d.includes('layer2.0.downsample.1.weight') && d.includes('layer2.0.downsample.2.running_var'));
  assert.ok(!d.some((n) => n.startsWith('layer2.0.downsample.0.')), 'the pool has no weights');
  const eca = shapesOf(timmArchConfig('ecaresnet50t'));
  assert.deepEqual(eca.get('layer1.0.se.conv.weight'), [1, 1, 5]);
  assert.deepEqual(eca.get('layer4.2.se.conv.weight'), [1, 1, 7]);
  assert.deepEqual(eca.get('conv1.0.weight'), [24, 3, 3, 3]);
  const rs = shapesOf(timmArchConfig('resnetrs50'));
  assert.deepEqual(rs.get('maxpool.0.weight'), [64, 64, 3, 3]);
  assert.deepEqual(rs.get('layer1.0.se.fc1.weight'), [64, 256, 1, 1]);
  assert.deepEqual(shapesOf(timmArchConfig('seresnext50_32x4d')).get('layer4.0.se.fc1.weight'), [128, 2048, 1, 1]);
  for (const arch of ['resnet50d', 'ecaresnet50t', 'resnetrs50', 'seresnext50_32x4d']) {
    const names = [...shapesOf(timmArchConfig(arch)).keys()];
    assert.equal(detectLayout(names), 'timm-resnet', arch);
    const km = mapKeys(names);
    assert.deepEqual(km.unmapped, [], arch);
    assert.ok([...km.renamed].every(([a, b]) => a === b), `${arch}: kept as they are`);
  }
  assert.equal(detectLayout(shapesOf(timmArchConfig('resnet50')).keys()), 'torchvision', "timm's resnet50 is torchvision's");
});

test("timm's variants are detected from names and shapes; anti-aliasing only by --arch", () => {
  for (const arch of ['resnet50d', 'resnet26t', 'resnet50s', 'resnet50c', 'seresnext26d_32x4d', 'seresnet50', 'ecaresnet50t',
    'ecaresnetlight', 'resnetrs101', 'senet154', 'resnet10t']) {
    assert.equal(detectArchitecture(shapesOf(timmArchConfig(arch))).arch, arch, arch);
  }
  // An 11821-class head (timm's in12k weights) is the same architecture.
  assert.equal(detectArchitecture(shapesOf(timmArchConfig('resnet50d', 11821))).arch, 'resnet50d');
  // resnetaa50d has resnet50d's tensors: detection names resnet50d (convertLoaded notes resnetaa50d).
  assert.equal(detectArchitecture(shapesOf(timmArchConfig('resnetaa50d'))).arch, 'resnet50d');
  const inf = inferConfig(shapesOf(timmArchConfig('resnetrs101')));
  assert.deepEqual([inf.deepStem, inf.stemConvPool, inf.avgDown, inf.attn, inf.attnSize, inf.stemChannels], [[32, 32], true, true, 'se', 64, 64]);
  const senet = inferConfig(shapesOf(timmArchConfig('senet154')));
  assert.deepEqual([senet.reduceFirst, senet.downsampleKernel, senet.groups], [2, 3, 64]);
  // A variant off the table names the closest one and how it differs.
  const odd = shapesOf(timmArchConfig('resnet50d'));
  odd.set('layer1.0.se.conv.weight', [1, 1, 3]);
  assert.throws(() => detectArchitecture(odd), (e: unknown) => e instanceof ConversionError && /match no known architecture/.test(e.message) &&
    /timm's eca attention/.test(e.message));
});

test("Cadene's senet154 and se_resnet: the 3x3 stem becomes the deep-stem names; the architectures are detected", () => {
  // Cadene's senet154 names: layer0.conv1 / bn1 / conv2 / bn2 / conv3 / bn3, blocks as torchvision's, last_linear.
  const spec = expectedTensors(getArchitecture('senet154'));
  const stem: Record<string, string> = { 'conv1.0': 'layer0.conv1', 'conv1.1': 'layer0.bn1', 'conv1.3': 'layer0.conv2',
    'conv1.4': 'layer0.bn2', 'conv1.6': 'layer0.conv3', bn1: 'layer0.bn3' };
  const cadene = (n: string) => n.replace(/^(conv1\.[0-9]|bn1)\./, (_, m: string) => `${stem[m]}.`).replace(/^fc\./, 'last_linear.');
  assert.equal(cadene('conv1.4.running_var'), 'layer0.bn2.running_var');
  const km = mapKeys(spec.map((t) => cadene(t.name)));
  assert.equal(km.layout, 'cadene-senet');
  assert.deepEqual(km.unmapped, []);
  assert.deepEqual([...km.renamed.values()], spec.map((t) => t.name));
  assert.equal(detectArchitecture(shapesOf(getArchitecture('senet154'))).arch, 'senet154');
  assert.deepEqual(shapesOf(getArchitecture('senet154')).get('layer2.0.downsample.0.weight'), [512, 256, 3, 3]);
  assert.deepEqual(shapesOf(getArchitecture('senet154')).get('layer1.0.conv1.weight'), [128, 128, 1, 1]);
  for (const arch of ['se_resnet50', 'se_resnet101', 'se_resnet152']) {
    assert.equal(detectArchitecture(shapesOf(getArchitecture(arch))).arch, arch, arch);
  }
});

test('--arch takes timm names: unsupported ones and misfits are one-line ConversionErrors', () => {
  const pth = new Uint8Array(readFileSync(fileURLToPath(new URL('../fixtures/timm/timm_d.pth', import.meta.url))));
  assert.throws(() => convertCheckpoint(pth, { arch: 'resnetblur50' }), (e: unknown) => e instanceof ConversionError &&
    /timm architecture 'resnetblur50' is not supported: anti-aliasing with BlurPool2d/.test(e.message));
  assert.throws(() => convertCheckpoint(pth, { arch: 'no_such_net' }), (e: unknown) => e instanceof ConversionError &&
    /unknown architecture 'no_such_net'; known: .*resnet18.* and timm's \(.*resnet50d.*\)/.test(e.message));
  // The reduced resnet50d-style fixture under the full-size resnet50d: timm's names are understood, the shapes differ.
  assert.throws(() => convertCheckpoint(pth, { arch: 'resnet50d' }), (e: unknown) => e instanceof ConversionError &&
    /do not fit architecture 'resnet50d'/.test(e.message) && /conv1\.0\.weight is (F32 )?\[8, 3, 3, 3\], expected \[32, 3, 3, 3\]/.test(e.message));
});
