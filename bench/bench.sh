#!/usr/bin/env bash
# Side-by-side speed benchmark on the same data and cores: this project's ./train and ./eval against
# the ports in ../shared/peers, each in its fastest known configuration: the libtorch C++ frontend
# (run_libtorch_peer.sh, a C++ user's first alternative) and PyTorch from Python (run_torch_peer.sh).
# Prints training images/s (median of the epochs) and the ratio to each peer; the kernel path the
# products ran on; this machine's FMA peak (bench/fma_peak.cpp: one core and all cores) and the
# products' rate on the multiply-adds they do as a share of it; the sparse kernel alone on one core
# and the ceiling of its design (bench/sparse_kernel.cpp); the per-part breakdown of a step in
# ms and % (bench_step); the best product rate a tuned BLAS reaches on the same shapes; evaluation
# time, and its floor: the multiply-adds its products do at the FMA peak; checkpoint save/restore
# ms; time to the first step; peak memory.
# The three trainers run in alternating rounds (ours, libtorch, PyTorch; ROUNDS times) and each
# figure is the median over rounds, so a machine whose speed drifts during the benchmark (shared
# hosts do) affects every side alike; each round's figures are printed too.
#   usage: bench/bench.sh [EPOCHS [ROUNDS]]   (defaults 2 and 3; run as root the first time: it
#                                                installs the peers' Debian packages)
#   MNIST_KERNEL=avx512|avx2|plain forces our kernel path (default: the best this CPU has).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2}
rounds=${2:-3}
peer=${PEER_DIR:-../shared/peers}
bash scripts/setup/install_deps.sh --with-peer > /dev/null
bash scripts/setup/fetch_mnist.sh data/mnist > /dev/null
make -s build > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -n | awk '{v[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
peak_mb() { awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$1"; }

echo "bench: $(nproc) cores, $rounds rounds of $epochs epochs each, $(date -u +%Y-%m-%dT%H:%MZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
rate() { sed -n 's/.*images_per_s \([0-9]*\).*/\1/p' "$1" | median; }
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/ckpt"
  /usr/bin/time -v -o "$work/train.$r.time" ./train --data_dir data/mnist --ckpt_dir "$work/ckpt" --epochs "$epochs" > "$work/train.$r.log" 2>&1
  /usr/bin/time -v -o "$work/libtorch.$r.time" bash "$peer/run_libtorch_peer.sh" data/mnist "$epochs" > "$work/libtorch.$r.log" 2>&1
  /usr/bin/time -v -o "$work/peer.$r.time" bash "$peer/run_torch_peer.sh" data/mnist "$epochs" > "$work/peer.$r.log" 2>&1
  o=$(rate "$work/train.$r.log"); l=$(rate "$work/libtorch.$r.log"); t=$(rate "$work/peer.$r.log")
  echo "$o" >> "$work/ours"; echo "$l" >> "$work/libtorch"; echo "$t" >> "$work/theirs"
  echo "$o / $l" | bc -l >> "$work/ratios_libtorch"; echo "$o / $t" | bc -l >> "$work/ratios"
  printf "  round %d: training images/s ours %8.0f   libtorch %8.0f (ratio %.2f)   pytorch %8.0f (ratio %.2f)\n" "$r" "$o" "$l" \
    "$(echo "$o / $l" | bc -l)" "$t" "$(echo "$o / $t" | bc -l)"
done
ours=$(median < "$work/ours")
libtorch=$(median < "$work/libtorch")
theirs=$(median < "$work/theirs")
cp "$work/train.$rounds.log" "$work/train.log"; cp "$work/peer.$rounds.log" "$work/peer.log"
peer_acc=$(tail -1 "$work/peer.log" | sed -n 's/.*test_acc \([0-9.]*\).*/\1/p')
libtorch_acc=$(tail -1 "$work/libtorch.$rounds.log" | sed -n 's/.*test_acc \([0-9.]*\).*/\1/p')
our_acc=$(grep "epoch $epochs " "$work/train.log" | sed -n 's/.*test_accuracy \([0-9.]*\).*/\1/p')
printf "training images/s      ours %8.0f   libtorch %8.0f   pytorch %8.0f   ours/libtorch %.2f   ours/pytorch %.2f   (medians of the rounds; test accuracy after %d epochs: ours %s, libtorch %s, pytorch %s)\n" \
  "$ours" "$libtorch" "$theirs" "$(median < "$work/ratios_libtorch")" "$(median < "$work/ratios")" "$epochs" "$our_acc" "$libtorch_acc" "$peer_acc"
echo "kernel path            $(grep -o 'product kernels: .*' "$work/train.log" | head -1 | sed 's/product kernels: //')"

last_ckpt=$(ls -t "$work"/ckpt/model-*.safetensors | sed -n 1p)
./build/bench_step 300 0 data/mnist "$last_ckpt" > "$work/step.txt"
products=$(sed -n 's/^bench_step: products \([0-9.]*\) GFLOPS counted as dense.*/\1/p' "$work/step.txt")
done_gflops=$(sed -n 's/.*, \([0-9.]*\) GFLOPS of the multiply-adds done.*/\1/p' "$work/step.txt")
done_rate=$(sed -n 's/.*, \([0-9.]*\) GFLOPS of the multiply-adds done (\([0-9]*\)%.*/\1 GFLOPS on the \2%/p' "$work/step.txt")
share=$(sed -n 's/.*products \([0-9]*\)% of the step.*/\1/p; s/.*; \([0-9]*\)% of a step$/\1/p' "$work/step.txt" | head -1)
rest=$(sed -n 's/^all the rest (outside the products) *[0-9.]* *\([0-9.]*\)%.*/\1/p' "$work/step.txt")
./build/fma_peak > "$work/peak.txt"
peak_one=$(sed -n 's/.*one core \([0-9.]*\) GFLOPS.*/\1/p' "$work/peak.txt")
peak_all=$(sed -n 's/.*cores \([0-9.]*\) GFLOPS$/\1/p' "$work/peak.txt")
printf "FMA peak               %s\n" "$(sed 's/^fma_peak: //' "$work/peak.txt")"
printf "products vs the peak   %.1f GFLOPS on the multiply-adds done = %.0f%% of the all-core FMA peak (%.1f), %.0f%% of one core's (%.1f); the part of a step outside the products: %s%%\n" \
  "$done_gflops" "$(echo "100 * $done_gflops / $peak_all" | bc -l)" "$peak_all" "$(echo "100 * $done_gflops / $peak_one" | bc -l)" "$peak_one" "$rest"
./build/sparse_kernel > "$work/kernel.txt"
kernel_l1=$(sed -n 's/.*the kernel: B in L1 \([0-9.]*\),.*/\1/p' "$work/kernel.txt")
kernel_bound=$(sed -n 's/.*one L1 load per FMA \([0-9.]*\) GFLOPS.*/\1/p' "$work/kernel.txt")
kernel_shared=$(sed -n 's/.*(one load per two FMAs: \([0-9.]*\)).*/\1/p' "$work/kernel.txt")
kernel_wh=$(sed -n "s/.*w_h's shape \(.*\)$/\1/p" "$work/kernel.txt")
printf "sparse kernel alone    one core: %.1f GFLOPS with B in L1 (%.0f%% of one core's FMA peak); w_h's shape %s\n" \
  "$kernel_l1" "$(echo "100 * $kernel_l1 / $peak_one" | bc -l)" "$kernel_wh"
printf "its ceiling            its inner loop alone, one L1 load per FMA: %s GFLOPS (%.0f%% of one core's peak); the same loads each feeding two FMAs: %s GFLOPS (%.0f%%)\n" \
  "${kernel_bound:--}" "$(echo "100 * ${kernel_bound:-0} / $peak_one" | bc -l)" "${kernel_shared:--}" "$(echo "100 * ${kernel_shared:-0} / $peak_one" | bc -l)"
best=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$(nproc)" /usr/bin/python3 - <<'PY'
import time, torch
torch.set_num_threads(1)
shapes = [(128,784,625,'nn'),(128,625,625,'nn'),(128,625,10,'nn'),(625,128,10,'tn'),(128,10,625,'nt'),
          (625,128,625,'tn'),(128,625,625,'nt'),(784,128,625,'tn')]
mats = []
for m,k,n,kind in shapes:
    a = torch.rand(k, m) if kind == 'tn' else torch.rand(m, k)
    b = torch.rand(n, k) if kind == 'nt' else torch.rand(k, n)
    mats.append((a.t() if kind == 'tn' else a, b.t() if kind == 'nt' else b, 2*m*k*n))
best = 0
for rep in range(5):
    t = time.perf_counter()
    for _ in range(100):
        for a, b, f in mats: torch.mm(a, b)
    dt = time.perf_counter() - t
    best = max(best, 100 * sum(f for _,_,f in mats) / dt / 1e9)
print(f"{best:.1f}")
PY
)
limit=$(echo "$best * 1000000000 / (555.7 * 1000000) * 128" | bc -l)
printf "matrix products        ours %.1f GFLOPS counted as dense (%s of the terms that are non-zero; %s%% of a step); best BLAS rate on these shapes %.1f GFLOPS -> at most %.0f images/s for a dense trainer; ours is %.0f%% of that\n" \
  "$products" "$done_rate" "$share" "$best" "$limit" "$(echo "100 * $ours / $limit" | bc -l)"

for r in 1 2 3; do
  ./eval --ckpt_dir "$work/ckpt" --data_dir data/mnist --json | sed -n 's/.*"eval_seconds":\([0-9.e-]*\).*/\1/p' >> "$work/eval_s"
done
eval_s=$(median < "$work/eval_s")
cat "$work"/peer.*.log | sed -n 's/.*eval_s \([0-9.]*\).*/\1/p' > "$work/peer_eval_s"
peer_eval=$(median < "$work/peer_eval_s")
printf "evaluation             ours %.3f s for 10000 images (%.0f images/s; median of 3 runs of ./eval, each: %s)   pytorch %.3f s (median of its epochs)\n" \
  "$eval_s" "$(echo "10000 / $eval_s" | bc -l)" "$(tr '\n' ' ' < "$work/eval_s" | xargs printf '%.3f ')" "$peer_eval"
# The evaluation's floor on this machine: the multiply-adds its products do (the trained model's
# activations decide how many; zeros are skipped) at the all-core FMA peak, nothing else counted.
eval_gmac=$(sed -n 's/^bench_step: evaluation of .* images: .* s (median of 5), \([0-9.]*\) G multiply-adds done.*/\1/p' "$work/step.txt")
printf "evaluation vs the peak %.3f G multiply-adds done in its products: %.3f s at the all-core FMA peak (%.1f GFLOPS) with nothing else; ./eval's median ran them at %.0f%% of it\n" \
  "$eval_gmac" "$(echo "2 * $eval_gmac / $peak_all" | bc -l)" "$peak_all" "$(echo "100 * 2 * $eval_gmac / $eval_s / $peak_all" | bc -l)"

save_ms=$(sed -n 's/.*saved .*, \([0-9.]*\) ms of training time.*/\1/p' "$work/train.log" | median)
durable_ms=$(sed -n 's/.*saved .*durable after \([0-9.]*\) ms).*/\1/p' "$work/train.log" | median)
epoch_s=$(sed -n 's/.* seconds \([0-9.]*\) images_per_s.*/\1/p' "$work/train.log" | median)
./train --data_dir data/mnist --ckpt_dir "$work/ckpt" --epochs "$((epochs + 1))" > "$work/resume.log" 2>&1
restore_ms=$(sed -n 's/.*restored .* in \([0-9.]*\) ms.*/\1/p' "$work/resume.log")
first=$(sed -n 's/.*first step done \([0-9.]*\) s.*/\1/p' "$work/train.log")
printf "checkpoint             save %.1f ms of training time (%.2f%% of a %.2f s epoch; written and synced in the background, durable after %.1f ms = %.1f%% of an epoch), restore %.1f ms; first step %.3f s after start\n" \
  "$save_ms" "$(echo "$save_ms / 10 / $epoch_s" | bc -l)" "$epoch_s" "$durable_ms" "$(echo "$durable_ms / 10 / $epoch_s" | bc -l)" "$restore_ms" "$first"
most_mb() { for f in "$@"; do peak_mb "$f"; echo; done | sort -n | tail -1; }
printf "peak resident memory   ours %s MB   libtorch %s MB   pytorch %s MB   (largest of the rounds)\n" "$(most_mb "$work"/train.*.time)" \
  "$(most_mb "$work"/libtorch.*.time)" "$(most_mb "$work"/peer.*.time)"
echo "--- where a step goes (build/bench_step 300 0 data/mnist) ---"
cat "$work/step.txt"
