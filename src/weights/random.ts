// Random but well-scaled weights for any ResNetConfig: canonical tensors (torchvision names,
// PyTorch shapes) or a complete .safetensors file. For benchmarks (nothing to download) and tests.
//
// Scaling keeps activations near unit scale through a deep net, so nothing overflows and no
// denormal floats appear (they are very slow on CPU-backed adapters):
//   conv weight (K, C/G, R, S)  uniform, He variance 2 / fan_in, fan_in = C/G * R * S
//   BN gamma (K)                1, except the last BN of each residual branch (bn3 of a bottleneck,
//                               bn2 of a basic block): `residualGamma` (default 0.2), so each block
//                               adds a small update to the identity path (like zero-init-residual,
//                               but not zero, so every kernel still does real work)
//   BN beta, running_mean (K)   0;  running_var (K) 1
//   conv bias (K) (fbresnet)    0
//   fc weight (K, C)            uniform, variance 1 / C;  fc bias (K) 0
// Seeded (mulberry32): the same seed gives the same values.

import type { ResNetConfig } from '../models/config.js';
import { buildPlan } from '../models/plan.js';
import { defaultResizeSize, encodeMetadata, FORMAT_VERSION, writeSafetensors, type ModelMetadata, type TensorToWrite } from './safetensors.js';

/** Deterministic PRNG in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomWeightsOptions {
  seed?: number;
  /** gamma of the last BN in each residual branch (default 0.2). */
  residualGamma?: number;
  /** Metadata overrides (labels, normalisation, ...); arch/config are filled from the config. */
  metadata?: Partial<ModelMetadata>;
  /** Write the config into the metadata as arch 'custom' + 'config' JSON (for configs not in ARCHITECTURES). */
  custom?: boolean;
  dtype?: 'F32' | 'F16';
}

/** Every tensor of a random checkpoint for `config`: the plan's weights, in their order. */
export function randomTensors(config: ResNetConfig, options: Pick<RandomWeightsOptions, 'seed' | 'residualGamma'> = {}): TensorToWrite[] {
  const rand = mulberry32(options.seed ?? 1);
  const residualGamma = options.residualGamma ?? 0.2;
  const uniform = (n: number, variance: number): Float32Array => {
    const a = Math.sqrt(3 * variance); // U(-a, a) has variance a^2 / 3
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * a;
    return out;
  };
  const plan = buildPlan(config);
  // The last BN of each residual branch: that of the conv which adds the shortcut.
  const residualBns = new Set(plan.steps.flatMap((s) => (s.kind === 'conv' && s.epilogue === 'residual-relu' ? [s.bn] : [])));
  return plan.weights.map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const dot = name.lastIndexOf('.');
    const module = name.slice(0, dot);
    const param = name.slice(dot + 1);
    let data: Float32Array;
    if (shape.length === 4) {
      data = uniform(n, 2 / (shape[1] * shape[2] * shape[3]));
    } else if (module === 'fc' && param === 'weight') {
      data = uniform(n, 1 / shape[1]);
    } else if (param === 'running_var') {
      data = new Float32Array(n).fill(1);
    } else if (param === 'weight') { // BN gamma
      data = new Float32Array(n).fill(residualBns.has(module) ? residualGamma : 1);
    } else { // BN beta, running_mean, conv and fc biases
      data = new Float32Array(n);
    }
    return { name, shape, data };
  });
}

/** ImageNet defaults for the metadata: RGB 224x224, torchvision normalisation, ImageNet labels. */
export function randomMetadata(config: ResNetConfig, options: Pick<RandomWeightsOptions, 'metadata' | 'custom'> = {}): ModelMetadata {
  const meta: ModelMetadata = {
    formatVersion: FORMAT_VERSION,
    arch: config.name,
    source: 'random',
    inputSize: config.inputSize,
    inputChannels: config.inputChannels,
    resizeSize: defaultResizeSize(config.inputSize),
    colorSpace: 'RGB',
    inputRange: [0, 1],
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    labels: 'imagenet',
    ...(config.inputChannels === 1 ? { colorSpace: 'grey' as const, mean: [0.5], std: [0.5] } : {}),
    ...options.metadata,
  };
  if (options.custom) {
    meta.arch = 'custom';
    meta.config = JSON.stringify(config);
  }
  return meta;
}

/** A complete .safetensors file of random weights for `config`. */
export function randomWeights(config: ResNetConfig, options: RandomWeightsOptions = {}): Uint8Array {
  return writeSafetensors(randomTensors(config, options), encodeMetadata(randomMetadata(config, options)), options.dtype ?? 'F32');
}
