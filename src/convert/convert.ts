// Converts a PyTorch checkpoint (or a .safetensors file) into this project's .safetensors weights:
// the plan's weights (canonical torchvision names, state-dict order), f32 or f16, with ModelMetadata.
//
//   readCheckpoint -> mapKeys (layout) -> architecture (inferred from names and shapes and matched
//   against ARCHITECTURES, or forced with `arch`, or given as a custom `config`) -> every weight of
//   its plan checked by name and shape (tensorMismatch) -> writeSafetensors.
//
// Browser-safe: bytes in, bytes out. The CLI (cli/convert.ts) adds file I/O and the progress bar.

import { ARCHITECTURES, bottleneckWidth, CONFIG_KEYS, ecaKernelSize, getArchitecture, isBottleneck, isPreAct, seHidden, type ResNetConfig } from '../models/config.js';
import { buildPlan, configProblems, PlanError, tensorMismatch, type Plan } from '../models/plan.js';
import { decodeMetadata, defaultResizeSize, encodeMetadata, FORMAT_VERSION, writeSafetensors, type ModelMetadata } from '../weights/safetensors.js';
import { readCheckpoint, type ContainerFormat, type LoadedCheckpoint, type StateDict } from './checkpoint.js';
import { ConversionError } from './errors.js';
import { mapKeys, type Layout } from './keymaps.js';
import { isSupportedTimmArchitecture, isTorchvisionLayout, TIMM_ARCHITECTURES, timmArchConfig, UnsupportedArchitectureError } from '../models/timm.js';

// ---- Custom model configs -----------------------------------------------------------------------

/** A `--config` file: a full ResNetConfig plus optional metadata for the converted file. */
export interface ModelConfigFile extends ResNetConfig {
  labels?: string[];
  mean?: number[];
  std?: number[];
  inputRange?: [number, number];
  colorSpace?: 'RGB' | 'grey';
  /** Shorter side an image is resized to before the centre crop (default: inputSize / 0.875). */
  resizeSize?: number;
  source?: string;
}

const META_KEYS = ['labels', 'mean', 'std', 'inputRange', 'colorSpace', 'resizeSize', 'source'];

/**
 * Validates a parsed `--config` JSON: the network with the plan's validator (configProblems, then
 * building it), the metadata fields here. Throws ConversionError naming every problem.
 */
export function parseModelConfig(raw: unknown, where = 'config'): ModelConfigFile {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConversionError(`${where}: not a JSON object`);
  const c = raw as Record<string, unknown>;
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => { if (!ok) problems.push(msg); };
  for (const k of Object.keys(c)) check((CONFIG_KEYS as string[]).includes(k) || META_KEYS.includes(k), `unknown field '${k}'`);
  problems.push(...configProblems(c));
  const nums = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (c.labels !== undefined) {
    check(Array.isArray(c.labels) && c.labels.every((x) => typeof x === 'string'), "'labels' must be an array of strings");
    if (Array.isArray(c.labels)) check(c.labels.length === c.numClasses, `'labels' has ${c.labels.length} entries, 'numClasses' is ${c.numClasses}`);
  }
  for (const k of ['mean', 'std']) {
    if (c[k] === undefined) continue;
    check(nums(c[k]) && (c[k] as number[]).length === c.inputChannels, `'${k}' must hold ${c.inputChannels} numbers (one per input channel)`);
  }
  if (Array.isArray(c.std)) check((c.std as number[]).every((x) => x > 0), "'std' values must be positive");
  if (c.inputRange !== undefined) {
    check(nums(c.inputRange) && (c.inputRange as number[]).length === 2 && (c.inputRange as number[])[0] < (c.inputRange as number[])[1],
      "'inputRange' must be [lo, hi] with lo < hi");
  }
  if (c.resizeSize !== undefined) {
    check(Number.isInteger(c.resizeSize) && (c.resizeSize as number) >= (c.inputSize as number),
      `'resizeSize' must be an integer >= inputSize ${c.inputSize}`);
  }
  if (c.colorSpace !== undefined) {
    check(c.colorSpace === 'RGB' || c.colorSpace === 'grey', "'colorSpace' must be 'RGB' or 'grey'");
    check((c.colorSpace === 'RGB') === (c.inputChannels === 3), `'colorSpace' ${c.colorSpace} does not fit ${c.inputChannels} input channels`);
  }
  if (c.source !== undefined) check(typeof c.source === 'string', "'source' must be a string");
  if (c.inputChannels !== 3 && (c.mean === undefined || c.std === undefined)) {
    problems.push(`'mean' and 'std' are required for ${c.inputChannels}-channel input (the ImageNet defaults have 3)`);
  }
  if (problems.length === 0) {
    try {
      buildPlan(c as unknown as ResNetConfig); // a config that passes every field check may still build no network
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length) throw new ConversionError(`${where}: ${problems.join('; ')}`);
  return structuredClone(c) as unknown as ModelConfigFile;
}

/** The ResNetConfig fields of `c` (a --config file also holds metadata). */
function resnetPart(c: ResNetConfig): ResNetConfig {
  return Object.fromEntries(CONFIG_KEYS.map((k) => [k, structuredClone(c[k])])) as unknown as ResNetConfig;
}

// ---- Architecture inference ---------------------------------------------------------------------

/** What names and shapes reveal of a ResNetConfig (pooling, strides, input size and eps do not show). */
export interface InferredConfig {
  block: ResNetConfig['block'];
  layers: number[];
  widths: number[];
  groups: number;
  /** Bottleneck width per stage (conv2's output channels); for basic blocks = widths. */
  bottleneckWidths: number[];
  stemChannels: number;
  stemKernel: number;
  inputChannels: number;
  numClasses: number;
  convBias: boolean;
  /** Squeeze-excitation reduction (conv3's outputs / se_module.fc1's), or null without se_module tensors. */
  seReduction: number | null;
  // timm's variants as the names show them (anti-aliasing and an average-pool stem pool carry no tensors).
  /** The deep stem's first two widths (conv1.0, conv1.3), or null for one stem conv. */
  deepStem: [number, number] | null;
  /** ResNet-RS's conv stem pool (maxpool.0). */
  stemConvPool: boolean;
  /** timm's avg_down shortcuts (downsample.1 conv, downsample.2 BN). */
  avgDown: boolean;
  /** Kernel of the first strided shortcut conv (1 without one). */
  downsampleKernel: number;
  /** The 3x3 conv's width / conv1's (timm's block_reduce_first). */
  reduceFirst: number;
  /** timm's attention `se`: 'se' (se.fc1), 'eca' (se.conv), or null; attnSize: layer1.0's fc1 outputs or ECA kernel. */
  attn: 'se' | 'eca' | null;
  attnSize: number | null;
}

type Shapes = ReadonlyMap<string, readonly number[]>;

function shapeStr(s: readonly number[] | undefined): string {
  return s ? `[${s.join(', ')}]` : 'none';
}

/** Reads the architecture's shape from canonical names; throws ConversionError when the basics are missing. */
export function inferConfig(shapes: Shapes): InferredConfig {
  const need = (name: string, rank: number): readonly number[] => {
    const s = shapes.get(name);
    if (!s) throw new ConversionError(`cannot infer the architecture: no tensor '${name}'`);
    if (s.length !== rank) throw new ConversionError(`cannot infer the architecture: '${name}' has shape ${shapeStr(s)}, expected ${rank} dimensions`);
    return s;
  };
  // timm's ResNetV2 names (stem.conv, stages.S.blocks.B, head.fc as a 1x1 conv), or torchvision's.
  const timm = shapes.has('stem.conv.weight');
  const deep = !timm && shapes.has('conv1.0.weight');
  const n = timm
    ? { stem: 'stem.conv', first: 0, block: (s: number, b: number) => `stages.${s}.blocks.${b}`, stage: (s: number) => `stages.${s}`,
      fc: 'head.fc', fcRank: 4 }
    : { stem: deep ? 'conv1.0' : 'conv1', first: 1, block: (s: number, b: number) => `layer${s}.${b}`, stage: (s: number) => `layer${s}`,
      fc: 'fc', fcRank: 2 };
  const stem = need(`${n.stem}.weight`, 4);
  const bottleneck = shapes.has(`${n.block(n.first, 0)}.conv3.weight`);
  const block: ResNetConfig['block'] = timm ? (bottleneck ? 'preact-bottleneck' : 'preact-basic') : (bottleneck ? 'bottleneck' : 'basic');
  const layers: number[] = [];
  const widths: number[] = [];
  const bottleneckWidths: number[] = [];
  let groups = 1;
  for (let s = n.first; shapes.has(`${n.block(s, 0)}.conv1.weight`); s++) {
    let b = 0;
    while (shapes.has(`${n.block(s, b)}.conv1.weight`)) b++;
    layers.push(b);
    const p = n.block(s, 0);
    if (bottleneck) {
      const c2 = need(`${p}.conv2.weight`, 4);
      const c3 = need(`${p}.conv3.weight`, 4);
      if (c3[0] % 4 !== 0) throw new ConversionError(`cannot infer the architecture: ${p}.conv3 has ${c3[0]} outputs, not a multiple of 4`);
      widths.push(c3[0] / 4);
      bottleneckWidths.push(c2[0]);
      // conv2 reads conv1's outputs (c2[0] / reduceFirst of them) in groups of c2[1].
      const c1 = need(`${p}.conv1.weight`, 4);
      const g = c2[1] > 0 && c1[0] % c2[1] === 0 ? c1[0] / c2[1] : NaN;
      if (!Number.isInteger(g)) throw new ConversionError(`cannot infer the groups of ${p}.conv2 from its shape ${shapeStr(c2)}`);
      if (s === n.first) groups = g;
      else if (g !== groups) throw new ConversionError(`groups differ between stages (${groups} in ${n.stage(n.first)}, ${g} in ${n.stage(s)})`);
    } else {
      const c1 = need(`${p}.conv1.weight`, 4);
      widths.push(c1[0]);
      bottleneckWidths.push(c1[0]);
    }
  }
  if (layers.length === 0) throw new ConversionError(`cannot infer the architecture: no '${n.block(n.first, 0)}.conv1.weight'`);
  const fc = need(`${n.fc}.weight`, n.fcRank);
  const stemOut = deep ? need('conv1.6.weight', 4) : stem;
  const first = need(`${n.block(n.first, 0)}.conv1.weight`, 4)[0];
  const p0 = n.block(n.first, 0);
  const attnShape = shapes.get(`${p0}.se.fc1.weight`) ?? shapes.get(`${p0}.se.conv.weight`);
  const strided = layers.length > 1 ? shapes.get(`${n.block(n.first + 1, 0)}.downsample.0.weight`) : undefined;
  return { block, layers, widths, groups, bottleneckWidths, stemChannels: stemOut[0], stemKernel: stem[2], inputChannels: stem[1],
    numClasses: fc[0], convBias: shapes.has(`${n.stem}.bias`), seReduction: timm ? null : inferSeReduction(shapes),
    deepStem: deep ? [stem[0], need('conv1.3.weight', 4)[0]] : null,
    stemConvPool: shapes.has('maxpool.0.weight'),
    avgDown: [...shapes.keys()].some((k) => /^layer\d+\.0\.downsample\.2\.weight$/.test(k)),
    downsampleKernel: strided?.length === 4 ? strided[2] : 1,
    reduceFirst: first > 0 && bottleneckWidths[0] % first === 0 ? bottleneckWidths[0] / first : NaN,
    attn: shapes.has(`${p0}.se.fc1.weight`) ? 'se' : shapes.has(`${p0}.se.conv.weight`) ? 'eca' : null,
    attnSize: attnShape ? attnShape.at(-1) === 1 && attnShape.length === 4 ? attnShape[0] : attnShape.at(-1)! : null };
}

/** The squeeze-excitation reduction of canonical `shapes`: layer1.0's conv3 outputs / se_module.fc1 outputs; null without SE. */
function inferSeReduction(shapes: Shapes): number | null {
  const fc1 = shapes.get('layer1.0.se_module.fc1.weight');
  if (!fc1) return null;
  const outCh = shapes.get('layer1.0.conv3.weight')?.[0];
  const r = outCh !== undefined && fc1[0] > 0 ? outCh / fc1[0] : NaN;
  if (!Number.isInteger(r)) throw new ConversionError(`cannot infer the squeeze-excitation reduction from layer1.0.se_module.fc1 ${shapeStr(fc1)}`);
  return r;
}

/** The fields of `c` that differ from the inferred shape of the weights, as readable strings. */
function differences(inf: InferredConfig, c: ResNetConfig): string[] {
  const d: string[] = [];
  const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (inf.block !== c.block) d.push(`block ${inf.block} vs ${c.block}`);
  if (!eq(inf.layers, c.layers)) d.push(`blocks per stage [${inf.layers.join(', ')}] vs [${c.layers.join(', ')}]`);
  if (!eq(inf.widths, c.widths.slice(0, c.layers.length))) d.push(`widths [${inf.widths.join(', ')}] vs [${c.widths.join(', ')}]`);
  if (isBottleneck(c.block) && isBottleneck(inf.block)) {
    if (inf.groups !== c.groups) d.push(`groups ${inf.groups} vs ${c.groups}`);
    const bw = c.widths.slice(0, c.layers.length).map((p) => bottleneckWidth(c, p));
    if (!eq(inf.bottleneckWidths, bw)) d.push(`bottleneck widths [${inf.bottleneckWidths.join(', ')}] vs [${bw.join(', ')}]`);
  }
  if (inf.stemChannels !== c.stemChannels) d.push(`stem channels ${inf.stemChannels} vs ${c.stemChannels}`);
  if (inf.stemKernel !== c.stem.kernel) d.push(`stem kernel ${inf.stemKernel} vs ${c.stem.kernel}`);
  if (inf.inputChannels !== c.inputChannels) d.push(`input channels ${inf.inputChannels} vs ${c.inputChannels}`);
  if (inf.numClasses !== c.numClasses) d.push(`classes ${inf.numClasses} vs ${c.numClasses}`);
  if (inf.seReduction !== (c.se?.reduction ?? null)) d.push(`squeeze-excitation reduction ${inf.seReduction ?? 'none'} vs ${c.se?.reduction ?? 'none'}`);
  if (inf.convBias !== c.convBias) d.push(`conv bias ${inf.convBias ? 'yes' : 'no'} vs ${c.convBias ? 'yes' : 'no'}`);
  if (!eq(inf.deepStem, c.deepStem ?? null)) d.push(`deep stem ${inf.deepStem ? `[${inf.deepStem}]` : 'none'} vs ${c.deepStem ? `[${c.deepStem}]` : 'none'}`);
  if (inf.stemConvPool !== (c.stemPool === 'conv')) d.push(`conv stem pool ${inf.stemConvPool ? 'yes' : 'no'} vs ${c.stemPool === 'conv' ? 'yes' : 'no'}`);
  if (inf.avgDown !== (c.avgDown ?? false)) d.push(`average-pool shortcut ${inf.avgDown ? 'yes' : 'no'} vs ${c.avgDown ? 'yes' : 'no'}`);
  if (c.layers.length > 1 && inf.downsampleKernel !== (c.avgDown ? 1 : c.downsampleKernel ?? 1)) {
    d.push(`shortcut kernel ${inf.downsampleKernel} vs ${c.downsampleKernel ?? 1}`);
  }
  if (isBottleneck(c.block) && inf.reduceFirst !== (c.reduceFirst ?? 1)) d.push(`conv1 width reduction ${inf.reduceFirst} vs ${c.reduceFirst ?? 1}`);
  if (inf.attn !== (c.attn?.kind ?? null)) d.push(`attention ${inf.attn ?? 'none'} vs ${c.attn?.kind ?? 'none'}`);
  else if (c.attn && inf.attnSize !== null) {
    const K = isBottleneck(c.block) ? c.widths[0] * 4 : c.widths[0];
    const want = c.attn.kind === 'se' ? seHidden(K, c.attn.ratio) : ecaKernelSize(K);
    if (inf.attnSize !== want) d.push(`attention ${c.attn.kind === 'se' ? 'fc1 outputs' : 'kernel'} ${inf.attnSize} vs ${want}`);
  }
  return d;
}

export function describeInferred(inf: InferredConfig): string {
  const list = (a: number[]) => `[${a.join(', ')}]`;
  const preAct = isPreAct(inf.block) ? 'pre-activation ' : '';
  const kind = !isBottleneck(inf.block) ? `${preAct}basic-block ResNet`
    : inf.groups > 1 ? `${preAct}bottleneck ResNeXt (groups ${inf.groups}, bottleneck widths ${list(inf.bottleneckWidths)})`
    : `${preAct}bottleneck ResNet (bottleneck widths ${list(inf.bottleneckWidths)})`;
  return `${kind} with ${list(inf.layers)} blocks per stage, widths (planes) ${list(inf.widths)}, ` +
    `a ${inf.stemKernel}x${inf.stemKernel} stem of ${inf.stemChannels} channels on ${inf.inputChannels} input channels, ` +
    `${inf.numClasses} classes${inf.convBias ? ', conv biases' : ''}` +
    `${inf.seReduction !== null ? `, squeeze-excitation (reduction ${inf.seReduction})` : ''}` +
    `${inf.deepStem ? `, a deep stem [${inf.deepStem}]` : ''}${inf.stemConvPool ? ', a conv stem pool' : ''}` +
    `${inf.avgDown ? ', average-pool shortcuts' : ''}${inf.downsampleKernel !== 1 ? `, ${inf.downsampleKernel}x${inf.downsampleKernel} shortcut convs` : ''}` +
    `${inf.reduceFirst !== 1 ? `, conv1 at 1/${inf.reduceFirst} width` : ''}` +
    `${inf.attn ? `, timm's ${inf.attn} attention (${inf.attn === 'se' ? 'fc1 outputs' : 'kernel'} ${inf.attnSize})` : ''}`;
}

/**
 * Names the architecture of canonical `shapes` from ARCHITECTURES. Returns the name, or throws
 * ConversionError with the inferred shape and the closest known architecture.
 */
export function detectArchitecture(shapes: Shapes): { arch: string; inferred: InferredConfig } {
  const inferred = inferConfig(shapes);
  let best: { name: string; diff: string[] } | null = null;
  for (const [name, c] of Object.entries(ARCHITECTURES)) {
    const diff = differences(inferred, c);
    if (diff.length === 0) return { arch: name, inferred };
    if (!best || diff.length < best.diff.length) best = { name, diff };
  }
  // timm's variants (with any class count: its zoo has 11821-class heads). Names cannot show anti-aliasing
  // (its pools have no weights), so only the networks without it are detected (resnet50d, not resnetaa50d);
  // convertLoaded notes the anti-aliased ones that fit too.
  const timm = timmMatches(inferred, inferred.numClasses).filter((name) => !TIMM_ARCHITECTURES[name].aaLayer);
  if (timm.length === 1) return { arch: timm[0], inferred };
  if (timm.length > 1) throw ambiguousTimm(timm);
  throw new ConversionError(`the weights match no known architecture: they are a ${describeInferred(inferred)}` +
    (best ? `; closest is ${best.name} (differs in ${best.diff.join('; ')})` : '') +
    '. Pass --config <file.json> with a ResNetConfig for a custom model, or --arch <name> to force one.');
}

/**
 * The supported timm architectures (src/models/timm.ts) whose names and shapes `inferred` has, with `numClasses`
 * classes; not those that are ARCHITECTURES' torchvision networks under the same name (resnet50: the table's,
 * with its fine-tuned-head rule), but timm's senet154, which differs from Cadene's.
 */
function timmMatches(inferred: InferredConfig, numClasses: number): string[] {
  return Object.keys(TIMM_ARCHITECTURES).filter((name) => isSupportedTimmArchitecture(name) && !(ARCHITECTURES[name] && isTorchvisionLayout(name)) &&
    differences(inferred, timmArchConfig(name, numClasses)).length === 0);
}

/** Several timm architectures fit the names (timm's table has networks that differ only in layers without weights). */
function ambiguousTimm(names: string[]): ConversionError {
  return new ConversionError(`the weights fit several timm architectures: ${names.join(', ')}; ` +
    "pass --arch with the one in the checkpoint's config.json 'architecture'");
}

/** A named architecture: the table's (ARCHITECTURES), else timm's (timmArchConfig) with `numClasses` classes. */
function namedArchitecture(arch: string, numClasses: number | undefined): ResNetConfig {
  if (ARCHITECTURES[arch]) return getArchitecture(arch);
  if (TIMM_ARCHITECTURES[arch]) {
    try {
      return timmArchConfig(arch, numClasses ?? 1000);
    } catch (e) {
      if (e instanceof UnsupportedArchitectureError) throw new ConversionError(e.message);
      throw e;
    }
  }
  throw new ConversionError(`unknown architecture '${arch}'; known: ${Object.keys(ARCHITECTURES).join(', ')} and timm's ` +
    `(${Object.keys(TIMM_ARCHITECTURES).filter(isSupportedTimmArchitecture).join(', ')})`);
}

/**
 * The architecture of canonical `shapes` when it is a known one, or a known one with a fine-tuned
 * head (torchvision's `resnet18(num_classes=37)`): every other field matches, and the class count
 * comes from fc.weight. `fineTuned` is set in the second case. Throws detectArchitecture's error.
 */
export function detectFineTuned(shapes: Shapes): { arch: string; config: ResNetConfig; fineTuned: boolean } {
  let error: unknown;
  try {
    const { arch, inferred } = detectArchitecture(shapes);
    return ARCHITECTURES[arch] ? { arch, config: getArchitecture(arch), fineTuned: false } : timmDetected(arch, inferred.numClasses);
  } catch (e) {
    if (!(e instanceof ConversionError)) throw e;
    error = e;
  }
  const inferred = inferConfig(shapes);
  for (const [name, c] of Object.entries(ARCHITECTURES)) {
    if (differences(inferred, { ...c, numClasses: inferred.numClasses }).length === 0) {
      return { arch: name, config: { ...getArchitecture(name), name: `${name}_${inferred.numClasses}classes`, numClasses: inferred.numClasses }, fineTuned: true };
    }
  }
  throw error;
}

/** detectFineTuned's answer for a timm architecture: its config with the class count of fc.weight. */
function timmDetected(arch: string, numClasses: number): { arch: string; config: ResNetConfig; fineTuned: boolean } {
  return { arch, config: timmArchConfig(arch, numClasses), fineTuned: false };
}

/**
 * Throws ConversionError when the canonical `shapes` do not fit `plan` (tensorMismatch: every
 * missing, unexpected and mis-shaped tensor named), with what the shapes look like instead.
 */
export function checkShapes(plan: Plan, shapes: Shapes, what = `architecture '${plan.config.name}'`): void {
  const mismatch = tensorMismatch(plan, new Map([...shapes].map(([name, shape]) => [name, { shape }])));
  if (!mismatch) return;
  let hint = '';
  try {
    hint = ` The weights look like a ${describeInferred(inferConfig(shapes))}.`;
  } catch { /* the basics are missing: the lists say enough */ }
  throw new ConversionError(`the weights do not fit ${what} (${plan.weights.length} tensors expected, ${shapes.size} found): ` +
    `${mismatch.details}.${hint}`);
}

// ---- Conversion ---------------------------------------------------------------------------------

export interface ConvertProgress {
  phase: 'read' | 'write';
  /** Bytes of tensor data done and in all. */
  done: number;
  total: number;
}

export interface ConvertOptions {
  /** Force a named architecture: from ARCHITECTURES, or timm's (src/models/timm.ts; the class count from fc.weight). */
  arch?: string;
  /** A custom model (parsed with parseModelConfig or raw JSON): its name becomes the metadata `arch`. */
  config?: ModelConfigFile | unknown;
  /** Store F16 instead of F32. */
  fp16?: boolean;
  /** Overrides the metadata `source`. */
  source?: string;
  /** Class names, one per class in index order (the metadata `labels`; `--labels` in the CLI). */
  labels?: readonly string[];
  onProgress?: (p: ConvertProgress) => void;
}

export interface ConvertResult {
  /** The complete .safetensors file. */
  bytes: Uint8Array;
  arch: string;
  config: ResNetConfig;
  metadata: ModelMetadata;
  container: ContainerFormat;
  layout: Layout;
  dtype: 'F32' | 'F16';
  tensors: number;
  parameters: number;
  /** Things the user may want to know: unwrapping, dropped entries, f16 overflow. */
  notes: string[];
}

const IMAGENET_SETTINGS = { colorSpace: 'RGB', inputRange: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
/** timm's ResNetV2 weights are trained with the Inception normalisation (timm's IMAGENET_INCEPTION_MEAN / _STD). */
const TIMM_RESNETV2_SETTINGS = { colorSpace: 'RGB', inputRange: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;

/** Converts a checkpoint held in memory. Throws CheckpointError subclasses for any bad input. */
export function convertCheckpoint(input: Uint8Array, opts: ConvertOptions = {}): ConvertResult {
  const ckpt = readCheckpoint(input, { onProgress: (p) => opts.onProgress?.({ phase: 'read', ...p }) });
  return convertLoaded(ckpt, opts);
}

/** Converts an already read checkpoint (see readCheckpoint). */
export function convertLoaded(ckpt: LoadedCheckpoint, opts: ConvertOptions = {}): ConvertResult {
  if (opts.arch !== undefined && opts.config !== undefined) throw new ConversionError('give either an architecture name or a config file, not both');
  const notes: string[] = [];
  if (ckpt.unwrapped.length) notes.push(`state dict found at ${ckpt.unwrapped.join(', ')}`);
  if (ckpt.skipped.length) notes.push(`ignored non-tensor entries: ${ckpt.skipped.slice(0, 8).join(', ')}`);

  const keys = mapKeys(ckpt.tensors.keys());
  const canonical: StateDict = new Map();
  for (const [from, to] of keys.renamed) {
    if (canonical.has(to)) throw new ConversionError(`two tensors map to '${to}' (one of them is '${from}')`);
    canonical.set(to, ckpt.tensors.get(from)!);
  }
  if (keys.ignored.length) notes.push(`dropped ${keys.ignored.length} num_batches_tracked tensors`);
  const shapes = new Map<string, number[]>([...canonical].map(([n, t]) => [n, t.shape]));
  for (const n of keys.unmapped) shapes.set(n, ckpt.tensors.get(n)!.shape); // reported as unexpected

  // The architecture: forced, custom, carried by a .safetensors input, or detected.
  const inputMeta = ckpt.metadata ? decodeMetadataSafe(ckpt.metadata) : undefined;
  let config: ResNetConfig;
  let custom: ModelConfigFile | undefined;
  let what: string | undefined;
  if (opts.config !== undefined) {
    custom = parseModelConfig(opts.config);
    config = resnetPart(custom);
    what = `config '${config.name}'`;
  } else if (opts.arch !== undefined) {
    const fc = shapes.get('fc.weight');
    config = namedArchitecture(opts.arch, fc?.length === 2 ? fc[0] : undefined);
    // A timm architecture is not in the table: the file carries its config.
    if (!ARCHITECTURES[opts.arch]) custom = { ...config };
  } else if (inputMeta?.config !== undefined) {
    let raw: unknown;
    try { raw = JSON.parse(inputMeta.config); } catch { throw new ConversionError("the input's metadata 'config' is not valid JSON"); }
    custom = parseModelConfig({ ...(raw as object), labels: inputMeta.labels === 'imagenet' ? undefined : inputMeta.labels,
      mean: inputMeta.mean, std: inputMeta.std, inputRange: inputMeta.inputRange, colorSpace: inputMeta.colorSpace,
      resizeSize: inputMeta.resizeSize }, "input metadata 'config'");
    config = resnetPart(custom);
    what = `the input's config '${config.name}'`;
  } else {
    try {
      const found = detectFineTuned(shapes);
      config = found.config;
      if (!ARCHITECTURES[found.arch]) custom = { ...config }; // a timm architecture: the file carries its config
      const alike = timmMatches(inferConfig(shapes), config.numClasses).filter((n) => n !== found.arch && n !== config.name);
      if (alike.length) {
        notes.push(`the names fit ${found.arch} and also timm's ${alike.join(', ')} (anti-aliasing has no weights): ` +
          `converted as ${found.arch}; pass --arch if the checkpoint's config.json names another`);
      }
      if (found.fineTuned) {
        // A table architecture with another class count: recorded as a custom config, since the
        // table entry (1000 classes) would not fit the file.
        custom = { ...config };
        what = `${found.arch} with ${config.numClasses} classes`;
        notes.push(`a ${found.arch} with a fine-tuned head of ${config.numClasses} classes (from fc.weight): saved as config '${config.name}'`);
      }
    } catch (e) {
      if (e instanceof ConversionError && keys.unmapped.length) {
        throw new ConversionError(`${e.message} Names not understood in the ${keys.layout} layout: ` +
          `${keys.unmapped.slice(0, 8).join(', ')}${keys.unmapped.length > 8 ? `, ... (${keys.unmapped.length - 8} more)` : ''}.`);
      }
      throw e;
    }
  }
  if (opts.labels !== undefined) {
    if (opts.labels.length !== config.numClasses) {
      throw new ConversionError(`${opts.labels.length} labels given for ${config.numClasses} classes`);
    }
    if (opts.labels.some((l) => typeof l !== 'string')) throw new ConversionError('labels must be strings');
  }
  const plan = buildPlan(config);
  checkShapes(plan, shapes, what); // also reports names the layout did not understand

  const layoutSource = keys.layout.startsWith('cadene') ? 'cadene' : keys.layout.startsWith('timm') ? 'timm' : 'torchvision';
  const settings = keys.layout === 'timm-resnetv2' ? TIMM_RESNETV2_SETTINGS : IMAGENET_SETTINGS;
  const source = opts.source ?? custom?.source ?? inputMeta?.source ?? `${layoutSource}:${config.name}`;
  const labels = opts.labels ? [...opts.labels] : custom?.labels ?? (config.numClasses === 1000 ? 'imagenet' as const
    : Array.from({ length: config.numClasses }, (_, i) => `class ${i}`));
  if (!opts.labels && !custom?.labels && config.numClasses !== 1000) notes.push(`no labels given: classes are named 'class 0' .. 'class ${config.numClasses - 1}'`);
  const metadata: ModelMetadata = {
    formatVersion: FORMAT_VERSION,
    arch: config.name,
    config: custom ? JSON.stringify(resnetPart(custom)) : undefined,
    source,
    inputSize: config.inputSize,
    inputChannels: config.inputChannels,
    resizeSize: custom?.resizeSize ?? defaultResizeSize(config.inputSize),
    colorSpace: custom?.colorSpace ?? (config.inputChannels === 1 ? 'grey' : settings.colorSpace),
    inputRange: custom?.inputRange ?? [...settings.inputRange],
    mean: custom?.mean ?? [...settings.mean],
    std: custom?.std ?? [...settings.std],
    labels,
  };

  const out = plan.weights.map((s) => ({ name: s.name, shape: s.shape, data: canonical.get(s.name)!.data }));
  const parameters = out.reduce((a, t) => a + t.data.length, 0);
  const dtype = opts.fp16 ? 'F16' : 'F32';
  if (opts.fp16) {
    let overflow = 0;
    for (const t of out) for (const v of t.data) if (Math.abs(v) > 65504) overflow++;
    if (overflow) notes.push(`${overflow} values exceed the f16 range and become infinite`);
  }
  const total = parameters * (opts.fp16 ? 2 : 4);
  opts.onProgress?.({ phase: 'write', done: 0, total });
  const bytes = writeSafetensors(out, encodeMetadata(metadata), dtype);
  opts.onProgress?.({ phase: 'write', done: total, total });
  return { bytes, arch: config.name, config, metadata, container: ckpt.format, layout: keys.layout, dtype, tensors: out.length,
    parameters, notes };
}

function decodeMetadataSafe(raw: Record<string, string>): ModelMetadata {
  try {
    return decodeMetadata(raw);
  } catch (e) {
    throw new ConversionError(`the input's metadata is invalid: ${(e as Error).message}`);
  }
}
