// The converter: architecture detection from names and shapes, tensor checks, and the written
// .safetensors (canonical names and order, values equal to torch.load's, metadata).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getArchitecture, type ResNetConfig } from '../../src/models/config.js';
import { buildPlan, expectedTensors } from '../../src/models/plan.js';
import { decodeMetadata, parseSafetensors, toFloat32, writeSafetensors } from '../../src/weights/safetensors.js';
import { readCheckpoint, type StateDict } from '../../src/convert/checkpoint.js';
import { checkShapes, convertCheckpoint, convertLoaded, detectArchitecture, parseModelConfig } from '../../src/convert/convert.js';
import { ConversionError } from '../../src/convert/errors.js';
import { mapKeys } from '../../src/convert/keymaps.js';
import { assertClose } from '../helpers/compare.js';
import { expectation, fixtureBytes, fixtureJson } from './fixtures.js';

type Entry = [string, number[], string?];
const models = fixtureJson<Record<string, Entry[]>>('names_shapes.json');

/** Canonical names -> shapes of one dumped model, through the key map. */
function canonicalShapes(model: string): Map<string, number[]> {
  const entries = models[model];
  const km = mapKeys(entries.map((e) => e[0]));
  return new Map(entries.filter(([n]) => km.renamed.has(n)).map(([n, s]) => [km.renamed.get(n)!, s]));
}

function read(bytes: Uint8Array): { names: string[]; tensors: Map<string, { shape: number[]; data: Float32Array }>; meta: Record<string, string>; dtypes: Set<string> } {
  const h = parseSafetensors(bytes);
  const ordered = [...h.tensors].sort((a, b) => a[1].begin - b[1].begin);
  return {
    names: ordered.map(([n]) => n),
    tensors: new Map(ordered.map(([n, e]) => [n, { shape: e.shape, data: toFloat32(e.dtype, bytes.subarray(h.dataOffset + e.begin, h.dataOffset + e.end)) }])),
    meta: h.metadata,
    dtypes: new Set(ordered.map(([, e]) => e.dtype)),
  };
}

// ---- Detection ----------------------------------------------------------------------------------

test('architectures are named from the names and shapes of real PyTorch models', () => {
  const cases: [string, string][] = [
    ['torchvision:resnet18', 'resnet18'],
    ['torchvision:resnet50', 'resnet50'],
    ['torchvision:resnext50_32x4d', 'resnext50_32x4d'],
    ['torchvision:resnext101_64x4d', 'resnext101_64x4d'],
    ['cadene:resnext101_32x4d', 'resnext101_32x4d'],
    ['cadene:fbresnet152', 'fbresnet152'],
  ];
  for (const [model, arch] of cases) {
    const shapes = canonicalShapes(model);
    assert.equal(detectArchitecture(shapes).arch, arch, model);
    checkShapes(buildPlan(getArchitecture(arch)), shapes);
  }
});

test('what inference reads from shapes: groups, widths, blocks, stem, classes, conv bias', () => {
  const inf = detectArchitecture(canonicalShapes('cadene:resnext101_32x4d')).inferred;
  assert.deepEqual(inf, { block: 'bottleneck', layers: [3, 4, 23, 3], widths: [64, 128, 256, 512], groups: 32,
    bottleneckWidths: [128, 256, 512, 1024], stemChannels: 64, stemKernel: 7, inputChannels: 3, numClasses: 1000, convBias: false, seReduction: null,
    deepStem: null, stemConvPool: false, avgDown: false, downsampleKernel: 1, reduceFirst: 1, attn: null, attnSize: null });
  assert.equal(detectArchitecture(canonicalShapes('cadene:fbresnet152')).inferred.convBias, true);
});

test('weights of no known architecture: an error naming the closest one and the differences', () => {
  const shapes = canonicalShapes('torchvision:resnet50');
  shapes.set('fc.weight', [10, 2048]);
  shapes.set('fc.bias', [10]);
  assert.throws(() => detectArchitecture(shapes), (e: unknown) => e instanceof ConversionError &&
    /match no known architecture/.test(e.message) && /closest is resnet50 \(differs in classes 10 vs 1000\)/.test(e.message) &&
    /--config/.test(e.message));
});

test('a forced wrong architecture lists missing, unexpected and mis-shaped tensors', () => {
  assert.throws(() => checkShapes(buildPlan(getArchitecture('resnet101')), canonicalShapes('torchvision:resnet50')), (e: unknown) => {
    assert.ok(e instanceof ConversionError);
    assert.match(e.message, /do not fit architecture 'resnet101' \(522 tensors expected, 267 found\)/);
    assert.match(e.message, /255 missing: layer3\.6\.conv1\.weight \[256, 1024, 1, 1\]/);
    return true;
  });
  assert.throws(() => checkShapes(buildPlan(getArchitecture('resnext50_32x4d')), canonicalShapes('torchvision:resnet50')),
    /mis-shaped: layer1\.0\.conv1\.weight is \[64, 64, 1, 1\], expected \[128, 64, 1, 1\]/);
  const extra = canonicalShapes('torchvision:resnet18');
  extra.set('aux.weight', [3]);
  assert.throws(() => checkShapes(buildPlan(getArchitecture('resnet18')), extra), /1 unexpected: aux\.weight \[3\]/);
});

// ---- Conversion of the fixtures -----------------------------------------------------------------

const cadeneConfig = fixtureJson<Record<string, unknown>>('cadene_tiny.config.json');
const tvConfig = fixtureJson<Record<string, unknown>>('torchvision_tiny.config.json');

test('Cadene-layout legacy checkpoint + --config: canonical names, canonical order, torch.load values, metadata', () => {
  const exp = expectation('cadene_tiny_legacy.pth');
  const r = convertCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { config: cadeneConfig });
  assert.equal(r.layout, 'cadene-resnext');
  assert.equal(r.container, 'legacy');
  const out = read(r.bytes);
  const spec = expectedTensors(r.config);
  assert.deepEqual(out.names, spec.map((t) => t.name));
  assert.deepEqual([...out.dtypes], ['F32']);
  const byCanonical = new Map(exp.tensors.map((t) => [t.canonical!, t]));
  for (const t of spec) {
    const e = byCanonical.get(t.name)!;
    const got = out.tensors.get(t.name)!;
    assertClose(got.data, e.data, { atol: 0, rtol: 0, shape: { actual: got.shape, expected: e.shape }, what: t.name });
  }
  assert.equal(r.tensors, spec.length);
  assert.equal(r.parameters, exp.tensors.filter((t) => !t.name.endsWith('num_batches_tracked')).reduce((a, t) => a + t.data.length, 0));
  const m = decodeMetadata(out.meta);
  assert.equal(m.arch, 'cadene_tiny_resnext');
  assert.equal(m.source, 'test:cadene_tiny');
  assert.equal(m.inputSize, 32);
  assert.deepEqual(m.labels, cadeneConfig.labels);
  assert.deepEqual([m.mean, m.std, m.inputRange, m.colorSpace], [cadeneConfig.mean, cadeneConfig.std, [0, 1], 'RGB']);
  const { labels: _l, mean: _m, std: _s, inputRange: _r, colorSpace: _c, source: _src, ...resnet } = cadeneConfig;
  assert.deepEqual(JSON.parse(m.config!), resnet);
});

test('torchvision-layout zip ({state_dict} + module. prefixes) + --config converts', () => {
  const exp = expectation('torchvision_tiny_zip.pth');
  const r = convertCheckpoint(fixtureBytes('torchvision_tiny_zip.pth'), { config: tvConfig });
  assert.equal(r.layout, 'torchvision');
  assert.ok(r.notes.some((n) => /state_dict/.test(n) && /module\./.test(n)), r.notes.join('; '));
  const out = read(r.bytes);
  for (const e of exp.tensors) {
    if (e.name.endsWith('num_batches_tracked')) { assert.ok(!out.tensors.has(e.name)); continue; }
    assertClose(out.tensors.get(e.name)!.data, e.data, { atol: 0, rtol: 0, what: e.name });
  }
  assert.deepEqual(decodeMetadata(out.meta).labels, ['cat', 'dog', 'bird', 'fish', 'frog']);
});

test('--fp16 stores F16 values within half-precision rounding of the f32 ones', () => {
  const exp = expectation('cadene_tiny_legacy.pth');
  const r = convertCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { config: cadeneConfig, fp16: true });
  const out = read(r.bytes);
  assert.deepEqual([...out.dtypes], ['F16']);
  for (const e of exp.tensors) {
    if (e.canonical!.endsWith('num_batches_tracked')) continue;
    assertClose(out.tensors.get(e.canonical!)!.data, e.data, { atol: 6e-8, rtol: 2 ** -11, what: e.canonical });
  }
});

test('a converted .safetensors converts again: config and metadata carried over, f16 on request', () => {
  const first = convertCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { config: cadeneConfig });
  const again = convertCheckpoint(first.bytes, { fp16: true });
  assert.equal(again.container, 'safetensors');
  assert.equal(again.arch, 'cadene_tiny_resnext');
  assert.deepEqual(again.metadata, { ...first.metadata });
  assert.deepEqual(read(again.bytes).names, read(first.bytes).names);
  const same = convertCheckpoint(first.bytes);
  assert.deepEqual(same.bytes, first.bytes, 'f32 -> f32 re-conversion is the identity');
});

test('a named architecture gets the ImageNet settings and a layout-derived source', () => {
  // resnet18-shaped weights under Cadene's torchvision-derived names (last_linear), every tensor
  // filled with its index so the renaming and ordering can be checked value by value.
  const entries = models['torchvision:resnet18'].filter(([n]) => !n.endsWith('num_batches_tracked'));
  const tensors = entries.map(([n, shape], i) => ({ name: n.replace(/^fc\./, 'last_linear.'), shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(i) }));
  const input = writeSafetensors(tensors.reverse(), {});
  const r = convertCheckpoint(input);
  assert.equal(r.arch, 'resnet18');
  assert.equal(r.layout, 'cadene-resnet');
  const m = decodeMetadata(read(r.bytes).meta);
  assert.deepEqual(m, { formatVersion: '1', arch: 'resnet18', config: undefined, source: 'cadene:resnet18', inputSize: 224,
    inputChannels: 3, resizeSize: 256, colorSpace: 'RGB', inputRange: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], labels: 'imagenet' });
  const out = read(r.bytes);
  assert.deepEqual(out.names, expectedTensors(getArchitecture('resnet18')).map((t) => t.name));
  entries.forEach(([n], i) => assert.equal(out.tensors.get(n)!.data[0], i, n));
  const forced = convertCheckpoint(input, { arch: 'resnet18', source: 'my:source' });
  assert.equal(decodeMetadata(read(forced.bytes).meta).source, 'my:source');
});

test('conversion errors: wrong --arch, unknown arch, custom weights without --config, bad configs, duplicates', () => {
  const tiny = fixtureBytes('cadene_tiny_legacy.pth');
  assert.throws(() => convertCheckpoint(tiny, { arch: 'resnext101_32x4d' }), (e: unknown) =>
    e instanceof ConversionError && /do not fit architecture 'resnext101_32x4d'/.test(e.message) && /missing/.test(e.message) &&
    /mis-shaped: conv1\.weight is \[8, 3, 7, 7\], expected \[64, 3, 7, 7\]/.test(e.message) &&
    /look like a bottleneck ResNeXt \(groups 4/.test(e.message));
  assert.throws(() => convertCheckpoint(tiny, { arch: 'resnet9000' }), /unknown architecture 'resnet9000'; known: resnet18/);
  assert.throws(() => convertCheckpoint(tiny), /match no known architecture.*--config/);
  assert.throws(() => convertCheckpoint(tiny, { config: { ...cadeneConfig, numClasses: 11, labels: undefined } }),
    /do not fit config 'cadene_tiny_resnext'.*fc\.weight is \[10, 64\], expected \[11, 64\]/);
  assert.throws(() => convertCheckpoint(tiny, { config: cadeneConfig, arch: 'resnet50' }), /not both/);
  assert.throws(() => parseModelConfig({ ...cadeneConfig, labels: ['a'], groups: 0, colour: 1 }),
    (e: unknown) => e instanceof ConversionError && /unknown field 'colour'/.test(e.message) &&
      /groups must be a positive integer/.test(e.message) && /'labels' has 1 entries, 'numClasses' is 10/.test(e.message));
  const { name: _n, ...noName } = cadeneConfig;
  assert.throws(() => parseModelConfig(noName), /missing field 'name'/);
  assert.throws(() => parseModelConfig({ ...cadeneConfig, inputChannels: 1, mean: undefined, std: undefined, colorSpace: undefined }),
    /'mean' and 'std' are required for 1-channel input/);
  assert.throws(() => parseModelConfig([1, 2]), /not a JSON object/);
  // The network's rules are the plan's: one width per stage, and a network that builds.
  assert.throws(() => parseModelConfig({ ...cadeneConfig, widths: [8, 16, 32] }), /widths \(\[8,16,32\]\) must give one width per stage \(2 stages\)/);
  assert.throws(() => parseModelConfig({ ...cadeneConfig, inputSize: 64 }), /avgpool 4x4 \(stride 1\) over the final 8x8 map/);

  const ckpt = readCheckpoint(fixtureBytes('torchvision_tiny_zip.pth'));
  const dup: StateDict = new Map(ckpt.tensors);
  dup.set('last_linear.weight', dup.get('fc.weight')!);
  assert.throws(() => convertLoaded({ ...ckpt, tensors: dup }, { config: tvConfig }), /two tensors map to 'fc\.weight'/);
  const extra: StateDict = new Map(ckpt.tensors);
  extra.set('head.weight', dup.get('fc.weight')!);
  assert.throws(() => convertLoaded({ ...ckpt, tensors: extra }, { config: tvConfig }), /1 unexpected: head\.weight \[5, 16\]/);
});

test('progress: read phase then write phase, each ending at its total', () => {
  const events: string[] = [];
  convertCheckpoint(fixtureBytes('cadene_tiny_legacy.pth'), { config: cadeneConfig, onProgress: (p) => {
    const key = `${p.phase}:${p.done === p.total ? 'end' : 'mid'}`;
    if (events[events.length - 1] !== key) events.push(key);
  } });
  assert.equal(events[0], 'read:mid');
  assert.deepEqual(events.slice(-3), ['read:end', 'write:mid', 'write:end']);
});

test('the config fixtures are valid ResNetConfigs', () => {
  for (const c of [cadeneConfig, tvConfig]) {
    const parsed: ResNetConfig = parseModelConfig(c);
    assert.ok(expectedTensors(parsed).length > 10);
  }
});

test('a checkpoint in a Node Buffer at an odd offset of its pool converts like a fresh copy', () => {
  const bytes = fixtureBytes('torchvision_tiny_zip.pth');
  // Buffer.from(...) of a small array lands in Node's shared pool; one byte ahead makes the offset odd.
  const pooled = Buffer.concat([Buffer.from([0]), Buffer.from(bytes)]).subarray(1);
  assert.notEqual(pooled.byteOffset % 4, 0);
  const a = convertCheckpoint(pooled, { config: tvConfig });
  const b = convertCheckpoint(new Uint8Array(bytes), { config: tvConfig });
  assert.deepEqual(a.bytes, b.bytes);
});

// ---- timm's pre-activation ResNetV2 ---------------------------------------------------------------

/** test/fixtures/e2e/<family>.{pth,safetensors}: the same timm-named weights, written by make_e2e_goldens.py. */
function e2eFixture(name: string): Uint8Array {
  return fixtureBytes(`../e2e/${name}`);
}

test('timm ResNetV2 names: the timm-resnetv2 layout, kept as they are; resnetv2_50 / _101 / _18 detected from shapes', () => {
  for (const arch of ['resnetv2_18', 'resnetv2_34', 'resnetv2_50', 'resnetv2_101', 'resnetv2_152']) {
    const specs = expectedTensors(getArchitecture(arch));
    // timm's state dict also holds every BatchNorm's num_batches_tracked.
    const names = [...specs.map((t) => t.name), 'norm.num_batches_tracked', 'stages.0.blocks.0.norm1.num_batches_tracked'];
    const km = mapKeys(names);
    assert.equal(km.layout, 'timm-resnetv2', arch);
    assert.deepEqual([km.ignored.length, km.unmapped], [2, []], arch);
    for (const t of specs) assert.equal(km.renamed.get(t.name), t.name);
    assert.equal(detectArchitecture(new Map(specs.map((t) => [t.name, t.shape]))).arch, arch);
  }
  const specs = expectedTensors(getArchitecture('resnetv2_50'));
  assert.deepEqual(specs.slice(0, 7).map((t) => t.name), ['stem.conv.weight', 'stages.0.blocks.0.downsample.conv.weight',
    'stages.0.blocks.0.norm1.weight', 'stages.0.blocks.0.norm1.bias', 'stages.0.blocks.0.norm1.running_mean',
    'stages.0.blocks.0.norm1.running_var', 'stages.0.blocks.0.conv1.weight']);
  assert.deepEqual(specs.slice(-6).map((t) => `${t.name} [${t.shape}]`), ['norm.weight [2048]', 'norm.bias [2048]',
    'norm.running_mean [2048]', 'norm.running_var [2048]', 'head.fc.weight [1000,2048,1,1]', 'head.fc.bias [1000]']);
});

test('a timm .pth (torch.save of a ResNetV2 state dict) and its Hugging Face model.safetensors convert to the same file', () => {
  const golden = read(e2eFixture('preact.safetensors'));
  const config = parseModelConfig(JSON.parse(golden.meta.config));
  const fromPth = convertCheckpoint(e2eFixture('preact.pth'), { config });
  assert.equal(fromPth.layout, 'timm-resnetv2');
  assert.ok(fromPth.notes.some((n) => /num_batches_tracked/.test(n)), fromPth.notes.join('; '));
  const out = read(fromPth.bytes);
  assert.deepEqual(out.names, golden.names);
  for (const [name, t] of golden.tensors) assertClose(out.tensors.get(name)!.data, t.data, { atol: 0, rtol: 0, what: name });
  // A hub model.safetensors: timm's names in timm's order, metadata { format: 'pt' }.
  const hub = writeSafetensors(golden.names.map((name) => ({ name, shape: golden.tensors.get(name)!.shape, data: golden.tensors.get(name)!.data })),
    { format: 'pt' });
  const fromHub = convertCheckpoint(hub, { config });
  assert.equal(fromHub.layout, 'timm-resnetv2');
  assert.deepEqual(read(fromHub.bytes).names, golden.names);
  // Without a config, a named architecture gets timm's source and Inception normalisation.
  const v2 = expectedTensors(getArchitecture('resnetv2_18'));
  const named = convertCheckpoint(writeSafetensors(v2.map((t) => ({ name: t.name, shape: t.shape,
    data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) })), { format: 'pt' }));
  const m = decodeMetadata(read(named.bytes).meta);
  assert.deepEqual([named.arch, m.source, m.mean, m.std], ['resnetv2_18', 'timm:resnetv2_18', [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]);
});
