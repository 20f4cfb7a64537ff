#!/usr/bin/env python3
"""Helpers of bench/cuda.sh: the data it trains on and the figures it prints.

    cuda_figures.py idx DIR            random Fashion-MNIST-shaped IDX files (60000 + 10000 28×28)
    cuda_figures.py rate RUN           images/s of a gex run's training intervals after the first
    cuda_figures.py loss RUN           first and last training loss, last validation error
"""
import csv
import json
import os
import statistics
import struct
import sys

import numpy as np


def write_idx(path, array):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def idx(directory):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, n in (("train", 60000), ("t10k", 10000)):
        write_idx(os.path.join(directory, f"{stem}-images-idx3-ubyte"), rng.integers(0, 256, (n, 28, 28)))
        write_idx(os.path.join(directory, f"{stem}-labels-idx1-ubyte"), rng.integers(0, 10, (n,)))


def rows(run, split):
    with open(os.path.join(run, "metrics.csv")) as f:
        return [r for r in csv.DictReader(f) if r["split"] == split]


def rate(run):
    # The first interval holds the warm-up (cuDNN autotuning, the graph's capture): left out.
    speeds = [float(r["images_per_second"]) for r in rows(run, "train")][1:]
    speeds = [s for s in speeds if s > 0]
    print(json.dumps({"best": max(speeds), "median": statistics.median(speeds), "intervals": len(speeds)}))


def loss(run):
    train, val = rows(run, "train"), rows(run, "val")
    print(json.dumps({"first_loss": float(train[0]["loss"]), "last_loss": float(train[-1]["loss"]),
                      "val_top1_error": float(val[-1]["top1_error"]) if val else None}))


if __name__ == "__main__":
    {"idx": idx, "rate": rate, "loss": loss}[sys.argv[1]](sys.argv[2])
