#!/usr/bin/env bash
# Crash harness: trains a short run on generated images, saving every few steps, and kills it with
# SIGKILL at random moments, including inside the save sequence (MNIST_FAULT makes the trainer kill
# itself after the temporary write, before the rename, after the rename or before the state file).
# Each killed run is rerun with the same command but a different --threads, until it completes;
# then every tensor is compared, byte for byte, with an uninterrupted run's. Rounds repeat in fresh
# directories until KILLS kills have happened.
# With --disk-full (root only: skipped with a message otherwise) the runs write to a small tmpfs that
# a filler fills and frees at random moments during the runs: a run may then end with status 75 (its
# last state could not be saved); its message must name the newest valid checkpoint on disk (or say
# none was saved), and the rerun, once space is freed, must still end identical.
# MPI mode (second argument `mpi`): every run is `mpirun -np N ./train` with N drawn from 1..4, a
# random rank is killed with SIGKILL at a random moment (mpirun then takes the job down), and the
# rerun draws another N; the reference is still one process.
#   usage: tests/e2e/crash_test.sh [KILLS] [mpi] [--disk-full]   (default 10; needs `make` to have built build/)
# Prints `crash_test: K kills, R resumes, identical=yes|no`; exits non-zero on any difference or
# failed resume.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/mpi_wait.sh
kills_wanted=10 disk_full=no mode=threads
for a in "$@"; do
  case "$a" in --disk-full) disk_full=yes ;; mpi) mode=mpi ;; *) kills_wanted=$a ;; esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=1
# launch THREADS ARGS...: one run in the background (pid in $pid): one process, or mpirun on a random N.
launch() {
  local threads=$1
  shift
  if [[ $mode == mpi ]]; then
    ranks=$((1 + RANDOM % 4))
    mpirun -np "$ranks" "$build/train" "$@" --threads 1 &
  else
    ranks=1
    "$build/train" "$@" --threads "$threads" &
  fi
  pid=$!
}
# The process to kill: the run itself, or in MPI mode a random rank of it (once the ranks exist).
victim() {
  [[ $mode == mpi ]] || { echo "$pid"; return; }
  local v=""
  for _ in $(seq 50); do
    v=$(pgrep -P "$pid" -x train | shuf -n 1)
    [[ -n $v ]] || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.02
  done
  echo "${v:-$pid}"
}
build=${BUILD:-build}
for b in train ckpt make_test_data; do
  [[ -x "$build/$b" ]] || { echo "crash_test: $build/$b is missing; run make first" >&2; exit 2; }
done
if [[ $disk_full == yes && $(id -u) != 0 ]]; then
  echo "crash_test: --disk-full skipped: mounting a small tmpfs needs root"
  exit 0
fi
work=$(mktemp -d)
disk=""
filler_pid=""
cleanup() {
  [[ -n $filler_pid ]] && kill "$filler_pid" 2>/dev/null
  [[ -n $disk ]] && umount "$disk" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
unsaved=0 fills=0
if [[ $disk_full == yes ]]; then
  disk="$work/disk"
  mkdir -p "$disk"
  # 8 MB: room for about five checkpoints of this network (1.3 MB each) and the state file.
  if ! mount -t tmpfs -o size=8m tmpfs "$disk" 2> /dev/null; then
    disk=""
    echo "crash_test: --disk-full skipped: cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?)"
    exit 0
  fi
fi
# The filler: after a random delay it fills the disk to the last byte, then frees it after another.
start_filler() {
  [[ $disk_full == yes ]] || return 0
  local fill_ms=$((RANDOM % (run_ms + 1))) free_ms=$((RANDOM % (run_ms + 1)))
  ( sleep "$(printf '%d.%03d' $((fill_ms / 1000)) $((fill_ms % 1000)))"
    dd if=/dev/zero of="$disk/filler" bs=64k > /dev/null 2>&1
    sleep "$(printf '%d.%03d' $((free_ms / 1000)) $((free_ms % 1000)))"
    rm -f "$disk/filler" ) &
  filler_pid=$!
  fills=$((fills + 1))
}
stop_filler() {
  [[ -n $filler_pid ]] || return 0
  kill "$filler_pid" 2>/dev/null
  wait "$filler_pid" 2>/dev/null
  filler_pid=""
  # Half the time the disk stays full into the next run.
  (( RANDOM % 2 == 0 )) && rm -f "$disk/filler"
  return 0
}
# A run that ended with 75 must have named what is on disk truthfully.
check_unsaved_message() {
  local log=$1 dir=$2 named
  named=$(sed -n "s/.*newest checkpoint on disk is '\([^']*\)'.*/\1/p" "$log" | tail -1)
  if [[ -n $named ]]; then
    "$build/ckpt" verify "$named" > /dev/null 2>&1 || { echo "crash_test: status 75 named '$named', which is not a valid checkpoint"; return 1; }
  elif grep -q "No checkpoint was saved" "$log"; then
    if ls "$dir"/model-*.safetensors > /dev/null 2>&1 && "$build/ckpt" verify "$dir" > /dev/null 2>&1; then
      echo "crash_test: status 75 said no checkpoint was saved, but '$dir' holds valid ones"; return 1
    fi
  else
    echo "crash_test: status 75 without naming what is on disk:"; tail -3 "$log"; return 1
  fi
}

"$build/make_test_data" "$work/data" 2100 200 28
args=(--data_dir "$work/data" --hidden 128,64 --batch_size 32 --validation_size 100 --epochs 4
      --save_every_steps 3 --max_to_keep 3 --learning_rate 0.003)

"$build/train" "${args[@]}" --threads 1 --ckpt_dir "$work/reference" > "$work/reference.log" 2>&1 || {
  echo "crash_test: the uninterrupted reference run failed"; tail -5 "$work/reference.log"; exit 1; }
final=$(ls "$work/reference" | sed -n 's/^model-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1)
# How long a whole run takes, so that random kills land anywhere in it.
start=$(date +%s%N)
launch 2 "${args[@]}" --ckpt_dir "$work/timing" > /dev/null 2>&1
wait "$pid"
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
rm -rf "$work/timing"

faults=(after_temp_write before_rename after_rename before_state_file)
kills=0 resumes=0 rounds=0 identical=yes failed_resume=no
while (( kills < kills_wanted )); do
  rounds=$((rounds + 1))
  dir="${disk:-$work}/round$rounds"
  while :; do
    threads=$((1 + RANDOM % 3))
    fault=""
    (( kills < kills_wanted && RANDOM % 4 == 0 )) && fault=${faults[$((RANDOM % 4))]}
    log="$work/run.log"
    MNIST_FAULT=$fault launch "$threads" "${args[@]}" --ckpt_dir "$dir" > "$log" 2>&1
    killed=no
    start_filler
    if (( kills < kills_wanted )) && [[ -z "$fault" ]]; then
      delay_ms=$((RANDOM % (run_ms + 1)))
      sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
      kill -9 "$(victim)" 2>/dev/null && killed=yes
    fi
    if [[ $mode == mpi ]]; then wait_mpirun "$pid"; else wait "$pid" 2>/dev/null; fi
    status=$?
    stop_filler
    grep -q "restored model-" "$log" && resumes=$((resumes + 1))
    if (( status == 0 )); then break; fi
    # One process killed exits 137; mpirun whose rank was killed (or killed itself at a fault) exits non-zero.
    if (( status == 137 )) || [[ $mode == mpi && ( $killed == yes || -n $fault ) ]]; then kills=$((kills + 1)); continue; fi
    if (( status == 75 )) && [[ $disk_full == yes ]]; then
      check_unsaved_message "$log" "$dir" || { failed_resume=yes; break; }
      unsaved=$((unsaved + 1))
      rm -f "$disk/filler"
      continue
    fi
    echo "crash_test: a run failed with status $status (threads $threads, ranks $ranks, fault '$fault'):"
    tail -5 "$log"
    failed_resume=yes
    break
  done
  [[ $failed_resume == yes ]] && break
  if ! "$build/ckpt" diff "$work/reference/model-$final.safetensors" "$dir/model-$final.safetensors" > "$work/diff.txt" 2>&1; then
    identical=no
    echo "crash_test: round $rounds differs from the uninterrupted run:"
    cat "$work/diff.txt"
    break
  fi
  "$build/ckpt" verify "$dir" > /dev/null || { echo "crash_test: round $rounds left an invalid checkpoint"; identical=no; break; }
  rm -rf "$dir"
done

[[ $disk_full == yes ]] && echo "crash_test: disk-full mode: 8 MB tmpfs, the disk filled $fills times, $unsaved runs ended with status 75 naming what was on disk"
echo "crash_test: $kills kills, $resumes resumes, identical=$identical ($rounds rounds, runs of ${run_ms} ms, mode $mode)"
[[ $identical == yes && $failed_resume == no ]]
