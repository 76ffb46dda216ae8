#!/usr/bin/env bash
# Readers never lose a race with the trainer: CALLS `./eval --ckpt_dir` calls (and CALLS/4
# `./ckpt list` calls) while ./train saves every 5 steps keeping one checkpoint, so that each save
# deletes the file the state file named a moment before (on data made by make_test_data).
#   usage: tests/e2e/reader_race.sh [CALLS]      (default 200; needs `make` to have built build/)
# Prints `reader_race: N eval calls, F failed, W warned, S checkpoints seen; L ckpt list calls, G failed`
# and exits non-zero when any call failed or warned.
set -uo pipefail
cd "$(dirname "$0")/../.."
calls=${1:-200}
build=${BUILD:-build}
for b in train eval ckpt make_test_data; do
  [[ -x "$build/$b" ]] || { echo "reader_race: $build/$b is missing; run make first" >&2; exit 2; }
done
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

"$build/make_test_data" "$work/data" 2100 200 28
"$build/train" --data_dir "$work/data" --ckpt_dir "$work/ckpt" --hidden 128,64 --batch_size 32 \
  --validation_size 100 --epochs 100000 --save_every_steps 5 --max_to_keep 1 --progress off --threads 1 \
  > "$work/train.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do
  ls "$work/ckpt"/model-*.safetensors > /dev/null 2>&1 && break
  sleep 0.05
done

failed=0 warned=0 list_failed=0 list_calls=0
declare -A seen=()
for i in $(seq 1 "$calls"); do
  if out=$("$build/eval" --ckpt_dir "$work/ckpt" --data_dir "$work/data" --json --threads 1 2> "$work/err"); then
    step=$(sed -n 's/.*"global_step":\([0-9]*\).*/\1/p' <<< "$out")
    seen[$step]=1
  else
    failed=$((failed + 1))
    echo "reader_race: eval call $i failed: $(head -c 300 "$work/err")"
  fi
  if [[ -s $work/err ]] && grep -q . "$work/err"; then
    warned=$((warned + 1))
    echo "reader_race: eval call $i warned: $(head -c 300 "$work/err")"
  fi
  if (( i % 4 == 0 )); then
    list_calls=$((list_calls + 1))
    if ! "$build/ckpt" list "$work/ckpt" > "$work/list" 2>&1 || grep -q "INVALID" "$work/list"; then
      list_failed=$((list_failed + 1))
      echo "reader_race: ckpt list call $list_calls failed: $(head -c 300 "$work/list")"
    fi
  fi
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
status=$?
pid=
echo "reader_race: $calls eval calls, $failed failed, $warned warned, ${#seen[@]} checkpoints seen;" \
     "$list_calls ckpt list calls, $list_failed failed (trainer exit $status)"
(( failed == 0 && warned == 0 && list_failed == 0 && ${#seen[@]} > 1 ))
