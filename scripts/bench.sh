#!/usr/bin/env bash
# The speed benchmark (bench/bench.sh: ours against the libtorch and PyTorch peers in alternating
# rounds, the FMA peak, where a step goes); this name is the one the docs and issues use.
#   usage: scripts/bench.sh [EPOCHS [ROUNDS]]
exec bash "$(dirname "$0")/../bench/bench.sh" "$@"
