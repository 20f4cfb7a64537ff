#!/usr/bin/python3
"""The peer of `gex train`: ResNet-20 with GE-θ⁻ (global) trained by plain PyTorch on the same data,
batch and threads, in one of two styles. Prints one JSON line: {"images_per_second": ..., "style": ...}.

  plain: written the usual way — a DataLoader over an in-memory TensorDataset (per-sample
         indexing, collation), NCHW, normalisation per batch, zero_grad(), loss.item() every step.
  tuned: as a PyTorch performance engineer would — the whole training set normalised once into a
         channels-last float tensor and batches indexed straight from it (no per-sample Python),
         model channels-last (oneDNN's fast convolutions), a one-channel batch's strides made
         channels-last too (else the stem convolution runs NCHW with reorders around it), in-place
         ReLUs, zero_grad(set_to_none=True), SGD over all parameters at once (foreach), denormals
         flushed, no host sync inside the step (the loss is read once per logging interval).
  convs: not a peer but the floor under every program that convolves with oneDNN: the tuned
         style's step with only the network's 19 convolutions and its head (no BatchNorm, ReLU,
         gate or shortcut). Its images/s bound what any such program can reach.

    /usr/bin/python3 bench/pytorch_reference.py --style tuned --data fashion-mnist --steps 100 \\
        --batch 128 --threads 2 [--attention none]

--data takes gex's forms: fashion-mnist, fashion-mnist:DIR, mnist:DIR, idx:DIR, cifar10:DIR.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def idx_file(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    sys.exit(f"{directory}: no {stem}[.gz]")


def load_training_set(spec):
    """uint8 N×C×H×W images and int64 labels of the training split, for gex's --data forms."""
    kind, _, directory = spec.partition(":")
    if kind in ("fashion-mnist", "mnist", "idx"):
        directory = directory or (FASHION_DIR if kind == "fashion-mnist" else "")
        if not directory:
            sys.exit(f"--data {kind}:DIR needs a directory")
        images = read_idx(idx_file(directory, "train-images-idx3-ubyte")).unsqueeze(1)
        labels = read_idx(idx_file(directory, "train-labels-idx1-ubyte")).long()
        return images, labels
    if kind == "cifar10":
        chunks = []
        for k in range(1, 6):
            with open(os.path.join(directory, f"data_batch_{k}.bin"), "rb") as f:
                chunks.append(torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(-1, 3073))
        rows = torch.cat(chunks)
        return rows[:, 1:].reshape(-1, 3, 32, 32).contiguous(), rows[:, 0].long()
    sys.exit(f"--data {spec}: this script reads fashion-mnist, mnist:DIR, idx:DIR and cifar10:DIR")


class GatherExcite(nn.Module):
    """GE-θ⁻ with global extent: x * sigmoid(mean over H×W)."""

    def forward(self, x):
        return x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, attention, inplace):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.attn = GatherExcite() if attention == "ge" else nn.Identity()
        self.stride = stride
        self.pad = planes - inplanes
        self.inplace = inplace

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=self.inplace)
        out = self.attn(self.bn2(self.conv2(out)))
        shortcut = x[:, :, ::self.stride, ::self.stride] if self.stride != 1 else x
        if self.pad:  # option A: zero channels on both sides
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + shortcut, inplace=self.inplace)


class ResNet20(nn.Module):
    def __init__(self, in_channels, classes, attention, inplace=False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.inplace = inplace
        layers, inplanes = [], 16
        for stage, planes in enumerate([16, 32, 64]):
            blocks = []
            for j in range(3):
                blocks.append(BasicBlock(inplanes, planes, 2 if stage > 0 and j == 0 else 1, attention, inplace))
                inplanes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), inplace=self.inplace)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def train_plain(args, images, labels):
    scaled = images.float().div(255)
    mean, std = scaled.mean().item(), scaled.std().item()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=args.batch, shuffle=True, drop_last=True)
    model = ResNet20(images.size(1), int(labels.max()) + 1, args.attention)
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
    return seen / (time.perf_counter() - start)


class ConvolutionsOnly(nn.Module):
    """ResNet-20's convolutions in sequence, then its head: the convolution work of a step alone."""

    def __init__(self, net):
        super().__init__()
        blocks = [b for layer in (net.layer1, net.layer2, net.layer3) for b in layer]
        self.convs = nn.Sequential(net.conv1, *[c for b in blocks for c in (b.conv1, b.conv2)])
        self.fc = net.fc

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.convs(x), 1), 1))


def channels_last_view(x):
    """A one-channel NCHW batch is NHWC in memory already; say so in its strides (a free view)."""
    if x.size(1) != 1:
        return x
    return x.as_strided(x.shape, (x.size(2) * x.size(3), 1, x.size(3), 1))


def train_tuned(args, images, labels, convolutions_only=False):
    torch.set_flush_denormal(True)
    cl = torch.channels_last
    # Normalised once, per channel, as gex does per batch; every batch is one index_select.
    scaled = images.float().div_(255)
    mean = scaled.mean(dim=(0, 2, 3), keepdim=True)
    std = scaled.std(dim=(0, 2, 3), keepdim=True)
    data = ((scaled - mean) / std).contiguous(memory_format=cl)
    model = ResNet20(images.size(1), int(labels.max()) + 1, args.attention, inplace=True)
    if convolutions_only:
        model = ConvolutionsOnly(model)
    model = model.to(memory_format=cl)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=True)
    model.train()
    n = labels.size(0)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(n, generator=generator)
    pos, seen, start = 0, 0, None
    loss_sum = torch.zeros(())
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            loss_sum.item()  # the warm-up's work is done before the clock starts
            start, seen = time.perf_counter(), 0
        if pos + args.batch > n:
            order, pos = torch.randperm(n, generator=generator), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        x = channels_last_view(data.index_select(0, idx))
        y = labels.index_select(0, idx)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
        seen += args.batch
        if (step + 1) % args.log_every == 0:
            loss_sum.item()  # the one host sync per logging interval, as gex train
    loss_sum.item()
    return seen / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", choices=["plain", "tuned", "convs"], default="tuned")
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attention", choices=["ge", "none"], default="ge")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels = load_training_set(args.data)
    if args.style == "plain":
        ips = train_plain(args, images, labels)
    else:
        ips = train_tuned(args, images, labels, convolutions_only=args.style == "convs")
    print(json.dumps({"images_per_second": ips, "style": args.style, "steps": args.steps, "data": args.data,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
