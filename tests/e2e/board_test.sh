#!/usr/bin/env bash
# ./board over HTTP with curl, on a small synthetic run: the page and its files are served from the
# binary, the JSON API answers, and the safety rules hold: 127.0.0.1 by default, '../' refused,
# oversized bodies 413, bad JSON 400, unknown paths 404, the checkpoint directory never written,
# and every answer stays a 2xx/4xx while a trainer writes and deletes checkpoints next to it.
#   usage: board_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "$1" && pwd)
work=$(mktemp -d)
pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
passed=0
failed=0
check() {  # check NAME STATUS(0 = ok) DETAILS
  if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; echo "$3" | head -10 | sed 's/^/    /'; fi
}
"$bin/make_test_data" "$work/data" 600 100 28 > /dev/null
train=("$bin/train" --data_dir "$work/data" --ckpt_dir "$work/run" --hidden 32 --batch_size 16 --validation_size 50
       --save_every_steps 5 --max_to_keep 3 --progress off --quiet)
"${train[@]}" --epochs 1 > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }

"$bin/board" --ckpt_dir "$work/run" --data_dir "$work/data" --port 0 > "$work/board.log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "http://" "$work/board.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/board.log" | head -1)
[[ "$url" == http://127.0.0.1:* ]]; check "binds 127.0.0.1 by default" $? "$(cat "$work/board.log")"

# code URL [curl args...]: prints the HTTP status; the body goes to $work/body
code() { local u=$1; shift; curl -s -o "$work/body" -w '%{http_code}' "$@" "$url$u"; }
expect() {  # expect NAME STATUS TEXT URL [curl args...]
  local name=$1 want=$2 text=$3 u=$4; shift 4
  local got; got=$(code "$u" "$@")
  [[ "$got" == "$want" ]] && grep -q -- "$text" "$work/body"; check "$name (HTTP $got)" $? "$(head -c 300 "$work/body")"
}
expect "the page is served" 200 'id="pad"' /
expect "its script is served" 200 "api/predict" /board.js
expect "its style sheet is served" 200 "#pad" /board.css
expect "GET /api/metrics" 200 '"event":"epoch"' /api/metrics
expect "GET /api/checkpoints" 200 '"valid":true' /api/checkpoints
expect "GET /api/eval (latest)" 200 '"confusion_matrix"' /api/eval
name=$(ls "$work/run" | grep safetensors | head -1)
expect "GET /api/eval?checkpoint=NAME" 200 "\"checkpoint\":\"$name\"" "/api/eval?checkpoint=$name"
expect "eval refuses ../" 400 "expected a file name" "/api/eval?checkpoint=..%2F..%2Fetc%2Fpasswd"
expect "eval refuses an absolute path" 400 "expected a file name" "/api/eval?checkpoint=%2Fetc%2Fpasswd"
expect "eval: an unknown checkpoint is 404" 404 "no file" "/api/eval?checkpoint=model-77777.safetensors"
expect "a path leaving the page is 404" 404 "no such page" "/../../etc/passwd" --path-as-is
expect "an unknown path is 404" 404 "no such page" "/api/nothing"
px=$(python3 -c 'print(",".join("255" if 13 <= i % 28 <= 14 and 4 <= i // 28 < 24 else "0" for i in range(784)))')
expect "POST /api/predict" 200 '"probabilities"' /api/predict -H 'Content-Type: application/json' --data "{\"pixels\":[$px]}"
expect "predict: bad JSON is 400" 400 "expected a JSON object" /api/predict --data '{"pixels": [1,2'
expect "predict: 783 values is 400" 400 "found 783 values" /api/predict --data "{\"pixels\":[${px#*,}]}"
head -c 200000 /dev/zero | tr '\0' ' ' > "$work/big"
expect "an oversized body is 413" 413 "too large" /api/predict --data-binary "@$work/big"

# While a trainer saves (every 5 steps) and deletes (max_to_keep 3) next to it: only 2xx and 4xx.
"${train[@]}" --epochs 4 > "$work/train2.log" 2>&1 &
tpid=$!
statuses=""
while kill -0 "$tpid" 2>/dev/null; do
  statuses+=" $(code /api/checkpoints) $(code /api/eval) $(code /api/metrics)"
done
wait "$tpid"
bad=$(tr ' ' '\n' <<< "$statuses" | grep -v -E '^(2|4)[0-9][0-9]$' | grep -c .)
check "no 5xx or failed request while the trainer writes and deletes ($(wc -w <<< "$statuses") requests)" "$bad" "$statuses"
after=$(code /api/checkpoints; grep -o '"step":[0-9]*' "$work/body" | head -1)
[[ "$after" == 200* ]]; check "the board sees the new checkpoints" $? "$after"

kill "$pid"; wait "$pid" 2>/dev/null; pid=
"$bin/board" --ckpt_dir "$work/run" --data_dir "$work/data" --port 0 > "$work/board.log" 2>&1 & pid=$!
for _ in $(seq 50); do grep -q "http://" "$work/board.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/board.log" | head -1)
snap=$(cd "$work/run" && ls -l --time-style=+%s.%N | sort; md5sum * | sort)
for u in /api/checkpoints /api/eval /api/metrics; do code $u > /dev/null; done
code /api/predict --data "{\"pixels\":[$px]}" > /dev/null
[[ "$snap" == "$(cd "$work/run" && ls -l --time-style=+%s.%N | sort; md5sum * | sort)" ]]
check "the checkpoint directory is not written by the board" $? ""
out=$("$bin/board" --port 70000 2>&1); status=$?
[[ $status -eq 1 && "$out" == *"--port"* ]]; check "a port above 65535 is refused" $? "$out"

echo "board: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
