// Maps checkpoint tensor names to the canonical (torchvision) names of src/models/config.ts.
//
// Layouts:
//   cadene-resnext  Cadene pretrainedmodels ResNeXt (resnext101_32x4d / 64x4d): one nn.Sequential
//                   converted from Torch7. features.0 = conv1, features.1 = bn1 (2 ReLU, 3 max pool
//                   carry no tensors), features.{3+L} = layerL (L = 1..4; small models may have fewer).
//                   Inside block `features.N.B`:
//                     .0.0.0.0 conv1   .0.0.0.1 bn1   .0.0.0.3 conv2 (grouped)   .0.0.0.4 bn2
//                     .0.0.1   conv3   .0.0.2   bn3   .0.1.0 downsample.0   .0.1.1 downsample.1 (block 0)
//                   last_linear = fc.
//   cadene-fbresnet Cadene fbresnet152: torchvision names, a bias on every conv, last_linear = fc.
//   cadene-resnet   Cadene's torchvision-derived ResNets / ResNeXts: torchvision names with
//                   last_linear (or fc) as the classifier.
//   cadene-senet    Cadene's SENet (senet.py; se_resnext50_32x4d / se_resnext101_32x4d, se_resnet50/101/152):
//                   the 7x7 stem as layer0.conv1 / layer0.bn1 (layer0's relu1 and pool carry no tensors), stages and
//                   blocks under torchvision's names with `se_module.fc1` / `.fc2` kept, last_linear = fc. senet154's
//                   3x3 stem (input_3x3: layer0.conv1, bn1, conv2, bn2, conv3, bn3) becomes timm's deep-stem names
//                   conv1.0, conv1.1, conv1.3, conv1.4, conv1.6, bn1.
//   torchvision     torchvision ResNet / ResNeXt (and this project's .safetensors): names as they are.
//   timm-resnet     timm's ResNet variants (resnet.py: resnet50d, seresnext50_32x4d, ecaresnet50t, resnetrs101, ...):
//                   torchvision's names plus timm's for the new modules, which are the canonical ones (deep stem
//                   conv1.0 / .1 / .3 / .4 / .6, maxpool.0 / .1, downsample.1 / .2 after an average pool, se.fc1 /
//                   se.fc2, se.conv): kept as they are. timm's plain resnet50 is indistinguishable from torchvision's.
//   timm-resnetv2   timm's pre-activation ResNetV2 (resnetv2_50, ...; a .pth or the Hugging Face
//                   model.safetensors): stem.conv, stages.S.blocks.B.*, norm, head.fc. timm's names are
//                   the canonical ones of the 'preact-*' blocks (src/models/plan.ts): kept as they are.
// Every layout drops `num_batches_tracked` (BatchNorm's step counter, unused at inference).

export type Layout = 'cadene-resnext' | 'cadene-fbresnet' | 'cadene-resnet' | 'cadene-senet' | 'torchvision' | 'timm-resnetv2' | 'timm-resnet';

export interface KeyMap {
  layout: Layout;
  /** Source name -> canonical name, for every tensor that maps. */
  renamed: Map<string, string>;
  /** Tensors deliberately dropped (num_batches_tracked). */
  ignored: string[];
  /** Names the layout does not know; the converter reports them as unexpected. */
  unmapped: string[];
}

/** Guesses the layout from the names alone. */
export function detectLayout(names: Iterable<string>): Layout {
  const all = [...names];
  if (all.some((n) => n.startsWith('features.'))) return 'cadene-resnext';
  if (all.some((n) => n.startsWith('layer0.'))) return 'cadene-senet';
  if (all.includes('last_linear.weight')) return all.includes('conv1.bias') ? 'cadene-fbresnet' : 'cadene-resnet';
  if (isTimmResnetV2(all)) return 'timm-resnetv2';
  if (all.some((n) => TIMM_RESNET_MODULE.test(n))) return 'timm-resnet';
  return 'torchvision';
}

/** A module only timm's ResNet variants have: a deep stem, a conv stem pool, an avg_down shortcut's BN, timm's attention. */
const TIMM_RESNET_MODULE = /^(conv1\.0\.|maxpool\.0\.|layer\d+\.\d+\.(downsample\.2|se\.fc1|se\.conv)\.)/;

/** timm ResNetV2 names: a stem conv and stages of blocks. */
function isTimmResnetV2(names: string[]): boolean {
  return names.includes('stem.conv.weight') && names.some((n) => n.startsWith('stages.'));
}

const BN_PARAMS = new Set(['weight', 'bias', 'running_mean', 'running_var']);

/** Block-relative module paths of Cadene's ResNeXt -> canonical block members. */
const CADENE_BLOCK: Record<string, string> = {
  '0.0.0.0': 'conv1', '0.0.0.1': 'bn1', '0.0.0.3': 'conv2', '0.0.0.4': 'bn2', '0.0.1': 'conv3', '0.0.2': 'bn3',
  '0.1.0': 'downsample.0', '0.1.1': 'downsample.1',
};

/** Canonical name of one Cadene ResNeXt tensor, or null when the name is not part of the layout. */
export function cadeneResnextName(name: string): string | null {
  const top = /^(features\.(\d+)|last_linear|fc)\.(.+)$/.exec(name);
  if (!top) return null;
  if (top[1] === 'last_linear' || top[1] === 'fc') return /^(weight|bias)$/.test(top[3]) ? `fc.${top[3]}` : null;
  const index = Number(top[2]);
  const rest = top[3];
  if (index === 0) return /^(weight|bias)$/.test(rest) ? `conv1.${rest}` : null;
  if (index === 1) return BN_PARAMS.has(rest) ? `bn1.${rest}` : null;
  if (index < 4) return null;
  const m = /^(\d+)\.((?:\d+\.)*\d+)\.([a-z_]+)$/.exec(rest);
  if (!m) return null;
  const member = CADENE_BLOCK[m[2]];
  if (!member) return null;
  const isBn = member.startsWith('bn') || member === 'downsample.1';
  if (isBn ? !BN_PARAMS.has(m[3]) : !/^(weight|bias)$/.test(m[3])) return null;
  if (member.startsWith('downsample') && m[1] !== '0') return null; // only block 0 has a projection shortcut
  return `layer${index - 3}.${Number(m[1])}.${member}.${m[3]}`;
}

/** Cadene's 3x3 stem (input_3x3) -> timm's deep-stem names. */
const CADENE_DEEP_STEM: Record<string, string> = {
  conv1: 'conv1.0', bn1: 'conv1.1', conv2: 'conv1.3', bn2: 'conv1.4', conv3: 'conv1.6', bn3: 'bn1',
};

/**
 * Canonical name of one Cadene SENet tensor, or null when the name is not part of the layout.
 * `deepStem`: the checkpoint has the 3x3 stem (senet154: layer0.conv2 and layer0.conv3 exist).
 */
export function cadeneSenetName(name: string, deepStem = false): string | null {
  const stem = /^layer0\.(conv[123]|bn[123])\.(.+)$/.exec(name);
  if (stem && deepStem) return `${CADENE_DEEP_STEM[stem[1]]}.${stem[2]}`;
  if (stem && (stem[1] === 'conv1' || stem[1] === 'bn1')) return `${stem[1]}.${stem[2]}`;
  if (name.startsWith('layer0.')) return null;
  return name.startsWith('last_linear.') ? `fc.${name.slice('last_linear.'.length)}` : name;
}

/** Maps every name of a checkpoint to canonical names; `layout` defaults to detectLayout(names). */
export function mapKeys(names: Iterable<string>, layout?: Layout): KeyMap {
  const all = [...names];
  const l = layout ?? detectLayout(all);
  const deepStem = all.includes('layer0.conv2.weight') && all.includes('layer0.conv3.weight');
  const renamed = new Map<string, string>();
  const ignored: string[] = [];
  const unmapped: string[] = [];
  for (const name of all) {
    if (name.endsWith('.num_batches_tracked') || name === 'num_batches_tracked') { ignored.push(name); continue; }
    let to: string | null;
    if (l === 'cadene-resnext') to = cadeneResnextName(name);
    else if (l === 'cadene-senet') to = cadeneSenetName(name, deepStem);
    else to = name.startsWith('last_linear.') ? `fc.${name.slice('last_linear.'.length)}` : name;
    if (to === null) unmapped.push(name);
    else renamed.set(name, to);
  }
  return { layout: l, renamed, ignored, unmapped };
}
