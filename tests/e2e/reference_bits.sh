#!/usr/bin/env bash
# The same bits on every x86-64, checked across machines: one epoch of real-MNIST training with the
# defaults (saves at global steps 150, 300 and 429), run under every kernel path this CPU supports
# (MNIST_KERNEL=avx512, avx2, plain), must write exactly the tensors recorded in
# tests/e2e/reference_bits.txt: the CRC-32 of every weight and optimizer slot, which every checkpoint
# carries in its header. Those were recorded on another machine (the file says which), so a run here
# on a CPU with AVX-512, or without it, or on the plain path, compares this machine's arithmetic with
# that one's, not only this machine's paths with each other (tests/e2e/portable_binary.sh does that
# under qemu). Prints each comparison; exits 1 on any difference.
#   usage: tests/e2e/reference_bits.sh [DATA_DIR [BUILD_DIR]]
#   re-record (only after a change meant to change the bits, said in its commit):
#   tests/e2e/reference_bits.sh DATA_DIR BUILD_DIR --record > tests/e2e/reference_bits.txt.new
set -uo pipefail
cd "$(dirname "$0")/../.."
data=${1:-data/mnist}
bin=${2:-build}
record=${3:-}
reference=${REFERENCE_BITS:-tests/e2e/reference_bits.txt}  # (another file: to see the check fail)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
steps=(150 300 429)

# The tensor_crc32 object of a checkpoint's header, as one line of JSON ({"w_h":"753cbcdb",...}).
crcs() {
  head -c 4096 "$1" | tr -d '\000' | grep -ao '"tensor_crc32":"{[^}]*}"' | sed 's/^"tensor_crc32":"//; s/"$//; s/\\"/"/g'
}

run() {  # run PATH: trains one epoch on kernel path PATH into $work/PATH
  MNIST_KERNEL=$1 "$bin/train" --data_dir "$data" --ckpt_dir "$work/$1" --epochs 1 --save_every_steps 150 \
    --max_to_keep 0 --progress off > "$work/$1.log" 2>&1
}

run avx2 || true  # (only to learn which paths this CPU has)
best=$(grep -o 'best this CPU supports: [a-z0-9]*' "$work/avx2.log" | head -1 | awk '{print $NF}')
best=${best:-plain}
case $best in
  avx512) paths=(avx512 avx2 plain) ;;
  avx2) paths=(avx2 plain) ;;
  *) paths=(plain) ;;
esac
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) (best kernel path $best)"

if [[ $record == --record ]]; then
  [[ -f $work/$best/model-429.safetensors ]] || run "$best" ||  # (the avx2 run above may be it)
    { echo "reference_bits: training failed"; cat "$work/$best.log"; exit 1; }
  echo "# Per-tensor CRC-32 of the checkpoints written by"
  echo "#   MNIST_KERNEL=PATH ./train --data_dir data/mnist --ckpt_dir D --epochs 1 --save_every_steps 150 --max_to_keep 0"
  echo "# recorded $(date -u +%Y-%m-%d) on $cpu; path $best, at commit $(git rev-parse --short HEAD 2>/dev/null)"
  echo "# by: tests/e2e/reference_bits.sh data/mnist build --record"
  for s in "${steps[@]}"; do echo "model-$s $(crcs "$work/$best/model-$s.safetensors")"; done
  exit 0
fi

[[ -f $reference ]] || { echo "reference_bits: FAIL: $reference is missing"; exit 1; }
echo "reference_bits: this machine: $cpu; the reference: $(sed -n 's/^# recorded \([^;]*\);.*/\1/p' "$reference")"
failed=0
for path in "${paths[@]}"; do
  if [[ $path != avx2 || ! -f $work/avx2/model-429.safetensors ]]; then
    run "$path" || { echo "reference_bits: FAIL: training on path $path failed:"; tail -5 "$work/$path.log"; failed=1; continue; }
  fi
  for s in "${steps[@]}"; do
    want=$(awk -v m="model-$s" '$1 == m {print $2}' "$reference")
    got=$(crcs "$work/$path/model-$s.safetensors")
    if [[ -n $want && $got == "$want" ]]; then
      echo "reference_bits: path $path, model-$s: every tensor's CRC-32 as recorded"
    else
      echo "reference_bits: FAIL: path $path, model-$s: tensors differ from the reference"
      echo "  expected $want"
      echo "  found    $got"
      failed=1
    fi
  done
done
((failed == 0)) && echo "reference_bits: ${#paths[@]} kernel paths, ${#steps[@]} checkpoints each: identical to the reference"
exit $failed
