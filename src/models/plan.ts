// One builder for ResNet and ResNeXt: a ResNetConfig -> a flat, topologically ordered plan of steps
// over a table of tensors. The plan knows nothing about GPUs or batch size: tensor shapes are per
// sample, (H, W, C) for activations, and the runner (src/graph/) instantiates the ops for a batch N.
//
// Step and tensor names mirror PyTorch's module names (`layer3.1.conv2`, `layer2.0.downsample.0`);
// a step's output tensor has the step's name. The weights a step reads are named by their
// canonical prefix (`layer3.1.conv2` -> `layer3.1.conv2.weight`, BN `layer3.1.bn2.*`).
//
//   [preprocess | layout] -> conv1 (+bn1 +relu) -> [maxpool] -> layer1..L blocks -> avgpool -> fc
//   -> [softmax -> topk]
//
// Bottleneck block (torchvision / Cadene ResNeXt: stride on conv2; fbresnet: stride on conv1):
//   conv1 1x1 +bn+relu -> conv2 3x3 (groups G) +bn+relu -> [downsample.0 1x1 +bn on the block
//   input] -> conv3 1x1 +bn, + residual (block input or downsample), relu: fused in conv3's store.
// Basic block: conv1 3x3 (stride) +bn+relu -> [downsample] -> conv2 3x3 +bn + residual + relu.

import { windowOutputSize } from '../ops/common.js';
import { BOTTLENECK_EXPANSION, bottleneckWidth, expectedTensors, type ResNetConfig } from './config.js';

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
  /** inputs[0]: (H, W, C); inputs[1] (residual-relu only): the residual, (P, Q, K). */
  H: number; W: number; C: number; K: number; R: number; S: number;
  stride: number; pad: number; groups: number;
  epilogue: 'none' | 'relu' | 'residual-relu';
  /** Weight prefix: `${conv}.weight` (K, C/G, R, S) and, with convBias, `${conv}.bias` (K). */
  conv: string;
  /** BatchNorm prefix (`.weight/.bias/.running_mean/.running_var`, each (K)), folded at load. */
  bn: string;
  convBias: boolean;
}

export interface MaxPoolStep extends StepBase {
  kind: 'maxpool';
  H: number; W: number; C: number;
  kernel: number; stride: number; pad: number; ceil: boolean;
}

export interface AvgPoolStep extends StepBase {
  kind: 'avgpool';
  H: number; W: number; C: number;
  /** 'global': mean over H x W; a number: a fixed kernel x kernel window with stride 1, no padding. */
  window: 'global' | number;
}

export interface LinearStep extends StepBase {
  kind: 'linear';
  /** in features C, out features K; weight `${weights}.weight` (K, C), bias (K). */
  C: number; K: number;
  weights: string;
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

export type Step = PreprocessStep | LayoutStep | ConvStep | MaxPoolStep | AvgPoolStep | LinearStep | SoftmaxStep | TopKStep;

export interface Plan {
  config: ResNetConfig;
  steps: Step[];
  tensors: Map<string, PlanTensor>;
  /** The tensor the first step reads (NCHW floats or the image), and the one read back. */
  input: string;
  output: string;
  /** Learnable parameters (conv, BN affine, fc; not BN running statistics). */
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
  /** 'logits' (default), or 'topk': softmax then the k best (probability, index) pairs. */
  head?: 'logits' | 'topk';
  /** k for head 'topk'. */
  topK?: number;
}

export class PlanError extends Error {
  override name = 'PlanError';
}

function checkConfig(c: ResNetConfig): void {
  const fail = (msg: string): never => { throw new PlanError(`config '${c.name}': ${msg}`); };
  const posInt = (v: unknown, what: string) => {
    if (!Number.isInteger(v) || (v as number) < 1) fail(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  if (c.block !== 'basic' && c.block !== 'bottleneck') fail(`block must be 'basic' or 'bottleneck', got ${JSON.stringify(c.block)}`);
  if (!Array.isArray(c.layers) || c.layers.length === 0) fail('layers must list the blocks of at least one stage');
  if (!Array.isArray(c.widths) || c.widths.length < c.layers.length) {
    fail(`widths (${JSON.stringify(c.widths)}) must give one width per stage (${c.layers.length} stages)`);
  }
  c.layers.forEach((n, i) => posInt(n, `layers[${i}]`));
  c.widths.slice(0, c.layers.length).forEach((n, i) => posInt(n, `widths[${i}]`));
  for (const [k, v] of [['groups', c.groups], ['widthPerGroup', c.widthPerGroup], ['stemChannels', c.stemChannels],
    ['inputChannels', c.inputChannels], ['inputSize', c.inputSize], ['numClasses', c.numClasses],
    ['stem.kernel', c.stem?.kernel], ['stem.stride', c.stem?.stride]] as const) posInt(v, k);
  if (!Number.isInteger(c.stem.pad) || c.stem.pad < 0) fail(`stem.pad must be a non-negative integer, got ${c.stem.pad}`);
  if (c.strideOn !== 'conv1' && c.strideOn !== 'conv2') fail(`strideOn must be 'conv1' or 'conv2', got ${JSON.stringify(c.strideOn)}`);
  if (c.block === 'basic' && (c.groups !== 1 || c.widthPerGroup !== 64)) {
    fail(`basic blocks support only groups 1 and widthPerGroup 64 (torchvision's rule), got ${c.groups} and ${c.widthPerGroup}`);
  }
  if (c.maxpool) {
    posInt(c.maxpool.kernel, 'maxpool.kernel'); posInt(c.maxpool.stride, 'maxpool.stride');
    if (!Number.isInteger(c.maxpool.pad) || c.maxpool.pad < 0 || c.maxpool.pad > c.maxpool.kernel / 2) {
      fail(`maxpool.pad must be between 0 and half the kernel, got ${c.maxpool.pad}`);
    }
  }
  if (c.avgpool !== 'global') posInt(c.avgpool?.kernel, 'avgpool.kernel');
  if (!(typeof c.bnEps === 'number' && c.bnEps > 0)) fail(`bnEps must be a positive number, got ${c.bnEps}`);
  if (c.block === 'bottleneck') {
    c.widths.slice(0, c.layers.length).forEach((planes, i) => {
      if (bottleneckWidth(c, planes) < c.groups) {
        fail(`stage ${i + 1}: bottleneck width floor(${planes} * ${c.widthPerGroup} / 64) * ${c.groups} is 0`);
      }
    });
  }
}

/** Expands `config` into the flat plan. Throws PlanError on a config no network can be built from. */
export function buildPlan(config: ResNetConfig, options: PlanOptions = {}): Plan {
  const c = config;
  checkConfig(c);
  const inputMode = options.input ?? 'nchw';
  const head = options.head ?? 'logits';
  const steps: Step[] = [];
  const tensors = new Map<string, PlanTensor>();
  let flops = 0;
  const tensor = (name: string, shape: SampleShape, role: PlanTensor['role'] = 'activation') => {
    if (tensors.has(name)) throw new PlanError(`tensor '${name}' defined twice`);
    tensors.set(name, { name, shape, role });
    return name;
  };
  const S0 = c.inputSize;
  const C0 = c.inputChannels;

  // Input: the first conv reads 'input' (H, W, C).
  let planInput: string;
  if (inputMode === 'nhwc') {
    planInput = tensor('input', [S0, S0, C0], 'input');
  } else if (inputMode === 'nchw') {
    planInput = tensor('input.nchw', [C0, S0, S0], 'input');
    tensor('input', [S0, S0, C0]);
    steps.push({ kind: 'layout', name: 'layout', inputs: [planInput], output: 'input', H: S0, W: S0, C: C0 });
  } else {
    // The image is not a plan tensor of fixed shape: its size is known per call.
    planInput = tensor('image', [0], 'input');
    tensor('input', [S0, S0, C0]);
    steps.push({ kind: 'preprocess', name: 'preprocess', inputs: [planInput], output: 'input', size: S0, channels: C0 });
  }

  let cur = 'input';
  let [H, W, C] = [S0, S0, C0];
  const conv = (name: string, x: string, K: number, R: number, stride: number, pad: number, groups: number,
    bn: string, epilogue: ConvStep['epilogue'], residual?: string): string => {
    const [h, w, ch] = tensors.get(x)!.shape;
    const P = windowOutputSize(h, R, stride, pad);
    const Q = windowOutputSize(w, R, stride, pad);
    if (P < 1 || Q < 1) {
      throw new PlanError(`config '${c.name}': ${name} (${R}x${R}, stride ${stride}, pad ${pad}) gets a ${h}x${w} input ` +
        `and would produce no output; inputSize ${c.inputSize} is too small for this network`);
    }
    const inputs = residual ? [x, residual] : [x];
    if (residual) {
      const rs = tensors.get(residual)!.shape;
      if (rs[0] !== P || rs[1] !== Q || rs[2] !== K) {
        throw new PlanError(`config '${c.name}': ${name}'s residual ${residual} is [${rs}] but the conv gives [${P}, ${Q}, ${K}]`);
      }
    }
    steps.push({ kind: 'conv', name, inputs, output: name, H: h, W: w, C: ch, K, R, S: R, stride, pad, groups,
      epilogue, conv: name, bn, convBias: c.convBias });
    flops += 2 * P * Q * K * R * R * (ch / groups);
    return tensor(name, [P, Q, K]);
  };

  // Stem.
  cur = conv('conv1', cur, c.stemChannels, c.stem.kernel, c.stem.stride, c.stem.pad, 1, 'bn1', 'relu');
  [H, W, C] = tensors.get(cur)!.shape;
  if (c.maxpool) {
    const m = c.maxpool;
    const P = windowOutputSize(H, m.kernel, m.stride, m.pad, m.ceil);
    const Q = windowOutputSize(W, m.kernel, m.stride, m.pad, m.ceil);
    if (P < 1 || Q < 1) throw new PlanError(`config '${c.name}': maxpool gets a ${H}x${W} map and would produce no output`);
    steps.push({ kind: 'maxpool', name: 'maxpool', inputs: [cur], output: 'maxpool', H, W, C, ...m });
    cur = tensor('maxpool', [P, Q, C]);
  }

  // Stages.
  let inplanes = c.stemChannels;
  c.layers.forEach((blocks, s) => {
    const planes = c.widths[s];
    const outCh = c.block === 'bottleneck' ? planes * BOTTLENECK_EXPANSION : planes;
    for (let b = 0; b < blocks; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      const x = cur;
      const needsDownsample = b === 0 && (stride !== 1 || inplanes !== outCh);
      const shortcut = () => needsDownsample
        ? conv(`${p}.downsample.0`, x, outCh, 1, stride, 0, 1, `${p}.downsample.1`, 'none')
        : x;
      if (c.block === 'bottleneck') {
        const w = bottleneckWidth(c, planes);
        const s1 = c.strideOn === 'conv1' ? stride : 1;
        const s2 = c.strideOn === 'conv2' ? stride : 1;
        const a = conv(`${p}.conv1`, x, w, 1, s1, 0, 1, `${p}.bn1`, 'relu');
        const m = conv(`${p}.conv2`, a, w, 3, s2, 1, c.groups, `${p}.bn2`, 'relu');
        const r = shortcut();
        cur = conv(`${p}.conv3`, m, outCh, 1, 1, 0, 1, `${p}.bn3`, 'residual-relu', r);
      } else {
        const a = conv(`${p}.conv1`, x, planes, 3, stride, 1, 1, `${p}.bn1`, 'relu');
        const r = shortcut();
        cur = conv(`${p}.conv2`, a, planes, 3, 1, 1, 1, `${p}.bn2`, 'residual-relu', r);
      }
      inplanes = outCh;
    }
  });

  // Head.
  [H, W, C] = tensors.get(cur)!.shape;
  if (c.avgpool === 'global') {
    steps.push({ kind: 'avgpool', name: 'avgpool', inputs: [cur], output: 'avgpool', H, W, C, window: 'global' });
  } else {
    const k = c.avgpool.kernel;
    if (H - k + 1 !== 1 || W - k + 1 !== 1) {
      throw new PlanError(`config '${c.name}': avgpool ${k}x${k} (stride 1) over the final ${H}x${W} map gives ` +
        `${Math.max(0, H - k + 1)}x${Math.max(0, W - k + 1)}, but fc needs 1x1: the input must be sized so the final ` +
        `map is ${k}x${k} (inputSize ${c.inputSize} gives ${H}x${W})`);
    }
    steps.push({ kind: 'avgpool', name: 'avgpool', inputs: [cur], output: 'avgpool', H, W, C, window: k });
  }
  cur = tensor('avgpool', [C]);
  const K = c.numClasses;
  steps.push({ kind: 'linear', name: 'fc', inputs: [cur], output: 'fc', C, K, weights: 'fc' });
  flops += 2 * C * K;
  cur = tensor('fc', [K]);
  if (head === 'topk') {
    const k = options.topK ?? 5;
    if (!Number.isInteger(k) || k < 1 || k > K) throw new PlanError(`topK must be an integer in 1..${K} (classes), got ${k}`);
    steps.push({ kind: 'softmax', name: 'softmax', inputs: [cur], output: 'softmax', K });
    cur = tensor('softmax', [K]);
    steps.push({ kind: 'topk', name: 'topk', inputs: [cur], output: 'topk', K, k });
    cur = tensor('topk', [2, k]);
  }
  tensors.get(cur)!.role = 'output';

  const params = expectedTensors(c)
    .filter((t) => !t.name.endsWith('.running_mean') && !t.name.endsWith('.running_var'))
    .reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  return { config: c, steps, tensors, input: planInput, output: cur, params, flops };
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
    return `${s.name.padEnd(24)} ${what.padEnd(28)} ${inShape} -> ${outShape}`;
  }).join('\n');
}
