// timm's ResNet zoo (timm/models/resnet.py) by architecture name: the `architecture` of a Hugging Face
// Hub repo's config.json (`timm/resnet50d.ra2_in1k` -> 'resnet50d') -> a ResNetConfig.
//
// Each entry is the model_args of timm's @register_model function, spelled with timm's own argument
// names (TimmArgs); timmArgsConfig maps them onto a ResNetConfig the way timm's ResNet.__init__ and
// make_blocks build the network. Architectures whose pieces the runtime lacks (BlurPool2d, GroupNorm,
// the pruned channel lists) are listed too, so that asking for them names what is missing.

import type { ResNetConfig } from './config.js';

/** timm's ResNet(...) arguments that the zoo uses (resnet.py's register_model functions). */
export interface TimmArgs {
  block: 'basic' | 'bottleneck';
  layers: number[];
  /** Groups of the 3x3 conv (timm's cardinality; default 1). */
  cardinality?: number;
  /** Default 64. */
  baseWidth?: number;
  /** Default 64; the deep stems' first widths (stem_width, or 3 * (stem_width / 4) for 'deep_tiered'). */
  stemWidth?: number;
  /** '' (7x7 conv, the default), 'deep' (three 3x3 convs), 'deep_tiered'. */
  stemType?: '' | 'deep' | 'deep_tiered';
  /** A 3x3/2 conv + BN + ReLU instead of the stem's max pool (ResNet-RS). */
  replaceStemPool?: boolean;
  /** Width reduction of every block's conv1 (SENet-154: 2). */
  blockReduceFirst?: number;
  /** Kernel of the projection shortcut's conv where it strides (SENet-154: 3). */
  downKernelSize?: number;
  /** AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) before the shortcut's 1x1 conv. */
  avgDown?: boolean;
  /** Anti-aliasing: 'avg' (nn.AvgPool2d), 'blur' (BlurPool2d, not supported). */
  aaLayer?: 'avg' | 'blur';
  /** block_args attn_layer: 'se' (SEModule, rd_ratio 1/16 unless given), 'eca' (EcaModule). */
  attn?: 'se' | 'eca';
  /** SEModule's rd_ratio (ResNet-RS: 0.25). */
  seRatio?: number;
  /** Not supported: a GroupNorm network (resnet50_gn), a pruned one (ecaresnet*_pruned: per-layer widths). */
  unsupported?: string;
}

const B = 'bottleneck' as const;
const BASIC = 'basic' as const;
const L18 = [2, 2, 2, 2];
const L26 = [2, 2, 2, 2];
const L34 = [3, 4, 6, 3];
const L50 = [3, 4, 6, 3];
const L101 = [3, 4, 23, 3];
const L152 = [3, 8, 36, 3];
const L200 = [3, 24, 36, 3];
const D = { stemWidth: 32, stemType: 'deep', avgDown: true } as const;
const T = { stemWidth: 32, stemType: 'deep_tiered', avgDown: true } as const;
const C = { stemWidth: 32, stemType: 'deep' } as const;
const S = { stemWidth: 64, stemType: 'deep' } as const;
const X32x4 = { cardinality: 32, baseWidth: 4 } as const;
const X32x8 = { cardinality: 32, baseWidth: 8 } as const;
const RS = { ...D, replaceStemPool: true, attn: 'se', seRatio: 0.25 } as const;

/** timm's resnet.py architectures (every register_model of the ResNet class) and their arguments. */
export const TIMM_ARCHITECTURES: Readonly<Record<string, TimmArgs>> = {
  // torchvision's layout
  resnet18: { block: BASIC, layers: L18 },
  resnet34: { block: BASIC, layers: L34 },
  resnet26: { block: B, layers: L26 },
  resnet50: { block: B, layers: L50 },
  resnet101: { block: B, layers: L101 },
  resnet152: { block: B, layers: L152 },
  resnet200: { block: B, layers: L200 },
  wide_resnet50_2: { block: B, layers: L50, baseWidth: 128 },
  wide_resnet101_2: { block: B, layers: L101, baseWidth: 128 },
  resnext50_32x4d: { block: B, layers: L50, ...X32x4 },
  resnext101_32x4d: { block: B, layers: L101, ...X32x4 },
  resnext101_32x8d: { block: B, layers: L101, ...X32x8 },
  resnext101_32x16d: { block: B, layers: L101, cardinality: 32, baseWidth: 16 },
  resnext101_32x32d: { block: B, layers: L101, cardinality: 32, baseWidth: 32 },
  resnext101_32x48d: { block: B, layers: L101, cardinality: 32, baseWidth: 48 },
  resnext101_64x4d: { block: B, layers: L101, cardinality: 64, baseWidth: 4 },
  // deep stems ('c', 's'), with the average-pool shortcut ('d', 't')
  resnet10t: { block: BASIC, layers: [1, 1, 1, 1], ...T },
  resnet14t: { block: B, layers: [1, 1, 1, 1], ...T },
  resnet18d: { block: BASIC, layers: L18, ...D },
  resnet34d: { block: BASIC, layers: L34, ...D },
  resnet26d: { block: B, layers: L26, ...D },
  resnet26t: { block: B, layers: L26, ...T },
  resnet50c: { block: B, layers: L50, ...C },
  resnet50d: { block: B, layers: L50, ...D },
  resnet50s: { block: B, layers: L50, ...S },
  resnet50t: { block: B, layers: L50, ...T },
  resnet101c: { block: B, layers: L101, ...C },
  resnet101d: { block: B, layers: L101, ...D },
  resnet101s: { block: B, layers: L101, ...S },
  resnet152c: { block: B, layers: L152, ...C },
  resnet152d: { block: B, layers: L152, ...D },
  resnet152s: { block: B, layers: L152, ...S },
  resnet200d: { block: B, layers: L200, ...D },
  resnext50d_32x4d: { block: B, layers: L50, ...X32x4, ...D },
  // squeeze-excitation (timm's SEModule as `se.fc1` / `se.fc2`)
  seresnet18: { block: BASIC, layers: L18, attn: 'se' },
  seresnet34: { block: BASIC, layers: L34, attn: 'se' },
  seresnet50: { block: B, layers: L50, attn: 'se' },
  seresnet50t: { block: B, layers: L50, ...T, attn: 'se' },
  seresnet101: { block: B, layers: L101, attn: 'se' },
  seresnet152: { block: B, layers: L152, attn: 'se' },
  seresnet152d: { block: B, layers: L152, ...D, attn: 'se' },
  seresnet200d: { block: B, layers: L200, ...D, attn: 'se' },
  seresnet269d: { block: B, layers: [3, 30, 48, 8], ...D, attn: 'se' },
  seresnext26d_32x4d: { block: B, layers: L26, ...X32x4, ...D, attn: 'se' },
  seresnext26t_32x4d: { block: B, layers: L26, ...X32x4, ...T, attn: 'se' },
  seresnext50_32x4d: { block: B, layers: L50, ...X32x4, attn: 'se' },
  seresnext101_32x4d: { block: B, layers: L101, ...X32x4, attn: 'se' },
  seresnext101_32x8d: { block: B, layers: L101, ...X32x8, attn: 'se' },
  seresnext101d_32x8d: { block: B, layers: L101, ...X32x8, ...D, attn: 'se' },
  seresnext101_64x4d: { block: B, layers: L101, cardinality: 64, baseWidth: 4, attn: 'se' },
  senet154: { block: B, layers: L152, cardinality: 64, baseWidth: 4, stemType: 'deep', downKernelSize: 3, blockReduceFirst: 2, attn: 'se' },
  resnetrs50: { block: B, layers: L50, ...RS },
  resnetrs101: { block: B, layers: L101, ...RS },
  resnetrs152: { block: B, layers: L152, ...RS },
  resnetrs200: { block: B, layers: L200, ...RS },
  resnetrs270: { block: B, layers: [4, 29, 53, 4], ...RS },
  resnetrs350: { block: B, layers: [4, 36, 72, 4], ...RS },
  resnetrs420: { block: B, layers: [4, 44, 87, 4], ...RS },
  // efficient channel attention (EcaModule as `se.conv`)
  ecaresnet26t: { block: B, layers: L26, ...T, attn: 'eca' },
  ecaresnet50d: { block: B, layers: L50, ...D, attn: 'eca' },
  ecaresnet50t: { block: B, layers: L50, ...T, attn: 'eca' },
  ecaresnetlight: { block: B, layers: [1, 1, 11, 3], stemWidth: 32, avgDown: true, attn: 'eca' },
  ecaresnet101d: { block: B, layers: L101, ...D, attn: 'eca' },
  ecaresnet200d: { block: B, layers: L200, ...D, attn: 'eca' },
  ecaresnet269d: { block: B, layers: [3, 30, 48, 8], ...D, attn: 'eca' },
  ecaresnext26t_32x4d: { block: B, layers: L26, ...X32x4, ...T, attn: 'eca' },
  ecaresnext50t_32x4d: { block: B, layers: L26, ...X32x4, ...T, attn: 'eca' },
  // anti-aliased with an average pool (aa_layer=nn.AvgPool2d)
  resnetaa34d: { block: BASIC, layers: L34, ...D, aaLayer: 'avg' },
  resnetaa50: { block: B, layers: L50, aaLayer: 'avg' },
  resnetaa50d: { block: B, layers: L50, ...D, aaLayer: 'avg' },
  resnetaa101d: { block: B, layers: L101, ...D, aaLayer: 'avg' },
  seresnetaa50d: { block: B, layers: L50, ...D, aaLayer: 'avg', attn: 'se' },
  seresnextaa101d_32x8d: { block: B, layers: L101, ...X32x8, ...D, aaLayer: 'avg', attn: 'se' },
  seresnextaa201d_32x8d: { block: B, layers: [3, 24, 36, 4], ...X32x8, stemWidth: 64, stemType: 'deep', avgDown: true, aaLayer: 'avg', attn: 'se' },
  // not supported: their pieces are named in the error
  resnetblur18: { block: BASIC, layers: L18, aaLayer: 'blur' },
  resnetblur50: { block: B, layers: L50, aaLayer: 'blur' },
  resnetblur50d: { block: B, layers: L50, ...D, aaLayer: 'blur' },
  resnetblur101d: { block: B, layers: L101, ...D, aaLayer: 'blur' },
  resnet50_gn: { block: B, layers: L50, unsupported: 'GroupNorm (norm_layer groupnorm)' },
  test_resnet: { block: BASIC, layers: [1, 1, 1, 1], unsupported: 'a different block type per stage (block=[BasicBlock, BasicBlock, Bottleneck, BasicBlock])' },
  ecaresnet50d_pruned: { block: B, layers: L50, ...D, attn: 'eca', unsupported: "pruned per-layer widths (timm's adapt_model_from_file)" },
  ecaresnet101d_pruned: { block: B, layers: L101, ...D, attn: 'eca', unsupported: "pruned per-layer widths (timm's adapt_model_from_file)" },
};

/** A timm architecture this runtime cannot build: one line naming it and the missing piece. */
export class UnsupportedArchitectureError extends Error {
  constructor(readonly architecture: string, readonly missing: string) {
    super(`timm architecture '${architecture}' is not supported: ${missing}`);
    this.name = 'UnsupportedArchitectureError';
  }
}

/** Pieces of timm's ResNet that the runtime does not have. */
const NOT_YET: ((a: TimmArgs) => string | null)[] = [
  (a) => a.unsupported ?? null,
  (a) => a.aaLayer === 'blur' ? 'anti-aliasing with BlurPool2d (aa_layer=BlurPool2d)' : null,
];

export interface TimmConfigOptions {
  /** The input's side (pretrained_cfg input_size; default 224). Every timm ResNet pools globally. */
  inputSize?: number;
  /** Input channels (in_chans; default 3). */
  inputChannels?: number;
}

/**
 * The ResNetConfig of timm architecture `architecture` (config.json's `architecture`, e.g. 'resnet50d')
 * with `numClasses` outputs. Throws UnsupportedArchitectureError for a name timm's resnet.py does not
 * define or one with a piece the runtime lacks.
 */
export function timmArchConfig(architecture: string, numClasses = 1000, options: TimmConfigOptions = {}): ResNetConfig {
  const args = TIMM_ARCHITECTURES[architecture];
  if (!args) throw new UnsupportedArchitectureError(architecture, "not one of timm's resnet.py architectures");
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new UnsupportedArchitectureError(architecture, `num_classes must be a positive integer, got ${numClasses}`);
  }
  for (const check of NOT_YET) {
    const missing = check(args);
    if (missing) throw new UnsupportedArchitectureError(architecture, missing);
  }
  return timmArgsConfig(architecture, args, numClasses, options);
}

/** Whether timmArchConfig builds `architecture` (no error). */
export function isSupportedTimmArchitecture(architecture: string): boolean {
  const args = TIMM_ARCHITECTURES[architecture];
  return args !== undefined && NOT_YET.every((check) => check(args) === null);
}

/** Whether timm's `architecture` is torchvision's layout (no variant: resnet50, wide_resnet50_2, resnext101_32x8d, ...). */
export function isTorchvisionLayout(architecture: string): boolean {
  const a = TIMM_ARCHITECTURES[architecture];
  return a !== undefined && !a.stemType && !a.replaceStemPool && !a.avgDown && !a.aaLayer && !a.attn && !a.unsupported &&
    (a.blockReduceFirst ?? 1) === 1 && (a.downKernelSize ?? 1) === 1;
}

/**
 * timm's ResNet(...) as a ResNetConfig, the way ResNet.__init__ and make_blocks build it: torchvision's
 * layout, plus each variant's field only where the arguments turn it on.
 */
function timmArgsConfig(name: string, a: TimmArgs, numClasses: number, o: TimmConfigOptions): ResNetConfig {
  const deep = a.stemType === 'deep' || a.stemType === 'deep_tiered';
  const stemWidth = a.stemWidth ?? 64;
  const c: ResNetConfig = {
    name,
    block: a.block,
    layers: [...a.layers],
    widths: [64, 128, 256, 512],
    groups: a.cardinality ?? 1,
    widthPerGroup: a.baseWidth ?? 64,
    strideOn: 'conv2',
    // A deep stem ends in stem_width * 2 channels; the 7x7 stem has 64 whatever stem_width says (ecaresnetlight).
    stemChannels: deep ? stemWidth * 2 : 64,
    stem: deep ? { kernel: 3, stride: 2, pad: 1 } : { kernel: 7, stride: 2, pad: 3 },
    maxpool: { kernel: 3, stride: 2, pad: 1, ceil: false },
    convBias: false,
    avgpool: 'global',
    bnEps: 1e-5,
    inputChannels: o.inputChannels ?? 3,
    inputSize: o.inputSize ?? 224,
    numClasses,
  };
  if (deep) c.deepStem = a.stemType === 'deep_tiered' ? [3 * Math.floor(stemWidth / 4), stemWidth] : [stemWidth, stemWidth];
  // replace_stem_pool wins over the anti-aliased stem pool (ResNet.__init__ checks it first).
  if (a.replaceStemPool) c.stemPool = 'conv';
  else if (a.aaLayer === 'avg') c.stemPool = 'avg';
  if (c.stemPool) c.maxpool = null;
  if (a.avgDown) c.avgDown = true;
  if ((a.downKernelSize ?? 1) !== 1) c.downsampleKernel = a.downKernelSize;
  if ((a.blockReduceFirst ?? 1) !== 1) c.reduceFirst = a.blockReduceFirst;
  if (a.attn === 'se') c.attn = { kind: 'se', ratio: a.seRatio ?? 1 / 16 };
  if (a.attn === 'eca') c.attn = { kind: 'eca' };
  if (a.aaLayer === 'avg') c.antiAlias = true;
  return c;
}
