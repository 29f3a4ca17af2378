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
  // timm's ResNet variants (timm/models/resnet.py; the names are timm's). Each is absent when off.
  /**
   * A deep stem (timm's stem_type 'deep' / 'deep_tiered'): three 3x3 convs conv1.0 -> conv1.3 -> conv1.6 of
   * widths deepStem[0], deepStem[1] and stemChannels, each followed by BN + ReLU (conv1.1, conv1.4, bn1).
   * `stem` is the first conv's geometry (timm: kernel 3, stride 2, pad 1); the other two are 3x3, stride 1.
   */
  deepStem?: [number, number];
  /**
   * What follows the stem in place of the max pool (`maxpool` is then null), under timm's name `maxpool`:
   * 'avg' AvgPool2d(2) (anti-aliased networks), 'conv' a 3x3 stride-2 conv + BN + ReLU (maxpool.0,
   * maxpool.1: ResNet-RS's replace_stem_pool).
   */
  stemPool?: 'avg' | 'conv';
  /**
   * timm's avg_down: where a projection shortcut strides it is AvgPool2d(2, stride, ceil_mode=True,
   * count_include_pad=False) (downsample.0), then the 1x1 conv downsample.1 and its BN downsample.2.
   */
  avgDown?: boolean;
  /** Kernel of a projection shortcut's conv where it strides, padding (stride - 1 + kernel - 1) / 2 (SENet-154: 3). Default 1. */
  downsampleKernel?: number;
  /** Divides the width of every block's first conv (timm's block_reduce_first; SENet-154: 2). Default 1. */
  reduceFirst?: number;
  /**
   * timm's channel attention `se`, after each block's last conv + BN and before the residual add:
   * 'se' SEModule (se.fc1 / se.fc2, 1x1 convs with bias, ReLU between, sigmoid gate; hidden =
   * make_divisible(K * ratio, 8): seHidden), 'eca' EcaModule (se.conv, a 1-D conv across the channel
   * means of timm's kernel size for K (ecaKernelSize), no bias, sigmoid gate).
   */
  attn?: { kind: 'se'; ratio: number } | { kind: 'eca' };
  /**
   * Anti-aliasing with an average pool (timm's aa_layer nn.AvgPool2d): a block's strided 3x3 conv runs at
   * stride 1 and AvgPool2d(stride) follows its ReLU (`aa`, no weights).
   */
  antiAlias?: boolean;
  inputChannels: number;
  inputSize: number;
  numClasses: number;
}

/** Every field of a ResNetConfig (the compiler checks that none is left out). */
const CONFIG_FIELDS: Record<keyof ResNetConfig, true> = {
  name: true, block: true, layers: true, widths: true, groups: true, widthPerGroup: true, strideOn: true,
  stemChannels: true, stem: true, maxpool: true, convBias: true, avgpool: true, bnEps: true, se: true, deepStem: true,
  stemPool: true, avgDown: true, downsampleKernel: true, reduceFirst: true, attn: true, antiAlias: true, inputChannels: true,
  inputSize: true, numClasses: true,
};
export const CONFIG_KEYS = Object.keys(CONFIG_FIELDS) as (keyof ResNetConfig)[];
/** The fields a config may leave out (absent means the feature is off). */
export const OPTIONAL_CONFIG_KEYS: ReadonlySet<keyof ResNetConfig> = new Set(['se', 'deepStem', 'stemPool', 'avgDown',
  'downsampleKernel', 'reduceFirst', 'attn', 'antiAlias']);

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
  // Cadene's SEResNetBottleneck: the stride on the 1x1 conv1.
  arch('se_resnet50', 'bottleneck', [3, 4, 6, 3], 1, 64, { ...CADENE_SE_RESNEXT, strideOn: 'conv1' }),
  arch('se_resnet101', 'bottleneck', [3, 4, 23, 3], 1, 64, { ...CADENE_SE_RESNEXT, strideOn: 'conv1' }),
  arch('se_resnet152', 'bottleneck', [3, 8, 36, 3], 1, 64, { ...CADENE_SE_RESNEXT, strideOn: 'conv1' }),
  // Cadene's senet154 (SEBottleneck, input_3x3): a three-conv 3x3 stem of 64, 64, 128 channels (layer0.conv1..3,
  // canonical conv1.0 / conv1.3 / conv1.6), 64 groups with conv1 at half the 3x3's width (planes * 2 of planes * 4),
  // 3x3 shortcut convs with padding 1 where they stride.
  arch('senet154', 'bottleneck', [3, 8, 36, 3], 64, 4, { ...CADENE_SE_RESNEXT, stemChannels: 128, stem: { kernel: 3, stride: 2, pad: 1 },
    deepStem: [64, 64], reduceFirst: 2, downsampleKernel: 3 }),
].map((c) => [c.name, c]));

export function getArchitecture(name: string): ResNetConfig {
  const c = ARCHITECTURES[name];
  if (!c) throw new Error(`unknown architecture '${name}'; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return structuredClone(c);
}

/** timm's make_divisible(v, divisor, round_limit=0): v rounded to the nearest multiple of divisor, at least divisor. */
export function makeDivisible(v: number, divisor = 8): number {
  return Math.max(divisor, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
}

/** fc1's outputs of timm's SEModule on K channels with rd_ratio `ratio` (rd_divisor 8). */
export function seHidden(K: number, ratio: number): number {
  return makeDivisible(K * ratio, 8);
}

/** timm's EcaModule kernel size for K channels (gamma 2, beta 1): t = int(|log2(K) + 1| / 2), made odd, at least 3. */
export function ecaKernelSize(K: number): number {
  const t = Math.floor(Math.abs(Math.log2(K) + 1) / 2);
  return Math.max(t % 2 ? t : t + 1, 3);
}

/** Bottleneck width (channels of conv1/conv2) for a stage with `planes`. */
export function bottleneckWidth(c: ResNetConfig, planes: number): number {
  return Math.floor((planes * c.widthPerGroup) / 64) * c.groups;
}
