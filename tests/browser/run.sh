#!/usr/bin/env bash
# Starts ./board on CKPT_DIR (any free port) and runs board.test.js in Debian's Chromium against it.
# Skips (exit 77) when puppeteer-core is not installed here (scripts/setup/install_deps.sh
# --with-browser runs `npm ci` in tests/browser) or /usr/bin/chromium is missing.
#   usage: tests/browser/run.sh BUILD_DIR CKPT_DIR DATA_DIR SCREENSHOT.png [EXPECTED_CLASS]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$1" && pwd)
if [[ ! -d "$here/node_modules/puppeteer-core" ]]; then
  echo "browser test: skipped: puppeteer-core is not installed (bash scripts/setup/install_deps.sh --with-browser)"; exit 77
fi
if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then echo "browser test: skipped: no /usr/bin/chromium (apt-get install chromium)"; exit 77; fi
log=$(mktemp)
"$bin/board" --ckpt_dir "$2" --data_dir "$3" --port 0 > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "http://" "$log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
[[ -n "$url" ]] || { echo "browser test: FAIL: the board did not start"; cat "$log"; exit 1; }
node "$here/board.test.js" "$url/" "$4" ${5:-}
