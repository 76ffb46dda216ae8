#!/usr/bin/env bash
# End-to-end check on the real MNIST files: a 3-epoch run killed with SIGKILL during epoch 3 and
# rerun with the same command continues from the end of epoch 2 and ends with every tensor
# byte-identical to an uninterrupted run; ./eval then reports its test accuracy.
#   usage: tests/e2e/e2e_mnist.sh [DATA_DIR]   (needs ./train, ./eval, ./ckpt: run `make` first, or set BIN)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-data/mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${BIN:-.}  # BIN=build-sanitize runs another build's programs
args=(--data_dir "$data" --epochs 3 --seed 1)

echo "e2e: uninterrupted run"
"$bin/train" "${args[@]}" --ckpt_dir "$work/whole" > "$work/whole.log" 2>&1
last=$(ls "$work/whole" | sed -n 's/^model-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1)
per_epoch=$((last / 3))

echo "e2e: run killed with SIGKILL during epoch 3"
"$bin/train" "${args[@]}" --ckpt_dir "$work/killed" > "$work/killed1.log" 2>&1 &
pid=$!
while [ ! -f "$work/killed/model-$((2 * per_epoch)).safetensors" ]; do
  kill -0 "$pid" 2>/dev/null || { echo "e2e: FAIL: trainer exited before epoch 2 ended"; cat "$work/killed1.log"; exit 1; }
  sleep 0.05
done
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
if [ -f "$work/killed/model-$last.safetensors" ]; then
  echo "e2e: FAIL: the run finished epoch 3 before it was killed; nothing was tested"; exit 1
fi

echo "e2e: rerun of the same command"
"$bin/train" "${args[@]}" --ckpt_dir "$work/killed" > "$work/killed2.log" 2>&1
grep -q "restored model-$((2 * per_epoch)).safetensors" "$work/killed2.log" || {
  echo "e2e: FAIL: the rerun did not resume from the end of epoch 2"; cat "$work/killed2.log"; exit 1; }
"$bin/ckpt" diff "$work/whole/model-$last.safetensors" "$work/killed/model-$last.safetensors" > "$work/diff.txt" || {
  echo "e2e: FAIL: resumed run differs from the uninterrupted one"; cat "$work/diff.txt"; exit 1; }

acc=$("$bin/eval" --ckpt_dir "$work/killed" --data_dir "$data" --json | sed -n 's/.*"accuracy":\([0-9.]*\).*/\1/p')
grep "epoch 3 " "$work/whole.log" | sed 's/^.*\] //'
echo "e2e: killed during epoch 3, resumed from model-$((2 * per_epoch)), every tensor identical; test accuracy $acc"
echo "e2e: 1 passed, 0 failed"
