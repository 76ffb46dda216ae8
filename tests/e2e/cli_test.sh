#!/usr/bin/env bash
# Program-level tests of ./train, ./eval and ./ckpt: exit codes and messages for bad input,
# --help/--version, eval's JSON and --errors picture, train --quiet and its metrics file, ckpt export and warm starts (--init_from), the numpy reader
# (scripts/tools/load_checkpoint.py), and the graceful stop on SIGTERM/SIGINT.
#   usage: cli_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# expect NAME EXPECTED_STATUS TEXT -- command...: the command exits with that status and its output contains TEXT.
expect() {
  local name=$1 want=$2 text=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [[ $status -eq $want && "$out" == *"$text"* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name: wanted status $want and '$text', got status $status:"
    echo "$out" | sed 's/^/    /' | head -20
  fi
}

"$bin/make_test_data" "$work/data" 1100 200 14
common=(--data_dir "$work/data" --hidden 64,32 --batch_size 16 --validation_size 100 --learning_rate 0.01)

expect "train --help lists the options" 0 "--keep_prob_hidden" -- "$bin/train" --help
expect "train --version" 0 "train " -- "$bin/train" --version
expect "eval --help" 0 "--checkpoint" -- "$bin/eval" --help
expect "ckpt --help" 0 "ckpt diff" -- "$bin/ckpt" --help
expect "batch size 0 is refused" 1 "--batch_size" -- "$bin/train" "${common[@]}" --batch_size 0 --ckpt_dir "$work/c0"
expect "keep probability above 1 is refused" 1 "--keep_prob_input" -- "$bin/train" "${common[@]}" --keep_prob_input 1.5 --ckpt_dir "$work/c0"
expect "keep probability 0 is refused" 1 "--keep_prob_hidden" -- "$bin/train" "${common[@]}" --keep_prob_hidden 0 --ckpt_dir "$work/c0"
expect "negative epochs are refused" 1 "--epochs" -- "$bin/train" "${common[@]}" --epochs -1 --ckpt_dir "$work/c0"
expect "an unknown flag is refused" 1 "bogus" -- "$bin/train" --bogus 3
expect "a stray argument is refused" 1 "stray" -- "$bin/train" stray
expect "a malformed number is refused" 1 "--batch_size expects an integer, got 'abc'" -- "$bin/train" --batch_size abc
expect "a malformed hidden list is refused" 1 "--hidden" -- "$bin/train" --hidden 625,,x
expect "--shuffle takes true or false" 1 "--shuffle" -- "$bin/train" --shuffle maybe
expect "a missing data directory says how to fetch MNIST" 1 "make data" -- "$bin/train" --data_dir "$work/nowhere" --ckpt_dir "$work/c0"
touch "$work/afile"
expect "a ckpt_dir that is a file is refused" 1 "not a directory" -- "$bin/train" "${common[@]}" --ckpt_dir "$work/afile"
expect "a ckpt_dir that cannot be created is refused" 1 "cannot create" -- "$bin/train" "${common[@]}" --ckpt_dir "$work/afile/sub"
expect "an unknown MNIST_KERNEL is refused, naming the variable, the value and the paths" 1 'MNIST_KERNEL: expected avx512, avx2 or plain, found "sse9"' -- \
  env MNIST_KERNEL=sse9 "$bin/train" "${common[@]}" --ckpt_dir "$work/c0"
[[ ! -e "$work/c0" ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: a refused run created its ckpt_dir"; }

expect "training 2 epochs succeeds" 0 "epoch 2 global_step 124" -- "$bin/train" "${common[@]}" --epochs 2 --ckpt_dir "$work/run"
expect "eval refuses an unknown MNIST_KERNEL too" 1 'found "AVX2"' -- env MNIST_KERNEL=AVX2 "$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data"
expect "train logs the kernel path MNIST_KERNEL forces" 0 "product kernels: plain" -- \
  env MNIST_KERNEL=plain "$bin/train" "${common[@]}" --epochs 1 --ckpt_dir "$work/run_plain"
expect "eval reports accuracy and the confusion matrix" 0 "confusion matrix" -- "$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data"
expect "eval --json has the documented keys" 0 '"per_class_accuracy"' -- "$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data" --json
json=$("$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data" --json)
for key in checkpoint global_step accuracy loss per_class_accuracy confusion_matrix; do
  [[ "$json" == *"\"$key\":"* ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: eval --json lacks $key"; }
done
# eval --errors: a PNG of the misclassified test images; --class_names names the classes.
expect "eval --errors writes the picture" 0 "misclassified test images" -- \
  "$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data" --errors "$work/errors.png" --max 16
if [[ -s "$work/errors.png" && "$(head -c 8 "$work/errors.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]]; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: eval --errors did not write a PNG"; fi
expect "eval --class_names fashion names the classes" 0 "Ankle boot" -- \
  "$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data" --class_names fashion
expect "eval --max 0 is refused" 1 "--max" -- "$bin/eval" --ckpt_dir "$work/run" --data_dir "$work/data" --errors "$work/e.png" --max 0
# The metrics file: a start record, two epoch records, a save per epoch.
m="$work/run/metrics.jsonl"
if [[ $(grep -c '"event":"epoch"' "$m") -eq 2 && $(grep -c '"event":"start"' "$m") -eq 1 ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: $m should hold 1 start and 2 epoch records:"; sed 's/^/    /' "$m"; fi
# --quiet: only the per-epoch line (no progress, no saves); a log file gets no control characters.
out=$("$bin/train" "${common[@]}" --epochs 1 --quiet --ckpt_dir "$work/quiet" 2>&1)
if [[ $? -eq 0 && "$out" == *"epoch 1 global_step 62"* && "$out" != *"saved"* && "$out" != *"images/s"* && $(echo "$out" | wc -l) -eq 1 ]]; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: train --quiet printed:"; echo "$out" | sed 's/^/    /'; fi
"$bin/train" "${common[@]}" --epochs 1 --ckpt_dir "$work/plain" > "$work/plain.log" 2>&1
if ! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f]' "$work/plain.log" && grep -q "epoch 1/1 step 1/62" "$work/plain.log"; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: train's log file should have a plain progress line and no control characters"; cat -A "$work/plain.log" | head; fi
expect "--progress takes auto, plain or off" 1 "--progress" -- "$bin/train" --progress sometimes

expect "eval --checkpoint evaluates a chosen file" 0 "model-62.safetensors" -- "$bin/eval" --checkpoint "$work/run/model-62.safetensors" --data_dir "$work/data"
expect "eval --all lists every checkpoint" 0 "model-124.safetensors" -- "$bin/eval" --all --ckpt_dir "$work/run" --data_dir "$work/data"
expect "the run is already complete" 0 "nothing to train" -- "$bin/train" "${common[@]}" --epochs 2 --ckpt_dir "$work/run"
expect "resuming with other widths names the setting" 1 "hidden: checkpoint has 64,32, requested 32,32" -- "$bin/train" "${common[@]}" --hidden 32,32 --epochs 3 --ckpt_dir "$work/run"

cp "$work/run/model-124.safetensors" "$work/trunc.safetensors"
truncate -s 5000 "$work/trunc.safetensors"
expect "eval names a truncated checkpoint" 1 "trunc.safetensors" -- "$bin/eval" --checkpoint "$work/trunc.safetensors" --data_dir "$work/data"
"$bin/make_test_data" "$work/data10" 300 50 10
expect "eval of images another size names the file and both sizes" 1 "model-124.safetensors: the network takes 196 inputs but the images in '$work/data10' have 100 pixels" -- "$bin/eval" --checkpoint "$work/run/model-124.safetensors" --data_dir "$work/data10"
expect "ckpt verify fails on a truncated checkpoint" 1 "INVALID" -- "$bin/ckpt" verify "$work/trunc.safetensors"
expect "ckpt verify passes a whole directory" 0 "valid (global_step 124)" -- "$bin/ckpt" verify "$work/run"
expect "ckpt diff of a file with itself is identical" 0 "all tensors identical" -- "$bin/ckpt" diff "$work/run/model-124.safetensors" "$work/run/model-124.safetensors"
expect "ckpt diff of two steps differs" 1 "differs" -- "$bin/ckpt" diff "$work/run/model-62.safetensors" "$work/run/model-124.safetensors"
expect "eval of an empty directory fails" 1 "no checkpoint" -- "$bin/eval" --ckpt_dir "$work/data" --data_dir "$work/data"
expect "eval --all --json prints one array" 0 '[{"checkpoint":' -- "$bin/eval" --all --json --ckpt_dir "$work/run" --data_dir "$work/data"
expect "ckpt list marks the latest checkpoint" 0 "valid (latest)" -- "$bin/ckpt" list "$work/run"
expect "ckpt inspect shows a checkpoint's tensors and statistics" 0 "w_h2/RMSProp" -- "$bin/ckpt" inspect "$work/run/model-124.safetensors"
expect "ckpt inspect --tensor prints its values" 0 "global_step I64 []" -- "$bin/ckpt" inspect "$work/run/model-124.safetensors" --tensor global_step
mkdir -p "$work/listdir"
cp "$work/run/model-62.safetensors" "$work/run/model-124.safetensors" "$work/listdir/"
truncate -s 4000 "$work/listdir/model-124.safetensors"
expect "ckpt list gives the reason a checkpoint is invalid" 0 "INVALID" -- "$bin/ckpt" list "$work/listdir"
# Paths that are not what was expected are named with what they are (issue 12).
expect "ckpt list of a missing directory fails naming it" 1 "'/nonexistent-12' does not exist, expected a checkpoint directory" -- "$bin/ckpt" list /nonexistent-12
expect "ckpt inspect of a directory names it" 1 "is a directory, expected a file to read" -- "$bin/ckpt" inspect "$work/run"
expect "eval --checkpoint of a directory names it" 1 "is a directory, expected a file to read" -- "$bin/eval" --checkpoint "$work/run" --data_dir "$work/data"
expect "a network too large for memory is refused before allocation" 1 "of memory are available" -- "$bin/train" "${common[@]}" --hidden 200000,200000 --ckpt_dir "$work/huge"
printf '\x00\x10\x00\x00\x00\x00\x00\x00' > "$work/deep.safetensors"; head -c 4096 /dev/zero | tr '\0' '[' >> "$work/deep.safetensors"
expect "ckpt inspect of a deeply nested header fails without crashing" 1 "nested deeper than 64 levels" -- "$bin/ckpt" inspect "$work/deep.safetensors"
expect "ckpt verify of a directory fails when one file is damaged" 1 "model-124.safetensors: INVALID" -- "$bin/ckpt" verify "$work/listdir"
expect "ckpt with an unknown command fails" 1 "unknown command" -- "$bin/ckpt" frobnicate

# ckpt export: the chosen tensors under the chosen names, in a file inspect, verify and diff accept.
m124="$work/run/model-124.safetensors"
expect "ckpt export writes the chosen tensors renamed" 0 "weights          <- w_h" -- \
  "$bin/ckpt" export "$m124" -o "$work/exp.safetensors" --vars 'weights=w_h,w_o'
expect "ckpt inspect shows an exported file with its checksums" 0 "all 2 tensors match" -- "$bin/ckpt" inspect "$work/exp.safetensors"
expect "ckpt inspect names an exported file's format" 0 "mnist-mlp-export version 1" -- "$bin/ckpt" inspect "$work/exp.safetensors"
expect "ckpt inspect --tensor works on an exported file" 0 "weights F32 [196, 64]" -- \
  "$bin/ckpt" inspect "$work/exp.safetensors" --tensor weights
expect "ckpt verify accepts an exported file" 0 "valid (export of 2 tensors from model-124.safetensors)" -- \
  "$bin/ckpt" verify "$work/exp.safetensors"
expect "ckpt diff compares an exported file with its source" 1 "w_o              identical" -- \
  "$bin/ckpt" diff "$work/exp.safetensors" "$m124"
expect "ckpt export refuses an empty name in --vars" 1 "has an empty name" -- \
  "$bin/ckpt" export "$m124" -o "$work/bad.safetensors" --vars 'weights=w_h,,w_o'
expect "ckpt export refuses a target named twice" 1 "named twice" -- \
  "$bin/ckpt" export "$m124" -o "$work/bad.safetensors" --vars 'w_h,w_h=w_o'
expect "ckpt export lists every missing name" 1 "no tensor named 'w_zz', 'w_yy'" -- \
  "$bin/ckpt" export "$m124" -o "$work/bad.safetensors" --vars 'w_h,w_zz,a=w_yy'
expect "ckpt export needs -o" 1 "-o OUT" -- "$bin/ckpt" export "$m124" --vars w_h
[[ ! -e "$work/bad.safetensors" ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: a refused export wrote its file"; }
cp "$work/exp.safetensors" "$work/exp-damaged.safetensors"
printf '\x7f' | dd of="$work/exp-damaged.safetensors" bs=1 seek=$(( $(stat -c %s "$work/exp.safetensors") - 3 )) conv=notrunc status=none
expect "ckpt inspect reports a damaged exported file" 1 "checksum mismatch in tensor 'w_o'" -- "$bin/ckpt" inspect "$work/exp-damaged.safetensors"
expect "ckpt verify rejects a damaged exported file" 1 "INVALID" -- "$bin/ckpt" verify "$work/exp-damaged.safetensors"

# Warm start: a deeper network takes the first two weights of the trained one; errors list every name.
expect "--init_map without --init_from is refused" 1 "--init_map needs --init_from" -- \
  "$bin/train" "${common[@]}" --init_map w_h --ckpt_dir "$work/w0"
expect "a malformed --init_map is refused" 1 "--init_map 'w_h=': item 1" -- \
  "$bin/train" "${common[@]}" --init_from "$m124" --init_map 'w_h=' --ckpt_dir "$work/w0"
expect "a missing --init_from file is refused" 1 "nowhere.safetensors" -- \
  "$bin/train" "${common[@]}" --init_from "$work/nowhere.safetensors" --ckpt_dir "$work/w0"
expect "a warm start names a shape mismatch with both shapes" 1 "w_h2: shape mismatch (new model: w_h2 F32 [64, 16]; file: w_h2 F32 [64, 32])" -- \
  "$bin/train" "${common[@]}" --hidden 64,16,32 --init_from "$m124" --init_map 'w_h,w_h2,w_h3,w_x=w_o' --ckpt_dir "$work/w0"
out=$("$bin/train" "${common[@]}" --hidden 64,16,32 --init_from "$m124" --init_map 'w_h,w_h2,w_h3,w_x=w_o' --ckpt_dir "$work/w0" 2>&1)
if [[ "$out" == *"no tensor 'w_h3'"* && "$out" == *"no weight 'w_x'"* ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: a warm start should list every offender:"; echo "$out" | sed 's/^/    /'; fi
expect "--init_optimizer needs the slots in the file" 1 "no tensor 'weights/RMSProp'" -- \
  "$bin/train" "${common[@]}" --init_from "$work/exp.safetensors" --init_map 'w_h=weights' --init_optimizer --ckpt_dir "$work/w0"
[[ ! -e "$work/w0" ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: a refused warm start created its ckpt_dir"; }
expect "a deeper network warm-starts from the first two weights" 0 "warm start from '$m124': w_h=w_h, w_h2=w_h2; w_h3, w_o initialised from the seed" -- \
  "$bin/train" "${common[@]}" --hidden 64,32,32 --init_from "$m124" --init_map 'w_h=w_h,w_h2' --epochs 1 --ckpt_dir "$work/deep"
expect "rerun with --init_from, the warm-started run resumes" 0 "--init_from '$m124' ignored" -- \
  "$bin/train" "${common[@]}" --hidden 64,32,32 --init_from "$m124" --init_map 'w_h=w_h,w_h2' --epochs 2 --ckpt_dir "$work/deep"
expect "the warm-started run records its init file" 0 '"init_map":"w_h=w_h,w_h2"' -- "$bin/ckpt" inspect "$work/deep/model-124.safetensors"
expect "a warm start from an exported file with renamed tensors" 0 "w_h=weights, w_o=w_o; w_h2 initialised from the seed" -- \
  "$bin/train" "${common[@]}" --init_from "$work/exp.safetensors" --init_map 'w_h=weights,w_o' --epochs 1 --ckpt_dir "$work/fromexp"

# scripts/tools/load_checkpoint.py (json + struct + numpy only) agrees with ./eval on the same images.
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  for ckpt in "$m124" "$work/deep/model-124.safetensors"; do
    py=$(/usr/bin/python3 "$root/scripts/tools/load_checkpoint.py" "$ckpt" "$work/data" 2>&1)
    ours=$("$bin/eval" --checkpoint "$ckpt" --data_dir "$work/data" | awk '/^accuracy/ {printf "accuracy %.4f", $2}')
    if [[ -n "$ours" && "$py" == *"$ours"* && "$py" == *"global_step 124"* ]]; then passed=$((passed + 1)); else
      failed=$((failed + 1)); echo "FAIL: load_checkpoint.py on $ckpt printed '$py', eval '$ours'"; fi
  done
else
  echo "SKIP: /usr/bin/python3 has no numpy (scripts/setup/install_deps.sh installs python3-numpy): load_checkpoint.py not tested"
fi

# Graceful stop: SIGTERM finishes the step, saves, exits 128+15; the rerun resumes from that save.
"$bin/train" "${common[@]}" --epochs 400 --ckpt_dir "$work/sig" > "$work/sig.log" 2>&1 &
pid=$!
while ! grep -q "saved" "$work/sig.log" 2>/dev/null; do sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
status=$?
if [[ $status -eq 143 ]] && grep -q "stopping" "$work/sig.log"; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: SIGTERM should save and exit 143, got $status"; tail -5 "$work/sig.log"; fi
step=$(sed -n 's/.*saving at global_step \([0-9]*\).*/\1/p' "$work/sig.log")
if [[ -n "$step" && -f "$work/sig/model-$step.safetensors" ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: no checkpoint at the stop step '$step'"; fi
expect "the rerun after SIGTERM resumes from the stop save" 0 "restored model-$step.safetensors" -- \
  "$bin/train" "${common[@]}" --epochs "$(( step / 62 + 1 ))" --ckpt_dir "$work/sig"

# Exit status is the truth: a run whose last save cannot land (every write fails: MNIST_FAULT=write_error)
# exits 75, never 0, saying which step it reached and that nothing was saved; a run that has saved
# before names that checkpoint; a state file naming a file elsewhere gets a warning from eval.
out=$(MNIST_FAULT=write_error "$bin/train" "${common[@]}" --epochs 1 --ckpt_dir "$work/unsaved" 2>&1)
status=$?
if [[ $status -eq 75 && "$out" == *"reached global_step 62 but could not save it"* && "$out" == *"No checkpoint was saved"* &&
      "$out" != *"training goes on"* ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: a run whose last save cannot land should exit 75 saying no checkpoint was saved, got $status:"
  echo "$out" | tail -5 | sed 's/^/    /'; fi
cp -r "$work/run" "$work/run3"
expect "a run whose last save cannot land names the newest checkpoint on disk" 75 \
  "newest checkpoint on disk is '$work/run3/model-124.safetensors'" -- env MNIST_FAULT=write_error "$bin/train" "${common[@]}" --epochs 3 --ckpt_dir "$work/run3"
mkdir -p "$work/elsewhere"
printf 'model_checkpoint_path: "../run/model-124.safetensors"\n' > "$work/elsewhere/checkpoint"
cp "$work/run/model-62.safetensors" "$work/elsewhere/"
expect "eval warns about a state file naming a file outside the directory and uses the local one" 0 \
  "which is not a checkpoint file in '$work/elsewhere'; using 'model-62.safetensors'" -- "$bin/eval" --ckpt_dir "$work/elsewhere" --data_dir "$work/data"

# A second trainer on a directory in use fails at once, naming the directory and the holder's pid.
"$bin/train" "${common[@]}" --epochs 400 --ckpt_dir "$work/lock" > "$work/lock.log" 2>&1 &
pid=$!
while ! grep -q "new run" "$work/lock.log" 2>/dev/null; do sleep 0.05; done
expect "a second trainer on the same directory is refused" 1 "in use by another trainer (pid $pid)" -- \
  "$bin/train" "${common[@]}" --epochs 400 --ckpt_dir "$work/lock"
kill -9 "$pid"; wait "$pid" 2>/dev/null
expect "the lock is gone after kill -9 of its holder" 0 "done: global_step" -- "$bin/train" "${common[@]}" --epochs 1 --ckpt_dir "$work/lock"

echo "cli: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
