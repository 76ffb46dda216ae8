#!/usr/bin/env bash
# ./predict on pictures of real MNIST test digits: the first 300 saved as 28x28 grey PNGs and the
# same digits drawn dark on light at 140x140 in RGB (tests/e2e/make_digit_images.cpp). Prints the
# accuracy on each set and fails unless it is at least 95% (28x28) and 90% (drawn) -- the issue's
# bar for a checkpoint trained 3 epochs. Also checks --save_preprocessed writes one 28x28 PNG each.
#   usage: predict_accuracy.sh BUILD_DIR DATA_DIR CKPT_DIR [COUNT]
set -euo pipefail
bin=$(cd "$1" && pwd)
data=$2
ckpt=$3
count=${4:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/make_digit_images" "$data" "$work" "$count"
status=0
for set in mnist28:95 drawn140:90; do
  name=${set%%:*}
  bar=${set##*:}
  "$bin/predict" --ckpt_dir "$ckpt" --json --save_preprocessed "$work/pre-$name" "$work/$name"/*.png > "$work/$name.json"
  saved=$(ls "$work/pre-$name" | wc -l)
  python3 - "$work/$name.json" "$name" "$bar" "$saved" <<'PY' || status=1
import json, os, sys
rows = json.load(open(sys.argv[1]))
name, bar, saved = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
right = sum(1 for r in rows if r["class"] == int(os.path.basename(r["file"]).split("_")[1].split(".")[0]))
acc = 100.0 * right / len(rows)
ok = acc >= bar and saved == len(rows)
print(f"predict_accuracy: {name}: {right}/{len(rows)} right = {acc:.1f}% (bar {bar:.0f}%), "
      f"{saved} preprocessed images saved: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
