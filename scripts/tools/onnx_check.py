#!/usr/bin/python3
"""Checks an ONNX model written by `ckpt export --format onnx` in runtimes independent of this project.

onnx.checker (python3-onnx) must accept it; OpenCV's DNN module (python3-opencv,
cv2.dnn.readNetFromONNX) runs it on the test set of DATA_DIR (IDX files, raw or .gz), and its test
accuracy is printed next to EXPECTED (./eval's) and must be equal. Exit 0 when both hold.
  usage: onnx_check.py MODEL.onnx DATA_DIR EXPECTED_ACCURACY
"""
import gzip
import os
import sys

import numpy as np


def read_idx(data_dir, name):
    path = os.path.join(data_dir, name)
    raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    model, data_dir, expected = sys.argv[1], sys.argv[2], float(sys.argv[3])
    import onnx
    import cv2
    m = onnx.load(model)
    onnx.checker.check_model(m)
    meta = {p.key: p.value for p in m.metadata_props}
    print(f"onnx_check: onnx.checker accepts {model} (opset {m.opset_import[0].version}, "
          f"global_step {meta.get('global_step')})")
    images = read_idx(data_dir, "t10k-images-idx3-ubyte")
    labels = read_idx(data_dir, "t10k-labels-idx1-ubyte")
    x = images.reshape(len(images), -1).astype(np.float32) * np.float32(1.0 / 255.0)
    net = cv2.dnn.readNetFromONNX(model)
    right = 0
    for i in range(0, len(x), 1000):
        net.setInput(x[i:i + 1000])
        probs = net.forward()
        assert probs.shape == (len(x[i:i + 1000]), 10), probs.shape
        right += int((probs.argmax(1) == labels[i:i + 1000]).sum())
    acc = right / len(x)
    ok = abs(acc - expected) < 0.5 / len(x)
    print(f"onnx_check: OpenCV {cv2.__version__} test accuracy {acc:.4f} ({right}/{len(x)}), "
          f"./eval {expected:.4f}: {'equal' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
