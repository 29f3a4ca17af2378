// A timm Hub repo's config.json: what the runtime reads from it and the metadata it becomes.
//
//   { "architecture": "resnet50", "num_classes": 1000, "global_pool": "avg",
//     "pretrained_cfg": { "input_size": [3, 224, 224], "test_input_size": [3, 288, 288], "crop_pct": 0.95,
//       "test_crop_pct": 1.0, "crop_mode": "center", "interpolation": "bicubic", "mean": [...], "std": [...] } }
//
// timm's evaluation transform (timm.data.transforms_imagenet_eval) resizes the shorter side to
// floor(size / crop_pct) with the configured filter (Pillow's, antialiased), centre-crops `size`
// and normalises with mean / std; at the test size it uses test_crop_pct when there is one.

import type { ResNetConfig } from '../models/config.js';
import { FORMAT_VERSION, type ModelMetadata } from '../weights/safetensors.js';
import { HubError } from './errors.js';

export interface TimmHubConfig {
  architecture: string;
  numClasses: number;
  inputChannels: number;
  /** input_size's side (square inputs only). */
  inputSize: number;
  /** floor(inputSize / crop_pct). */
  resizeSize: number;
  testInputSize?: number;
  /** floor(testInputSize / (test_crop_pct ?? crop_pct)). */
  testResizeSize?: number;
  interpolation: 'bilinear' | 'bicubic';
  mean: number[];
  std: number[];
  /** config.json's model_args (create_model's keyword arguments), those the runtime follows. */
  modelArgs: TimmModelArgs;
}

/** The model_args of timm's ResNet the runtime applies over the architecture's own (others are refused). */
export interface TimmModelArgs {
  /** Blocks per stage. */
  layers?: number[];
  /** `planes` of each stage (ResNet's `channels`). */
  channels?: number[];
  cardinality?: number;
  base_width?: number;
  /** The deep stems' width (the 7x7 stem has 64 channels whatever it says, as in timm). */
  stem_width?: number;
}
const MODEL_ARGS: readonly (keyof TimmModelArgs)[] = ['layers', 'channels', 'cardinality', 'base_width', 'stem_width'];

/** timm's DEFAULT_CROP_PCT. */
const DEFAULT_CROP_PCT = 0.875;
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Parses config.json's text (`what` names the file in errors); throws HubError for anything the runtime cannot follow. */
export function parseTimmConfig(text: string, what: string): TimmHubConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const looks = /^\s*</.test(text) ? 'an HTML page' : `not JSON (${(e as Error).message})`;
    throw new HubError(`${what}: ${looks}, not a timm config.json`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HubError(`${what}: not a JSON object`);
  const c = raw as Record<string, unknown>;
  const fail = (msg: string): never => { throw new HubError(`${what}: ${msg}`); };
  if (typeof c.architecture !== 'string' || c.architecture === '') {
    fail("no 'architecture' (a timm model's config.json names it, e.g. \"resnet50\"; is this a timm model?)");
  }
  const architecture = c.architecture as string;
  const cfg = (c.pretrained_cfg ?? {}) as Record<string, unknown>;
  if (typeof cfg !== 'object' || Array.isArray(cfg)) fail("'pretrained_cfg' is not an object");
  const numClasses = c.num_classes ?? cfg.num_classes ?? 1000;
  if (!Number.isSafeInteger(numClasses) || (numClasses as number) < 1) fail(`'num_classes' ${JSON.stringify(numClasses)} is not a positive integer`);
  if (c.global_pool !== undefined && c.global_pool !== 'avg') fail(`global_pool '${String(c.global_pool)}' is not supported (only 'avg')`);
  const modelArgs = (c.model_args ?? {}) as Record<string, unknown>;
  if (typeof modelArgs !== 'object' || modelArgs === null || Array.isArray(modelArgs)) fail("'model_args' is not an object");
  for (const [k, v] of Object.entries(modelArgs)) {
    if (!(MODEL_ARGS as string[]).includes(k)) fail(`model_args '${k}' is not supported (only ${MODEL_ARGS.join(', ')})`);
    const ints = Array.isArray(v) ? v : [v];
    if (ints.length === 0 || !ints.every((x) => Number.isSafeInteger(x) && x > 0) || (Array.isArray(v) !== (k === 'layers' || k === 'channels'))) {
      fail(`model_args '${k}' ${JSON.stringify(v)} is not ${k === 'layers' || k === 'channels' ? 'a list of' : 'a'} positive integer${k === 'layers' || k === 'channels' ? 's' : ''}`);
    }
  }
  const size = (key: string): { channels: number; side: number } | undefined => {
    const v = cfg[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((d) => Number.isSafeInteger(d) && d > 0)) {
      return fail(`pretrained_cfg '${key}' ${JSON.stringify(v)} is not [channels, height, width]`);
    }
    if (v[1] !== v[2]) fail(`pretrained_cfg '${key}' ${JSON.stringify(v)} is not square (only square inputs are supported)`);
    return { channels: v[0], side: v[1] };
  };
  const input = size('input_size') ?? { channels: 3, side: 224 };
  const test = size('test_input_size');
  if (test && test.channels !== input.channels) fail('test_input_size and input_size differ in channels');
  const pct = (key: string): number | undefined => {
    const v = cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !(v > 0 && v <= 1)) fail(`pretrained_cfg '${key}' ${JSON.stringify(v)} is not in (0, 1]`);
    return v as number;
  };
  const cropPct = pct('crop_pct') ?? DEFAULT_CROP_PCT;
  const testCropPct = pct('test_crop_pct') ?? cropPct;
  const cropMode = cfg.crop_mode ?? 'center';
  if (cropMode !== 'center') fail(`crop_mode '${String(cropMode)}' is not supported (only 'center')`);
  const interpolation = cfg.interpolation ?? 'bilinear';
  if (interpolation !== 'bilinear' && interpolation !== 'bicubic') {
    fail(`interpolation '${String(interpolation)}' is not supported (bilinear or bicubic)`);
  }
  const stats = (key: string, fallback: number[]): number[] => {
    const v = cfg[key] ?? fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`pretrained_cfg '${key}' is not a list of numbers`);
    const list = v as number[];
    if (list.length !== input.channels) fail(`pretrained_cfg '${key}' has ${list.length} values for ${input.channels} input channels`);
    return list;
  };
  const mean = stats('mean', IMAGENET_MEAN);
  const std = stats('std', IMAGENET_STD);
  if (std.some((s) => !(s > 0))) fail("pretrained_cfg 'std' values must be positive");
  return {
    architecture, numClasses: numClasses as number, inputChannels: input.channels, inputSize: input.side,
    resizeSize: Math.floor(input.side / cropPct),
    testInputSize: test?.side, testResizeSize: test ? Math.floor(test.side / testCropPct) : undefined,
    interpolation: interpolation as 'bilinear' | 'bicubic', mean, std, modelArgs: modelArgs as TimmModelArgs,
  };
}

/** timm's label sets by class count (timm.data.imagenet_info): 1000 ImageNet-1k, 11821 ImageNet-12k. */
export function labelsForClasses(numClasses: number): ModelMetadata['labels'] {
  if (numClasses === 1000) return 'imagenet';
  if (numClasses === 11821) return 'imagenet-12k';
  return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}

/** The converted file's metadata: the network as a custom config, timm's preprocessing, the label set. */
export function hubMetadata(cfg: TimmHubConfig, config: ResNetConfig, source: string): ModelMetadata {
  return {
    formatVersion: FORMAT_VERSION,
    arch: 'custom',
    config: JSON.stringify(config),
    source,
    inputSize: cfg.inputSize,
    inputChannels: cfg.inputChannels,
    resizeSize: cfg.resizeSize,
    colorSpace: cfg.inputChannels === 1 ? 'grey' : 'RGB',
    inputRange: [0, 1],
    mean: cfg.mean,
    std: cfg.std,
    labels: labelsForClasses(cfg.numClasses),
    interpolation: cfg.interpolation,
    testInputSize: cfg.testInputSize,
    testResizeSize: cfg.testResizeSize,
  };
}
