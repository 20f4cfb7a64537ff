#!/usr/bin/env python3
"""Writes the sample images the application opens with (resources/samples/):
one Fashion-MNIST test image per class as PNG, taken from Debian's dataset-fashion-mnist, and a
colour picture the project draws itself (free to ship), to try gates on an RGB photo-like image.

    scripts/make-samples.py [--data /usr/share/datasets/fashion-mnist] [--out resources/samples]
"""
import argparse
import gzip
import math
import os
import struct
import zlib

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def write_png(path, width, height, channels, rows):
    """rows: list of bytes, one per row (gray or RGB)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    colour = 0 if channels == 1 else 2
    raw = b"".join(b"\x00" + r for r in rows)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise SystemExit(f"{data_dir}: no {stem}[.gz]")


def colour_picture(size=256):
    """A small landscape: sky gradient, sun, two hills and a red kite."""
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            t = y / size
            r, g, b = int(90 + 120 * t), int(150 + 80 * t), int(235 - 30 * t)  # sky
            if (x - 190) ** 2 + (y - 60) ** 2 < 26 ** 2:
                r, g, b = 255, 214, 70  # sun
            if y > 170 + 25 * math.sin(x / 40.0):
                r, g, b = 60, 140 + int(40 * math.sin(x / 17.0)), 60  # far hill
            if y > 200 + 15 * math.cos(x / 30.0):
                r, g, b = 40, 100, 45  # near hill
            kx, ky = x - 80, y - 95
            if abs(kx) + abs(ky) * 0.7 < 30:
                r, g, b = 220, 40, 40  # kite
            row += bytes((r, g, b))
        rows.append(bytes(row))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "resources", "samples"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    (n, h, w), pixels = read_idx(find(args.data, "t10k-images-idx3-ubyte"))
    (_,), labels = read_idx(find(args.data, "t10k-labels-idx1-ubyte"))
    done = set()
    for i in range(n):
        label = labels[i]
        if label in done:
            continue
        done.add(label)
        image = pixels[i * h * w:(i + 1) * h * w]
        write_png(os.path.join(args.out, f"fashion-{label}-{CLASSES[label]}.png"), w, h, 1,
                  [image[r * w:(r + 1) * w] for r in range(h)])
        if len(done) == len(CLASSES):
            break
    write_png(os.path.join(args.out, "landscape-colour.png"), 256, 256, 3, colour_picture())
    print(f"wrote {len(done) + 1} images to {args.out}")


if __name__ == "__main__":
    main()
