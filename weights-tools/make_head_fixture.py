#!/usr/bin/python3
"""Fixture for the transfer-learning head (src/transfer/): pooled features of the embedded
Fashion-MNIST model and a PyTorch logistic regression's accuracy on them.

What it does
  1. Loads assets/fashion-mnist/fashion_mnist_resnext.pth into train_fashion_mnist.py's ResNeXt and
     computes the pooled features (global average pool, before fc: 256 floats) of the committed
     test subset (assets/fashion-mnist/test-subset-images.bin: the first 1000 test images, which the
     model never saw in training), normalised as the runtime does.
  2. Splits them by class in subset order: the first TRAIN_PER_CLASS images of each class for
     training, the next HELD_OUT_PER_CLASS for the held-out set.
  3. Fits a multinomial logistic regression with torch (LBFGS, full batch) on the float16-rounded
     training features, preprocessed exactly as src/transfer/head.ts's 'softmax' head does
     (L2-normalise each row, standardise each dimension with the training mean and a floored std),
     with the same objective (mean cross-entropy + L2 / 2 * |W|^2, bias not penalised), and
     evaluates it on the held-out features.
  4. Writes test/fixtures/transfer/fashion-mnist-features.safetensors (F16 tensors train.features
     (N, 256), held_out.features (M, 256)) and fashion-mnist-features.json (labels, subset
     indices, PyTorch's accuracy and settings).

Rerun:   /usr/bin/python3 weights-tools/make_head_fixture.py     (from the repo root, ~10 s)
Needs Debian's python3-torch; reads only committed files (no dataset package).
"""

import json
import os
import struct
import sys
import collections

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_fashion_mnist as tfm  # noqa: E402

TRAIN_PER_CLASS = 20
HELD_OUT_PER_CLASS = 30
L2 = 1e-3            # DEFAULT_L2 in src/transfer/head.ts
STD_FLOOR = 0.01     # STD_FLOOR in src/transfer/head.ts: std = sqrt(var + STD_FLOOR * mean(var))
OUT_DIR = os.path.join(tfm.REPO, 'test', 'fixtures', 'transfer')


@torch.no_grad()
def pooled_features(model, x):
    """The fc layer's input: (N, 256)."""
    model.eval()
    y = F.relu(model.bn1(model.conv1(x)))
    for s in range(model.num_stages):
        y = getattr(model, f'layer{s + 1}')(y)
    return torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)


def preprocess(train, other):
    """src/transfer/head.ts's 'softmax' preprocessing, in float64."""
    u = F.normalize(train, dim=1)
    mean = u.mean(0)
    var = u.var(0, unbiased=False)
    std = torch.sqrt(var + STD_FLOOR * var.mean())
    return (u - mean) / std, (F.normalize(other, dim=1) - mean) / std


def logistic_regression(x, y, k):
    torch.manual_seed(0)
    w = torch.zeros(k, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=1000, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=10, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, y) + 0.5 * L2 * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach(), b.detach(), float(closure())


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        data = t.astype('<f2').tobytes()
        header[name] = {'dtype': 'F16', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':'))
    text += ' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text.encode())
        for blob in blobs:
            f.write(blob)


def main():
    torch.set_num_threads(1)
    assets = tfm.OUT_DIR
    with open(os.path.join(assets, 'test-subset.json')) as f:
        subset = json.load(f)
    images = np.fromfile(os.path.join(assets, 'test-subset-images.bin'), dtype=np.uint8).reshape(subset['count'], 28, 28)
    labels = subset['labels']

    train_idx, held_idx = [], []
    seen = collections.Counter()
    for i, c in enumerate(labels):
        if seen[c] < TRAIN_PER_CLASS:
            train_idx.append(i)
        elif seen[c] < TRAIN_PER_CLASS + HELD_OUT_PER_CLASS:
            held_idx.append(i)
        seen[c] += 1
    assert len(train_idx) == 10 * TRAIN_PER_CLASS and len(held_idx) == 10 * HELD_OUT_PER_CLASS, seen

    model = tfm.ResNeXt(tfm.CONFIG)
    sd = torch.load(os.path.join(assets, tfm.PTH_NAME), map_location='cpu')
    model.load_state_dict(collections.OrderedDict((tfm.from_cadene_name(k), v) for k, v in sd.items()), strict=False)
    norm = subset['normalisation']
    feats = pooled_features(model, tfm.normalise(images, norm['mean'], norm['std'])).numpy()
    # The fixture stores float16; everything below works on the rounded values.
    feats16 = feats.astype(np.float16)
    train_x = torch.from_numpy(feats16[train_idx].astype(np.float64))
    held_x = torch.from_numpy(feats16[held_idx].astype(np.float64))
    train_y = torch.tensor([labels[i] for i in train_idx])
    held_y = torch.tensor([labels[i] for i in held_idx])

    zt, zh = preprocess(train_x, held_x)
    w, b, loss = logistic_regression(zt, train_y, 10)
    train_acc = float(((zt @ w.T + b).argmax(1) == train_y).double().mean())
    held_acc = float(((zh @ w.T + b).argmax(1) == held_y).double().mean())
    # The model's own fc on the same held-out images, for scale.
    fc_acc = float((model.fc(torch.from_numpy(feats[held_idx])).argmax(1) == held_y).double().mean())
    print(f'features {feats.shape}, train {len(train_idx)}, held out {len(held_idx)}; torch logistic regression: '
          f'loss {loss:.6f}, train accuracy {train_acc:.4f}, held-out accuracy {held_acc:.4f}; '
          f'the model\'s own fc on the held-out images {fc_acc:.4f}')

    os.makedirs(OUT_DIR, exist_ok=True)
    write_safetensors(os.path.join(OUT_DIR, 'fashion-mnist-features.safetensors'),
                      {'train.features': feats16[train_idx], 'held_out.features': feats16[held_idx]},
                      {'source': 'weights-tools/make_head_fixture.py'})
    with open(os.path.join(OUT_DIR, 'fashion-mnist-features.json'), 'w') as f:
        json.dump(collections.OrderedDict([
            ('what', 'pooled features (256 floats, F16) of the embedded Fashion-MNIST model on the committed test subset '
                     '(assets/fashion-mnist/test-subset-images.bin); made by weights-tools/make_head_fixture.py'),
            ('dim', int(feats.shape[1])),
            ('class_names', tfm.LABELS),
            ('train_indices', train_idx), ('train_labels', train_y.tolist()),
            ('held_out_indices', held_idx), ('held_out_labels', held_y.tolist()),
            ('torch', collections.OrderedDict([
                ('method', 'multinomial logistic regression, torch.optim.LBFGS (strong Wolfe), float64, '
                           'mean cross-entropy + l2 / 2 * |W|^2 on L2-normalised, standardised features'),
                ('l2', L2), ('std_floor', STD_FLOOR), ('loss', round(loss, 6)),
                ('train_accuracy', train_acc), ('held_out_accuracy', held_acc),
                ('model_fc_held_out_accuracy', fc_acc), ('version', torch.__version__)])),
        ]), f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
