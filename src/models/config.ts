// The ResNet / ResNeXt family as one table. What a config builds, the weights it needs (names,
// shapes, parameter count) and whether it is valid at all are the plan's (./plan.ts).

export interface ResNetConfig {
  /** Architecture name as users type it, e.g. 'resnext101_32x4d'. */
  name: string;
  /**
   * 'basic' / 'bottleneck': torchvision's (post-activation) blocks. 'preact-basic' / 'preact-bottleneck':
   * timm's ResNetV2 with BatchNorm ("Identity Mappings in Deep Residual Networks"): BN + ReLU before each
   * conv, a stem conv without BN, a final BN + ReLU before the pool, timm's names (see plan.ts).
   */
  block: 'basic' | 'bottleneck' | 'preact-basic' | 'preact-bottleneck';
  /** Blocks per stage; stage i is `layer{i+1}`. */
  layers: number[];
  /** `planes` of each stage, one per entry of `layers` (torchvision: 64, 128, 256, 512). Stage i > 0 strides by 2. */
  widths: number[];
  /** Cardinality G of the 3x3 convs (1 for ResNet). */
  groups: number;
  /** torchvision's width_per_group: bottleneck width = floor(planes * widthPerGroup / 64) * groups. */
  widthPerGroup: number;
  /** Which conv of a bottleneck carries the stride: torchvision/Cadene ResNeXt 'conv2', fbresnet 'conv1'. */
  strideOn: 'conv1' | 'conv2';
  /** Output channels of the stem conv (torchvision's inplanes). */
  stemChannels: number;
  stem: { kernel: number; stride: number; pad: number };
  /** Max pool after the stem, or null for none (small-image models). */
  maxpool: { kernel: number; stride: number; pad: number; ceil: boolean } | null;
  /** Every conv has a bias (fbresnet152). */
  convBias: boolean;
  /** Average pool before fc: 'global' (adaptive 1x1), or a fixed window with stride 1 (Cadene's AvgPool2d(7)). */
  avgpool: 'global' | { kernel: number };
  bnEps: number;
  /**
   * Squeeze-and-excitation in every bottleneck (Cadene's SENet `se_module`), or absent for none:
   * the block's conv3 + bn3 output is scaled per channel by sigmoid(fc2(relu(fc1(mean over H x W))))
   * before the residual add; fc1 has K / reduction outputs.
   */
  se?: { reduction: number };
  inputChannels: number;
  inputSize: number;
  numClasses: number;
}

/** Every field of a ResNetConfig (the compiler checks that none is left out). */
const CONFIG_FIELDS: Record<keyof ResNetConfig, true> = {
  name: true, block: true, layers: true, widths: true, groups: true, widthPerGroup: true, strideOn: true,
  stemChannels: true, stem: true, maxpool: true, convBias: true, avgpool: true, bnEps: true, se: true, inputChannels: true,
  inputSize: true, numClasses: true,
};
export const CONFIG_KEYS = Object.keys(CONFIG_FIELDS) as (keyof ResNetConfig)[];
/** The fields a config may leave out (absent means the feature is off). */
export const OPTIONAL_CONFIG_KEYS: ReadonlySet<keyof ResNetConfig> = new Set(['se']);

export const BOTTLENECK_EXPANSION = 4;

/** Whether `block` is a pre-activation (timm ResNetV2) block. */
export function isPreAct(block: ResNetConfig['block']): block is 'preact-basic' | 'preact-bottleneck' {
  return block === 'preact-basic' || block === 'preact-bottleneck';
}

/** Whether `block` has the bottleneck shape (1x1, 3x3, 1x1 with expansion 4). */
export function isBottleneck(block: ResNetConfig['block']): boolean {
  return block === 'bottleneck' || block === 'preact-bottleneck';
}

const IMAGENET_BASE = {
  widths: [64, 128, 256, 512],
  strideOn: 'conv2',
  stemChannels: 64,
  stem: { kernel: 7, stride: 2, pad: 3 },
  maxpool: { kernel: 3, stride: 2, pad: 1, ceil: false },
  convBias: false,
  avgpool: 'global',
  bnEps: 1e-5,
  inputChannels: 3,
  inputSize: 224,
  numClasses: 1000,
} as const satisfies Partial<ResNetConfig>;

function arch(name: string, block: ResNetConfig['block'], layers: number[], groups = 1, widthPerGroup = 64,
  extra: Partial<ResNetConfig> = {}): ResNetConfig {
  return { ...IMAGENET_BASE, widths: [...IMAGENET_BASE.widths], stem: { ...IMAGENET_BASE.stem },
    maxpool: { ...IMAGENET_BASE.maxpool }, name, block, layers, groups, widthPerGroup, ...extra };
}

/**
 * Cadene's SENet with SEResNeXtBottleneck (senet.py, se_resnext*: input_3x3 False, inplanes 64,
 * downsample_kernel_size 1, downsample_padding 0, dropout None): the 7x7/2 stem, MaxPool2d(3, 2,
 * ceil_mode=True) without padding, the stride on conv2, reduction 16, AvgPool2d(7, stride 1).
 */
const CADENE_SE_RESNEXT: Partial<ResNetConfig> = {
  maxpool: { kernel: 3, stride: 2, pad: 0, ceil: true }, avgpool: { kernel: 7 }, se: { reduction: 16 },
};

/** The named architectures: torchvision's, Cadene pretrainedmodels' and timm's ResNetV2. */
export const ARCHITECTURES: Record<string, ResNetConfig> = Object.fromEntries([
  arch('resnet18', 'basic', [2, 2, 2, 2]),
  arch('resnet34', 'basic', [3, 4, 6, 3]),
  arch('resnet50', 'bottleneck', [3, 4, 6, 3]),
  arch('resnet101', 'bottleneck', [3, 4, 23, 3]),
  arch('resnet152', 'bottleneck', [3, 8, 36, 3]),
  arch('resnext50_32x4d', 'bottleneck', [3, 4, 6, 3], 32, 4),
  arch('resnext101_32x8d', 'bottleneck', [3, 4, 23, 3], 32, 8),
  arch('wide_resnet50_2', 'bottleneck', [3, 4, 6, 3], 1, 128),
  arch('wide_resnet101_2', 'bottleneck', [3, 4, 23, 3], 1, 128),
  arch('resnext101_64x4d', 'bottleneck', [3, 4, 23, 3], 64, 4, { avgpool: { kernel: 7 } }),
  arch('resnext101_32x4d', 'bottleneck', [3, 4, 23, 3], 32, 4, { avgpool: { kernel: 7 } }),
  // timm's ResNetV2 with BatchNorm pre-activation (resnetv2_50 and resnetv2_101 have published weights).
  arch('resnetv2_18', 'preact-basic', [2, 2, 2, 2]),
  arch('resnetv2_34', 'preact-basic', [3, 4, 6, 3]),
  arch('resnetv2_50', 'preact-bottleneck', [3, 4, 6, 3]),
  arch('resnetv2_101', 'preact-bottleneck', [3, 4, 23, 3]),
  arch('resnetv2_152', 'preact-bottleneck', [3, 8, 36, 3]),
  arch('fbresnet152', 'bottleneck', [3, 8, 36, 3], 1, 64, { strideOn: 'conv1', convBias: true, avgpool: { kernel: 7 } }),
  ...['se_resnext50_32x4d', 'se_resnext101_32x4d'].map((name, i) =>
    arch(name, 'bottleneck', [3, 4, i === 0 ? 6 : 23, 3], 32, 4, CADENE_SE_RESNEXT)),
].map((c) => [c.name, c]));

export function getArchitecture(name: string): ResNetConfig {
  const c = ARCHITECTURES[name];
  if (!c) throw new Error(`unknown architecture '${name}'; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return structuredClone(c);
}

/** Bottleneck width (channels of conv1/conv2) for a stage with `planes`. */
export function bottleneckWidth(c: ResNetConfig, planes: number): number {
  return Math.floor((planes * c.widthPerGroup) / 64) * c.groups;
}
