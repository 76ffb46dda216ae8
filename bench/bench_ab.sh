#!/usr/bin/env bash
# A/B of two builds, part of a step by part: runs NEW_BUILD/bench_step and OLD_BUILD/bench_step
# alternately, ROUNDS times each, and prints for every part of a step (and the products, the rest
# and the whole step) the median ms/step of each build and a ratio new/old taken within rounds.
# These hosts' speed drifts by 2x within minutes, which hides a 5% change in a whole step timed
# once; a ratio of two runs a few seconds apart hides less. Odd rounds run new first and even
# rounds old first, and a part's ratio is the median over pairs of rounds of the geometric mean of
# the pair's two ratios, so any advantage of going first cancels (a single round gives its ratio as
# is). The whole step's pair ratios are printed (their spread is the noise): in a noisy hour here
# an A/A run (one build on both sides) gave 0.89 and 0.93 over 12 rounds and 0.97 over 30, so such
# an hour does not resolve a 5% change; docs/benchmarks.md has a finer method (both variants in one
# process, alternating steps). Parts only one build has show "-" for the other.
#   usage: bench/bench_ab.sh NEW_BUILD OLD_BUILD [ROUNDS [THREADS [STEPS [DATA_DIR]]]]
#   defaults: 10 rounds, 2 threads (0 = all cores), 300 steps, data/mnist
set -euo pipefail
if (($# < 2)); then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
new=$1 old=$2 rounds=${3:-10} threads=${4:-2} steps=${5:-300} data=${6:-data/mnist}
for b in "$new" "$old"; do
  [[ -x "$b/bench_step" ]] || { echo "bench_ab: $b/bench_step: expected an executable, found none (build it first)" >&2; exit 1; }
done
[[ -d "$data" ]] || { echo "bench_ab: data directory '$data' does not exist (make data)" >&2; exit 1; }
tsv=$(mktemp)
trap 'rm -f "$tsv"' EXIT
echo "bench_ab: $rounds rounds of '$new/bench_step $steps $threads $data' (new) and the same of $old (old), alternating; $(date -u +%Y-%m-%dT%H:%MZ)"
for round in $(seq 1 "$rounds"); do
  sides="new old"
  ((round % 2 == 0)) && sides="old new"
  for side in $sides; do
    build=$new
    [[ $side == old ]] && build=$old
    # Lines of the part table: a name, then ms/step as the first number.
    "$build/bench_step" "$steps" "$threads" "$data" | awk -v side="$side" -v round="$round" '
      /^part of a step/ { table = 1; next }
      /^bench_step:/ { next }
      table && NF >= 2 {
        for (f = 2; f <= NF; f++)
          if ($f ~ /^[0-9]+\.[0-9]+$/) {
            name = $1; for (g = 2; g < f; g++) name = name " " $g
            print side "\t" round "\t" name "\t" $f; break
          }
      }' >>"$tsv"
  done
done
# bench_step's table must have been read (a change of its format would otherwise print nothing).
for side in new old; do
  grep -q "^$side"$'\t'".*"$'\t'"whole step"$'\t' "$tsv" ||
    { echo "bench_ab: no 'whole step' row read from the $side build's bench_step output (has its table changed?)" >&2; exit 1; }
done
python3 - "$tsv" <<'EOF'
import collections, statistics, sys
ms = collections.defaultdict(lambda: {"new": {}, "old": {}})
order = []
for line in open(sys.argv[1]):
    side, rnd, name, value = line.rstrip("\n").split("\t")
    if name not in order:
        order.append(name)
    ms[name][side][rnd] = float(value)
def round_ratios(name):  # {round: new/old} for the rounds that timed the part on both sides
    n, o = ms[name]["new"], ms[name]["old"]
    return {int(r): n[r] / o[r] for r in n if r in o and o[r] > 0}
def paired(ratios):  # geometric means of rounds (1, 2), (3, 4), ...: new first, then old first
    pairs = [(ratios[r] * ratios[r + 1]) ** 0.5 for r in ratios if r % 2 == 1 and r + 1 in ratios]
    return pairs or list(ratios.values())
print(f"{'part of a step':56s} {'new ms':>8s} {'old ms':>8s} {'new/old':>8s}")
for name in order:
    n, o = ms[name]["new"], ms[name]["old"]
    med = lambda d: f"{statistics.median(d.values()):8.3f}" if d else f"{'-':>8s}"
    ratios = paired(round_ratios(name))
    ratio = f"{statistics.median(ratios):8.3f}" if ratios else f"{'-':>8s}"
    print(f"{name:56s} {med(n)} {med(o)} {ratio}")
whole = sorted(paired(round_ratios("whole step")))
print(f"whole step, ratio of each {'pair of rounds' if len(whole) < len(round_ratios('whole step')) else 'round'} "
      f"(the spread is the noise): {' '.join(f'{r:.3f}' for r in whole)}")
EOF
