#!/usr/bin/env python3
"""The peer of `gex train --device cuda`: PyTorch eager on the same GPU, written as a CUDA
performance engineer would without leaving eager mode — the data set on the GPU as uint8 and
normalised there, model and batches channels-last, cuDNN autotuning on, bf16 autocast where asked,
zero_grad(set_to_none=True), the fused (else foreach) SGD, no host sync inside the step (the loss is
read once per window). Prints one JSON line with the images/s of every timed window.

    python3 bench/pytorch_cuda.py --model resnet20 --attention ge --batch 128 --size 28 --channels 1 [--bf16]
    python3 bench/pytorch_cuda.py --model resnet50 --attention none --batch 64 --size 224 --channels 3 --bf16

ResNet-50 is torchvision's layout (stride on the 3×3 convolution: `gex train --stride-on 3x3`).
"""
import argparse
import inspect
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_reference import ResNet20, channels_last_view  # noqa: E402


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        width, out = planes, planes * 4
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.down = None
        if stride != 1 or inplanes != out:
            self.down = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = F.relu(self.bn2(self.conv2(y)), inplace=True)
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.down(x) if self.down is not None else x), inplace=True)


class ResNet50(nn.Module):
    def __init__(self, in_channels, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        layers, inplanes = [], 64
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for j in range(blocks):
                layers.append(Bottleneck(inplanes, planes, stride if j == 0 else 1))
                inplanes = planes * 4
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def optimiser(params):
    kwargs = dict(lr=0.1, momentum=0.9, weight_decay=1e-4)
    if "fused" in inspect.signature(torch.optim.SGD).parameters:
        try:
            return torch.optim.SGD(params, fused=True, **kwargs), "fused"
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.SGD(params, foreach=True, **kwargs), "foreach"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["resnet20", "resnet50"], default="resnet20")
    p.add_argument("--attention", choices=["ge", "none"], default="ge")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--images", type=int, default=60000, help="size of the data set kept on the GPU")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--windows", type=int, default=6)
    p.add_argument("--window", type=int, default=50, help="steps per timed window")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    cl = torch.channels_last
    n = args.images
    images = torch.randint(0, 256, (n, args.channels, args.size, args.size), dtype=torch.uint8, device=device)
    labels = torch.randint(0, args.classes, (n,), device=device)
    mean = torch.full((1, args.channels, 1, 1), 0.5 * 255, device=device)
    inv_std = torch.full((1, args.channels, 1, 1), 1 / (0.29 * 255), device=device)
    if args.model == "resnet20":
        model = ResNet20(args.channels, args.classes, args.attention, inplace=True)
    else:
        model = ResNet50(args.channels, args.classes)
    model = model.to(device, memory_format=cl).train()
    opt, kind = optimiser(model.parameters())
    loss_sum = torch.zeros((), device=device)
    order = torch.randperm(n, device=device)
    pos = 0

    def step():
        nonlocal pos, order
        if pos + args.batch > n:
            order, pos = torch.randperm(n, device=device), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        x = ((images.index_select(0, idx).float() - mean) * inv_std).contiguous(memory_format=cl)
        x = channels_last_view(x)
        y = labels.index_select(0, idx)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum.add_(loss.detach())

    for _ in range(args.warmup):
        step()
    loss_sum.item()
    rates = []
    for _ in range(args.windows):
        start = time.perf_counter()
        for _ in range(args.window):
            step()
        loss_sum.item()  # one host sync per window, as gex train per logging interval
        rates.append(args.window * args.batch / (time.perf_counter() - start))
    print(json.dumps({"images_per_second": rates, "best": max(rates), "model": args.model,
                      "attention": args.attention, "batch": args.batch, "size": args.size, "bf16": args.bf16,
                      "optimizer": kind, "torch": torch.__version__, "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "none"}))


if __name__ == "__main__":
    main()
