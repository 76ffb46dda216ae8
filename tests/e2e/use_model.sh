#!/usr/bin/env bash
# CI: using a trained model, on real MNIST. Trains a 3-epoch checkpoint (about 10 s), then
#   1. ./predict on 300 test digits as 28x28 PNGs (>= 95%) and drawn dark on light at 140x140 RGB (>= 90%);
#   2. the ONNX export in onnx.checker and OpenCV: the same test accuracy as ./eval;
#   3. ./board in Debian's Chromium (puppeteer-core): curves, checkpoint table, a drawn "1" predicted 1.
# Steps 2 and 3 skip with a message when their tools are absent; the others fail the run.
#   usage: use_model.sh BUILD_DIR DATA_DIR [SCREENSHOT.png]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$1" && pwd)
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shot=${3:-$work/board.png}
"$bin/train" --data_dir "$data" --ckpt_dir "$work/ck3" --epochs 3 --progress off --quiet > "$work/train.log" 2>&1 ||
  { cat "$work/train.log"; exit 1; }
ckpt=$(ls "$work"/ck3/model-*.safetensors | sort -t- -k2 -n | tail -1)
status=0
bash "$root/tests/e2e/predict_accuracy.sh" "$bin" "$data" "$work/ck3" 300 || status=1
bash "$root/tests/e2e/onnx_test.sh" "$bin" "$data" "$ckpt"; s=$?; (( s != 0 && s != 77 )) && status=1
bash "$root/tests/browser/run.sh" "$bin" "$work/ck3" "$data" "$shot" 1; s=$?; (( s != 0 && s != 77 )) && status=1
echo "use_model: $([[ $status -eq 0 ]] && echo ok || echo FAILED)"
exit $status
