// Key maps: Cadene's nested-Sequential ResNeXt names, fbresnet152, torchvision -> canonical names.
// Expectations: names and shapes dumped from PyTorch models (torchvision's own, and mirrors of
// Cadene's modules whose canonical names were recorded from each module's role), and
// expectedTensors() of src/models/plan.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getArchitecture } from '../../src/models/config.js';
import { expectedTensors } from '../../src/models/plan.js';
import { cadeneResnextName, detectLayout, mapKeys } from '../../src/convert/keymaps.js';
import { detectArchitecture } from '../../src/convert/convert.js';
import { expectation, fixtureJson } from './fixtures.js';

type Entry = [string, number[], string?];
const models = fixtureJson<Record<string, Entry[]>>('names_shapes.json');

test("Cadene resnext101_32x4d: 522 tensors map to exactly resnext101_32x4d's canonical names", () => {
  const entries = models['cadene:resnext101_32x4d'];
  const km = mapKeys(entries.map((e) => e[0]));
  assert.equal(km.layout, 'cadene-resnext');
  assert.deepEqual(km.unmapped, []);
  assert.equal(km.renamed.size, 522);
  assert.ok(km.ignored.every((n) => n.endsWith('.num_batches_tracked')));
  for (const [name, , canonical] of entries) {
    if (name.endsWith('num_batches_tracked')) continue;
    assert.equal(km.renamed.get(name), canonical, name);
  }
  const spec = expectedTensors(getArchitecture('resnext101_32x4d'));
  assert.equal(spec.length, 522);
  assert.deepEqual(new Set(km.renamed.values()), new Set(spec.map((t) => t.name)));
  const shapes = new Map(entries.map(([n, s]) => [km.renamed.get(n), s]));
  for (const t of spec) assert.deepEqual(shapes.get(t.name), t.shape, t.name);
});

test('Cadene names map as documented', () => {
  const cases: [string, string | null][] = [
    ['features.0.weight', 'conv1.weight'],
    ['features.1.running_var', 'bn1.running_var'],
    ['features.4.0.0.0.0.0.weight', 'layer1.0.conv1.weight'],
    ['features.4.0.0.0.0.1.bias', 'layer1.0.bn1.bias'],
    ['features.5.0.0.0.0.3.weight', 'layer2.0.conv2.weight'],
    ['features.6.22.0.0.0.4.running_mean', 'layer3.22.bn2.running_mean'],
    ['features.7.2.0.0.1.weight', 'layer4.2.conv3.weight'],
    ['features.7.2.0.0.2.bias', 'layer4.2.bn3.bias'],
    ['features.4.0.0.1.0.weight', 'layer1.0.downsample.0.weight'],
    ['features.5.0.0.1.1.running_var', 'layer2.0.downsample.1.running_var'],
    ['last_linear.weight', 'fc.weight'],
    ['last_linear.bias', 'fc.bias'],
    ['features.4.1.0.1.0.weight', null], // blocks after the first have an identity shortcut
    ['features.2.weight', null], // ReLU
    ['features.3.weight', null], // max pool
    ['features.4.0.0.0.0.2.weight', null], // ReLU inside the block
    ['features.4.0.0.0.0.0.running_mean', null], // a conv has no running stats
    ['features.0.running_mean', null],
    ['classifier.weight', null],
  ];
  for (const [from, to] of cases) assert.equal(cadeneResnextName(from), to, from);
});

test('a small Cadene-layout model (2 stages) maps to the names recorded when it was built', () => {
  const exp = expectation('cadene_tiny_legacy.pth');
  const km = mapKeys(exp.tensors.map((t) => t.name));
  assert.equal(km.layout, 'cadene-resnext');
  for (const t of exp.tensors) {
    if (t.name.endsWith('num_batches_tracked')) assert.ok(km.ignored.includes(t.name));
    else assert.equal(km.renamed.get(t.name), t.canonical, t.name);
  }
});

test('Cadene fbresnet152: conv biases kept, last_linear -> fc', () => {
  const names = models['cadene:fbresnet152'].map((e) => e[0]);
  const km = mapKeys(names);
  assert.equal(km.layout, 'cadene-fbresnet');
  assert.deepEqual(new Set(km.renamed.values()), new Set(expectedTensors(getArchitecture('fbresnet152')).map((t) => t.name)));
});

test("torchvision names pass through, num_batches_tracked dropped; Cadene's torchvision-derived last_linear -> fc", () => {
  for (const arch of ['resnet18', 'resnet50', 'resnext50_32x4d', 'resnext101_64x4d']) {
    const names = models[`torchvision:${arch}`].map((e) => e[0]);
    const km = mapKeys(names);
    assert.equal(km.layout, 'torchvision', arch);
    assert.deepEqual(new Set(km.renamed.values()), new Set(expectedTensors(getArchitecture(arch)).map((t) => t.name)), arch);
    assert.equal(km.ignored.length, names.filter((n) => n.endsWith('num_batches_tracked')).length);
    const cadene = names.map((n) => n.replace(/^fc\./, 'last_linear.'));
    assert.equal(detectLayout(cadene), 'cadene-resnet');
    assert.equal(mapKeys(cadene).renamed.get('last_linear.weight'), 'fc.weight');
  }
});

test("Cadene SENet (se_resnext50_32x4d): names map to the canonical ones and the architecture is detected", () => {
  // Cadene's senet.py names the 7x7 stem layer0.conv1 / layer0.bn1 and the classifier last_linear;
  // everything else (se_module included) is already canonical.
  const spec = expectedTensors(getArchitecture('se_resnext50_32x4d'));
  const cadene = (n: string) => n.replace(/^(conv1|bn1)\./, 'layer0.$1.').replace(/^fc\./, 'last_linear.');
  const km = mapKeys([...spec.map((t) => cadene(t.name)), 'layer0.bn1.num_batches_tracked', 'layer0.conv2.weight']);
  assert.equal(km.layout, 'cadene-senet');
  assert.deepEqual(km.unmapped, ['layer0.conv2.weight'], "senet154's 3x3 stem is not part of se_resnext");
  assert.deepEqual(km.ignored, ['layer0.bn1.num_batches_tracked']);
  assert.deepEqual([...km.renamed.values()], spec.map((t) => t.name));
  assert.equal(km.renamed.get('layer0.conv1.weight'), 'conv1.weight');
  assert.equal(km.renamed.get('layer3.5.se_module.fc2.bias'), 'layer3.5.se_module.fc2.bias');
  const shapes = (arch: string) => new Map(expectedTensors(getArchitecture(arch)).map((t) => [t.name, t.shape]));
  assert.equal(detectArchitecture(shapes('se_resnext50_32x4d')).arch, 'se_resnext50_32x4d');
  assert.equal(detectArchitecture(shapes('se_resnext101_32x4d')).arch, 'se_resnext101_32x4d');
  assert.equal(detectArchitecture(shapes('resnext50_32x4d')).arch, 'resnext50_32x4d', 'no se_module tensors: plain ResNeXt');
});
