#!/usr/bin/env python3
"""Writes attack/testdata/iad_generator_*.pt, the parity fixtures of the IAD
generator (attack/iadnet.go) against PyTorch.

The network is the release's networks/models.py Generator and
networks/blocks.py Conv2dBlock / DownSampleBlock / UpSampleBlock
(VinAIResearch/input-aware-backdoor-attack-release), rebuilt here with its
channel width and step count as arguments (the release fixes them per
dataset: 16 and 2 for MNIST, 32 and 3 otherwise) so that the RGB fixture
stays small. Each file holds the generator's state_dict under "netG.", with
random weights and BatchNorm running statistics, two input images ("input",
normalised), the generator's output in evaluation mode ("output", tanh/(2+1e-7)
+ 0.5) and the mask threshold of that output ("threshold").

Run from the repository root: python3 attack/testdata/iad_gen.py
(checked with torch 1.13.1, CPU). The Go tests never need Python.
"""
import collections

import torch
from torch import nn

EPSILON = 1e-7


class Conv2dBlock(nn.Module):
    def __init__(self, in_c, out_c, relu=True):
        super().__init__()
        self.conv2d = nn.Conv2d(in_c, out_c, (3, 3), 1, 1)
        self.batch_norm = nn.BatchNorm2d(out_c, eps=1e-5, momentum=0.05, affine=True)
        if relu:
            self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x


class DownSampleBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.maxpooling = nn.MaxPool2d(kernel_size=(2, 2), stride=2)

    def forward(self, x):
        return self.maxpooling(x)


class UpSampleBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=(2, 2), mode="bilinear")

    def forward(self, x):
        return self.upsample(x)


class Generator(nn.Sequential):
    def __init__(self, in_channels, out_channels, channel_init, steps):
        super().__init__()
        cur, nxt = in_channels, channel_init
        for step in range(steps):
            self.add_module("convblock_down_%d" % (2 * step), Conv2dBlock(cur, nxt))
            self.add_module("convblock_down_%d" % (2 * step + 1), Conv2dBlock(nxt, nxt))
            self.add_module("downsample_%d" % step, DownSampleBlock())
            if step < steps - 1:
                cur, nxt = nxt, nxt * 2
        self.add_module("convblock_middle", Conv2dBlock(nxt, nxt))
        cur, nxt = nxt, nxt // 2
        for step in range(steps):
            self.add_module("upsample_%d" % step, UpSampleBlock())
            self.add_module("convblock_up_%d" % (2 * step), Conv2dBlock(cur, cur))
            self.add_module("convblock_up_%d" % (2 * step + 1), Conv2dBlock(cur, nxt, relu=step < steps - 1))
            cur, nxt = nxt, nxt // 2
            if step == steps - 2:
                nxt = out_channels

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return torch.tanh(x) / (2 + EPSILON) + 0.5

    def threshold(self, x):
        return torch.tanh(x * 20 - 10) / (2 + EPSILON) + 0.5


def fixture(name, size, in_channels, out_channels, channel_init, steps, seed):
    torch.manual_seed(seed)
    g = Generator(in_channels, out_channels, channel_init, steps)
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(7)
    g.eval()
    x = torch.randn(2, in_channels, size, size)
    with torch.no_grad():
        y = g(x)
        th = g.threshold(y)
    out = collections.OrderedDict(("netG." + k, v) for k, v in g.state_dict().items())
    out["input"], out["output"], out["threshold"] = x, y, th
    torch.save(out, "attack/testdata/iad_generator_%s.pt" % name)


def main():
    fixture("28x28x1", 28, 1, 1, 16, 2, 1)  # the release's MNIST generator
    fixture("32x32x3", 32, 3, 3, 4, 3, 2)   # the RGB layout at width 4


if __name__ == "__main__":
    main()
