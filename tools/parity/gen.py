#!/usr/bin/python3
"""Generate the PyTorch parity fixtures in models/testdata/.

Run from anywhere with Debian's torch (no pip needed):

    /usr/bin/python3 tools/parity/gen.py            # (re)write every fixture
    /usr/bin/python3 tools/parity/gen.py --verify   # read them back and check them
    /usr/bin/python3 tools/parity/gen.py --counts   # parameter counts, fixture and default width

The five reference architectures below keep the exact PyTorch state_dict names of
their public originals (PyTorch examples MNIST net; kuangliu/pytorch-cifar ResNet-18,
VGG16 and MobileNetV2; BackdoorBench PreActResNet-18 as in shared/bench/torch_reference.py)
and take a width parameter so that the fixtures stay small. See models/testdata/README.md
for the layout of the files.

Output is deterministic: one thread, fixed seeds, a hand-written safetensors writer with
a fixed key order. Running twice gives byte-identical files.
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "models", "testdata")
BATCH = 3
FORMAT = "ebyd-parity-v1"


# ----------------------------------------------------------------------------------------
# Architectures
# ----------------------------------------------------------------------------------------

class MNISTNet(nn.Module):
    """PyTorch examples MNIST net; returns logits (the example's log_softmax is left out)."""

    def __init__(self, in_ch=1, classes=10, H=28, width=32):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(in_ch, w, 3, 1)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        side = (H - 4) // 2
        self.fc1 = nn.Linear(2 * w * side * side, 4 * w)
        self.fc2 = nn.Linear(4 * w, classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return self.fc2(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 (kuangliu pytorch-cifar / EBYD / RNP): 3x3 stem, no max pool."""

    def __init__(self, in_ch=3, classes=10, width=64):
        super().__init__()
        w = width
        self.in_planes = w
        self.conv1 = nn.Conv2d(in_ch, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.layer1 = self._make(w, 2, 1)
        self.layer2 = self._make(2 * w, 2, 2)
        self.layer3 = self._make(4 * w, 2, 2)
        self.layer4 = self._make(8 * w, 2, 2)
        self.linear = nn.Linear(8 * w, classes)

    def _make(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.linear(out.flatten(1))


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        sc = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + sc


class PreActResNet18(nn.Module):
    """PreActResNet-18 exactly as shared/bench/torch_reference.py; with final_bn=False,
    BackdoorBench's released models/preact_resnet.py (no BN-ReLU before the pooling)."""

    def __init__(self, in_ch=3, classes=10, width=64, final_bn=True):
        super().__init__()
        w = width
        self.in_planes = w
        self.conv1 = nn.Conv2d(in_ch, w, 3, 1, 1, bias=False)
        self.layer1 = self._make(w, 2, 1)
        self.layer2 = self._make(2 * w, 2, 2)
        self.layer3 = self._make(4 * w, 2, 2)
        self.layer4 = self._make(8 * w, 2, 2)
        self.bn = nn.BatchNorm2d(8 * w) if final_bn else None
        self.linear = nn.Linear(8 * w, classes)

    def _make(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(PreActBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv1(x)
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        if self.bn is not None:
            out = F.relu(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.linear(out.flatten(1))


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG16(nn.Module):
    """kuangliu pytorch-cifar VGG('VGG16') with BN; expects 32x32 inputs (1x1 after 5 pools)."""

    def __init__(self, in_ch=3, classes=10, width=64):
        super().__init__()
        layers = []
        c = in_ch
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                x = v * width // 64
                layers += [nn.Conv2d(c, x, kernel_size=3, padding=1),
                           nn.BatchNorm2d(x), nn.ReLU(inplace=True)]
                c = x
        layers.append(nn.AvgPool2d(kernel_size=1, stride=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        out = self.features(x)
        out = out.view(out.size(0), -1)
        return self.classifier(out)


class MBBlock(nn.Module):
    """kuangliu MobileNetV2 Block: expand + depthwise + pointwise."""

    def __init__(self, in_planes, out_planes, expansion, stride):
        super().__init__()
        self.stride = stride
        planes = expansion * in_planes
        self.conv1 = nn.Conv2d(in_planes, planes, 1, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, groups=planes, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, 1, 0, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential()
        if stride == 1 and in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, 1, 0, bias=False), nn.BatchNorm2d(out_planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.stride == 1:
            out = out + self.shortcut(x)
        return out


MBV2_CFG = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
            (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    """kuangliu pytorch-cifar MobileNetV2 (CIFAR: stride-1 stem and (6,24,2,1) stage).

    Every channel count is scaled by width/32 (default 32 = the original)."""

    def __init__(self, in_ch=3, classes=10, width=32):
        super().__init__()

        def ch(c):
            return c * width // 32

        self.conv1 = nn.Conv2d(in_ch, ch(32), 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch(32))
        blocks = []
        in_planes = ch(32)
        for expansion, out, n, stride in MBV2_CFG:
            for s in [stride] + [1] * (n - 1):
                blocks.append(MBBlock(in_planes, ch(out), expansion, s))
                in_planes = ch(out)
        self.layers = nn.Sequential(*blocks)
        self.conv2 = nn.Conv2d(ch(320), ch(1280), 1, 1, 0, bias=False)
        self.bn2 = nn.BatchNorm2d(ch(1280))
        self.linear = nn.Linear(ch(1280), classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.relu(self.bn2(self.conv2(out)))
        out = F.adaptive_avg_pool2d(out, 1)  # == avg_pool2d(out, 4) at 32x32 input
        out = out.view(out.size(0), -1)
        return self.linear(out)


def mnistnet(in_ch=1, classes=10, H=28, width=32):
    return MNISTNet(in_ch, classes, H, width)


def resnet18(in_ch=3, classes=10, width=64):
    return ResNet18(in_ch, classes, width)


def preactresnet18(in_ch=3, classes=10, width=64):
    return PreActResNet18(in_ch, classes, width)


def preactresnet18_nofinalbn(in_ch=3, classes=10, width=64):
    return PreActResNet18(in_ch, classes, width, final_bn=False)


def vgg16(in_ch=3, classes=10, width=64):
    return VGG16(in_ch, classes, width)


def mobilenetv2(in_ch=3, classes=10, width=32):
    return MobileNetV2(in_ch, classes, width)


# name, seed, in_ch, classes, H(=W), fixture width, default width
FIXTURES = [
    dict(name="mnistnet", seed=1001, in_ch=1, classes=10, hw=28, width=4, default_width=32),
    dict(name="resnet18", seed=1002, in_ch=3, classes=10, hw=32, width=4, default_width=64),
    dict(name="preactresnet18", seed=1003, in_ch=3, classes=10, hw=32, width=4, default_width=64),
    dict(name="preactresnet18_nofinalbn", seed=1006, in_ch=3, classes=10, hw=32, width=4, default_width=64),
    dict(name="vgg16", seed=1004, in_ch=3, classes=10, hw=32, width=4, default_width=64),
    dict(name="mobilenetv2", seed=1005, in_ch=3, classes=10, hw=16, width=4, default_width=32),
]


def build(spec, width=None):
    w = spec["width"] if width is None else width
    if spec["name"] == "mnistnet":
        return mnistnet(spec["in_ch"], spec["classes"], spec["hw"], w)
    return globals()[spec["name"]](spec["in_ch"], spec["classes"], w)


def set_train_dropout_zero(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0


# ----------------------------------------------------------------------------------------
# safetensors, by hand
# ----------------------------------------------------------------------------------------

_DT = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}
_NP = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, tensor) in the order they are stored. I64 tensors go first so
    that every tensor's data starts 8-byte aligned in the data section."""
    items = [(n, t) for n, t in tensors if t.dtype == torch.int64] + \
            [(n, t) for n, t in tensors if t.dtype != torch.int64]
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    off = 0
    for name, t in items:
        dt, npdt = _DT[t.dtype]
        b = t.detach().contiguous().cpu().numpy().astype(npdt, copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hb += b" " * ((-len(hb)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Independent reader: returns (dict name -> torch tensor, metadata, ordered names)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header length not a multiple of 8"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:  # contiguous, no gaps, no overlap, covers all data
        assert b == pos, f"{k}: gap/overlap at {b} (expected {pos})"
        pos = e
    assert pos == len(data), "trailing bytes after last tensor"
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        dt = _NP[v["dtype"]]
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(v["shape"]).copy()
        assert arr.nbytes == e - b
        out[k] = torch.from_numpy(arr)
    return out, meta, [k for _, _, k in spans]


# ----------------------------------------------------------------------------------------
# Fixture generation
# ----------------------------------------------------------------------------------------

def randomise_bn(model):
    """Make eval-mode BN non-trivial: weight U(0.5,1.5), bias U(-0.2,0.2),
    running_mean U(-0.2,0.2), running_var U(0.5,2.0), num_batches_tracked 7."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)


def bn_buffer_names(model):
    return [k for k, _ in model.named_buffers()]


def compute(model, x, y):
    """Everything the fixture records, starting from the model's current state."""
    res = {}
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    params = list(model.named_parameters())

    # eval: logits without grad, then loss and grads
    model.eval()
    with torch.no_grad():
        res["eval.logits"] = model(x).detach().clone()
    model.zero_grad(set_to_none=True)
    xe = x.detach().clone().requires_grad_(True)
    logits = model(xe)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    assert torch.equal(logits.detach(), res["eval.logits"]), "eval logits differ with grad on"
    res["eval.loss"] = loss.detach().reshape(1).clone()
    res["eval.grad.input"] = xe.grad.detach().clone()
    for n, p in params:
        res["eval.grad." + n] = p.grad.detach().clone()
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k]), f"eval changed {k}"

    # train: one forward from the saved state, dropout p = 0
    model.zero_grad(set_to_none=True)
    model.train()
    set_train_dropout_zero(model)
    xt = x.detach().clone().requires_grad_(True)
    logits = model(xt)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    res["train.logits"] = logits.detach().clone()
    res["train.loss"] = loss.detach().reshape(1).clone()
    res["train.grad.input"] = xt.grad.detach().clone()
    for n, p in params:
        res["train.grad." + n] = p.grad.detach().clone()
    bufs = dict(model.named_buffers())
    for n in bn_buffer_names(model):
        res["train.buffer." + n] = bufs[n].detach().clone()
    model.eval()
    return res


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# Conditioning: a ReLU input within rounding of 0, or a max-pool window whose two
# largest values are within rounding of each other, makes the gradient depend on the
# last bit of the forward pass, so two correct float32 engines (or PyTorch in float32
# and float64) disagree by far more than the test tolerance. Draws are rejected until
# every ReLU input and every pool window keeps MARGIN (relative to the tensor's
# largest magnitude) away from such a tie; the accepted draw is recorded as `seed`.
MARGIN = 2e-6
_margins = []
_relu, _max_pool2d = F.relu, F.max_pool2d


def _tracked_relu(x, inplace=False):
    a = x.detach().abs()
    _margins.append((a.min() / a.max().clamp_min(1e-30)).item())
    return _relu(x, inplace=inplace)


def _tracked_max_pool2d(x, kernel_size, *args, **kwargs):
    d = x.detach()
    if kernel_size == 2 and d.shape[-1] % 2 == 0 and d.shape[-2] % 2 == 0:
        n, c, h, w = d.shape
        win = d.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        top2 = win.topk(2, dim=-1).values
        scale = d.abs().max().clamp_min(1e-30)
        # Windows of ReLU zeros tie harmlessly: the gradient there is zero either way.
        live = top2[..., 0] > MARGIN * scale
        if live.any():
            _margins.append(((top2[..., 0] - top2[..., 1])[live].min() / scale).item())
    return _max_pool2d(x, kernel_size, *args, **kwargs)


def well_conditioned(model, x):
    """Runs one train and one eval forward and reports whether every tie keeps MARGIN."""
    _margins.clear()
    F.relu, F.max_pool2d = _tracked_relu, _tracked_max_pool2d
    try:
        state = {k: v.clone() for k, v in model.state_dict().items()}
        for train in (True, False):
            model.train(train)
            if train:
                set_train_dropout_zero(model)
            with torch.no_grad():
                model(x)
        model.load_state_dict(state)  # undo the BN running-stat update
    finally:
        F.relu, F.max_pool2d = _relu, _max_pool2d
    return min(_margins) > MARGIN


def make_fixture(spec):
    for attempt in range(5000):
        seed = spec["seed"] * 1000 + attempt
        torch.manual_seed(seed)
        model = build(spec)
        randomise_bn(model)
        x = torch.randn(BATCH, spec["in_ch"], spec["hw"], spec["hw"])
        y = torch.randint(0, spec["classes"], (BATCH,))
        if well_conditioned(model, x):
            break
    else:
        raise SystemExit(f"{spec['name']}: no well-conditioned draw in 5000 attempts")
    spec = dict(spec, seed=seed)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    res = compute(model, x, y)

    tensors = [("param." + k, v) for k, v in sd.items()]
    tensors += [("input", x), ("labels", y)]
    tensors += [(k, res[k]) for k in ("eval.logits", "eval.loss", "eval.grad.input")]
    tensors += [("eval.grad." + n, res["eval.grad." + n]) for n, _ in model.named_parameters()]
    tensors += [(k, res[k]) for k in ("train.logits", "train.loss", "train.grad.input")]
    tensors += [("train.grad." + n, res["train.grad." + n]) for n, _ in model.named_parameters()]
    tensors += [("train.buffer." + n, res["train.buffer." + n]) for n in bn_buffer_names(model)]

    meta = {
        "format": FORMAT,
        "generator": "tools/parity/gen.py",
        "torch_version": torch.__version__,
        "model": spec["name"],
        "width": spec["width"],
        "default_width": spec["default_width"],
        "in_channels": spec["in_ch"],
        "classes": spec["classes"],
        "input_shape": json.dumps([BATCH, spec["in_ch"], spec["hw"], spec["hw"]]),
        "batch": BATCH,
        "seed": spec["seed"],
        "param_count": count_params(model),
        "loss": "F.cross_entropy(logits, labels), mean reduction",
        "param_order": json.dumps(list(sd.keys())),
        "bn_init": "weight U(0.5,1.5), bias U(-0.2,0.2), running_mean U(-0.2,0.2), "
                   "running_var U(0.5,2), num_batches_tracked 7",
        "bn_momentum": "0.1",
        "bn_eps": "1e-05",
        "train_dropout_p": "0" if spec["name"] == "mnistnet" else "n/a",
        "eval_dropout_p": "0.25,0.5 (inactive in eval)" if spec["name"] == "mnistnet" else "n/a",
        "train_note": "one model.train() forward+backward from the param.* state; "
                      "train.buffer.* are BN buffers after that forward",
    }
    return model, sd, tensors, meta


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for spec in FIXTURES:
        model, sd, tensors, meta = make_fixture(spec)
        path = os.path.join(out_dir, f"parity_{spec['name']}.safetensors")
        write_safetensors(path, tensors, meta)
        print(f"wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path)} bytes, "
              f"{len(tensors)} tensors, {meta['param_count']} params)")
        if spec["name"] == "mnistnet":
            pt = os.path.join(out_dir, f"mnistnet_w{spec['width']}.pt")
            # torch.save names the zip's top folder after the file's stem, so write under the
            # final name inside a scratch folder (top folder "mnistnet_w4/"), then move it.
            tmpdir = tempfile.mkdtemp(dir=out_dir)
            try:
                tmp = os.path.join(tmpdir, os.path.basename(pt))
                torch.save(model.state_dict(), tmp)
                os.replace(tmp, pt)
            finally:
                os.rmdir(tmpdir)
            print(f"wrote {os.path.relpath(pt, REPO)} ({os.path.getsize(pt)} bytes)")


# ----------------------------------------------------------------------------------------
# Verification (reads the files back with the reader above)
# ----------------------------------------------------------------------------------------

def _close(a, b, what, atol=1e-5, rtol=1e-4):
    d = (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
    ok = a.shape == b.shape and a.dtype == b.dtype and torch.allclose(a, b, atol=atol, rtol=rtol)
    if not ok:
        raise AssertionError(f"{what}: mismatch (max abs diff {d}, shapes {tuple(a.shape)} "
                             f"vs {tuple(b.shape)}, dtypes {a.dtype} vs {b.dtype})")
    return d


def verify(out_dir):
    worst = 0.0
    for spec in FIXTURES:
        path = os.path.join(out_dir, f"parity_{spec['name']}.safetensors")
        t, meta, _ = read_safetensors(path)
        assert meta.get("format") == FORMAT and meta.get("model") == spec["name"], path
        torch.manual_seed(0)  # a fresh, differently initialised model
        model = build(spec, int(meta["width"]))
        sd = {k[len("param."):]: v for k, v in t.items() if k.startswith("param.")}
        want = set(model.state_dict().keys())
        assert set(sd) == want, f"{path}: param keys differ: {sorted(set(sd) ^ want)}"
        assert json.loads(meta["param_order"]) == list(model.state_dict().keys())
        for k, v in model.state_dict().items():
            assert sd[k].shape == v.shape and sd[k].dtype == v.dtype, f"{path}: {k}"
        model.load_state_dict(sd, strict=True)
        x, y = t["input"], t["labels"]
        assert y.dtype == torch.int64 and x.dtype == torch.float32

        # the stated check: fresh model + saved params reproduces eval.logits
        model.eval()
        with torch.no_grad():
            got = model(x)
        d = _close(got, t["eval.logits"], f"{spec['name']} eval.logits")
        worst = max(worst, d)

        # everything else, recomputed from the read-back state
        pnames = [n for n, _ in model.named_parameters()]
        expect = {"input", "labels", "eval.logits", "eval.loss", "eval.grad.input",
                  "train.logits", "train.loss", "train.grad.input"}
        expect |= {"param." + k for k in want}
        expect |= {"eval.grad." + n for n in pnames} | {"train.grad." + n for n in pnames}
        expect |= {"train.buffer." + n for n in bn_buffer_names(model)}
        assert set(t) == expect, f"{path}: key set differs: {sorted(set(t) ^ expect)}"
        res = compute(model, x, y)
        for k, v in res.items():
            worst = max(worst, _close(v, t[k], f"{spec['name']} {k}"))
        # train-mode buffers must actually have moved; eval logits must differ from train
        for n in bn_buffer_names(model):
            if n.endswith("running_mean"):
                assert not torch.equal(t["train.buffer." + n], t["param." + n]), n
        if bn_buffer_names(model):  # BN nets: train (batch stats) and eval must differ
            assert not torch.allclose(t["eval.logits"], t["train.logits"]), "eval == train logits"
        lg = t["eval.logits"]
        print(f"ok {os.path.basename(path)}: {len(t)} tensors, eval.logits max|.|="
              f"{lg.abs().max().item():.3g} std={lg.std().item():.3g}, "
              f"eval.loss={t['eval.loss'].item():.4f} train.loss={t['train.loss'].item():.4f}")

        if spec["name"] == "mnistnet":
            pt = os.path.join(out_dir, f"mnistnet_w{spec['width']}.pt")
            try:
                psd = torch.load(pt, map_location="cpu", weights_only=True)
            except TypeError:  # torch without weights_only
                psd = torch.load(pt, map_location="cpu")
            assert list(psd.keys()) == list(model.state_dict().keys())
            for k, v in psd.items():
                assert torch.equal(v, sd[k]), f"{pt}: {k} differs from parity params"
            m2 = build(spec, int(meta["width"]))
            m2.load_state_dict(psd)
            m2.eval()
            with torch.no_grad():
                worst = max(worst, _close(m2(x), t["eval.logits"], "mnistnet .pt eval.logits"))
            print(f"ok {os.path.basename(pt)}: same params as parity_mnistnet, logits match")
    print(f"verify: all fixtures self-consistent (worst max abs diff {worst:.3g})")


def counts():
    for spec in FIXTURES:
        mf = build(spec)
        md = build(spec, spec["default_width"])
        print(f"{spec['name']:15s} fixture width {spec['width']:2d}: {count_params(mf):9d} params, "
              f"{len(mf.state_dict()):3d} state_dict keys | default width "
              f"{spec['default_width']:2d}: {count_params(md):9d} params, "
              f"{len(md.state_dict()):3d} state_dict keys "
              f"({sum(1 for _ in md.parameters())} parameters, "
              f"{sum(1 for _ in md.buffers())} buffers)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", action="store_true", help="read the fixtures back and check them")
    ap.add_argument("--counts", action="store_true", help="print parameter counts")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default models/testdata)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.counts:
        counts()
    elif a.verify:
        verify(a.out)
    else:
        generate(a.out)


if __name__ == "__main__":
    sys.exit(main())
