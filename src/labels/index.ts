// The class-name lists a weights file can refer to by name (metadata 'labels'): 'imagenet', the
// ImageNet-1k list that ships in the main bundle (src/models/imagenet-labels.ts), and 'imagenet-12k',
// timm's 11821-class ImageNet-12k list (./imagenet-12k.ts, about 300 kB), imported only when a model
// needs it: bundlers put it in a chunk of its own.

import { IMAGENET_LABELS } from '../models/imagenet-labels.js';

export type LabelSet = 'imagenet' | 'imagenet-12k';

let imagenet12k: Promise<readonly string[]> | undefined;

/** The class names of a named list (the ImageNet-12k one loaded on first use). */
export async function labelSet(name: LabelSet): Promise<readonly string[]> {
  if (name === 'imagenet') return IMAGENET_LABELS;
  imagenet12k ??= import('./imagenet-12k.js').then((m) => Object.freeze(m.IMAGENET_12K_LABELS_TEXT.split('\n')));
  return imagenet12k;
}
