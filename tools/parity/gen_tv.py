#!/usr/bin/python3
"""Generate the torchvision ResNet-18 parity fixtures in models/testdata/.

    /usr/bin/python3 tools/parity/gen_tv.py            # (re)write the fixtures
    /usr/bin/python3 tools/parity/gen_tv.py --verify   # read them back and check them

The model is torchvision's own ResNet class (torchvision.models.resnet.ResNet with its
BasicBlock, _make_layer and forward) built with every channel count scaled by
width/64, so that the fixture stays small: only __init__'s hard-coded 64/128/256/512
are replaced. At width 64 the state_dict is key for key and shape for shape that of
torchvision.models.resnet18(num_classes=10), which the script asserts.

Writes (see models/testdata/README.md):
  parity_resnet18_tv.safetensors  the parity fixture of gen.py's format (params, input,
                                  logits, loss, gradients, BN buffers), width 4, 3x64x64
  resnet18_tv_w4.pt               torch.save(model.state_dict()) of the same model
  mobilenetv2_tv_w8_fp16.pt       torchvision.models.mobilenet_v2(num_classes=10,
                                  width_mult=0.25) (stem width 8), state_dict in float16
  parity_vgg16_tv.safetensors, parity_vgg16bn_tv.safetensors
                                  torchvision's VGG class (vgg16 / vgg16_bn) with channels and
                                  hidden units x 1/64: params, input [3,3,64,64], eval/train
                                  logits (train: dropout p = 0)
  mobilenetv2_tv_logits.safetensors  its input [3,3,48,48] and eval/train logits, computed
                                  from the float16 weights (train: dropout p = 0)

It reuses gen.py's fixture machinery (conditioning, compute, safetensors writer).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402
from torchvision.models.resnet import BasicBlock, ResNet  # noqa: E402

SPEC = dict(name="resnet18_tv", seed=1007, in_ch=3, classes=10, hw=64, width=4, default_width=64)
PT = "resnet18_tv_w4.pt"


class NarrowResNet18(ResNet):
    """torchvision ResNet(BasicBlock, [2, 2, 2, 2]) with channels width, 2w, 4w, 8w.

    The body is torchvision 0.14's ResNet.__init__ with 64 replaced by width."""

    def __init__(self, in_ch=3, num_classes=1000, width=64):
        nn.Module.__init__(self)
        norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # BasicBlock's own check: it supports only 64
        self.conv1 = nn.Conv2d(in_ch, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, 2)
        self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * BasicBlock.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def resnet18_tv(in_ch=3, classes=10, width=64):
    return NarrowResNet18(in_ch, classes, width)


gen.resnet18_tv = resnet18_tv  # gen.build looks architectures up by name


def check_structure():
    """At width 64 the replica is torchvision.models.resnet18, name for name."""
    ref = torchvision.models.resnet18(num_classes=SPEC["classes"]).state_dict()
    ours = resnet18_tv(3, SPEC["classes"], 64).state_dict()
    assert list(ref) == list(ours), "state_dict keys differ from torchvision's resnet18"
    for k, v in ref.items():
        assert ours[k].shape == v.shape and ours[k].dtype == v.dtype, k
    print(f"ok structure: {len(ref)} keys, shapes and dtypes of torchvision.models.resnet18")


def save_pt(model, out_dir, name=PT):
    pt = os.path.join(out_dir, name)
    tmpdir = tempfile.mkdtemp(dir=out_dir)  # the zip's top folder is the file's stem
    try:
        tmp = os.path.join(tmpdir, name)
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, pt)
    finally:
        os.rmdir(tmpdir)
    print(f"wrote {os.path.relpath(pt, gen.REPO)} ({os.path.getsize(pt)} bytes)")


def generate(out_dir):
    check_structure()
    model, sd, tensors, meta = gen.make_fixture(SPEC)
    meta["generator"] = "tools/parity/gen_tv.py"
    meta["torchvision_version"] = torchvision.__version__
    path = os.path.join(out_dir, f"parity_{SPEC['name']}.safetensors")
    gen.write_safetensors(path, tensors, meta)
    print(f"wrote {os.path.relpath(path, gen.REPO)} ({os.path.getsize(path)} bytes, "
          f"{len(tensors)} tensors, {meta['param_count']} params, seed {meta['seed']})")
    model.load_state_dict(sd)  # compute's train forward moved the BN buffers
    save_pt(model, out_dir)
    generate_mobilenet(out_dir)
    generate_vgg(out_dir)


MB_PT = "mobilenetv2_tv_w8_fp16.pt"
MB_LOGITS = "mobilenetv2_tv_logits.safetensors"
MB_SEED = 1008


def mobilenet_fp16():
    """The mobilenet fixture: weights rounded to float16, then back to float32."""
    torch.manual_seed(MB_SEED)
    m = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25)
    gen.randomise_bn(m)
    with torch.no_grad():  # torchvision's N(0, 0.01) head gives logits of 1e-2
        m.classifier[1].weight.uniform_(-0.5, 0.5)
        m.classifier[1].bias.uniform_(-0.5, 0.5)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in m.state_dict().items()}
    m.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    x = torch.randn(gen.BATCH, 3, 48, 48)
    return m, half, x


def mobilenet_logits(m, x):
    m.eval()
    with torch.no_grad():
        ev = m(x)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    m.train()
    gen.set_train_dropout_zero(m)
    with torch.no_grad():
        tr = m(x)
    m.load_state_dict(state)
    m.eval()
    return ev, tr


def generate_mobilenet(out_dir):
    m, half, x = mobilenet_fp16()
    ev, tr = mobilenet_logits(m, x)
    meta = {"format": "ebyd-logits-v1", "generator": "tools/parity/gen_tv.py",
            "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
            "model": "torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25)",
            "weights": MB_PT + " (float16)", "seed": MB_SEED, "train_dropout_p": "0"}
    path = os.path.join(out_dir, MB_LOGITS)
    gen.write_safetensors(path, [("input", x), ("eval.logits", ev), ("train.logits", tr)], meta)
    print(f"wrote {os.path.relpath(path, gen.REPO)} ({os.path.getsize(path)} bytes)")
    mh = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25)
    mh.half()
    mh.load_state_dict(half)
    save_pt(mh, out_dir, MB_PT)


def verify_mobilenet(out_dir):
    t, _, _ = gen.read_safetensors(os.path.join(out_dir, MB_LOGITS))
    psd = torch.load(os.path.join(out_dir, MB_PT), map_location="cpu")
    m = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25)
    m.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in psd.items()})
    ev, tr = mobilenet_logits(m, t["input"])
    d = max(gen._close(ev, t["eval.logits"], "mobilenet eval.logits"),
            gen._close(tr, t["train.logits"], "mobilenet train.logits"))
    print(f"ok {MB_PT}: logits match (max abs diff {d:.3g}; eval max|.| {ev.abs().max().item():.3g}, "
          f"train max|.| {tr.abs().max().item():.3g})")


VGG_WIDTH = 1
VGG_SEED = 1009


class NarrowVGG16(torchvision.models.vgg.VGG):
    """torchvision's VGG class with make_layers(cfg "D" x width/64) and the classifier's
    4096 hidden units x width/64; torchvision 0.14's VGG.__init__ with 512 and 4096
    replaced. At width 64 it is torchvision.models.vgg16[_bn]."""

    def __init__(self, width, batch_norm, num_classes=10):
        nn.Module.__init__(self)
        cfg = [v if v == "M" else v * width // 64 for v in torchvision.models.vgg.cfgs["D"]]
        self.features = torchvision.models.vgg.make_layers(cfg, batch_norm=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        c, h = 512 * width // 64, 4096 * width // 64
        self.classifier = nn.Sequential(
            nn.Linear(c * 7 * 7, h), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(h, h), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(h, num_classes))
        for m in self.modules():  # torchvision's init, then a head of useful size
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.1, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -0.3, 0.3)
                nn.init.uniform_(m.bias, -0.1, 0.1)


def vgg_name(bn):
    return f"vgg16{'bn' if bn else ''}_tv"


def check_vgg_structure():
    for bn, ref in ((False, torchvision.models.vgg16), (True, torchvision.models.vgg16_bn)):
        r = ref(num_classes=10).state_dict()
        o = NarrowVGG16(64, bn).state_dict()
        assert list(r) == list(o), f"{vgg_name(bn)}: keys differ from torchvision's"
        for k, v in r.items():
            assert o[k].shape == v.shape, k
    print("ok structure: NarrowVGG16(64) is torchvision's vgg16 and vgg16_bn, name for name")


def vgg_logits(m, x):
    m.eval()
    with torch.no_grad():
        ev = m(x)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    m.train()
    gen.set_train_dropout_zero(m)
    with torch.no_grad():
        tr = m(x)
    m.load_state_dict(state)
    m.eval()
    return ev, tr


def generate_vgg(out_dir):
    check_vgg_structure()
    for bn in (False, True):
        torch.manual_seed(VGG_SEED + bn)
        m = NarrowVGG16(VGG_WIDTH, bn)
        gen.randomise_bn(m)
        x = torch.randn(gen.BATCH, 3, 64, 64)
        ev, tr = vgg_logits(m, x)
        tensors = [("param." + k, v) for k, v in m.state_dict().items()]
        tensors += [("input", x), ("eval.logits", ev), ("train.logits", tr)]
        meta = {"format": "ebyd-logits-v1", "generator": "tools/parity/gen_tv.py",
                "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
                "model": f"torchvision VGG, cfg D x {VGG_WIDTH}/64, batch_norm={bn}",
                "width": VGG_WIDTH, "seed": VGG_SEED + bn, "train_dropout_p": "0"}
        path = os.path.join(out_dir, f"parity_{vgg_name(bn)}.safetensors")
        gen.write_safetensors(path, tensors, meta)
        print(f"wrote {os.path.relpath(path, gen.REPO)} ({os.path.getsize(path)} bytes, "
              f"{gen.count_params(m)} params, eval max|.| {ev.abs().max().item():.3g})")


def verify_vgg(out_dir):
    check_vgg_structure()
    for bn in (False, True):
        t, _, _ = gen.read_safetensors(os.path.join(out_dir, f"parity_{vgg_name(bn)}.safetensors"))
        m = NarrowVGG16(VGG_WIDTH, bn)
        m.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("param.")})
        ev, tr = vgg_logits(m, t["input"])
        d = max(gen._close(ev, t["eval.logits"], "eval.logits"), gen._close(tr, t["train.logits"], "train.logits"))
        print(f"ok parity_{vgg_name(bn)}: logits match (max abs diff {d:.3g})")


def verify(out_dir):
    check_structure()
    gen.FIXTURES = [SPEC]
    gen.verify(out_dir)
    t, meta, _ = gen.read_safetensors(os.path.join(out_dir, f"parity_{SPEC['name']}.safetensors"))
    psd = torch.load(os.path.join(out_dir, PT), map_location="cpu")
    m = resnet18_tv(SPEC["in_ch"], SPEC["classes"], int(meta["width"]))
    m.load_state_dict(psd)
    for k, v in psd.items():
        assert torch.equal(v, t["param." + k]), f"{PT}: {k} differs from the parity params"
    m.eval()
    with torch.no_grad():
        d = gen._close(m(t["input"]), t["eval.logits"], f"{PT} eval.logits")
    print(f"ok {PT}: same params as parity_{SPEC['name']}, logits match (max abs diff {d:.3g})")
    verify_mobilenet(out_dir)
    verify_vgg(out_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", action="store_true", help="read the fixtures back and check them")
    ap.add_argument("--out", default=gen.DEFAULT_OUT, help="output folder (default models/testdata)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.verify:
        verify(a.out)
    else:
        generate(a.out)


if __name__ == "__main__":
    sys.exit(main())
