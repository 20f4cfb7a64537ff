#!/usr/bin/python3
"""The peer of `gex train`: ResNet-20 with GE-θ⁻ (global) on Fashion-MNIST, written the usual
PyTorch way (nn.Module, a DataLoader over an in-memory TensorDataset, torchvision-style
normalisation per batch, SGD with momentum, loss.item() every step). Same batch, threads and data
as the gex run it is compared with. Prints one JSON line: {"images_per_second": ...}.

    /usr/bin/python3 bench/pytorch_reference.py --steps 100 --batch 128 --threads 2 [--attention none]
"""
import argparse
import gzip
import json
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


class GatherExcite(nn.Module):
    """GE-θ⁻ with global extent: x * sigmoid(mean over H×W)."""

    def forward(self, x):
        return x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, attention):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.attn = GatherExcite() if attention == "ge" else nn.Identity()
        self.stride = stride
        self.pad = planes - inplanes

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.attn(self.bn2(self.conv2(out)))
        shortcut = x[:, :, ::self.stride, ::self.stride] if self.stride != 1 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + shortcut)


class ResNet20(nn.Module):
    def __init__(self, in_channels, classes, attention):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inplanes = [], 16
        for stage, planes in enumerate([16, 32, 64]):
            blocks = []
            for j in range(3):
                blocks.append(BasicBlock(inplanes, planes, 2 if stage > 0 and j == 0 else 1, attention))
                inplanes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attention", default="ge")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    images = read_idx(args.data + "/train-images-idx3-ubyte.gz").unsqueeze(1)
    labels = read_idx(args.data + "/train-labels-idx1-ubyte.gz").long()
    mean, std = images.float().div(255).mean().item(), images.float().div(255).std().item()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=args.batch, shuffle=True, drop_last=True)
    model = ResNet20(1, 10, args.attention)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    step, seen, start = 0, 0, None
    while step < args.warmup + args.steps:
        for x, y in loader:
            if step == args.warmup:
                start, seen = time.perf_counter(), 0
            x = (x.float().div(255) - mean) / std
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            seen += x.size(0)
            step += 1
            if step == args.warmup + args.steps:
                break
    elapsed = time.perf_counter() - start
    print(json.dumps({"images_per_second": seen / elapsed, "steps": args.steps, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
