// One builder for ResNet and ResNeXt: a ResNetConfig -> a flat, topologically ordered plan of steps
// over a table of tensors. The plan knows nothing about GPUs or batch size: tensor shapes are per
// sample, (H, W, C) for activations, and the runner (src/graph/) instantiates the ops for a batch N.
//
// Step and tensor names mirror PyTorch's module names (`layer3.1.conv2`, `layer2.0.downsample.0`);
// a step's output tensor has the step's name. The weights a step reads are named by their
// canonical prefix (`layer3.1.conv2` -> `layer3.1.conv2.weight`, BN `layer3.1.bn2.*`).
//
// The plan is the one description of a network: the weights a checkpoint must hold (`weights`,
// expectedTensors), the parameter count and the validity of a config (configProblems) all derive
// from it.
//
//   [preprocess | layout] -> stem -> [stem pool] -> layer1..L blocks -> avgpool -> [fc -> [softmax -> topk]]
//
// buildPlan assembles the network from small pieces, one per concern, in the spirit of timm's ResNet
// and make_blocks: inputPiece, stemPiece (+ stemPoolPiece), stagePiece, residualBlock / preActBlock,
// stridedConv (anti-aliasing), downsamplePiece, blockEnd (+ attentionPiece), headPiece. A variant is a
// config field read by one piece.
//
// Stem: conv1 7x7/2 +bn1+relu, or timm's deep stem conv1.0 3x3/2 +conv1.1+relu -> conv1.3 +conv1.4+relu
//   -> conv1.6 +bn1+relu; then maxpool (MaxPool2d), timm's AvgPool2d(2) `maxpool` (anti-aliased), or
//   ResNet-RS's maxpool.0 3x3/2 conv +maxpool.1+relu.
//
// Bottleneck block (torchvision / Cadene ResNeXt: stride on conv2; fbresnet: stride on conv1):
//   conv1 1x1 +bn+relu -> conv2 3x3 (groups G) +bn+relu -> [downsample.0 1x1 +bn on the block
//   input] -> conv3 1x1 +bn, + residual (block input or downsample), relu: fused in conv3's store.
// Basic block: conv1 3x3 (stride) +bn+relu -> [downsample] -> conv2 3x3 +bn + residual + relu.
// timm's variants of both: conv1's width divided by reduceFirst; with antiAlias the strided 3x3 conv runs
//   at stride 1 and `aa` (AvgPool2d(stride)) follows; the shortcut's conv is kxk where it strides
//   (downsampleKernel), or with avgDown downsample.0 AvgPool2d(2, stride, ceil_mode, count_include_pad
//   False) -> downsample.1 1x1 conv + downsample.2 BN.
// Squeeze-excitation bottleneck (config.se, Cadene's SENet): conv3 1x1 +bn stores without epilogue
//   -> se_module (per image: mean over H x W, fc1 + relu, fc2 + sigmoid: the channel scales s)
//   -> the block step `layerL.B`: relu(conv3 * s + residual), elementwise. timm's attention (config.attn,
//   after the last conv + BN of bottleneck and basic blocks alike) is the same with `se` (SEModule:
//   se.fc1 / se.fc2) or `se` as an 'eca' step (EcaModule: se.conv) for the scales.
//
// Pre-activation blocks (timm's ResNetV2 with BatchNorm, block 'preact-*') use timm's names: stem.conv
// (no BN: the first block's norm1 normalises its output), stem.pool, stages.S.blocks.B.{norm1, conv1,
// norm2, conv2, norm3, conv3, downsample.conv}, the final norm, head.global_pool and head.fc (a 1x1
// conv). norm1 (BN + ReLU) becomes a prologue of the convs that read the pre-activated block input
// (conv1 and downsample.conv); norm2 / norm3 fold into conv1 / conv2 as usual; the last conv adds the
// shortcut with no ReLU after it ('residual'); the final norm is a prologue of the global pool.
//   bottleneck: [downsample.conv 1x1 (stride) on norm1(x)] -> conv1 1x1 on norm1(x) +norm2+relu ->
//   conv2 3x3 (stride) +norm3+relu -> conv3 1x1 + shortcut, where the shortcut is downsample.conv's
//   output or the raw block input x. timm gives every stage's first bottleneck a downsample; a basic
//   block has one only where the stride or the channel count changes.

import { windowOutputSize } from '../ops/common.js';
import { BOTTLENECK_EXPANSION, bottleneckWidth, CONFIG_KEYS, ecaKernelSize, isBottleneck, isPreAct, OPTIONAL_CONFIG_KEYS, seHidden,
  type ResNetConfig } from './config.js';

/** Per-sample activation shape, NHWC without N: [H, W, C]. Logits and probabilities: [K]. */
export type SampleShape = number[];

export interface PlanTensor {
  name: string;
  /**
   * Per-sample shape: [H, W, C] for NHWC activations, [C, H, W] for the NCHW input, [K] for
   * vectors, [2, k] for top-k (k f32 probabilities, then k u32 indices).
   */
  shape: SampleShape;
  /**
   * 'input': written from outside the plan (the NCHW upload or the image); 'output': read back
   * after the run; 'activation': produced and consumed inside one run (buffers reused by liveness).
   */
  role: 'input' | 'activation' | 'output';
}

interface StepBase {
  /** PyTorch module name and the label of its GPU objects; the output tensor has the same name except
   *  for the input steps (layout, preprocess), which write 'input'. */
  name: string;
  inputs: string[];
  output: string;
}

export interface ConvStep extends StepBase {
  kind: 'conv';
  /** inputs[0]: (H, W, C); inputs[1] (residual-relu and residual only): the residual, (P, Q, K). */
  H: number; W: number; C: number; K: number; R: number; S: number;
  stride: number; pad: number; groups: number;
  /** 'residual': conv + bias + residual with no ReLU after it (pre-activation blocks). */
  epilogue: 'none' | 'relu' | 'residual-relu' | 'residual';
  /** Weight prefix: `${conv}.weight` (K, C/G, R, S) and, with convBias, `${conv}.bias` (K). */
  conv: string;
  /** BatchNorm after the conv (`.weight/.bias/.running_mean/.running_var`, each (K)), folded at load; null for none. */
  bn: string | null;
  /**
   * BatchNorm + ReLU applied to the conv's input (each vector (C)): the pre-activation of a
   * 'preact-*' block's norm1, a prologue of the kernel's input loads. Null for none.
   */
  preNorm: string | null;
  convBias: boolean;
}

export interface MaxPoolStep extends StepBase {
  kind: 'maxpool';
  H: number; W: number; C: number;
  kernel: number; stride: number; pad: number; ceil: boolean;
}

/**
 * AvgPool2d with a spatial output (PyTorch's semantics): timm's anti-aliasing pool `aa` and anti-aliased
 * stem pool (kernel = stride, count_include_pad), and the avg_down shortcut's pool (kernel 2, ceil_mode,
 * count_include_pad False).
 */
export interface WindowAvgPoolStep extends StepBase {
  kind: 'avgpool2d';
  H: number; W: number; C: number;
  kernel: number; stride: number; pad: number; ceil: boolean; countIncludePad: boolean;
}

export interface AvgPoolStep extends StepBase {
  kind: 'avgpool';
  H: number; W: number; C: number;
  /** 'global': mean over H x W; a number: a fixed kernel x kernel window with stride 1, no padding. */
  window: 'global' | number;
  /** BatchNorm + ReLU applied to the input before pooling (the final `norm` of 'preact-*' networks), or null. */
  norm: string | null;
}

export interface LinearStep extends StepBase {
  kind: 'linear';
  /** in features C, out features K; weight `${weights}.weight` (K, C), or (K, C, 1, 1) with conv1x1, bias (K). */
  C: number; K: number;
  weights: string;
  /** The weight is stored as a 1x1 conv's (timm's head.fc of ResNetV2): same values, shape (K, C, 1, 1). */
  conv1x1: boolean;
}

/** RGBA8 image -> normalised NHWC input, one dispatch per image (batch slot). */
export interface PreprocessStep extends StepBase {
  kind: 'preprocess';
  size: number; channels: number;
}

/** NCHW float input -> NHWC. */
export interface LayoutStep extends StepBase {
  kind: 'layout';
  H: number; W: number; C: number;
}

export interface SoftmaxStep extends StepBase {
  kind: 'softmax';
  K: number;
}

export interface TopKStep extends StepBase {
  kind: 'topk';
  K: number; k: number;
}

/** Squeeze-excitation: conv3's output (H, W, K) -> channel scales (K) = sigmoid(fc2(relu(fc1(mean over H x W)))). */
export interface SqueezeExciteStep extends StepBase {
  kind: 'squeeze-excite';
  H: number; W: number; K: number;
  /** fc1's outputs: K / reduction. */
  hidden: number;
  /** Module prefix: `${se}.fc1.weight` (hidden, K, 1, 1), `.fc1.bias` (hidden), `.fc2.weight` (K, hidden, 1, 1), `.fc2.bias` (K). */
  se: string;
}

/** Efficient channel attention (timm's EcaModule): the block's last conv output (H, W, K) -> channel scales (K). */
export interface EcaStep extends StepBase {
  kind: 'eca';
  H: number; W: number; K: number;
  /** Taps of the 1-D conv across channels (odd). */
  kernel: number;
  /** Module prefix: `${eca}.conv.weight` (1, 1, kernel). */
  eca: string;
}

/** The SE block's store: inputs [conv3 (H, W, K), scales (K), residual (H, W, K)] -> relu(conv3 * scales + residual). */
export interface ScaleResidualStep extends StepBase {
  kind: 'scale-residual';
  H: number; W: number; K: number;
}

export type Step = PreprocessStep | LayoutStep | ConvStep | MaxPoolStep | WindowAvgPoolStep | AvgPoolStep | LinearStep
  | SqueezeExciteStep | EcaStep | ScaleResidualStep | SoftmaxStep | TopKStep;

/** A step whose own tensors are listed in Plan.weights (stepWeights). */
export type WeightedStep = ConvStep | LinearStep | SqueezeExciteStep | EcaStep;

/**
 * Whether step `s` reads weights on the GPU (packed and uploaded once at load): convs, linear,
 * squeeze-excite, and an average pool with a norm prologue (a pre-activation network's final norm).
 */
export function hasWeights(s: Step): boolean {
  return s.kind === 'conv' || s.kind === 'linear' || s.kind === 'squeeze-excite' || s.kind === 'eca' || (s.kind === 'avgpool' && s.norm !== null);
}

/**
 * A weight tensor of the network: its canonical name (torchvision's state-dict name: conv1, bn1,
 * layerL.B.conv1..3, bn1..3, layerL.B.downsample.0 (1x1 conv) / .1 (BN), fc; timm's for pre-activation
 * blocks: stem.conv, stages.S.blocks.B.norm1..3 / conv1..3 / downsample.conv, norm, head.fc) and PyTorch
 * shape: conv (K, C/G, R, S), its bias (fbresnet152) and each BN vector (K or C), fc (K, C) or as a
 * 1x1 conv (K, C, 1, 1), and (K). A
 * checkpoint may store it in any float dtype the safetensors reader decodes (F32, F16, BF16, F64).
 */
export interface TensorSpec {
  name: string;
  shape: number[];
  /** false for BatchNorm running statistics: stored with the weights but not learned (PyTorch's buffers). */
  learnable: boolean;
}

export interface Plan {
  config: ResNetConfig;
  steps: Step[];
  tensors: Map<string, PlanTensor>;
  /** Every weight tensor the steps read, in torchvision's state-dict order (timm's for pre-activation blocks). */
  weights: TensorSpec[];
  /** The tensor the first step reads (NCHW floats or the image), and the one read back. */
  input: string;
  output: string;
  /** Learnable parameters: the elements of the learnable `weights` (conv, BN affine, fc). */
  params: number;
  /** Multiply-adds x 2 per sample of the conv and fc steps. */
  flops: number;
}

export interface PlanOptions {
  /**
   * How the input arrives: 'nchw' floats (converted by a layout step), 'image' (an RGBA8 image,
   * resized and normalised by a preprocess step), or 'nhwc' (already in the first conv's layout).
   */
  input?: 'nchw' | 'image' | 'nhwc';
  /**
   * 'logits' (default); 'topk': softmax then the k best (probability, index) pairs; 'features': the
   * plan ends at the global average pool's output, (C) per sample (an embedding; no fc, so its
   * weights, params and FLOPs leave fc out).
   */
  head?: 'logits' | 'topk' | 'features';
  /** k for head 'topk'. */
  topK?: number;
}

export class PlanError extends Error {
  override name = 'PlanError';
}

/**
 * Every reason `c` describes no network of this family; [] for a valid ResNetConfig. Safe on any
 * value (a parsed JSON file or metadata). The one config validator: buildPlan, and so loadModel,
 * random weights and the converter's --config, all check a config with it.
 */
export function configProblems(c: unknown): string[] {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return [`a config must be an object, got ${show(c)}`];
  const x = c as Record<string, unknown>;
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => { if (!ok) problems.push(msg); };
  const posInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  const nonNegInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const has = (k: keyof ResNetConfig) => x[k] !== undefined;
  /** The fields of an object-valued field `k`, or null (and a problem) when it is not an object. */
  const record = (k: keyof ResNetConfig, shape: string): Record<string, unknown> | null => {
    const v = x[k];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    problems.push(`${k} must be ${shape}, got ${show(v)}`);
    return null;
  };

  for (const k of CONFIG_KEYS) check(has(k) || OPTIONAL_CONFIG_KEYS.has(k), `missing field '${k}'`);
  if (has('name')) check(typeof x.name === 'string' && x.name.length > 0, `name must be a non-empty string, got ${show(x.name)}`);
  if (has('block')) {
    check(['basic', 'bottleneck', 'preact-basic', 'preact-bottleneck'].includes(x.block as string),
      `block must be 'basic', 'bottleneck', 'preact-basic' or 'preact-bottleneck', got ${show(x.block)}`);
  }
  const layers = Array.isArray(x.layers) ? x.layers as unknown[] : null;
  if (has('layers')) {
    if (!layers || layers.length === 0) problems.push(`layers must list the blocks of at least one stage, got ${show(x.layers)}`);
    else layers.forEach((n, i) => check(posInt(n), `layers[${i}] must be a positive integer, got ${show(n)}`));
  }
  const widths = Array.isArray(x.widths) ? x.widths as unknown[] : null;
  if (has('widths')) {
    if (!widths) problems.push(`widths must be an array, got ${show(x.widths)}`);
    else {
      if (layers && widths.length !== layers.length) {
        problems.push(`widths (${show(widths)}) must give one width per stage (${layers.length} stages)`);
      }
      widths.forEach((n, i) => check(posInt(n), `widths[${i}] must be a positive integer, got ${show(n)}`));
    }
  }
  for (const k of ['groups', 'widthPerGroup', 'stemChannels', 'inputChannels', 'inputSize', 'numClasses'] as const) {
    if (has(k)) check(posInt(x[k]), `${k} must be a positive integer, got ${show(x[k])}`);
  }
  if (has('strideOn')) check(x.strideOn === 'conv1' || x.strideOn === 'conv2', `strideOn must be 'conv1' or 'conv2', got ${show(x.strideOn)}`);
  const stem = has('stem') ? record('stem', '{ kernel, stride, pad }') : null;
  if (stem) {
    check(posInt(stem.kernel), `stem.kernel must be a positive integer, got ${show(stem.kernel)}`);
    check(posInt(stem.stride), `stem.stride must be a positive integer, got ${show(stem.stride)}`);
    check(nonNegInt(stem.pad), `stem.pad must be a non-negative integer, got ${show(stem.pad)}`);
  }
  const maxpool = has('maxpool') && x.maxpool !== null ? record('maxpool', 'null or { kernel, stride, pad, ceil }') : null;
  if (maxpool) {
    check(posInt(maxpool.kernel), `maxpool.kernel must be a positive integer, got ${show(maxpool.kernel)}`);
    check(posInt(maxpool.stride), `maxpool.stride must be a positive integer, got ${show(maxpool.stride)}`);
    check(nonNegInt(maxpool.pad) && (maxpool.pad as number) <= (maxpool.kernel as number) / 2,
      `maxpool.pad must be between 0 and half the kernel, got ${show(maxpool.pad)}`);
    check(typeof maxpool.ceil === 'boolean', `maxpool.ceil must be a boolean, got ${show(maxpool.ceil)}`);
  }
  if (has('convBias')) check(typeof x.convBias === 'boolean', `convBias must be a boolean, got ${show(x.convBias)}`);
  const avgpool = has('avgpool') && x.avgpool !== 'global' ? record('avgpool', "'global' or { kernel }") : null;
  if (avgpool) check(posInt(avgpool.kernel), `avgpool.kernel must be a positive integer, got ${show(avgpool.kernel)}`);
  if (has('bnEps')) {
    check(typeof x.bnEps === 'number' && Number.isFinite(x.bnEps) && x.bnEps > 0, `bnEps must be a positive number, got ${show(x.bnEps)}`);
  }
  if (has('se')) problems.push(...seProblems(x));
  problems.push(...timmProblems(x));
  if ((x.block === 'basic' || x.block === 'preact-basic') && (x.groups !== 1 || x.widthPerGroup !== 64)) {
    problems.push(`basic blocks support only groups 1 and widthPerGroup 64 (torchvision's rule), got ${show(x.groups)} and ${show(x.widthPerGroup)}`);
  }
  if (isBottleneck(x.block as ResNetConfig['block']) && posInt(x.groups) && posInt(x.widthPerGroup) && widths) {
    widths.forEach((planes, i) => {
      if (posInt(planes) && bottleneckWidth(x as unknown as ResNetConfig, planes as number) === 0) {
        problems.push(`stage ${i + 1}: bottleneck width floor(${planes} * ${x.widthPerGroup} / 64) * ${x.groups} is 0`);
      }
    });
  }
  if (isPreAct(x.block as ResNetConfig['block'])) problems.push(...preActProblems(x as Partial<ResNetConfig>));
  return problems;
}

/** What a pre-activation config needs beyond the rest: the stride on the 3x3 conv, and the channel
 *  counts that the norm1 prologue reads 4 at a time (conv2d.wgsl's PRE_ACT needs C/G % 4 == 0). */
function preActProblems(x: Partial<ResNetConfig>): string[] {
  const problems: string[] = [];
  if (x.strideOn !== undefined && x.strideOn !== 'conv2') problems.push(`pre-activation blocks stride on conv2, got strideOn ${show(x.strideOn)}`);
  const channels = [x.stemChannels, ...(x.block === 'preact-basic' && Array.isArray(x.widths) ? x.widths : [])];
  for (const ch of channels) {
    if (Number.isSafeInteger(ch) && (ch as number) % 4 !== 0) {
      problems.push(`pre-activation blocks need stemChannels and basic widths that are multiples of 4, got ${show(ch)}`);
    }
  }
  return problems;
}

/** Problems of a config's `se` field (present): a positive reduction leaving fc1 at least one channel, bottlenecks only. */
function seProblems(x: Record<string, unknown>): string[] {
  const se = x.se;
  if (typeof se !== 'object' || se === null || Array.isArray(se)) return [`se must be absent or { reduction }, got ${show(se)}`];
  const r = (se as Record<string, unknown>).reduction;
  if (!Number.isSafeInteger(r) || (r as number) < 1) return [`se.reduction must be a positive integer, got ${show(r)}`];
  if (x.block !== 'bottleneck') return [`se (squeeze-excitation) needs bottleneck blocks, got block ${show(x.block)}`];
  const widths = Array.isArray(x.widths) ? x.widths as unknown[] : [];
  return widths.flatMap((planes, i) => typeof planes === 'number' && Math.floor(planes * BOTTLENECK_EXPANSION / (r as number)) < 1
    ? [`stage ${i + 1}: se fc1 would have floor(${planes * BOTTLENECK_EXPANSION} / ${r}) = 0 channels`] : []);
}

/** Problems of timm's variant fields (deepStem, stemPool, avgDown, downsampleKernel, reduceFirst, attn, antiAlias), where present. */
function timmProblems(x: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => { if (!ok) problems.push(msg); };
  const posInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  const present = (['deepStem', 'stemPool', 'avgDown', 'downsampleKernel', 'reduceFirst', 'attn', 'antiAlias'] as const)
    .filter((k) => x[k] !== undefined);
  if (present.length && isPreAct(x.block as ResNetConfig['block'])) {
    return [`${present.join(', ')}: not supported with pre-activation blocks, got block ${show(x.block)}`];
  }
  if (x.deepStem !== undefined) {
    check(Array.isArray(x.deepStem) && x.deepStem.length === 2 && x.deepStem.every(posInt),
      `deepStem must be two positive integers (the widths of conv1.0 and conv1.3), got ${show(x.deepStem)}`);
  }
  if (x.stemPool !== undefined) {
    check(x.stemPool === 'avg' || x.stemPool === 'conv', `stemPool must be 'avg' or 'conv', got ${show(x.stemPool)}`);
    check(x.maxpool === null, `stemPool ${show(x.stemPool)} replaces the max pool: maxpool must be null, got ${show(x.maxpool)}`);
  }
  for (const k of ['avgDown', 'antiAlias'] as const) {
    if (x[k] !== undefined) check(typeof x[k] === 'boolean', `${k} must be a boolean, got ${show(x[k])}`);
  }
  if (x.downsampleKernel !== undefined) {
    check(posInt(x.downsampleKernel) && (x.downsampleKernel as number) % 2 === 1,
      `downsampleKernel must be an odd positive integer, got ${show(x.downsampleKernel)}`);
    check(x.avgDown !== true, 'downsampleKernel and avgDown exclude each other (avg_down shortcuts use a 1x1 conv)');
  }
  if (x.reduceFirst !== undefined) {
    check(posInt(x.reduceFirst), `reduceFirst must be a positive integer, got ${show(x.reduceFirst)}`);
    if (posInt(x.reduceFirst) && Array.isArray(x.widths) && posInt(x.groups) && posInt(x.widthPerGroup)) {
      (x.widths as unknown[]).forEach((planes, i) => {
        if (!posInt(planes)) return;
        const w = isBottleneck(x.block as ResNetConfig['block']) ? bottleneckWidth(x as unknown as ResNetConfig, planes as number) : planes as number;
        const first = Math.floor(w / (x.reduceFirst as number));
        check(first >= 1 && first % (x.groups as number) === 0,
          `stage ${i + 1}: conv1's width floor(${w} / reduceFirst ${show(x.reduceFirst)}) = ${first} must be a positive multiple of groups ${show(x.groups)}`);
      });
    }
  }
  if (x.attn !== undefined) {
    const a = x.attn as Record<string, unknown> | null;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || (a.kind !== 'se' && a.kind !== 'eca')) {
      problems.push(`attn must be { kind: 'se', ratio } or { kind: 'eca' }, got ${show(x.attn)}`);
    } else if (a.kind === 'se') {
      check(typeof a.ratio === 'number' && a.ratio > 0 && a.ratio <= 1, `attn.ratio must be a number in (0, 1], got ${show(a.ratio)}`);
    }
    check(x.se === undefined, "attn (timm's se) and se (Cadene's se_module) exclude each other");
  }
  if (x.attn !== undefined && Array.isArray(x.widths)) {
    (x.widths as unknown[]).forEach((planes, i) => {
      const K = posInt(planes) ? blockOutChannels(x as unknown as ResNetConfig, planes as number) : 4;
      check(K % 4 === 0, `stage ${i + 1}: channel attention needs block outputs that are multiples of 4, got ${K}`);
    });
  }
  return problems;
}

function show(v: unknown): string {
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

/** Expands `config` into the flat plan. Throws PlanError on a config no network can be built from. */
export function buildPlan(config: ResNetConfig, options: PlanOptions = {}): Plan {
  const c = config;
  const problems = configProblems(c);
  if (problems.length) throw new PlanError(`config${typeof c?.name === 'string' ? ` '${c.name}'` : ''}: ${problems.join('; ')}`);
  const b = new PlanBuilder(c);
  const planInput = inputPiece(b, options.input ?? 'nchw');
  let x = stemPiece(b, 'input');
  let inplanes = c.stemChannels;
  c.layers.forEach((blocks, s) => {
    x = stagePiece(b, x, s, blocks, inplanes);
    inplanes = blockOutChannels(c, c.widths[s]);
  });
  const out = headPiece(b, x, options);
  b.tensors.get(out)!.role = 'output';
  const params = b.weights.filter((t) => t.learnable).reduce((n, t) => n + t.shape.reduce((p, q) => p * q, 1), 0);
  return { config: c, steps: b.steps, tensors: b.tensors, weights: b.weights, input: planInput, output: out, params, flops: b.flops };
}

// ---- The builder's pieces, in the spirit of timm's ResNet / make_blocks: each variant is one piece. ----

/** The plan under construction: steps in run order, tensors, weights in state-dict order, FLOPs. */
class PlanBuilder {
  readonly steps: Step[] = [];
  readonly tensors = new Map<string, PlanTensor>();
  readonly weights: TensorSpec[] = [];
  flops = 0;

  constructor(readonly c: ResNetConfig) {}

  tensor(name: string, shape: SampleShape, role: PlanTensor['role'] = 'activation'): string {
    if (this.tensors.has(name)) throw new PlanError(`tensor '${name}' defined twice`);
    this.tensors.set(name, { name, shape, role });
    return name;
  }

  shape(name: string): SampleShape {
    return this.tensors.get(name)!.shape;
  }

  /** Appends the weights of `weighted` to `weights`, in the order given. */
  weigh(...weighted: (WeightedStep | undefined)[]): void {
    for (const s of weighted) if (s) this.weights.push(...stepWeights(s));
  }

  /** A conv step `name` on `x` (+ BN `bn` folded, the epilogue, a residual added, a pre-activation prologue). */
  conv(name: string, x: string, K: number, R: number, stride: number, pad: number, groups: number,
    bn: string | null, epilogue: ConvStep['epilogue'], residual?: string, preNorm: string | null = null): ConvStep {
    const c = this.c;
    const [h, w, ch] = this.shape(x);
    const P = windowOutputSize(h, R, stride, pad);
    const Q = windowOutputSize(w, R, stride, pad);
    if (P < 1 || Q < 1) {
      throw new PlanError(`config '${c.name}': ${name} (${R}x${R}, stride ${stride}, pad ${pad}) gets a ${h}x${w} input ` +
        `and would produce no output; inputSize ${c.inputSize} is too small for this network`);
    }
    if (residual) {
      const rs = this.shape(residual);
      if (rs[0] !== P || rs[1] !== Q || rs[2] !== K) {
        throw new PlanError(`config '${c.name}': ${name}'s residual ${residual} is [${rs}] but the conv gives [${P}, ${Q}, ${K}]`);
      }
    }
    const step: ConvStep = { kind: 'conv', name, inputs: residual ? [x, residual] : [x], output: name, H: h, W: w, C: ch, K, R, S: R,
      stride, pad, groups, epilogue, conv: name, bn, preNorm, convBias: c.convBias };
    this.steps.push(step);
    this.flops += 2 * P * Q * K * R * R * (ch / groups);
    this.tensor(name, [P, Q, K]);
    return step;
  }

  /** A max or average pool `name` on `x` with a spatial output (PyTorch's MaxPool2d / AvgPool2d). */
  pool(name: string, x: string, mode: 'max' | 'avg', kernel: number, stride: number, pad: number, ceil: boolean,
    countIncludePad = true): string {
    const [H, W, C] = this.shape(x);
    const P = windowOutputSize(H, kernel, stride, pad, ceil);
    const Q = windowOutputSize(W, kernel, stride, pad, ceil);
    if (P < 1 || Q < 1) throw new PlanError(`config '${this.c.name}': ${name} gets a ${H}x${W} map and would produce no output`);
    this.steps.push(mode === 'max'
      ? { kind: 'maxpool', name, inputs: [x], output: name, H, W, C, kernel, stride, pad, ceil }
      : { kind: 'avgpool2d', name, inputs: [x], output: name, H, W, C, kernel, stride, pad, ceil, countIncludePad });
    return this.tensor(name, [P, Q, C]);
  }
}

/** The plan's input and the step that makes 'input' (H, W, C) from it; returns the plan's input tensor. */
function inputPiece(b: PlanBuilder, mode: NonNullable<PlanOptions['input']>): string {
  const S0 = b.c.inputSize;
  const C0 = b.c.inputChannels;
  if (mode === 'nhwc') return b.tensor('input', [S0, S0, C0], 'input');
  if (mode === 'nchw') {
    const planInput = b.tensor('input.nchw', [C0, S0, S0], 'input');
    b.tensor('input', [S0, S0, C0]);
    b.steps.push({ kind: 'layout', name: 'layout', inputs: [planInput], output: 'input', H: S0, W: S0, C: C0 });
    return planInput;
  }
  // The image is not a plan tensor of fixed shape: its size is known per call.
  const planInput = b.tensor('image', [0], 'input');
  b.tensor('input', [S0, S0, C0]);
  b.steps.push({ kind: 'preprocess', name: 'preprocess', inputs: [planInput], output: 'input', size: S0, channels: C0 });
  return planInput;
}

/**
 * The stem: conv1 + bn1 + relu, timm's deep stem (conv1.0 .. conv1.6 + bn1), or a pre-activation
 * network's stem.conv (no BN: the first block's norm1 follows the pool); then the stem pool.
 */
function stemPiece(b: PlanBuilder, x: string): string {
  const c = b.c;
  const { kernel, stride, pad } = c.stem;
  if (isPreAct(c.block)) {
    const stem = b.conv('stem.conv', x, c.stemChannels, kernel, stride, pad, 1, null, 'none');
    b.weigh(stem);
    return c.maxpool ? b.pool('stem.pool', stem.output, 'max', c.maxpool.kernel, c.maxpool.stride, c.maxpool.pad, c.maxpool.ceil) : stem.output;
  }
  let out: string;
  if (c.deepStem) {
    const [w0, w1] = c.deepStem;
    const a = b.conv('conv1.0', x, w0, kernel, stride, pad, 1, 'conv1.1', 'relu');
    const m = b.conv('conv1.3', a.output, w1, 3, 1, 1, 1, 'conv1.4', 'relu');
    const z = b.conv('conv1.6', m.output, c.stemChannels, 3, 1, 1, 1, 'bn1', 'relu');
    b.weigh(a, m, z);
    out = z.output;
  } else {
    const stem = b.conv('conv1', x, c.stemChannels, kernel, stride, pad, 1, 'bn1', 'relu');
    b.weigh(stem);
    out = stem.output;
  }
  return stemPoolPiece(b, out);
}

/** After the stem: MaxPool2d (`maxpool`), timm's AvgPool2d(2) (anti-aliased) or 3x3/2 conv + BN + ReLU (ResNet-RS). */
function stemPoolPiece(b: PlanBuilder, x: string): string {
  const c = b.c;
  if (c.stemPool === 'avg') return b.pool('maxpool', x, 'avg', 2, 2, 0, false);
  if (c.stemPool === 'conv') {
    const conv = b.conv('maxpool.0', x, c.stemChannels, 3, 2, 1, 1, 'maxpool.1', 'relu');
    b.weigh(conv);
    return conv.output;
  }
  const m = c.maxpool;
  return m ? b.pool('maxpool', x, 'max', m.kernel, m.stride, m.pad, m.ceil) : x;
}

/** Output channels of a block of stage width `planes`. */
function blockOutChannels(c: ResNetConfig, planes: number): number {
  return isBottleneck(c.block) ? planes * BOTTLENECK_EXPANSION : planes;
}

/** Stage s (`layer{s+1}`, timm's `stages.{s}` for pre-activation blocks): `blocks` blocks, the first strides (s > 0). */
function stagePiece(b: PlanBuilder, x: string, s: number, blocks: number, inplanes: number): string {
  const c = b.c;
  const planes = c.widths[s];
  const outCh = blockOutChannels(c, planes);
  for (let i = 0; i < blocks; i++) {
    const stride = i === 0 && s > 0 ? 2 : 1;
    const first = i === 0;
    if (isPreAct(c.block)) {
      const withDownsample = first && (c.block === 'preact-bottleneck' || stride !== 1 || inplanes !== outCh);
      x = preActBlock(b, `stages.${s}.blocks.${i}`, x, planes, outCh, stride, withDownsample);
    } else {
      const withDownsample = first && (stride !== 1 || inplanes !== outCh);
      x = residualBlock(b, `layer${s + 1}.${i}`, x, planes, outCh, stride, withDownsample);
    }
  }
  return x;
}

/**
 * One post-activation block (torchvision's / timm's BasicBlock and Bottleneck, Cadene's SE blocks):
 * its residual branch, the shortcut (downsamplePiece) and the block's end (blockEnd). The shortcut's
 * steps run before the branch's last conv, which adds it; its weights come after the branch's, as in
 * the state dicts.
 */
function residualBlock(b: PlanBuilder, p: string, x: string, planes: number, outCh: number, stride: number, withDownsample: boolean): string {
  const c = b.c;
  const first = Math.floor((isBottleneck(c.block) ? bottleneckWidth(c, planes) : planes) / (c.reduceFirst ?? 1));
  const branch: ConvStep[] = [];
  let y: string;
  if (c.block === 'bottleneck') {
    const w = bottleneckWidth(c, planes);
    const a = b.conv(`${p}.conv1`, x, first, 1, c.strideOn === 'conv1' ? stride : 1, 0, 1, `${p}.bn1`, 'relu');
    const m = stridedConv(b, p, 'conv2', 'bn2', a.output, w, c.strideOn === 'conv2' ? stride : 1, c.groups);
    branch.push(a, m.conv);
    y = m.output;
  } else {
    const a = stridedConv(b, p, 'conv1', 'bn1', x, first, stride, 1);
    branch.push(a.conv);
    y = a.output;
  }
  const ds = withDownsample ? downsamplePiece(b, p, x, outCh, stride) : undefined;
  const lastName = c.block === 'bottleneck' ? 'conv3' : 'conv2';
  const lastBn = c.block === 'bottleneck' ? 'bn3' : 'bn2';
  const end = blockEnd(b, p, y, outCh, `${p}.${lastName}`, `${p}.${lastBn}`, ds?.output ?? x);
  b.weigh(...branch, end.conv, end.attention, ds?.conv);
  return end.output;
}

/**
 * The block's strided 3x3 conv + BN + ReLU; with antiAlias and stride > 1 it runs at stride 1 and
 * AvgPool2d(stride) follows (`aa`, timm's aa_layer nn.AvgPool2d).
 */
function stridedConv(b: PlanBuilder, p: string, name: string, bn: string, x: string, K: number, stride: number,
  groups: number): { conv: ConvStep; output: string } {
  const aa = b.c.antiAlias === true && stride > 1;
  const conv = b.conv(`${p}.${name}`, x, K, 3, aa ? 1 : stride, 1, groups, `${p}.${bn}`, 'relu');
  return { conv, output: aa ? b.pool(`${p}.aa`, conv.output, 'avg', stride, stride, 0, false) : conv.output };
}

/**
 * The projection shortcut on the block input `x`: downsample.0 (kxk conv, stride) + downsample.1 (BN);
 * with avgDown, timm's downsample_avg: downsample.0 AvgPool2d(2, stride, ceil_mode, count_include_pad
 * False) where it strides, downsample.1 1x1 conv, downsample.2 BN.
 */
function downsamplePiece(b: PlanBuilder, p: string, x: string, outCh: number, stride: number): { conv: ConvStep; output: string } {
  const c = b.c;
  if (c.avgDown) {
    const pooled = stride > 1 ? b.pool(`${p}.downsample.0`, x, 'avg', 2, stride, 0, true, false) : x;
    const conv = b.conv(`${p}.downsample.1`, pooled, outCh, 1, 1, 0, 1, `${p}.downsample.2`, 'none');
    return { conv, output: conv.output };
  }
  const k = stride > 1 ? c.downsampleKernel ?? 1 : 1;
  const conv = b.conv(`${p}.downsample.0`, x, outCh, k, stride, Math.floor((stride - 1 + k - 1) / 2), 1, `${p}.downsample.1`, 'none');
  return { conv, output: conv.output };
}

/**
 * The block's last 1x1 / 3x3 conv + BN with the shortcut added and ReLU fused into its store; with
 * channel attention (Cadene's se_module, timm's se), the conv stores without epilogue, the attention
 * step computes per-channel scales and the block step `p` stores relu(conv * scales + shortcut).
 */
function blockEnd(b: PlanBuilder, p: string, y: string, outCh: number, conv: string, bn: string,
  shortcut: string): { conv: ConvStep; attention?: WeightedStep; output: string } {
  const c = b.c;
  const K = c.block === 'bottleneck' ? 1 : 3;
  const pad = K === 3 ? 1 : 0;
  if (!c.se && !c.attn) {
    const last = b.conv(conv, y, outCh, K, 1, pad, 1, bn, 'residual-relu', shortcut);
    return { conv: last, output: last.output };
  }
  const last = b.conv(conv, y, outCh, K, 1, pad, 1, bn, 'none');
  const attention = attentionPiece(b, p, last.output);
  const [h, w] = b.shape(last.output);
  b.steps.push({ kind: 'scale-residual', name: p, inputs: [last.output, attention.output, shortcut], output: p, H: h, W: w, K: outCh });
  b.tensor(p, [h, w, outCh]);
  return { conv: last, attention, output: p };
}

/** Channel scales (K) of `x` (H, W, K): Cadene's se_module, timm's SEModule or EcaModule (both `se`). */
function attentionPiece(b: PlanBuilder, p: string, x: string): SqueezeExciteStep | EcaStep {
  const c = b.c;
  const [H, W, K] = b.shape(x);
  let step: SqueezeExciteStep | EcaStep;
  if (c.attn?.kind === 'eca') {
    const kernel = ecaKernelSize(K);
    step = { kind: 'eca', name: `${p}.se`, inputs: [x], output: `${p}.se`, H, W, K, kernel, eca: `${p}.se` };
    b.flops += 2 * K * kernel;
  } else {
    const name = c.se ? `${p}.se_module` : `${p}.se`;
    const hidden = c.se ? Math.floor(K / c.se.reduction) : seHidden(K, (c.attn as { ratio: number }).ratio);
    step = { kind: 'squeeze-excite', name, inputs: [x], output: name, H, W, K, hidden, se: name };
    b.flops += 2 * 2 * K * hidden;
  }
  b.steps.push(step);
  b.tensor(step.name, [K]);
  return step;
}

/** One pre-activation block (timm's PreActBottleneck / PreActBasic) reading `x`; returns its output. */
function preActBlock(b: PlanBuilder, p: string, x: string, planes: number, outCh: number, stride: number, withDownsample: boolean): string {
  const c = b.c;
  const norm1 = `${p}.norm1`;
  const ds = withDownsample ? b.conv(`${p}.downsample.conv`, x, outCh, 1, stride, 0, 1, null, 'none', undefined, norm1) : undefined;
  const norm1Weights = bnWeights(norm1, b.shape(x)[2]);
  let branch: ConvStep[];
  if (c.block === 'preact-bottleneck') {
    const w = bottleneckWidth(c, planes);
    const a = b.conv(`${p}.conv1`, x, w, 1, 1, 0, 1, `${p}.norm2`, 'relu', undefined, norm1);
    const m = b.conv(`${p}.conv2`, a.output, w, 3, stride, 1, c.groups, `${p}.norm3`, 'relu');
    branch = [a, m, b.conv(`${p}.conv3`, m.output, outCh, 1, 1, 0, 1, null, 'residual', ds?.output ?? x)];
  } else {
    const a = b.conv(`${p}.conv1`, x, planes, 3, stride, 1, 1, `${p}.norm2`, 'relu', undefined, norm1);
    branch = [a, b.conv(`${p}.conv2`, a.output, planes, 3, 1, 1, 1, null, 'residual', ds?.output ?? x)];
  }
  b.weigh(ds);
  b.weights.push(...norm1Weights);
  b.weigh(...branch);
  return branch.at(-1)!.output;
}

/**
 * The head: the average pool (global, or Cadene's fixed window; a pre-activation network's final norm
 * as its prologue), then fc, then softmax and top-k for head 'topk'. Returns the last tensor.
 */
function headPiece(b: PlanBuilder, x: string, options: PlanOptions): string {
  const c = b.c;
  const preAct = isPreAct(c.block);
  const [H, W, C] = b.shape(x);
  const pool = preAct ? 'head.global_pool' : 'avgpool';
  const norm = preAct ? 'norm' : null;
  if (norm) b.weights.push(...bnWeights(norm, C));
  if (c.avgpool === 'global') {
    b.steps.push({ kind: 'avgpool', name: pool, inputs: [x], output: pool, H, W, C, window: 'global', norm });
  } else {
    const k = c.avgpool.kernel;
    if (H - k + 1 !== 1 || W - k + 1 !== 1) {
      throw new PlanError(`config '${c.name}': avgpool ${k}x${k} (stride 1) over the final ${H}x${W} map gives ` +
        `${Math.max(0, H - k + 1)}x${Math.max(0, W - k + 1)}, but fc needs 1x1: the input must be sized so the final ` +
        `map is ${k}x${k} (inputSize ${c.inputSize} gives ${H}x${W})`);
    }
    b.steps.push({ kind: 'avgpool', name: pool, inputs: [x], output: pool, H, W, C, window: k, norm });
  }
  let cur = b.tensor(pool, [C]);
  if ((options.head ?? 'logits') === 'features') return cur;
  const K = c.numClasses;
  const fcName = preAct ? 'head.fc' : 'fc';
  const fc: LinearStep = { kind: 'linear', name: fcName, inputs: [cur], output: fcName, C, K, weights: fcName, conv1x1: preAct };
  b.steps.push(fc);
  b.weigh(fc);
  b.flops += 2 * C * K;
  cur = b.tensor(fcName, [K]);
  if (options.head === 'topk') {
    const k = options.topK ?? 5;
    if (!Number.isInteger(k) || k < 1 || k > K) throw new PlanError(`topK must be an integer in 1..${K} (classes), got ${k}`);
    b.steps.push({ kind: 'softmax', name: 'softmax', inputs: [cur], output: 'softmax', K });
    cur = b.tensor('softmax', [K]);
    b.steps.push({ kind: 'topk', name: 'topk', inputs: [cur], output: 'topk', K, k });
    cur = b.tensor('topk', [2, k]);
  }
  return cur;
}

const spec = (name: string, shape: number[], learnable = true): TensorSpec => ({ name, shape, learnable });

/**
 * The weights `step` reads itself: a conv's weight, bias (convBias) and BatchNorm (if any); fc's weight
 * and bias; SE's fc1 and fc2. A pre-activation conv's preNorm belongs to its block (listed once, where
 * timm lists it).
 */
function stepWeights(step: WeightedStep): TensorSpec[] {
  if (step.kind === 'eca') return [spec(`${step.eca}.conv.weight`, [1, 1, step.kernel])];
  if (step.kind === 'squeeze-excite') {
    const { se, K, hidden } = step;
    return [spec(`${se}.fc1.weight`, [hidden, K, 1, 1]), spec(`${se}.fc1.bias`, [hidden]),
      spec(`${se}.fc2.weight`, [K, hidden, 1, 1]), spec(`${se}.fc2.bias`, [K])];
  }
  if (step.kind === 'linear') {
    const w = step.conv1x1 ? [step.K, step.C, 1, 1] : [step.K, step.C];
    return [spec(`${step.weights}.weight`, w), spec(`${step.weights}.bias`, [step.K])];
  }
  const { K, bn } = step;
  return [
    spec(`${step.conv}.weight`, [K, step.C / step.groups, step.R, step.S]),
    ...(step.convBias ? [spec(`${step.conv}.bias`, [K])] : []),
    ...(bn ? bnWeights(bn, K) : []),
  ];
}

/** A BatchNorm's four vectors of `n` channels. */
function bnWeights(bn: string, n: number): TensorSpec[] {
  const shape = [n];
  return [spec(`${bn}.weight`, shape), spec(`${bn}.bias`, shape), spec(`${bn}.running_mean`, shape, false),
    spec(`${bn}.running_var`, shape, false)];
}

/** Every tensor a checkpoint for `config` must hold, in torchvision's state-dict order: the plan's `weights`. */
export function expectedTensors(config: ResNetConfig): TensorSpec[] {
  return buildPlan(config).weights;
}

/** How a checkpoint's tensors differ from the weights of a plan. */
export interface TensorMismatch {
  /** Expected tensors the checkpoint lacks. */
  missing: string[];
  /** Tensors in the checkpoint the network has no use for. */
  unexpected: string[];
  /** Tensors present under an expected name with another shape. */
  misshaped: { name: string; expected: number[]; actual: number[]; dtype?: string }[];
  /** The three lists for an error message, each tensor with its shape (and dtype where known), e.g.
   *  '1 mis-shaped: conv1.weight is F32 [32, 1, 3, 3], expected [64, 3, 7, 7]; 2 missing: fc.weight [10, 64], fc.bias [10]'. */
  details: string;
}

/** How many tensors a mismatch lists per category before '... and N more'. */
const LIST_LIMIT = 8;

/**
 * The one check of a checkpoint against a network: compares its tensors (name -> shape and, where
 * the container records it, dtype) with `plan.weights` by name and shape. Null when they match.
 */
export function tensorMismatch(plan: Plan, tensors: ReadonlyMap<string, { shape: readonly number[]; dtype?: string }>): TensorMismatch | null {
  const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;
  const expected = new Map(plan.weights.map((t) => [t.name, t]));
  const missing: string[] = [];
  const misshaped: TensorMismatch['misshaped'] = [];
  for (const t of plan.weights) {
    const e = tensors.get(t.name);
    if (!e) missing.push(t.name);
    else if (shapeText(e.shape) !== shapeText(t.shape)) misshaped.push({ name: t.name, expected: t.shape, actual: [...e.shape], dtype: e.dtype });
  }
  const unexpected = [...tensors.keys()].filter((n) => !expected.has(n));
  if (missing.length + unexpected.length + misshaped.length === 0) return null;
  const list = <T>(what: string, items: T[], show: (t: T) => string): string[] => {
    if (items.length === 0) return [];
    const shown = items.slice(0, LIST_LIMIT).map(show).join(', ');
    return [`${items.length} ${what}: ${shown}${items.length > LIST_LIMIT ? `, ... and ${items.length - LIST_LIMIT} more` : ''}`];
  };
  const details = [
    ...list('mis-shaped', misshaped, (m) => `${m.name} is ${m.dtype ? `${m.dtype} ` : ''}${shapeText(m.actual)}, expected ${shapeText(m.expected)}`),
    ...list('missing', missing, (n) => `${n} ${shapeText(expected.get(n)!.shape)}`),
    ...list('unexpected', unexpected, (n) => `${n} ${shapeText(tensors.get(n)!.shape)}`),
  ].join('; ');
  return { missing, unexpected, misshaped, details };
}

/** One line per step, for logs and debugging: `layer1.0.conv2  conv 3x3/1 G32  [56,56,128] -> [56,56,128]`. */
export function describePlan(plan: Plan): string {
  return plan.steps.map((s) => {
    const inShape = s.inputs.map((t) => `[${plan.tensors.get(t)!.shape}]`).join(' + ');
    const outShape = `[${plan.tensors.get(s.output)!.shape}]`;
    let what: string = s.kind;
    if (s.kind === 'conv') what = `conv ${s.R}x${s.S}/${s.stride}${s.groups > 1 ? ` G${s.groups}` : ''} ${s.epilogue}`;
    if (s.kind === 'maxpool') what = `maxpool ${s.kernel}x${s.kernel}/${s.stride}`;
    if (s.kind === 'avgpool') what = `avgpool ${s.window === 'global' ? 'global' : `${s.window}x${s.window}`}`;
    if (s.kind === 'avgpool2d') what = `avgpool ${s.kernel}x${s.kernel}/${s.stride}`;
    if (s.kind === 'squeeze-excite') what = `squeeze-excite ${s.K}->${s.hidden}->${s.K}`;
    if (s.kind === 'eca') what = `eca k${s.kernel}`;
    return `${s.name.padEnd(24)} ${what.padEnd(28)} ${inShape} -> ${outShape}`;
  }).join('\n');
}
