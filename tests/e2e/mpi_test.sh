#!/usr/bin/env bash
# Data-parallel training under mpirun, on generated images: every checkpoint written by
# `mpirun -np N ./train` (N = 1, 2, 3, 4; the batch of 17 rows divides among none of 2, 3, 4) has
# every tensor identical to the one-process run's; a run resumed on another N ends identical; a
# SIGTERM to the ranks stops every rank at the same step with a save and status 143; a rank killed
# with SIGKILL takes the job down and the rerun on another N ends identical; ranks started with
# other options or other data stop before any step with one message naming the rank and the
# difference.
#   usage: tests/e2e/mpi_test.sh BUILD_DIR      (ctest runs it when CMake found MPI)
set -uo pipefail
source "$(dirname "$0")/mpi_wait.sh"
bin=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# As root in a container, on 2 cores: see README (Data-parallel training).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=1
mpi() { local n=$1; shift; mpirun -np "$n" "$@"; }
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [[ -f ${2:-} ]] && tail -15 "$2" | sed 's/^/    /'; }

"$bin/make_test_data" "$work/data" 1100 200 14
args=(--data_dir "$work/data" --hidden 64,32 --batch_size 17 --validation_size 100 --learning_rate 0.01
      --save_every_steps 10 --max_to_keep 0 --progress off --threads 1)

# same_as_reference DIR STEPS...: each model-STEP in DIR has the reference's tensors.
same_as_reference() {
  local dir=$1 s
  shift
  for s in "$@"; do
    "$bin/ckpt" diff "$work/ref/model-$s.safetensors" "$dir/model-$s.safetensors" > "$work/diff.txt" 2>&1 &&
      grep -q "all tensors identical" "$work/diff.txt" || { cat "$work/diff.txt"; return 1; }
  done
}

"$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/ref" > "$work/ref.log" 2>&1 || { fail "one-process reference" "$work/ref.log"; exit 1; }
steps=$(ls "$work/ref" | sed -n 's/^model-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tr '\n' ' ')
final=$(echo $steps | tr ' ' '\n' | tail -1)

for n in 1 2 3 4; do
  if mpi "$n" "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/n$n" > "$work/n$n.log" 2>&1 &&
     same_as_reference "$work/n$n" $steps; then
    ok "mpirun -np $n: checkpoints $steps identical to one process"
  else
    fail "mpirun -np $n: checkpoints differ from one process" "$work/n$n.log"
  fi
done
grep -q '"event":"epoch"' "$work/n3/metrics.jsonl" && [[ $(grep -c '"event":"epoch"' "$work/n3/metrics.jsonl") == 2 ]] &&
  ok "rank 0 alone writes metrics.jsonl (2 epoch records)" || fail "metrics.jsonl under mpirun" "$work/n3/metrics.jsonl"
# The epoch line (loss, accuracies from the evaluation shared among ranks) is the one-process line.
strip() { sed -n 's/.*\(epoch [0-9]* global_step .* test_accuracy [0-9.]*\).*/\1/p' "$1"; }
[[ "$(strip "$work/ref.log")" == "$(strip "$work/n4.log")" && -n "$(strip "$work/ref.log")" ]] &&
  ok "epoch lines (loss, validation and test accuracy) equal one process's" || fail "epoch lines differ" "$work/n4.log"

# Resume on another N: one epoch on 3 processes, then the second on 2, then nothing left on 4.
mpi 3 "$bin/train" "${args[@]}" --epochs 1 --ckpt_dir "$work/resume" > "$work/resume1.log" 2>&1 &&
  mpi 2 "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/resume" > "$work/resume2.log" 2>&1 &&
  same_as_reference "$work/resume" "$final" && grep -q "restored model-" "$work/resume2.log" &&
  ok "1 epoch on 3 processes + 1 resumed on 2 == one process" || fail "resume on another N" "$work/resume2.log"
"$bin/train" "${args[@]}" --epochs 1 --ckpt_dir "$work/resume1" > /dev/null 2>&1 &&
  mpi 4 "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/resume1" > "$work/resume3.log" 2>&1 &&
  same_as_reference "$work/resume1" "$final" && ok "a one-process checkpoint resumed on 4 processes == one process" ||
  fail "one-process checkpoint resumed under mpirun" "$work/resume3.log"

# SIGTERM to every rank (as a batch system signals a job's tasks): all finish the step, rank 0
# saves, all exit 143 (mpirun passes it on). Then the run finishes on 2 processes, identical.
long=(--epochs 40)
"$bin/train" "${args[@]}" "${long[@]}" --ckpt_dir "$work/longref" > /dev/null 2>&1
long_final=$(ls "$work/longref" | sed -n 's/^model-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1)
mpirun -np 3 "$bin/train" "${args[@]}" "${long[@]}" --ckpt_dir "$work/term" > "$work/term.log" 2>&1 &
pid=$!
for _ in $(seq 100); do ls "$work/term"/model-*.safetensors > /dev/null 2>&1 && break; sleep 0.1; done
kill -TERM $(pgrep -P $pid -x train) 2>/dev/null
wait_mpirun $pid
status=$?
# The step the ranks stopped after must be on disk: saved for the stop, or, when the signal came
# during an epoch's last step or its evaluation, by that epoch's own save (no second one).
stopped_at=$(sed -n 's/.*stopped by signal 15 at global_step \([0-9]*\).*/\1/p' "$work/term.log")
if [[ $status == 143 && $(grep -c "stopped by signal 15" "$work/term.log") == 1 &&
      -n "$stopped_at" && -f "$work/term/model-$stopped_at.safetensors" ]]; then
  ok "SIGTERM to the ranks: rank 0 saved model-$stopped_at at the stop, mpirun exits 143"
else
  fail "SIGTERM to the ranks: status $status (wanted 143)" "$work/term.log"
fi
mpi 2 "$bin/train" "${args[@]}" "${long[@]}" --ckpt_dir "$work/term" > "$work/term2.log" 2>&1 &&
  "$bin/ckpt" diff "$work/longref/model-$long_final.safetensors" "$work/term/model-$long_final.safetensors" | grep -q "all tensors identical" &&
  ok "stopped on 3 processes, finished on 2: identical" || fail "resume after SIGTERM" "$work/term2.log"

# SIGKILL of one rank: mpirun takes the job down (non-zero); the rerun on 4 processes ends identical.
mpirun -np 3 "$bin/train" "${args[@]}" "${long[@]}" --ckpt_dir "$work/kill" > "$work/kill.log" 2>&1 &
pid=$!
for _ in $(seq 100); do ls "$work/kill"/model-*.safetensors > /dev/null 2>&1 && break; sleep 0.1; done
victim=$(pgrep -P $pid -x train | shuf -n 1)
kill -KILL "$victim" 2>/dev/null
wait_mpirun $pid
status=$?
if [[ $status != 0 ]]; then ok "a rank killed with SIGKILL takes the job down (status $status)"; else fail "killed rank: mpirun exited 0" "$work/kill.log"; fi
mpi 4 "$bin/train" "${args[@]}" "${long[@]}" --ckpt_dir "$work/kill" > "$work/kill2.log" 2>&1 &&
  "$bin/ckpt" diff "$work/longref/model-$long_final.safetensors" "$work/kill/model-$long_final.safetensors" | grep -q "all tensors identical" &&
  "$bin/ckpt" verify "$work/kill" > /dev/null &&
  ok "killed on 3 processes, rerun on 4: identical" || fail "rerun after a killed rank" "$work/kill2.log"

# Ranks that disagree stop before any step, with one message naming the rank and the difference.
mpirun -np 1 "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/bad" : \
       -np 1 "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/bad" --learning_rate 0.02 > "$work/bad.log" 2>&1
status=$?
if [[ $status != 0 ]] && grep -q "rank 1 of 2 was not started like rank 0" "$work/bad.log" &&
   grep -q "learning_rate: rank 0 has 0.01, rank 1 has 0.02" "$work/bad.log" &&
   [[ $(grep -c "was not started like" "$work/bad.log") == 1 ]] && ! ls "$work/bad"/model-* > /dev/null 2>&1; then
  ok "a rank with another option: one message naming rank 1 and learning_rate, nothing trained"
else
  fail "disagreeing options (status $status)" "$work/bad.log"
fi
cp -r "$work/data" "$work/data2"
labels="$work/data2/train-labels-idx1-ubyte"  # one training label changed (byte 508: image 500)
old=$(od -An -tu1 -j508 -N1 "$labels" | tr -d ' ')
printf "\\$(printf '%03o' $(( (old + 1) % 10 )))" | dd of="$labels" bs=1 seek=508 conv=notrunc status=none
mpirun -np 2 "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/bad2" : \
       -np 1 "$bin/train" "${args[@]}" --epochs 2 --ckpt_dir "$work/bad2" --data_dir "$work/data2" > "$work/bad2.log" 2>&1
status=$?
if [[ $status != 0 ]] && grep -q "rank 2 of 3 was not started like rank 0" "$work/bad2.log" &&
   grep -q "the data differ" "$work/bad2.log"; then
  ok "a rank with other data: the message names rank 2 and both data fingerprints"
else
  fail "disagreeing data (status $status)" "$work/bad2.log"
fi

echo "mpi_test: $passed passed, $failed failed"
(( failed == 0 ))
