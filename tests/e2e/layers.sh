#!/usr/bin/env bash
# The tree's layers, checked: a file includes only its own folder, the root vocabulary (src/*.hpp)
# and the folders before it, in this order:
#   src/ (root) -> data_loader/ -> src/numerics/ -> src/model/ -> src/checkpoint/ -> src/comm/ -> src/train/
#   -> src/cli/ -> src/serve/ -> src/programs/
# Prints each include that goes the wrong way and exits 1; prints "layers: ok" otherwise.
#   usage: tests/e2e/layers.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
rank() {
  case "$1" in
    src) echo 0 ;; data_loader) echo 1 ;; src/numerics) echo 2 ;; src/model) echo 3 ;;
    src/checkpoint) echo 4 ;; src/comm) echo 5 ;; src/train) echo 6 ;; src/cli) echo 7 ;; src/serve) echo 8 ;;
    src/programs) echo 9 ;;
    *) echo 99 ;;
  esac
}
bad=0
while IFS= read -r file; do
  from=$(dirname "$file")
  from_rank=$(rank "$from")
  if [[ $from_rank == 99 ]]; then echo "layers: $file is in no known layer"; bad=1; continue; fi
  while IFS= read -r inc; do
    to=$(dirname "$inc")
    to_rank=$(rank "$to")
    if [[ $to_rank == 99 ]]; then echo "layers: $file includes \"$inc\", which is in no known layer"; bad=1
    elif (( to_rank > from_rank )); then echo "layers: $file ($from) includes \"$inc\" ($to), a later layer"; bad=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(find src data_loader -name '*.cpp' -o -name '*.hpp' | sort)
(( bad == 0 )) && echo "layers: ok"
exit $bad
