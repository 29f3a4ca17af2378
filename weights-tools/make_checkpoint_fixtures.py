# Regenerate: /usr/bin/python3 weights-tools/make_checkpoint_fixtures.py   (Debian python3-torch 1.13, torchvision 0.14)
#
# Writes the checkpoint-reader fixtures to test/fixtures/checkpoints/ (all small, committed):
#
#   tiny_zip.pth             a state dict of awkward tensors saved by torch.save (zip, torch >= 1.6 format)
#   tiny_legacy.pth          the same, _use_new_zipfile_serialization=False (legacy single stream)
#   tiny_py2_legacy.pth      legacy stream built here by hand the way torch 0.x under Python 2 wrote it:
#                            protocol 2 with BINSTRING/SHORT_BINSTRING strings, 4-argument
#                            torch._utils._rebuild_tensor, a storage view (view_metadata), {'model': sd}
#   tiny_tar.pth             tar container (torch < 0.1.10) built here by hand: members sys_info,
#                            storages (with a storage view), tensors, pickle
#   cadene_tiny_legacy.pth   Cadene pretrainedmodels ResNeXt layout (features.N nested Sequentials,
#                            last_linear) at reduced width, 2 stages, groups 4, legacy format, bare state dict
#   torchvision_tiny_zip.pth torchvision layout tiny basic-block ResNet wrapped as
#                            {'state_dict': {'module.' + name: ...}, 'epoch': 3} (zip)
#   *.expect.json            what torch.load returns for each file above (the independent expectation):
#                            tensors in order with name, shape, dtype and the values as base64 f32 LE
#                            (after tensor.float(), i.e. f64 rounded to f32, ints converted)
#   cadene_tiny.config.json, torchvision_tiny.config.json
#                            --config files (ResNetConfig + metadata) for the two tiny models; their
#                            expect.json also holds a PyTorch forward pass (input NCHW and logits), and
#                            the Cadene one each tensor's canonical name, recorded from the module's role
#                            while the model was built (not from a name pattern)
#   names_shapes.json        names and shapes only of full-size models: torchvision resnet18, resnet50,
#                            resnext50_32x4d, resnext101_64x4d, and mirrors of Cadene's
#                            resnext101_32x4d (522 tensors) and fbresnet152
#   malicious_*.pth          pickles naming posix.system / builtins.eval, and a pickled nn.Module
#   pickles/proto{0..5}.pkl, pickles/py2_proto{0,2}.pkl and pickles/expected.json
#                            a generic Python object in every pickle protocol (py2_*: strings rewritten
#                            to Python 2's STRING / BINSTRING opcodes) and its tagged JSON form
#
# Every file written here is read back with torch.load / pickle.load to produce the expectations, so the
# TypeScript reader is checked against PyTorch itself. Legacy files name storages by memory address, so a
# rerun changes their bytes (and the expectations with them) but not their content.

import base64
import json
import os
import pickle
import pickletools
import struct
import sys
import tarfile
import io
from collections import OrderedDict
from functools import reduce

import torch
import torch.nn as nn
import torchvision

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'checkpoints')
os.makedirs(os.path.join(OUT, 'pickles'), exist_ok=True)
torch.manual_seed(0)


def path(name):
    return os.path.join(OUT, name)


def f32_b64(t):
    return base64.b64encode(t.detach().float().contiguous().numpy().astype('<f4').tobytes()).decode('ascii')


def tensor_json(name, t):
    return {'name': name, 'shape': list(t.shape), 'dtype': str(t.dtype).replace('torch.', ''), 'data': f32_b64(t)}


def write_json(name, obj):
    with open(path(name), 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')


def expect_from_torch_load(fname, container, unwrap=None, strip_prefix=None, extra=None, canonical=None):
    """Loads `fname` with torch.load and records its state dict as the expectation."""
    obj = torch.load(path(fname), map_location='cpu')
    sd = obj[unwrap] if unwrap else obj
    tensors = []
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        if strip_prefix:
            assert k.startswith(strip_prefix)
            k = k[len(strip_prefix):]
        tensors.append(tensor_json(k, v))
        if canonical:
            tensors[-1]['canonical'] = canonical[k]
    out = {'file': fname, 'container': container, 'tensors': tensors}
    if extra:
        out.update(extra)
    write_json(fname.replace('.pth', '.expect.json'), out)
    return sd


# ---- A state dict of awkward tensors ----------------------------------------------------------

def tiny_state_dict():
    g = torch.Generator().manual_seed(1)
    big = torch.randn(16, generator=g)
    base34 = torch.randn(3, 4, generator=g)
    shared = torch.randn(4, 4, generator=g)
    half = torch.randn(4, 3, generator=g).half()
    sd = OrderedDict()
    sd['conv.weight'] = torch.randn(2, 3, 3, 3, generator=g)
    sd['conv.bias'] = torch.randn(2, generator=g)
    sd['half'] = torch.randn(3, 4, generator=g).half()
    sd['half_transposed'] = half.t()                 # f16, non-contiguous
    sd['double'] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    sd['bf16'] = torch.randn(5, generator=g).bfloat16()
    sd['count'] = torch.tensor(7)                     # int64, 0-d (like num_batches_tracked)
    sd['int32'] = torch.arange(6, dtype=torch.int32).view(2, 3)
    sd['big'] = big
    sd['offset_view'] = big[4:10]                     # shares big's storage at offset 4
    sd['transposed'] = base34.t()                     # strides (1, 4)
    sd['shared_a'] = shared.view(16)
    sd['shared_b'] = shared[1:3, ::2]                 # offset 4, strides (4, 2)
    sd['expanded'] = torch.randn(3, generator=g).expand(2, 3)  # stride 0
    sd['param'] = nn.Parameter(torch.randn(4, generator=g))
    sd['empty'] = torch.zeros(0, 3)
    return sd


# ---- Hand-built legacy stream (Python 2 style) and tar container ----------------------------------

STORAGE_TYPES = {torch.float32: torch.FloatStorage, torch.float16: torch.HalfStorage, torch.float64: torch.DoubleStorage,
                 torch.bfloat16: torch.BFloat16Storage, torch.int64: torch.LongStorage, torch.int32: torch.IntStorage}
TENSOR_TYPES = {torch.float32: torch.FloatTensor, torch.float16: torch.HalfTensor, torch.float64: torch.DoubleTensor,
                torch.int64: torch.LongTensor, torch.int32: torch.IntTensor}


def py2_strings(data):
    """Rewrites a pickle's unicode string opcodes into Python 2's byte-string opcodes."""
    ops = list(pickletools.genops(data))
    out = bytearray()
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        if op.name in ('BINUNICODE', 'SHORT_BINUNICODE', 'BINUNICODE8'):
            b = arg.encode('utf-8')
            out += (b'U' + bytes([len(b)]) if len(b) < 256 else b'T' + struct.pack('<i', len(b))) + b
        elif op.name == 'UNICODE':
            out += b'S' + repr(arg.encode('utf-8'))[1:].encode('ascii') + b'\n'
        else:
            out += data[pos:end]
    return bytes(out)


class StorageMarker:
    def __init__(self, key, view=None):
        self.key, self.view = key, view


class TensorV1:
    """Pickles as torch._utils._rebuild_tensor(storage, offset, size, stride): torch 0.4's form."""
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        return (torch._utils._rebuild_tensor, self.args)


def storage_bytes(t):
    """All bytes of t's storage, and its element count."""
    s = t.storage()
    flat = torch.empty(0, dtype=t.dtype).set_(s)
    return flat.contiguous().view(torch.uint8).numpy().tobytes(), flat.numel()


def save_py2_legacy(obj_fn, fname):
    """torch 0.4 / Python 2 style legacy stream, with one tensor on a storage view."""
    storages = OrderedDict()  # key -> (dtype, bytes, numel)

    def key_of(t):
        ptr = t.storage().data_ptr()
        for k, (d, b, n, p) in storages.items():
            if p == ptr:
                return k
        k = str(len(storages))
        b, n = storage_bytes(t)
        storages[k] = (t.dtype, b, n, ptr)
        return k

    def convert(v, view=None):
        if isinstance(v, torch.Tensor):
            return TensorV1(StorageMarker(key_of(v), view), v.storage_offset(), tuple(v.shape), v.stride())
        if isinstance(v, dict):
            return type(v)((k, convert(x)) for k, x in v.items())
        return v

    sd = tiny_state_dict()
    conv = OrderedDict((k, convert(v)) for k, v in sd.items())
    # 'viewed': a view storage (elements 2..9 of `big`'s storage) seen through view_metadata.
    big_key = key_of(sd['big'])
    conv['viewed'] = TensorV1(StorageMarker(big_key, ('view0', 2, 8)), 1, (2, 3), (3, 1))
    obj = obj_fn(conv)

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, StorageMarker):
                dtype, _, numel, _ = storages[o.key]
                return ('storage', STORAGE_TYPES[dtype], o.key, 'cpu', numel, o.view)
            return None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(obj)
    sys_info = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))
    with open(path(fname), 'wb') as f:
        f.write(py2_strings(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)))
        f.write(py2_strings(pickle.dumps(1001, protocol=2)))
        f.write(py2_strings(pickle.dumps(sys_info, protocol=2)))
        f.write(py2_strings(buf.getvalue()))
        keys = sorted(storages.keys())
        f.write(py2_strings(pickle.dumps(keys, protocol=2)))
        for k in keys:
            _, b, n, _ = storages[k]
            f.write(struct.pack('<q', n))
            f.write(b)


def save_tar(fname):
    """The pre-0.1.10 tar container, as torch.serialization.legacy_load reads it."""
    g = torch.Generator().manual_seed(2)
    a = torch.randn(12, generator=g)
    h = torch.randn(6, generator=g).half()
    d = torch.randn(3, generator=g, dtype=torch.float64)
    roots = [(0, a), (1, h), (2, d)]
    views = [(10, 0, 4, 6)]  # storage 10 = elements 4..9 of storage 0
    tensors = [  # key, storage key, dtype, size, stride, offset
        (100, 0, torch.float32, (3, 4), (4, 1), 0),
        (101, 0, torch.float32, (4, 3), (1, 4), 0),   # transposed view of the same storage
        (102, 10, torch.float32, (2, 2), (1, 2), 1),  # on the view storage, offset 1
        (103, 1, torch.float16, (2, 3), (3, 1), 0),
        (104, 2, torch.float64, (3,), (1,), 0),
    ]
    storages = io.BytesIO()
    storages.write(pickle.dumps(len(roots), protocol=2))
    for key, t in roots:
        storages.write(pickle.dumps((key, 'cpu', STORAGE_TYPES[t.dtype]), protocol=2))
        storages.write(struct.pack('<q', t.numel()))
        storages.write(t.contiguous().view(torch.uint8).numpy().tobytes())
    storages.write(pickle.dumps(views, protocol=2))
    tens = io.BytesIO()
    tens.write(pickle.dumps(len(tensors), protocol=2))
    for key, skey, dtype, size, stride, offset in tensors:
        tens.write(pickle.dumps((key, skey, TENSOR_TYPES[dtype]), protocol=2))
        tens.write(struct.pack('<i', len(size)) + b'\0\0\0\0')
        tens.write(struct.pack(f'<{len(size)}q', *size))
        tens.write(struct.pack(f'<{len(size)}q', *stride))
        tens.write(struct.pack('<q', offset))

    class TensorId:
        def __init__(self, key):
            self.key = key

    class P(pickle.Pickler):
        def persistent_id(self, o):
            return str(o.key) if isinstance(o, TensorId) else None

    names = ['weight', 'weight_t', 'view', 'half', 'double']
    main = io.BytesIO()
    P(main, protocol=2).dump(OrderedDict((n, TensorId(t[0])) for n, t in zip(names, tensors)))
    sys_info = pickle.dumps(dict(protocol_version=1000, little_endian=True, type_sizes=dict(short=2, int=4, long=8)), protocol=2)
    with tarfile.open(path(fname), 'w', format=tarfile.PAX_FORMAT) as tar:
        for name, data in [('sys_info', sys_info), ('storages', storages.getvalue()), ('tensors', tens.getvalue()),
                           ('pickle', main.getvalue())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))


# ---- Cadene's ResNeXt layout (mirrors pretrainedmodels/models/resnext_features) --------------------

class LambdaBase(nn.Sequential):
    def __init__(self, fn, *args):
        super().__init__(*args)
        self.lambda_func = fn

    def forward_prepare(self, input):
        output = [module(input) for module in self._modules.values()]
        return output if output else input


class Lambda(LambdaBase):
    def forward(self, input):
        return self.lambda_func(self.forward_prepare(input))


class LambdaMap(LambdaBase):
    def forward(self, input):
        return list(map(self.lambda_func, self.forward_prepare(input)))


class LambdaReduce(LambdaBase):
    def forward(self, input):
        return reduce(self.lambda_func, self.forward_prepare(input))


CANONICAL = {}  # id(module) -> canonical torchvision module name, recorded while building


def canon(module, name):
    CANONICAL[id(module)] = name
    return module


def canonical_names(model):
    """state-dict key -> canonical key, from the modules' recorded roles (independent of any name pattern)."""
    out = {}
    for mname, m in model.named_modules():
        for pname, _ in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False)):
            out[f'{mname}.{pname}'] = f'{CANONICAL[id(m)]}.{pname}'
    return out


def cadene_resnext_features(stem, widths, layers, groups, width_per_group):
    """nn.Sequential with the module nesting (and so the state-dict names) of Cadene's resnext_features."""
    mods = [canon(nn.Conv2d(3, stem, (7, 7), (2, 2), (3, 3), 1, 1, bias=False), 'conv1'), canon(nn.BatchNorm2d(stem), 'bn1'),
            nn.ReLU(), nn.MaxPool2d((3, 3), (2, 2), (1, 1))]
    inplanes = stem
    for s, (planes, blocks) in enumerate(zip(widths, layers)):
        w = (planes * width_per_group // 64) * groups
        out = planes * 4
        stage = []
        for b in range(blocks):
            stride = 2 if (b == 0 and s > 0) else 1
            p = f'layer{s + 1}.{b}'
            main = nn.Sequential(
                nn.Sequential(
                    canon(nn.Conv2d(inplanes, w, (1, 1), (1, 1), (0, 0), 1, 1, bias=False), f'{p}.conv1'),
                    canon(nn.BatchNorm2d(w), f'{p}.bn1'), nn.ReLU(),
                    canon(nn.Conv2d(w, w, (3, 3), (stride, stride), (1, 1), 1, groups, bias=False), f'{p}.conv2'),
                    canon(nn.BatchNorm2d(w), f'{p}.bn2'), nn.ReLU()),
                canon(nn.Conv2d(w, out, (1, 1), (1, 1), (0, 0), 1, 1, bias=False), f'{p}.conv3'),
                canon(nn.BatchNorm2d(out), f'{p}.bn3'))
            if b == 0:
                shortcut = nn.Sequential(
                    canon(nn.Conv2d(inplanes, out, (1, 1), (stride, stride), (0, 0), 1, 1, bias=False), f'{p}.downsample.0'),
                    canon(nn.BatchNorm2d(out), f'{p}.downsample.1'))
            else:
                shortcut = Lambda(lambda x: x)
            stage.append(nn.Sequential(LambdaMap(lambda x: x, main, shortcut), LambdaReduce(lambda x, y: x + y), nn.ReLU()))
            inplanes = out
        mods.append(nn.Sequential(*stage))
    return nn.Sequential(*mods)


class CadeneResNeXt(nn.Module):
    def __init__(self, stem, widths, layers, groups, width_per_group, num_classes, pool):
        super().__init__()
        self.features = cadene_resnext_features(stem, widths, layers, groups, width_per_group)
        self.avg_pool = nn.AvgPool2d((pool, pool), (1, 1))
        self.last_linear = canon(nn.Linear(widths[-1] * 4, num_classes), 'fc')

    def forward(self, x):
        x = self.avg_pool(self.features(x))
        return self.last_linear(x.view(x.size(0), -1))


class FBBottleneck(nn.Module):
    """Cadene's fbresnet Bottleneck: biases on every conv, stride on conv1."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=True)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=True)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample


class FBResNet(nn.Module):
    def __init__(self, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=True)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.last_linear = nn.Linear(512 * 4, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=stride, bias=True),
                                       nn.BatchNorm2d(planes * 4))
        layers = [FBBottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [FBBottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)


def well_scaled(model):
    """Random weights that keep activations near unit scale (no denormals downstream)."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(10)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / m.in_features) ** 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model.eval()


def forward_golden(model, size):
    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, size, size, generator=g)
    with torch.no_grad():
        y = model(x)
    return {'forward': {'input': {'shape': list(x.shape), 'data': f32_b64(x)},
                        'logits': {'shape': list(y.shape), 'data': f32_b64(y)}}}


IMAGENET_META = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], inputRange=[0, 1], colorSpace='RGB')


def cadene_tiny():
    cfg = dict(name='cadene_tiny_resnext', block='bottleneck', layers=[2, 2], widths=[8, 16], groups=4, widthPerGroup=16,
               strideOn='conv2', stemChannels=8, stem=dict(kernel=7, stride=2, pad=3),
               maxpool=dict(kernel=3, stride=2, pad=1, ceil=False), convBias=False, avgpool=dict(kernel=4),
               bnEps=1e-5, inputChannels=3, inputSize=32, numClasses=10,
               labels=[f'class {i}' for i in range(10)], source='test:cadene_tiny', **IMAGENET_META)
    model = well_scaled(CadeneResNeXt(8, [8, 16], [2, 2], 4, 16, 10, 4))
    torch.save(model.state_dict(), path('cadene_tiny_legacy.pth'), _use_new_zipfile_serialization=False)
    write_json('cadene_tiny.config.json', cfg)
    expect_from_torch_load('cadene_tiny_legacy.pth', 'legacy', extra=forward_golden(model, 32),
                           canonical=canonical_names(model))


class TinyTorchvisionResNet(nn.Module):
    """torchvision's names (conv1, bn1, layerL.B.*, downsample, fc) at reduced width, BasicBlocks."""
    def __init__(self):
        super().__init__()
        from torchvision.models.resnet import BasicBlock
        self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2, nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.avgpool(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(x, 1))


def torchvision_tiny():
    cfg = dict(name='torchvision_tiny_resnet', block='basic', layers=[2, 1], widths=[8, 16], groups=1, widthPerGroup=64,
               strideOn='conv2', stemChannels=8, stem=dict(kernel=7, stride=2, pad=3),
               maxpool=dict(kernel=3, stride=2, pad=1, ceil=False), convBias=False, avgpool='global',
               bnEps=1e-5, inputChannels=3, inputSize=32, numClasses=5,
               labels=['cat', 'dog', 'bird', 'fish', 'frog'], source='test:torchvision_tiny', **IMAGENET_META)
    model = well_scaled(TinyTorchvisionResNet())
    wrapped = {'state_dict': OrderedDict(('module.' + k, v) for k, v in model.state_dict().items()), 'epoch': 3}
    torch.save(wrapped, path('torchvision_tiny_zip.pth'))
    write_json('torchvision_tiny.config.json', cfg)
    expect_from_torch_load('torchvision_tiny_zip.pth', 'zip', unwrap='state_dict', strip_prefix='module.',
                           extra=forward_golden(model, 32))


def names_shapes():
    out = {}
    for name in ['resnet18', 'resnet50', 'resnext50_32x4d', 'resnext101_64x4d']:
        m = getattr(torchvision.models, name)()
        out[f'torchvision:{name}'] = [[k, list(v.shape)] for k, v in m.state_dict().items()]
    m = CadeneResNeXt(64, [64, 128, 256, 512], [3, 4, 23, 3], 32, 4, 1000, 7)
    names = canonical_names(m)  # entries [name, shape, canonical name]
    out['cadene:resnext101_32x4d'] = [[k, list(v.shape), names[k]] for k, v in m.state_dict().items()]
    m = FBResNet([3, 8, 36, 3])
    out['cadene:fbresnet152'] = [[k, list(v.shape)] for k, v in m.state_dict().items()]
    write_json('names_shapes.json', out)


# ---- Malicious and unsupported pickles ------------------------------------------------------------

class RunsShell:
    def __reduce__(self):
        return (os.system, ('touch /tmp/webgpu-resnext-pwned',))


class RunsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch /tmp/webgpu-resnext-pwned')",))


def malicious():
    # Never load these with torch.load: they would run the command.
    torch.save({'weight': torch.zeros(2), 'x': RunsShell()}, path('malicious_os_system.pth'))
    torch.save(OrderedDict(weight=torch.zeros(2), x=RunsEval()), path('malicious_eval_legacy.pth'),
               _use_new_zipfile_serialization=False)
    torch.save(nn.Sequential(nn.Linear(2, 2)), path('full_module_zip.pth'))


# ---- Generic pickles in every protocol ------------------------------------------------------------

def generic_value(protocol):
    shared = ['shared', 1]
    v = OrderedDict()
    v['int_small'] = 5
    v['int_neg'] = -3
    v['int_16'] = 40000
    v['int_32'] = -2 ** 31
    v['int_big'] = 2 ** 70
    v['int_negbig'] = -(2 ** 64) - 5
    v['int_edge'] = 2 ** 53 + 1
    v['float'] = 1.5
    v['float_small'] = -2.5e-10
    v['inf'] = float('inf')
    v['str'] = 'h\u00e9llo \u2713'
    v['empty'] = ''
    v['escapes'] = 'a\\b\nc\'"\t\x00'
    v['none'] = None
    v['true'] = True
    v['false'] = False
    v['list'] = [1, [2, [3, []]]]
    v['tuple'] = (1, 'a', (2.0,))
    v['tuple1'] = (1,)
    v['tuple0'] = ()
    v['od'] = OrderedDict([('b', 1), ('a', 2)])
    v['intkey'] = {1: 'one', 2: 'two'}
    v['shared'] = [shared, shared]
    v['long_list'] = list(range(1200))  # more than one APPENDS batch
    if protocol >= 3:
        v['bytes'] = b'\x00\x01\xffabc'
    if protocol >= 4:
        v['set'] = {1, 2}
        v['frozenset'] = frozenset({3})
        v['long_str'] = 'x' * 300
    if protocol >= 5:
        v['bytearray'] = bytearray(b'\x02\x03')
    return v


def tag(v):
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2 ** 53 - 1 else {'$int': str(v)}
    if isinstance(v, float):
        return v if v == v and abs(v) != float('inf') else {'$float': repr(v)}
    if isinstance(v, (bytes, bytearray)):
        return {'$bytes': v.hex()}
    if isinstance(v, list):
        return {'$list': [tag(x) for x in v]}
    if isinstance(v, tuple):
        return {'$tuple': [tag(x) for x in v]}
    if isinstance(v, dict):
        return {'$dict': [[tag(k), tag(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)):
        return {'$set': sorted(tag(x) for x in v)}
    raise TypeError(type(v))


def generic_pickles():
    expected = {}
    for p in range(6):
        data = pickle.dumps(generic_value(p), protocol=p)
        with open(path(f'pickles/proto{p}.pkl'), 'wb') as f:
            f.write(data)
        assert pickle.loads(data) == generic_value(p)
        expected[f'proto{p}.pkl'] = tag(pickle.loads(data))
    for p in (0, 2):
        data = py2_strings(pickle.dumps(generic_value(p), protocol=p))
        with open(path(f'pickles/py2_proto{p}.pkl'), 'wb') as f:
            f.write(data)
        loaded = pickle.loads(data, encoding='utf-8')
        assert loaded == generic_value(p), 'py2 rewrite changed the value'
        expected[f'py2_proto{p}.pkl'] = tag(loaded)
    write_json('pickles/expected.json', expected)


def main():
    sd = tiny_state_dict()
    torch.save(sd, path('tiny_zip.pth'))
    expect_from_torch_load('tiny_zip.pth', 'zip')
    torch.save(sd, path('tiny_legacy.pth'), _use_new_zipfile_serialization=False)
    expect_from_torch_load('tiny_legacy.pth', 'legacy')
    save_py2_legacy(lambda s: {'model': s, 'epoch': 3}, 'tiny_py2_legacy.pth')
    expect_from_torch_load('tiny_py2_legacy.pth', 'legacy', unwrap='model')
    save_tar('tiny_tar.pth')
    expect_from_torch_load('tiny_tar.pth', 'tar')
    cadene_tiny()
    torchvision_tiny()
    names_shapes()
    malicious()
    generic_pickles()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f'wrote fixtures to {os.path.relpath(OUT)}: {total} bytes')


if __name__ == '__main__':
    main()
