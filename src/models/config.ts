// The ResNet / ResNeXt family as one table, and the canonical weight names it implies.
//
// Canonical names are torchvision's state-dict names: conv1, bn1, layerL.B.conv1..3, bn1..3,
// layerL.B.downsample.0 (1x1 conv) / .1 (BN), fc. Convolutions carry `.bias` only when
// `convBias` is set (fbresnet152). Tensor shapes are PyTorch's: conv (K, C/G, R, S), fc (K, C).

export interface ResNetConfig {
  /** Architecture name as users type it, e.g. 'resnext101_32x4d'. */
  name: string;
  block: 'basic' | 'bottleneck';
  /** Blocks per stage; stage i is `layer{i+1}`. */
  layers: number[];
  /** `planes` of each stage (torchvision: 64, 128, 256, 512). Stage i > 0 strides by 2. */
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
  inputChannels: number;
  inputSize: number;
  numClasses: number;
}

export const BOTTLENECK_EXPANSION = 4;

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

/** The named architectures: torchvision's and Cadene pretrainedmodels'. */
export const ARCHITECTURES: Record<string, ResNetConfig> = Object.fromEntries([
  arch('resnet18', 'basic', [2, 2, 2, 2]),
  arch('resnet34', 'basic', [3, 4, 6, 3]),
  arch('resnet50', 'bottleneck', [3, 4, 6, 3]),
  arch('resnet101', 'bottleneck', [3, 4, 23, 3]),
  arch('resnet152', 'bottleneck', [3, 8, 36, 3]),
  arch('resnext50_32x4d', 'bottleneck', [3, 4, 6, 3], 32, 4),
  arch('resnext101_32x8d', 'bottleneck', [3, 4, 23, 3], 32, 8),
  arch('resnext101_64x4d', 'bottleneck', [3, 4, 23, 3], 64, 4, { avgpool: { kernel: 7 } }),
  arch('resnext101_32x4d', 'bottleneck', [3, 4, 23, 3], 32, 4, { avgpool: { kernel: 7 } }),
  arch('fbresnet152', 'bottleneck', [3, 8, 36, 3], 1, 64, { strideOn: 'conv1', convBias: true, avgpool: { kernel: 7 } }),
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

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** Every tensor a checkpoint for `c` must hold, in canonical names and PyTorch shapes. */
export function expectedTensors(c: ResNetConfig): TensorSpec[] {
  const out: TensorSpec[] = [];
  const conv = (name: string, k: number, cPerG: number, r: number) => {
    out.push({ name: `${name}.weight`, shape: [k, cPerG, r, r] });
    if (c.convBias) out.push({ name: `${name}.bias`, shape: [k] });
  };
  const bn = (name: string, ch: number) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) out.push({ name: `${name}.${p}`, shape: [ch] });
  };
  conv('conv1', c.stemChannels, c.inputChannels, c.stem.kernel);
  bn('bn1', c.stemChannels);
  let inplanes = c.stemChannels;
  c.layers.forEach((blocks, s) => {
    const planes = c.widths[s];
    const outCh = c.block === 'bottleneck' ? planes * BOTTLENECK_EXPANSION : planes;
    for (let b = 0; b < blocks; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      if (c.block === 'bottleneck') {
        const w = bottleneckWidth(c, planes);
        conv(`${p}.conv1`, w, inplanes, 1); bn(`${p}.bn1`, w);
        conv(`${p}.conv2`, w, w / c.groups, 3); bn(`${p}.bn2`, w);
        conv(`${p}.conv3`, outCh, w, 1); bn(`${p}.bn3`, outCh);
      } else {
        conv(`${p}.conv1`, planes, inplanes, 3); bn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, planes, planes, 3); bn(`${p}.bn2`, planes);
      }
      if (b === 0 && (stride !== 1 || inplanes !== outCh)) {
        conv(`${p}.downsample.0`, outCh, inplanes, 1); bn(`${p}.downsample.1`, outCh);
      }
      inplanes = outCh;
    }
  });
  out.push({ name: 'fc.weight', shape: [c.numClasses, inplanes] });
  out.push({ name: 'fc.bias', shape: [c.numClasses] });
  return out;
}

/** Channels that reach the classifier. */
export function featureChannels(c: ResNetConfig): number {
  const last = c.widths[c.layers.length - 1];
  return c.block === 'bottleneck' ? last * BOTTLENECK_EXPANSION : last;
}
