#!/usr/bin/env bash
# Data-parallel training on real MNIST: 2 epochs with mid-epoch saves, `mpirun -np N ./train` for
# N = 2, 3, 4 (128 rows per batch: 3 does not divide it) against `./train` in one process, every
# checkpoint compared with `ckpt diff`; then a job whose rank is killed (SIGKILL) mid-epoch, rerun
# on another N, ends identical too.
#   usage: tests/e2e/mpi_mnist.sh [DATA_DIR [BUILD_DIR]]   (defaults data/mnist, build)
# Prints one line per check and `mpi_mnist: P passed, F failed`; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/mpi_wait.sh
data=${1:-data/mnist}
bin=$(cd "${2:-build}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=1
args=(--data_dir "$data" --epochs 2 --seed 11 --save_every_steps 150 --max_to_keep 0 --progress off --threads 1)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [[ -f ${2:-} ]] && tail -10 "$2" | sed 's/^/    /'; }
same_as_reference() {  # DIR: every checkpoint of the reference, tensor for tensor
  local f
  for f in "$work/ref"/model-*.safetensors; do
    "$bin/ckpt" diff "$f" "$1/$(basename "$f")" 2>&1 | grep -q "all tensors identical" || { echo "    differs: $(basename "$f")"; return 1; }
  done
}

start=$(date +%s)
"$bin/train" "${args[@]}" --ckpt_dir "$work/ref" > "$work/ref.log" 2>&1 || { fail "one-process run" "$work/ref.log"; exit 1; }
steps=$(ls "$work/ref" | sed -n 's/^model-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tr '\n' ' ')
echo "mpi_mnist: one process: checkpoints $steps($(( $(date +%s) - start )) s)"
for n in 2 3 4; do
  t0=$(date +%s)
  if mpirun -np "$n" "$bin/train" "${args[@]}" --ckpt_dir "$work/n$n" > "$work/n$n.log" 2>&1 && same_as_reference "$work/n$n"; then
    ok "mpirun -np $n: every checkpoint ($steps) identical to one process ($(( $(date +%s) - t0 )) s)"
  else
    fail "mpirun -np $n differs from one process" "$work/n$n.log"
  fi
done

# A rank killed with SIGKILL mid-epoch 1 (after the save at step 150), the job rerun on 2 processes.
mpirun -np 3 "$bin/train" "${args[@]}" --ckpt_dir "$work/kill" > "$work/kill.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do [[ -f "$work/kill/model-150.safetensors" ]] && break; sleep 0.1; done
sleep 0.$((RANDOM % 10))
victim=$(pgrep -P $pid -x train | shuf -n 1)
kill -KILL "$victim" 2>/dev/null
wait_mpirun $pid
status=$?
newest=$(ls "$work/kill" | sed -n 's/^model-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1)
if [[ $status != 0 && -n $newest && $newest -lt 858 ]]; then
  ok "a rank killed mid-epoch took the job down (mpirun status $status, newest checkpoint model-$newest)"
else
  fail "killed rank: mpirun status $status, newest checkpoint '$newest'" "$work/kill.log"
fi
if mpirun -np 2 "$bin/train" "${args[@]}" --ckpt_dir "$work/kill" > "$work/kill2.log" 2>&1 &&
   grep -q "restored model-$newest" "$work/kill2.log" && same_as_reference "$work/kill"; then
  ok "rerun on 2 processes resumed from model-$newest and ends identical to one process"
else
  fail "rerun after the killed rank" "$work/kill2.log"
fi
echo "mpi_mnist: $passed passed, $failed failed ($(( $(date +%s) - start )) s)"
(( failed == 0 ))
