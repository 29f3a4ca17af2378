#!/usr/bin/python3
"""Train the embedded default model: a small ResNeXt on Fashion-MNIST (28x28 grey, 10 classes).

What it does
  1. Reads Debian's dataset-fashion-mnist IDX files (/usr/share/datasets/fashion-mnist/*.gz).
  2. Trains a torchvision-style ResNeXt (bottleneck blocks, grouped 3x3 conv, no max pool) on the
     60,000 training images with light augmentation (random crop, padding 2; flips optional),
     AdamW and a OneCycle learning rate, on the CPU (channels-last for speed).
  3. Evaluates on all 10,000 test images and writes, under assets/fashion-mnist/:
       fashion_mnist_resnext.pth   checkpoint in Cadene's pretrainedmodels layout (legacy,
                                   non-zip torch.save format; no num_batches_tracked)
       test-subset-images.bin      the first 1000 test images, uint8 (1000, 28, 28), no header
       test-subset.json            their labels, PyTorch's logits / predictions / accuracy
       samples/*.png               12 test images for the demo and `npm start`
       README.md                   accuracy, training time, epochs, parameter count, licence
       training-info.json          the training settings and time (read by --eval-only)
     and weights-tools/fashion_mnist_resnext.json (the ResNetConfig plus model metadata, the
     converter's --config file).
  4. Not done here: converting the .pth into the embedded fashion-mnist-resnext.safetensors with
     the project's converter (the command is in assets/fashion-mnist/README.md).

Rerun:   /usr/bin/python3 weights-tools/train_fashion_mnist.py          (from the repo root)
         add --eval-only to skip training and regenerate every output from the saved .pth.
Runtime: 6 epochs took 31 minutes (1853 s) with --threads 1 on 2 cores shared with other jobs
         (load 3-5); --eval-only about 1 minute. On a busy machine prefer --threads 1: two
         OpenMP threads competing with other processes ran ~4x slower per step here.
Needs Debian's python3-torch, python3-torchvision (PIL comes with it) and dataset-fashion-mnist;
call /usr/bin/python3 explicitly (another python3 may come first on PATH, without torch).
"""

import argparse
import collections
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = '/usr/share/datasets/fashion-mnist'
OUT_DIR = os.path.join(REPO, 'assets', 'fashion-mnist')
CONFIG_JSON = os.path.join(REPO, 'weights-tools', 'fashion_mnist_resnext.json')
PTH_NAME = 'fashion_mnist_resnext.pth'
SAFETENSORS_NAME = 'fashion-mnist-resnext.safetensors'  # written by the converter, not by this script

LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
          'Ankle boot']

# The architecture, exactly as this project's ResNetConfig (src/models/config.ts) spells it.
# Blocks [1, 2, 3]: each 3x3 conv widens the receptive field (by 2 px at 28x28, 4 at 14x14, 8 at
# 7x7), and the extra blocks sit where they are cheap. With [1, 1, 1] the receptive field is only
# 11 px, the global pool sees local patches only, and 6 epochs reached just 90.1-90.2% (train 91%):
# the net underfits. [1, 2, 3] reaches 31 px, the whole image.
CONFIG = {
    'name': 'resnext_fashion_mnist_8x16d',
    'block': 'bottleneck',
    'layers': [1, 2, 3],
    'widths': [16, 32, 64],
    'groups': 8,
    'widthPerGroup': 16,
    'strideOn': 'conv2',
    'stemChannels': 32,
    'stem': {'kernel': 3, 'stride': 1, 'pad': 1},
    'maxpool': None,
    'convBias': False,
    'avgpool': 'global',
    'bnEps': 1e-5,
    'inputChannels': 1,
    'inputSize': 28,
    'numClasses': 10,
}
EXPANSION = 4  # BOTTLENECK_EXPANSION in src/models/config.ts

SUBSET_COUNT = 1000  # the first 1000 test images, in test-set order


# ----------------------------------------------------------------------------------------------
# Model: torchvision's ResNet/Bottleneck structure and parameter names (conv1, bn1, layerL.B.*,
# fc), with a 3x3 stride-1 stem and no max pool for 28x28 inputs.

class Bottleneck(nn.Module):
    """torchvision Bottleneck: 1x1 -> BN -> ReLU, grouped 3x3 (stride) -> BN -> ReLU, 1x1 -> BN,
    + shortcut (1x1 conv + BN when the shape changes), ReLU."""

    def __init__(self, inplanes, planes, stride, groups, width_per_group, eps):
        super().__init__()
        width = (planes * width_per_group // 64) * groups
        out = planes * EXPANSION
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=eps)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=eps)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out, eps=eps)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out, eps=eps))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(y + s)


class ResNeXt(nn.Module):
    def __init__(self, c):
        super().__init__()
        assert c['block'] == 'bottleneck' and c['strideOn'] == 'conv2' and c['maxpool'] is None
        assert not c['convBias'] and c['avgpool'] == 'global'
        st = c['stem']
        self.conv1 = nn.Conv2d(c['inputChannels'], c['stemChannels'], st['kernel'], stride=st['stride'],
                               padding=st['pad'], bias=False)
        self.bn1 = nn.BatchNorm2d(c['stemChannels'], eps=c['bnEps'])
        inplanes = c['stemChannels']
        for s, (blocks, planes) in enumerate(zip(c['layers'], c['widths'])):
            layer = []
            for b in range(blocks):
                stride = 2 if (b == 0 and s > 0) else 1
                layer.append(Bottleneck(inplanes, planes, stride, c['groups'], c['widthPerGroup'], c['bnEps']))
                inplanes = planes * EXPANSION
            setattr(self, f'layer{s + 1}', nn.Sequential(*layer))
        self.num_stages = len(c['layers'])
        self.fc = nn.Linear(inplanes, c['numClasses'])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        # torchvision's zero_init_residual: each block starts as (nearly) the identity.
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.num_stages):
            x = getattr(self, f'layer{s + 1}')(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def torchvision_state_dict(model):
    """Canonical (torchvision) names, without num_batches_tracked."""
    return collections.OrderedDict((k, v.detach().clone().contiguous()) for k, v in model.state_dict().items()
                                   if not k.endswith('num_batches_tracked'))


# torchvision name inside a block -> Cadene's path inside `features.{S}.{b}` (see module doc).
_CADENE_BLOCK = {
    'conv1': '0.0.0.0', 'bn1': '0.0.0.1', 'conv2': '0.0.0.3', 'bn2': '0.0.0.4',
    'conv3': '0.0.1', 'bn3': '0.0.2', 'downsample.0': '0.1.0', 'downsample.1': '0.1.1',
}


def to_cadene_name(name):
    """conv1 -> features.0, bn1 -> features.1, layerL -> features.{L+3} (2 = ReLU, 3 = max pool
    slot), block parts per _CADENE_BLOCK, fc -> last_linear."""
    module, param = name.rsplit('.', 1)
    if module == 'conv1':
        return f'features.0.{param}'
    if module == 'bn1':
        return f'features.1.{param}'
    if module == 'fc':
        return f'last_linear.{param}'
    if module.startswith('layer'):
        layer, block, part = module.split('.', 2)
        stage = int(layer[len('layer'):]) + 3
        return f'features.{stage}.{block}.{_CADENE_BLOCK[part]}.{param}'
    raise ValueError(f'no Cadene name for {name}')


def from_cadene_name(name):
    module, param = name.rsplit('.', 1)
    if module == 'features.0':
        return f'conv1.{param}'
    if module == 'features.1':
        return f'bn1.{param}'
    if module == 'last_linear':
        return f'fc.{param}'
    _, stage, block, part = module.split('.', 3)
    inverse = {v: k for k, v in _CADENE_BLOCK.items()}
    return f'layer{int(stage) - 3}.{block}.{inverse[part]}.{param}'


# ----------------------------------------------------------------------------------------------
# Data

def read_idx(path):
    """IDX (big-endian header: magic with dtype code and rank, then the dims) -> uint8 array."""
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], 'big')
    if magic >> 8 != 0x08:
        raise ValueError(f'{path}: expected uint8 IDX data, magic {magic:#x}')
    rank = magic & 0xff
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(rank)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != math.prod(dims):
        raise ValueError(f'{path}: {data.size} bytes of data for dims {dims}')
    return data.reshape(dims)


def load_split(split):
    images = read_idx(os.path.join(DATA_DIR, f'{split}-images-idx3-ubyte.gz'))
    labels = read_idx(os.path.join(DATA_DIR, f'{split}-labels-idx1-ubyte.gz'))
    assert images.shape[0] == labels.shape[0] and images.shape[1:] == (28, 28)
    return images, labels


def normalise(images_u8, mean, std):
    """Exactly what the runtime does: pixel / 255, then (x - mean) / std, in float32. (N, 1, 28, 28)"""
    x = torch.from_numpy(np.array(images_u8, dtype=np.uint8)).float().unsqueeze(1) / 255.0
    return (x - torch.tensor(mean, dtype=torch.float32)) / torch.tensor(std, dtype=torch.float32)


def augment(x, gen, flip):
    """Random crop 28x28 from the image padded by 2 (pad value = normalised black), and, when
    `flip`, a horizontal flip with probability 1/2. x: (N, 1, 28, 28) normalised."""
    n = x.shape[0]
    pad_value = float(x.min())  # every Fashion-MNIST batch contains pure-black pixels
    xp = F.pad(x, (2, 2, 2, 2), value=pad_value)
    oy = torch.randint(0, 5, (n,), generator=gen)
    ox = torch.randint(0, 5, (n,), generator=gen)
    ar = torch.arange(28)
    rows = (oy[:, None] + ar[None, :])[:, :, None]   # (N, 28, 1)
    cols = (ox[:, None] + ar[None, :])[:, None, :]   # (N, 1, 28)
    out = xp[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    if not flip:
        return out
    flipped = torch.rand(n, generator=gen) < 0.5
    return torch.where(flipped[:, None, None, None], out.flip(3), out)


@torch.no_grad()
def predict_logits(model, x, batch=500):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


# ----------------------------------------------------------------------------------------------

def count_params(sd):
    return sum(v.numel() for k, v in sd.items() if not k.endswith(('running_mean', 'running_var')))


def check_names(model, expected_json):
    """Compare the torchvision-named state dict with expectedTensors(config) from src/models/config.ts
    (a JSON list of {name, shape}, e.g. printed by `npx tsx`)."""
    with open(expected_json) as f:
        expected = [(e['name'], list(e['shape'])) for e in json.load(f)]
    ours = [(k, list(v.shape)) for k, v in torchvision_state_dict(model).items()]
    if sorted(ours) != sorted(expected):
        missing = sorted(set(map(str, expected)) - set(map(str, ours)))
        extra = sorted(set(map(str, ours)) - set(map(str, expected)))
        sys.exit(f'state dict does not match expectedTensors(config):\n missing {missing}\n extra {extra}')
    print(f'names/shapes match expectedTensors(config): {len(ours)} tensors')


def train(model, x_train, y_train, args, log):
    gen = torch.Generator().manual_seed(args.seed)
    n = x_train.shape[0]
    steps_per_epoch = n // args.batch
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)  # no weight decay on BN and biases
    groups = [{'params': decay, 'weight_decay': args.wd}, {'params': no_decay, 'weight_decay': 0}]
    if args.opt == 'adamw':
        opt = torch.optim.AdamW(groups, lr=args.lr)
    else:
        opt = torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total_loss, correct = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb = augment(x_train[idx], gen, args.flip).contiguous(memory_format=torch.channels_last)
            yb = y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item()
            correct += (out.argmax(1) == yb).sum().item()
            if args.bench and i + 1 == args.bench:
                dt = time.time() - t0
                log(f'bench: {args.bench} steps of {args.batch} in {dt:.1f} s -> '
                    f'{dt / args.bench * steps_per_epoch:.0f} s per epoch')
                return None
            if (i + 1) % 100 == 0:
                log(f'epoch {epoch + 1} step {i + 1}/{steps_per_epoch} loss {total_loss / (i + 1):.4f} '
                    f'lr {sched.get_last_lr()[0]:.4f} {time.time() - t0:.0f} s')
        log(f'epoch {epoch + 1}/{args.epochs}: train loss {total_loss / steps_per_epoch:.4f}, '
            f'train acc (augmented) {correct / (steps_per_epoch * args.batch):.4f}, {time.time() - t0:.0f} s')
    return time.time() - t0


def write_outputs(model, mean, std, x_test_u8, y_test, train_info, log):
    os.makedirs(os.path.join(OUT_DIR, 'samples'), exist_ok=True)
    x_test = normalise(x_test_u8, mean, std)
    logits = predict_logits(model, x_test)
    pred = logits.argmax(1).numpy()
    acc = float((pred == y_test).mean())
    log(f'test accuracy on all {len(y_test)} test images: {acc:.4f}')

    # Subset: the first SUBSET_COUNT test images, logits from the model in eval mode on the
    # normalised float32 input (batch 500, the same as for the full test set).
    sub_u8 = np.ascontiguousarray(x_test_u8[:SUBSET_COUNT])
    sub_logits = predict_logits(model, normalise(sub_u8, mean, std)).numpy().astype(np.float32)
    sub_pred = sub_logits.argmax(1)
    sub_labels = y_test[:SUBSET_COUNT]
    sub_acc = float((sub_pred == sub_labels).mean())
    with open(os.path.join(OUT_DIR, 'test-subset-images.bin'), 'wb') as f:
        f.write(sub_u8.tobytes())  # uint8 (N, 28, 28), row-major, no header
    subset = collections.OrderedDict([
        ('count', SUBSET_COUNT),
        ('shape', [28, 28]),
        ('selection', f'the first {SUBSET_COUNT} images of t10k-images-idx3-ubyte, in order'),
        ('images', 'test-subset-images.bin: uint8 (count, 28, 28), row-major, no header'),
        ('normalisation', {'mean': mean, 'std': std, 'formula': '(pixel / 255 - mean) / std, float32'}),
        ('torch_accuracy', sub_acc),
        ('labels', [int(v) for v in sub_labels]),
        ('torch_predictions', [int(v) for v in sub_pred]),
        # float(np.float32) is the exact value of each float32 logit (repr round-trips).
        ('torch_logits', [[float(v) for v in row] for row in sub_logits]),
    ])
    with open(os.path.join(OUT_DIR, 'test-subset.json'), 'w') as f:
        json.dump(subset, f, separators=(',', ':'))
        f.write('\n')
    log(f'subset: {SUBSET_COUNT} images, torch accuracy {sub_acc:.4f}')

    # Samples: the first test image of each class, plus the second Shirt and the second Pullover
    # (the classes most often confused with others), 12 in all.
    from PIL import Image
    sample_dir = os.path.join(OUT_DIR, 'samples')
    for old in os.listdir(sample_dir):
        if old.startswith('sample-') and old.endswith('.png'):
            os.remove(os.path.join(sample_dir, old))
    chosen = sorted(int(np.nonzero(y_test == c)[0][0]) for c in range(10))
    extra = [int(np.nonzero(y_test == LABELS.index(name))[0][1]) for name in ('Shirt', 'Pullover')]
    chosen = sorted(chosen + extra)
    samples = []
    for i in chosen:
        slug = LABELS[y_test[i]].lower().replace('/', '-').replace(' ', '-')
        name = f'sample-{i:04d}-{slug}.png'
        Image.fromarray(x_test_u8[i], mode='L').save(os.path.join(sample_dir, name))
        samples.append({'file': name, 'test_index': i, 'label': int(y_test[i]), 'label_name': LABELS[y_test[i]],
                        'torch_prediction': int(pred[i]), 'torch_prediction_name': LABELS[pred[i]]})
    with open(os.path.join(sample_dir, 'samples.json'), 'w') as f:
        json.dump(samples, f, indent=1)
        f.write('\n')
    return acc, sub_acc, samples


def write_readme(acc, sub_acc, samples, info, pth_bytes, raw_stats):
    rows = '\n'.join(f"| `samples/{s['file']}` | {s['test_index']} | {s['label_name']} | {s['torch_prediction_name']} |"
                     for s in samples)
    c = CONFIG
    text = f"""# Fashion-MNIST: the embedded default model

A small ResNeXt trained on Fashion-MNIST by `weights-tools/train_fashion_mnist.py` (Debian's
python3-torch {torch.__version__}, CPU). Its ResNetConfig and metadata are in
`weights-tools/fashion_mnist_resnext.json`.

Regenerate everything here: `/usr/bin/python3 weights-tools/train_fashion_mnist.py` (about
{info['train_seconds'] / 60:.0f} minutes here, see below); `--eval-only` rewrites the subset, samples, config and
this README from the saved checkpoint without training. Then convert the checkpoint with the
project's converter:

```sh
npm run cli -- convert assets/fashion-mnist/{PTH_NAME} assets/fashion-mnist/{SAFETENSORS_NAME} \\
  --config weights-tools/fashion_mnist_resnext.json
```

## Model

- `{c['name']}`: stem conv 3x3/1 ({c['stemChannels']} channels) + BN + ReLU, no max pool; {len(c['layers'])} stages of
  bottleneck blocks {c['layers']} with planes {c['widths']} (outputs {[w * EXPANSION for w in c['widths']]}),
  cardinality {c['groups']}, width per group {c['widthPerGroup']} (bottleneck widths
  {[(w * c['widthPerGroup'] // 64) * c['groups'] for w in c['widths']]}), stride 2 on the grouped 3x3 conv of the first block
  of stages 2 and 3 (28 -> 14 -> 7), global average pool, fc to 10 classes. No conv biases, BN eps 1e-5.
- Parameters: {info['params']:,} (learned; plus {info['buffers']:,} BN running statistics), {info['params'] * 4 / 1e6:.2f} MB as float32.
- Input: 1 x 28 x 28 grey, `(pixel / 255 - mean) / std` with mean {info['mean'][0]}, std {info['std'][0]}
  (the training set's mean {raw_stats[0]:.5f} and std {raw_stats[1]:.5f} of pixel / 255, rounded to 4 decimals;
  training, the subset logits and the runtime all use the rounded values).

## Results

- Test accuracy on all 10,000 test images: **{acc * 100:.2f}%**.
- Test accuracy on the committed subset (first 1000 test images): {sub_acc * 100:.1f}%.
- Training: {info['epochs']} epochs over the 60,000 training images, batch {info['batch']},
  {'AdamW' if info['opt'] == 'adamw' else 'SGD (Nesterov momentum 0.9)'} with weight decay {info['wd']} on conv/fc weights,
  OneCycle learning rate peaking at {info['lr']}, label smoothing {info['label_smoothing']}, augmentation: random 28x28 crop
  from the image padded by 2{', random horizontal flip' if info['flip'] else ' (no flips: the model underfits at this budget)'}.
  Seed {info['seed']}.
- Training time: {info['train_seconds']:.0f} s ({info['train_seconds'] / 60:.1f} min) on {info['threads']} CPU thread(s){info['host_note']}.

## Files

| file | what |
|---|---|
| `{SAFETENSORS_NAME}` | the embedded model: `{PTH_NAME}` converted by the command above (float32, canonical torchvision names, metadata from the config file) |
| `{PTH_NAME}` | the trained checkpoint, {pth_bytes:,} bytes, in Cadene's pretrainedmodels layout (`features.0` conv1, `features.1` bn1, `features.4..6` = layer1..3, `last_linear`), legacy (non-zip) `torch.save` format, no `num_batches_tracked` |
| `test-subset-images.bin` | the first 1000 test images (test-set order, not stratified), uint8 (1000, 28, 28), row-major, no header |
| `test-subset.json` | `count`, `shape`, `labels`, PyTorch's `torch_predictions`, `torch_logits` (exact float32 values) and `torch_accuracy` ({sub_acc * 100:.1f}%) on that subset, and the `normalisation` used |
| `samples/*.png` | 12 test images (28x28 grey PNG): the first of each class, plus the second Shirt and Pullover; `samples/samples.json` lists index, label and PyTorch's prediction |

{'' if not samples else '| sample | test index | label | PyTorch prediction |' + chr(10) + '|---|---|---|---|' + chr(10) + rows}

## Licence of the data

Fashion-MNIST is by Zalando Research (https://github.com/zalandoresearch/fashion-mnist) and is
released under the MIT licence; Copyright (c) 2017 Zalando SE. The images in this folder
(`test-subset-images.bin`, `samples/`) are taken from its test set, read from Debian's
`dataset-fashion-mnist` package.
"""
    with open(os.path.join(OUT_DIR, 'README.md'), 'w') as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--epochs', type=int, default=6)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=3e-3, help='peak learning rate of the OneCycle schedule')
    ap.add_argument('--opt', choices=['sgd', 'adamw'], default='adamw', help='AdamW, or SGD with Nesterov momentum 0.9')
    ap.add_argument('--wd', type=float, default=0.01, help='weight decay on conv and fc weights (not BN, biases)')
    ap.add_argument('--flip', action='store_true', help='also augment with random horizontal flips')
    ap.add_argument('--label-smoothing', type=float, default=0.0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bench', type=int, default=0, help='time this many training steps and exit')
    ap.add_argument('--train-limit', type=int, default=0, help='train on the first N images only (smoke test)')
    ap.add_argument('--eval-only', action='store_true', help='load the saved .pth instead of training')
    ap.add_argument('--check-names', metavar='JSON', help='expectedTensors(config) as JSON [{name, shape}]')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    log = lambda msg: print(msg, flush=True)  # noqa: E731

    model = ResNeXt(CONFIG)
    if args.check_names:
        check_names(model, args.check_names)

    x_train_u8, y_train = load_split('train')
    x_test_u8, y_test = load_split('t10k')
    pixels = x_train_u8.astype(np.float64) / 255.0
    raw_stats = (float(pixels.mean()), float(pixels.std()))
    mean, std = [round(raw_stats[0], 4)], [round(raw_stats[1], 4)]
    del pixels
    log(f'training-set mean {raw_stats[0]:.6f}, std {raw_stats[1]:.6f} -> normalisation {mean[0]}, {std[0]}')

    pth = os.path.join(OUT_DIR, PTH_NAME)
    info_path = os.path.join(OUT_DIR, 'training-info.json')
    if args.eval_only:
        with open(info_path) as f:
            info = json.load(f)
    else:
        limit = args.train_limit or len(y_train)
        x_train = normalise(x_train_u8[:limit], mean, std)
        y = torch.from_numpy(y_train[:limit].astype(np.int64))
        # channels_last (NHWC) makes the CPU convolutions ~1.5x faster; the saved tensors are made
        # contiguous (NCHW) again by torchvision_state_dict.
        model = model.to(memory_format=torch.channels_last)
        secs = train(model, x_train, y, args, log)
        if secs is None:
            return
        sd_tv = torchvision_state_dict(model)
        info = {'epochs': args.epochs, 'batch': args.batch, 'opt': args.opt, 'lr': args.lr, 'wd': args.wd,
                'flip': args.flip,
                'label_smoothing': args.label_smoothing, 'seed': args.seed, 'train_seconds': round(secs, 1),
                'threads': args.threads, 'torch': torch.__version__, 'mean': mean, 'std': std,
                'params': count_params(sd_tv), 'buffers': sum(v.numel() for k, v in sd_tv.items()
                                                              if k.endswith(('running_mean', 'running_var'))),
                'host_note': ' (a machine shared with other jobs)'}
        os.makedirs(OUT_DIR, exist_ok=True)
        cadene = collections.OrderedDict((to_cadene_name(k), v) for k, v in sd_tv.items())
        torch.save(cadene, pth, _use_new_zipfile_serialization=False)
        with open(info_path, 'w') as f:
            json.dump(info, f, indent=1)
            f.write('\n')
        log(f'saved {pth} ({os.path.getsize(pth):,} bytes), {info["params"]:,} parameters, '
            f'trained in {secs:.0f} s')

    # Round trip through the saved Cadene checkpoint, so every output below comes from that file
    # (a fresh model in the default NCHW memory format).
    model = ResNeXt(CONFIG)
    sd = torch.load(pth, map_location='cpu')
    assert not any(k.endswith('num_batches_tracked') for k in sd)
    missing, unexpected = model.load_state_dict(
        collections.OrderedDict((from_cadene_name(k), v) for k, v in sd.items()), strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (missing, unexpected)

    with open(CONFIG_JSON, 'w') as f:
        # The converter's --config format: the ResNetConfig fields and the metadata side by side.
        # resizeSize 28 = inputSize: a 28x28 image is used as it is, not zoomed like ImageNet's 256 -> 224.
        json.dump(collections.OrderedDict(list(CONFIG.items()) + [
            ('labels', LABELS), ('colorSpace', 'grey'), ('inputRange', [0, 1]), ('resizeSize', CONFIG['inputSize']),
            ('mean', mean), ('std', std), ('source', 'fashion-mnist (weights-tools/train_fashion_mnist.py)'),
        ]), f, indent=2)
        f.write('\n')

    acc, sub_acc, samples = write_outputs(model, mean, std, x_test_u8, y_test, info, log)
    info['test_accuracy'] = acc
    write_readme(acc, sub_acc, samples, info, os.path.getsize(pth), raw_stats)
    log('done')


if __name__ == '__main__':
    main()
