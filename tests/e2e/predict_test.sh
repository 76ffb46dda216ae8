#!/usr/bin/env bash
# Program-level tests of ./predict on small synthetic data: PNG and PGM files are classified, text
# and --json output, --save_preprocessed, and the per-file errors (not an image, no ink, missing,
# damaged PGM) that name the file while the other files are still classified, exit status 1.
#   usage: predict_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() {  # check NAME CONDITION-STATUS DETAILS
  if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; echo "$3" | sed 's/^/    /' | head -20; fi
}

"$bin/make_test_data" "$work/data" 600 100 28 > /dev/null
"$bin/train" --data_dir "$work/data" --ckpt_dir "$work/run" --hidden 32 --batch_size 32 --validation_size 50 \
  --epochs 1 --progress off --quiet > "$work/train.log" 2>&1 || { echo "FAIL: training"; cat "$work/train.log"; exit 1; }
"$bin/make_digit_images" "$work/data" "$work/img" 3 > /dev/null
# A PGM (P5) of a dark bar on light paper, and files that cannot be classified.
{ printf 'P5\n# a bar\n40 60\n255\n'; for y in $(seq 60); do for x in $(seq 40); do
    if (( x > 15 && x < 25 && y > 10 && y < 50 )); then printf '\x10'; else printf '\xf0'; fi; done; done; } > "$work/bar.pgm"
printf 'P5\n4 4\n255\n\x01\x02' > "$work/cut.pgm"
echo "just text" > "$work/notes.txt"
printf 'P2\n3 3\n255\n200 200 200 200 200 200 200 200 200\n' > "$work/blank.pgm"
good=("$work/img/mnist28/0_"*.png "$work/img/drawn140/1_"*.png "$work/bar.pgm")

out=$("$bin/predict" --ckpt_dir "$work/run" "${good[@]}" 2>&1); status=$?
check "predict classifies PNG and PGM files and exits 0" $(( status != 0 || $(grep -c ': [0-9] (' <<< "$out") != 3 )) "$out"
out=$("$bin/predict" --checkpoint "$(ls "$work"/run/model-*.safetensors | head -1)" --json --save_preprocessed "$work/pre" "${good[@]}" 2>&1); status=$?
echo "$out" > "$work/out.json"
python3 - "$work/out.json" <<'PY'; check "predict --json prints file, class, class_name, probabilities" $(( $? || status )) "$out"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 3, rows
for r in rows:
    assert {"file", "class", "class_name", "probabilities"} <= set(r), r
    assert len(r["probabilities"]) == 10 and abs(sum(r["probabilities"]) - 1) < 1e-6, r
    assert r["class_name"] == str(r["class"]), r
PY
n=$(ls "$work/pre" 2>/dev/null | wc -l)
check "--save_preprocessed writes one 28x28 PNG per file" $(( n != 3 )) "$(ls -l "$work/pre")"

out=$("$bin/predict" --ckpt_dir "$work/run" "$work/notes.txt" "${good[0]}" "$work/blank.pgm" "$work/missing.png" "$work/cut.pgm" 2>&1); status=$?
check "one bad file: exit 1, the good one still classified" $(( status != 1 || $(grep -c ': [0-9] (' <<< "$out") != 1 )) "$out"
for text in "notes.txt: not an image" "blank.pgm: no ink" "missing.png: cannot open" "cut.pgm: pixel data: expected 16 bytes" "4 of 5 file(s) could not be classified"; do
  [[ "$out" == *"$text"* ]]; check "the message names the failure: $text" $? "$out"
done
out=$("$bin/predict" --ckpt_dir "$work/run" --json "$work/notes.txt" "${good[0]}" 2>/dev/null); status=$?
[[ $status -eq 1 && "$out" == *'"error":'*'"class":'* ]]; check "--json lists failures with an error and still the good file" $? "$out"
out=$("$bin/predict" --ckpt_dir "$work/run" 2>&1); status=$?
[[ $status -eq 1 && "$out" == *"at least one IMAGE"* ]]; check "predict without images is refused" $? "$out"
out=$("$bin/predict" --ckpt_dir "$work/nowhere" "${good[0]}" 2>&1); status=$?
[[ $status -eq 1 && "$out" == *"nowhere"* ]]; check "a missing checkpoint directory is named" $? "$out"
out=$("$bin/predict" --help 2>&1); status=$?
[[ $status -eq 0 && "$out" == *"--save_preprocessed"* ]]; check "predict --help" $? "$out"

echo "predict: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
