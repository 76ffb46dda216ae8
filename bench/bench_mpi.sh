#!/usr/bin/env bash
# Data-parallel training measured and modelled (docs/mpi.md). On real MNIST, one epoch each:
#   ./train --threads 1, ./train --threads 2, and mpirun -np N ./train --threads 1 for N = 2, 3, 4;
# prints training images/s (the epoch line's, evaluation and saves excluded) and the bytes each rank
# sent per step (the trainer's own count). Then a model of a step on P machines,
#   T(P) = per-row work / P + RMSProp (every rank) + gradient chain (pipeline fill + blocks)
#          + broadcast of the gradients + small messages (loss chain, stop flag),
# from this machine's one-thread step profile (bench_step) and a latency/bandwidth: 10 Gbit/s
# (5 us) and 100 Gbit/s (2 us) for P = 2..64, and this machine's loopback (mpi_pingpong) for
# P = 2, 3, 4 next to the measured figures (ranks beyond the cores share them: compute x P/cores).
# The machine may be shared: figures move with its load; rerun on a quiet machine for the record.
#   usage: bench/bench_mpi.sh [BUILD_DIR [DATA_DIR]]   (defaults build, data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cd "${1:-build}" && pwd)
data=${2:-data/mnist}
for b in train bench_step mpi_pingpong; do
  [[ -x "$bin/$b" ]] || { echo "bench_mpi: $bin/$b is missing (build with MPI found)" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)
echo "bench_mpi: $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"

"$bin/bench_step" 300 1 "$data" > "$work/profile.txt" 2>&1
pingpong=$(mpirun -np 2 "$bin/mpi_pingpong")
echo "loopback $pingpong"

args=(--data_dir "$data" --epochs 1 --seed 11 --progress off --max_to_keep 1)
run() {  # NAME RANKS THREADS [model: compare with the model]
  local name=$1 ranks=$2 threads=$3 log="$work/run.log"
  rm -rf "$work/ckpt"
  if (( ranks == 1 )); then "$bin/train" "${args[@]}" --threads "$threads" --ckpt_dir "$work/ckpt" > "$log" 2>&1
  else mpirun -np "$ranks" "$bin/train" "${args[@]}" --threads "$threads" --ckpt_dir "$work/ckpt" > "$log" 2>&1; fi
  local ips bytes
  ips=$(sed -n 's/.*images_per_s \([0-9]*\).*/\1/p' "$log" | tail -1)
  bytes=$(sed -n 's/.*bytes sent per step by rank [0-9.]*: \(.*\)/\1/p' "$log" | tail -1)
  printf '%-26s %8s images/s   bytes sent per step by rank: %s\n' "$name" "$ips" "${bytes:-0 (one process)}"
  [[ ${4:-} == model ]] && echo "$ranks $ips" >> "$work/measured.txt"
  return 0
}
echo "measured (one epoch of real MNIST, batch 128):"
: > "$work/measured.txt"
run "1 process, 1 thread" 1 1 model
run "1 process, 2 threads" 1 2
for n in 2 3 4; do run "mpirun -np $n, 1 thread each" "$n" 1 model; done

python3 - "$work/profile.txt" "$pingpong" "$work/measured.txt" "$cores" <<'PY'
import math, re, sys
profile, pingpong, measured, cores = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], int(sys.argv[4])
def ms(name):
    m = re.search(r'^' + re.escape(name) + r'\s+([0-9.]+)', profile, re.M)
    return float(m.group(1)) if m else 0.0
whole, rms = ms('whole step'), ms('RMSProp update')
layers = [(784, 625, 'w_h'), (625, 625, 'w_h2'), (625, 10, 'w_o')]
grad = {w: ms('gradient of ' + w) + ms('non-zeros transposed for the gradient of ' + w) for _, _, w in layers}
per_row = whole - rms - sum(grad.values())
M = sum(a * b for a, b, _ in layers) * 4
print(f"\nmodel inputs: one-thread step {whole:.3f} ms = per-row work {per_row:.3f} + weight gradients "
      f"{sum(grad.values()):.3f} + RMSProp {rms:.3f}; gradients {M} bytes; 64-row blocks")
def step_ms(P, lat_us, gbps, scale=1.0):
    lat, bw = lat_us * 1e-3, gbps * 1e6  # ms, bytes per ms
    fill, steady = 0.0, 0.0
    for fan_in, fan_out, w in layers:
        for i0 in range(0, fan_in, 64):
            rows = min(64, fan_in - i0)
            compute = grad[w] * rows / fan_in / P * scale
            transfer = lat + rows * fan_out * 4 / bw
            steady += max(compute, transfer) if P > 1 else compute
            fill = max(fill, compute + transfer)
    chain = steady + (P - 1) * fill
    bcast = 2 * M / bw * (P - 1) / P + math.ceil(math.log2(P)) * lat if P > 1 else 0
    small = (P - 1) * lat + 3 * math.ceil(math.log2(P)) * lat if P > 1 else 0
    return per_row / P * scale + rms * scale + chain + bcast + small
m = re.search(r'latency_us ([0-9.]+) bandwidth_GBps ([0-9.]+)', pingpong)
lat_lo, bw_lo = float(m.group(1)), float(m.group(2))
meas = {int(a): float(b) for a, b in (l.split() for l in open(measured) if l.strip())}
print(f"\nloopback here (latency {lat_lo} us, {bw_lo} GB/s, {cores} cores): images/s modelled vs measured")
for P in (1, 2, 3, 4):
    scale = max(1.0, P / cores)
    t = step_ms(P, lat_lo, bw_lo, scale)
    print(f"  P={P}: model {128 / t * 1e3:8.0f}   measured {meas.get(P, float('nan')):8.0f}")
print("\nmodel on P machines, one thread each: step ms (images/s)")
print("     P   10 Gbit/s, 5 us       100 Gbit/s, 2 us      bytes sent per step per rank")
for P in (2, 3, 4, 8, 16, 32, 64):
    a, b = step_ms(P, 5, 1.25), step_ms(P, 2, 12.5)
    print(f"  {P:4d}   {a:7.3f} ({128 / a * 1e3:7.0f})    {b:7.3f} ({128 / b * 1e3:7.0f})     {M + 8} (the last rank: its broadcast)")
t1 = step_ms(1, 0, 1)
print(f"  one process, one thread: {t1:.3f} ms ({128 / t1 * 1e3:.0f} images/s)")
PY
