#!/usr/bin/env python3
"""Makes the committed `gex import` fixtures with PyTorch and torchvision (Debian's python3-torch and
python3-torchvision); the tests only read what this writes.

    tests/data/import/make_fixtures.py [OUT_DIR]

- resnet18-torchvision.pth, resnet50-torchvision.pth: `torch.save(model.state_dict())` of
  torchvision's own ResNet-18 and ResNet-50 (the OrderedDict with its `_metadata`, the exact key
  layout and shapes), but every tensor a strided view of a few small shared storages so the files
  stay ~150 kB (overlapping views: a value at index (i0, i1, …) is pool[offset + Σ i_k·stride_k]).
- input.npy, resnet18-logits.npy, resnet50-logits.npy: a fixed batch of two 3×64×64 images and
  torchvision's eval-mode output for it with those weights: the independent reference the imported
  model must reproduce (torchvision's ResNet-50 strides on its 3×3, "v1.5").
- hostile.pth: torch.save of an object whose unpickling would call os.system; it must be refused.
- legacy.pth: a small state dict in the pre-1.6 format.
"""
import collections
import os
import sys

import numpy as np
import torch
import torchvision

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
POOL = 20011  # the shared storage of weights: a prime, so strides do not line up with it


def pools(gamma):
    g = torch.Generator().manual_seed(7)
    return {
        "weight": (torch.rand(POOL, generator=g) * 2 - 1) * 0.05,
        "bn_weight": torch.rand(2053, generator=g) * (gamma[1] - gamma[0]) + gamma[0],
        "bn_bias": (torch.rand(2053, generator=g) * 2 - 1) * 0.05,
        "running_mean": (torch.rand(2053, generator=g) * 2 - 1) * 0.05,
        "running_var": torch.rand(2053, generator=g) * 1.5 + 0.5,
    }


PRIMES = [7, 3, 2, 1, 5, 11]


def view_of(name, like, pool, k):
    """A strided view of `pool` shaped like `like`, its strides and offset varied by k."""
    if like.dim() == 1:
        offset = (k * 13) % (pool.numel() - like.numel())
        return pool.as_strided(like.shape, (1,), offset)
    strides = [PRIMES[(k + d) % len(PRIMES)] for d in range(like.dim())]
    extent = sum((s - 1) * st for s, st in zip(like.shape, strides))
    assert extent < pool.numel(), (name, extent)
    offset = (k * 31) % (pool.numel() - extent)
    return pool.as_strided(like.shape, strides, offset)


def strided_state(model, gamma):
    p = pools(gamma)
    state = model.state_dict()
    out = collections.OrderedDict()
    for k, (name, t) in enumerate(state.items()):
        if name.endswith("num_batches_tracked"):
            out[name] = t.clone()
        elif name.endswith("running_mean"):
            out[name] = view_of(name, t, p["running_mean"], k)
        elif name.endswith("running_var"):
            out[name] = view_of(name, t, p["running_var"], k)
        elif t.dim() == 1 and "bn" in name or "downsample.1" in name:
            out[name] = view_of(name, t, p["bn_weight" if name.endswith("weight") else "bn_bias"], k)
        else:
            out[name] = view_of(name, t, p["weight"], k)
    out._metadata = state._metadata  # what torch.save(model.state_dict()) writes
    return out


def write(name, make, gamma):
    """BN scales in `gamma`: as large as the depth allows, so that a misplaced stride shows."""
    model = make()
    state = strided_state(model, gamma)
    torch.save(state, os.path.join(OUT, f"{name}-torchvision.pth"))
    model.load_state_dict(state)
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    assert torch.isfinite(y).all() and y.abs().max() < 1e4, y.abs().max()
    np.save(os.path.join(OUT, "input.npy"), x.numpy())
    np.save(os.path.join(OUT, f"{name}-logits.npy"), y.numpy())
    return state


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gex-hostile-pickle-ran",))


def main():
    torch.manual_seed(0)
    write("resnet18", torchvision.models.resnet18, (0.5, 1.2))
    write("resnet50", torchvision.models.resnet50, (1.0, 2.0))
    torch.save(collections.OrderedDict([("conv1.weight", torch.zeros(1)), ("payload", Hostile())]),
               os.path.join(OUT, "hostile.pth"))
    small = collections.OrderedDict([("conv1.weight", torch.ones(2, 3)), ("fc.bias", torch.zeros(2))])
    torch.save(small, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
