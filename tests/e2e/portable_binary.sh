#!/usr/bin/env bash
# One binary for every x86-64 (the default build, MNIST_NATIVE=OFF), checked two ways:
#  1. objdump: in ./train, ./eval and ./ckpt, AVX-512 instructions appear only in functions of
#     mnist::avx512 (src/numerics/kernels_avx512.cpp), and AVX/AVX2/FMA/BMI instructions only there
#     or in mnist::avx2 (kernels_avx2.cpp); no static initializer (code run at start-up, before the
#     CPU check) calls into either. So a CPU without them never meets one unless it chose that path.
#  2. qemu-x86_64 (Debian's qemu-user), when installed: the same short training on a CPU model
#     without AVX-512 (-cpu max: AVX2 + FMA) and on one without AVX (-cpu Nehalem) chooses the avx2
#     and plain paths by itself, runs without SIGILL, and writes tensors identical to this machine's;
#     a checkpoint written here resumes there (and back) to the same tensors as a run never moved;
#     and MNIST_KERNEL=avx512 on the AVX2 model is refused with a message naming what the CPU has.
# Prints each finding and exits 1 on any; 77 (skip) for a -march=native build. A sanitizer build
# (make sanitize) gets the objdump check only.
#   usage: tests/e2e/portable_binary.sh BUILD_DIR
set -uo pipefail
bin=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

if grep -q '^MNIST_NATIVE:BOOL=ON' "$bin/CMakeCache.txt" 2>/dev/null; then
  echo "portable_binary: skipped, a -march=native build (MNIST_NATIVE=ON) is not portable by design"
  exit 77
fi

# Prints "LEVEL<TAB>FUNCTION" for every function with an instruction beyond baseline x86-64:
# 2 = AVX-512 (zmm, mask registers, xmm/ymm16-31, embedded broadcast), 1 = AVX/AVX2/FMA/F16C (VEX,
# ymm) or BMI1/BMI2/LZCNT/POPCNT.
scan() {
  objdump -d --no-show-raw-insn -C "$1" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
    /^ +[0-9a-f]+:\t/ {
      ins = $0; sub(/^ +[0-9a-f]+:\t/, "", ins); lvl = 0
      if (ins ~ /zmm|%k[0-7]|mm(1[6-9]|2[0-9]|3[01])([^0-9]|$)|\{1to/) lvl = 2
      else if (ins ~ /^v[a-z]/ || ins ~ /ymm/ || ins ~ /^(andn|bextr|blsi|blsmsk|blsr|bzhi|tzcnt|lzcnt|popcnt|shlx|shrx|sarx|rorx|pdep|pext|mulx) /) lvl = 1
      if (lvl > 0 && !((lvl "\t" fn) in seen)) { seen[lvl "\t" fn] = 1; print lvl "\t" fn }
    }'
}

for prog in train eval ckpt; do
  [[ -x "$bin/$prog" ]] || { fail "$bin/$prog is missing"; continue; }
  found=$(scan "$bin/$prog")
  avx512=$(awk -F'\t' '$1 == 2' <<<"$found" | grep -vc 'mnist::avx512::')
  avx2=$(awk -F'\t' '$1 == 1' <<<"$found" | grep -v 'mnist::avx512::' | grep -vc 'mnist::avx2::')
  in512=$(grep -c 'mnist::avx512::' <<<"$found")
  in2=$(grep -c 'mnist::avx2::' <<<"$found")
  if ((avx512 > 0)); then
    fail "$prog: AVX-512 instructions outside mnist::avx512:"
    awk -F'\t' '$1 == 2' <<<"$found" | grep -v 'mnist::avx512::' | head -10 | sed 's/^/    /'
  fi
  if ((avx2 > 0)); then
    fail "$prog: AVX/AVX2/BMI instructions outside mnist::avx2 and mnist::avx512:"
    awk -F'\t' '$1 == 1' <<<"$found" | grep -v 'mnist::avx2::\|mnist::avx512::' | head -10 | sed 's/^/    /'
  fi
  init=$(objdump -d --no-show-raw-insn -C "$bin/$prog" |
    awk '/^[0-9a-f]+ <.*>:$/ { f = ($0 ~ /<_GLOBAL__sub_I/) } f && /(call|jmp).*mnist::avx(2|512)::/' | wc -l)
  ((init == 0)) || fail "$prog: a static initializer calls into a vector kernel (it would run before the CPU check)"
  echo "portable_binary: $prog: $in512 functions with AVX-512 or AVX2 code, all in mnist::avx512; $in2 with AVX2 code, all in mnist::avx2; none elsewhere"
  # Sanity: the scan sees the kernels at all (else it would prove nothing).
  if [[ $prog == train ]] && ((in512 == 0 || in2 == 0)); then fail "train: the scan found no vector kernels at all"; fi
done

# Under a sanitizer build (make sanitize) the runs on other CPU models are left to the plain build's
# ctest: qemu-user emulating the sanitizer runtime's shadow memory takes minutes per run and tests
# qemu, not us.
sanitizers=$(sed -n 's/^MNIST_SANITIZE:STRING=//p' "$bin/CMakeCache.txt" 2>/dev/null)
if [[ -n "$sanitizers" ]]; then
  echo "portable_binary: $sanitizers build: the runs under qemu are skipped (the default build's ctest runs them)"
  exit $failed
fi
if ! command -v qemu-x86_64 >/dev/null 2>&1; then
  echo "portable_binary: qemu-x86_64 not installed (Debian: qemu-user): the runs on other CPU models are skipped"
  exit $failed
fi

"$bin/make_test_data" "$work/data" 700 60 14 >/dev/null
common=(--data_dir "$work/data" --hidden 64,32 --batch_size 16 --validation_size 100 --learning_rate 0.01
        --progress off --threads 2)
# run NAME CPU_MODEL EPOCHS: trains into $work/NAME (on this CPU when the model is "host").
run() {
  local name=$1 cpu=$2 epochs=$3
  local cmd=("$bin/train" "${common[@]}" --epochs "$epochs" --ckpt_dir "$work/$name")
  [[ $cpu == host ]] || cmd=(qemu-x86_64 -cpu "$cpu" "${cmd[@]}")
  "${cmd[@]}" >"$work/$name.log" 2>&1 || { fail "$name on $cpu exited $?:"; tail -5 "$work/$name.log" | sed 's/^/    /'; }
}
# same NAME_A NAME_B STEP: the two runs' checkpoints at STEP hold identical tensors.
same() {
  local out
  out=$("$bin/ckpt" diff "$work/$1/model-$3.safetensors" "$work/$2/model-$3.safetensors" 2>&1)
  if [[ "$out" == *"all tensors identical"* ]]; then echo "portable_binary: $1 and $2 at step $3: all tensors identical"
  else fail "$1 and $2 differ at step $3:"; echo "$out" | tail -5 | sed 's/^/    /'; fi
}
path_of() { grep -o 'product kernels: [a-z0-9]*' "$work/$1.log" | head -1; }

run host host 2
run avx2cpu max 2        # AVX2 + FMA, no AVX-512
run oldcpu Nehalem 2     # no AVX at all
[[ "$(path_of avx2cpu)" == "product kernels: avx2" ]] || fail "on -cpu max the path was '$(path_of avx2cpu)', not avx2"
[[ "$(path_of oldcpu)" == "product kernels: plain" ]] || fail "on -cpu Nehalem the path was '$(path_of oldcpu)', not plain"
echo "portable_binary: this CPU $(path_of host); qemu -cpu max $(path_of avx2cpu); qemu -cpu Nehalem $(path_of oldcpu)"
for s in 37 74; do same host avx2cpu $s; same host oldcpu $s; done
# Moved between machines mid-run: one epoch here, the second on the AVX2 model; and the reverse
# from the plain one.
run moved host 1 && run moved max 2
run moved_back Nehalem 1 && run moved_back host 2
same host moved 74
same host moved_back 74
out=$(MNIST_KERNEL=avx512 qemu-x86_64 -cpu max "$bin/train" "${common[@]}" --ckpt_dir "$work/refused" 2>&1)
status=$?
if [[ $status -eq 1 && "$out" == *'MNIST_KERNEL: expected a kernel path this CPU supports (avx2, plain), found "avx512"'* ]]; then
  echo "portable_binary: MNIST_KERNEL=avx512 on the AVX2 model is refused: $(grep -o 'MNIST_KERNEL:.*' <<<"$out")"
else
  fail "MNIST_KERNEL=avx512 on -cpu max: status $status, output:"; echo "$out" | tail -3 | sed 's/^/    /'
fi
exit $failed
