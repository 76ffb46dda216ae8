#!/usr/bin/env python3
"""Reads a checkpoint with nothing but json, struct and numpy, and evaluates it on the MNIST test set.

    usage: scripts/tools/load_checkpoint.py CKPT [DATA_DIR]     (DATA_DIR defaults to data/mnist)

Proof that the files need none of this project's code: the safetensors layout is an 8-byte
little-endian header length, a JSON header, then little-endian row-major tensor data. The forward
pass is the network's (x = pixels * float32(1/255), ReLU between layers, no dropout, argmax) in
float32. Prints the checkpoint's global_step and `accuracy 0.XXXX` (4 decimals, as ./eval does).
Works on training checkpoints and on `ckpt export` files that keep the weight names.
"""
import gzip
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}


def load_safetensors(path):
    """Returns ({name: array}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        raw = data[8 + n + begin:8 + n + end]
        tensors[name] = np.frombuffer(raw, dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return tensors, metadata


def weight_names(tensors):
    """The tutorial's names in layer order: w_h, w_h2, w_h3, ..., w_o."""
    names = ["w_h"]
    while "w_h%d" % (len(names) + 1) in tensors:
        names.append("w_h%d" % (len(names) + 1))
    return names + ["w_o"]


def read_idx(data_dir, name, magic):
    """One IDX file of DATA_DIR, raw or .gz, checked against its magic number and size."""
    path = os.path.join(data_dir, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    elif os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    else:
        sys.exit("load_checkpoint: no %s (or .gz) in %s; run `make data`" % (name, data_dir))
    dims = magic & 0xFF
    header = struct.unpack(">%dI" % (1 + dims), data[:4 * (1 + dims)])
    if header[0] != magic:
        sys.exit("load_checkpoint: %s: magic %#x, expected %#x" % (path, header[0], magic))
    shape = header[1:]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + dims))
    if body.size != int(np.prod(shape)):
        sys.exit("load_checkpoint: %s: %d data bytes for shape %s" % (path, body.size, shape))
    return body.reshape(shape[0], -1) if dims > 1 else body


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: load_checkpoint.py CKPT [DATA_DIR]")
    tensors, metadata = load_safetensors(sys.argv[1])
    data_dir = sys.argv[2] if len(sys.argv) == 3 else "data/mnist"
    images = read_idx(data_dir, "t10k-images-idx3-ubyte", 0x803)
    labels = read_idx(data_dir, "t10k-labels-idx1-ubyte", 0x801)

    x = images.astype(np.float32) * np.float32(1 / 255)  # data_loader's kPixelScale
    names = weight_names(tensors)
    if any(name not in tensors for name in names):
        sys.exit("load_checkpoint: %s holds no network w_h, ..., w_o (it holds %s)"
                 % (sys.argv[1], ", ".join(tensors)))
    weights = [tensors[name] for name in names]
    for w in weights[:-1]:
        x = np.maximum(x @ w, np.float32(0))
    predictions = np.argmax(x @ weights[-1], axis=1)
    accuracy = float(np.mean(predictions == labels))

    if "global_step" in tensors:
        step = int(tensors["global_step"])
    else:
        step = metadata.get("global_step", metadata.get("source_global_step", "unknown"))
    print("global_step %s" % step)
    print("accuracy %.4f" % accuracy)


if __name__ == "__main__":
    main()
