#!/usr/bin/env bash
# ckpt export --format onnx, proven in independent runtimes: python3-onnx's checker accepts the file
# and OpenCV (python3-opencv, cv2.dnn) gives the same test accuracy as ./eval on the same checkpoint
# (scripts/tools/onnx_check.py). Skipped (exit 77) when this build has no ONNX or when Debian's
# python3-onnx / python3-opencv are not installed.
#   usage: onnx_test.sh BUILD_DIR [DATA_DIR CKPT_FILE]   (default: a small run on synthetic data)
set -uo pipefail
bin=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$py" -c 'import onnx, cv2' 2>/dev/null; then
  echo "onnx_test: skipped: $py cannot import onnx and cv2 (apt-get install python3-onnx python3-opencv)"
  exit 77
fi
if [[ $# -ge 3 ]]; then
  data=$2; ckpt=$3
else
  data=$work/data
  "$bin/make_test_data" "$data" 600 300 28 > /dev/null
  "$bin/train" --data_dir "$data" --ckpt_dir "$work/run" --hidden 48,24 --batch_size 32 --validation_size 50 \
    --learning_rate 0.01 --epochs 3 --progress off --quiet > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
  ckpt=$(ls "$work"/run/model-*.safetensors | tail -1)
fi
out=$("$bin/ckpt" export "$ckpt" --format onnx -o "$work/model.onnx" 2>&1)
if [[ "$out" == *"without ONNX"* ]]; then echo "onnx_test: skipped: $out"; exit 77; fi
[[ -s "$work/model.onnx" ]] || { echo "FAIL: ckpt export --format onnx wrote nothing: $out"; exit 1; }
echo "onnx_test: $out"
# Refusals: an unknown format, --vars with onnx, a file that is not a training checkpoint.
refused() {  # refused TEXT ARGS...: ckpt export ARGS exits 1 with TEXT and writes nothing
  local text=$1; shift
  local out; out=$("$bin/ckpt" export "$@" -o "$work/bad.onnx" 2>&1)
  if [[ $? -ne 1 || "$out" != *"$text"* || -e "$work/bad.onnx" ]]; then echo "FAIL: ckpt export $*: $out"; exit 1; fi
}
refused "--format expects safetensors or onnx, got 'onnxx'" "$ckpt" --format onnxx
refused "--vars applies to safetensors exports" "$ckpt" --format onnx --vars w_h
echo "not a checkpoint" > "$work/notes.safetensors"
refused "notes.safetensors" "$work/notes.safetensors" --format onnx
acc=$("$bin/eval" --checkpoint "$ckpt" --data_dir "$data" --json | "$py" -c 'import json, sys; print(json.load(sys.stdin)["accuracy"])')
"$py" "$root/scripts/tools/onnx_check.py" "$work/model.onnx" "$data" "$acc"
