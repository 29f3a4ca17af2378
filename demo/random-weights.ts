// Random but well-scaled weights for any ResNetConfig, as .safetensors bytes: for benchmarking an
// architecture in the demo without downloading its checkpoint, and for tiny test models.
//
// Scaling (so activations stay near unit scale through a deep net: no overflow, and no denormal
// floats, which are very slow on CPU-backed adapters):
//   conv (K, C/G, R, S)   uniform with He variance 2 / fan_in, fan_in = C/G * R * S
//   BN weight (gamma)     1, except the last BN of each residual branch (bn3 / bn2 of a basic
//                         block): 0.2, so each block adds a small update to the identity path
//   BN bias, running_mean 0;  running_var 1
//   conv bias (fbresnet)  0
//   fc (K, C)             uniform with variance 1 / C;  fc bias 0
// The generator is seeded (mulberry32), so the same seed gives the same bytes.

import { expectedTensors, type ResNetConfig } from '../src/models/config.js';
import {
  encodeMetadata, FORMAT_VERSION, writeSafetensors, type ModelMetadata, type TensorToWrite,
} from '../src/weights/safetensors.js';

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
  /** Metadata overrides (labels, normalisation, ...); arch/config are filled from `config`. */
  metadata?: Partial<ModelMetadata>;
  /** When true, the config is written to the metadata as arch 'custom' + 'config' JSON. */
  custom?: boolean;
  dtype?: 'F32' | 'F16';
}

/** The tensors of a random checkpoint for `config` in canonical names and PyTorch shapes. */
export function randomTensors(config: ResNetConfig, seed = 1): TensorToWrite[] {
  const rand = mulberry32(seed);
  const uniform = (n: number, variance: number): Float32Array => {
    const a = Math.sqrt(3 * variance); // U(-a, a) has variance a^2 / 3
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * a;
    return out;
  };
  const lastBn = config.block === 'bottleneck' ? /^layer\d+\.\d+\.bn3$/ : /^layer\d+\.\d+\.bn2$/;
  return expectedTensors(config).map(({ name, shape }) => {
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
      data = new Float32Array(n).fill(lastBn.test(module) ? 0.2 : 1);
    } else { // BN beta, running_mean, conv and fc biases
      data = new Float32Array(n);
    }
    return { name, shape, data };
  });
}

/** ImageNet defaults for the metadata (RGB 224x224, torchvision normalisation, ImageNet labels). */
export function imagenetMetadata(arch: string): ModelMetadata {
  return {
    formatVersion: FORMAT_VERSION,
    arch,
    source: 'random',
    inputSize: 224,
    inputChannels: 3,
    colorSpace: 'RGB',
    inputRange: [0, 1],
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    labels: 'imagenet',
  };
}

/** A complete .safetensors file of random weights for `config`. */
export function randomWeights(config: ResNetConfig, options: RandomWeightsOptions = {}): Uint8Array {
  const meta: ModelMetadata = {
    ...imagenetMetadata(config.name),
    inputSize: config.inputSize,
    inputChannels: config.inputChannels,
    ...(config.inputChannels === 1 ? { colorSpace: 'grey' as const, mean: [0.5], std: [0.5] } : {}),
    ...options.metadata,
  };
  if (options.custom) {
    meta.arch = 'custom';
    meta.config = JSON.stringify(config);
  } else {
    meta.arch = config.name;
  }
  return writeSafetensors(randomTensors(config, options.seed ?? 1), encodeMetadata(meta), options.dtype ?? 'F32');
}
