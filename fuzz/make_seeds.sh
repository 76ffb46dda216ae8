#!/usr/bin/env bash
# Writes the committed seed corpora of fuzz/corpus/ (run once; the files are small): cut-down real
# MNIST files (real headers, a few images), a real checkpoint and export of a tiny network trained by
# ./train on synthetic data, its state file, config and metrics, and typical option strings.
#   usage: fuzz/make_seeds.sh [BUILD_DIR=build] [MNIST_DIR=data/mnist]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
mnist=${2:-data/mnist}
c=fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p $c/idx_raw $c/idx_gzip $c/safetensors $c/config $c/state_file $c/var_map $c/option_list $c/metrics

python3 - "$mnist" "$c" <<'PY'
import gzip, struct, sys
mnist, c = sys.argv[1], sys.argv[2]
def cut(name, header, count, item):
    import os
    data = open(f"{mnist}/{name}", "rb").read() if os.path.exists(f"{mnist}/{name}") else gzip.open(f"{mnist}/{name}.gz").read()
    h = bytearray(data[:header]); struct.pack_into(">I", h, 4, count)
    return bytes(h) + data[header:header + count * item]
img = cut("t10k-images-idx3-ubyte", 16, 2, 784)
lab = cut("t10k-labels-idx1-ubyte", 8, 5, 1)
small = struct.pack(">IIII", 2051, 3, 2, 4) + bytes(range(24))
for n, b in [("images2", img), ("labels5", lab), ("images3x2x4", small)]:
    open(f"{c}/idx_raw/{n}", "wb").write(b)
    open(f"{c}/idx_gzip/{n}.mode0", "wb").write(b"\0" + gzip.compress(b, 9))
    open(f"{c}/idx_gzip/{n}.mode1", "wb").write(b"\1" + b)
open(f"{c}/idx_gzip/two_members.mode0", "wb").write(b"\0" + gzip.compress(small[:10]) + gzip.compress(small[10:]))
PY

"$build/make_test_data" "$tmp/data" 300 50 8
"$build/train" --data_dir "$tmp/data" --ckpt_dir "$tmp/ck" --hidden 3 --epochs 2 --batch_size 50 \
  --validation_size 50 --max_to_keep 2 --keep_checkpoint_every_n_hours 0.0001 --progress off --quiet
last=$(ls "$tmp"/ck/model-*.safetensors | sort -V | tail -1)
cp "$last" $c/safetensors/checkpoint
"$build/ckpt" export "$last" -o "$tmp/export.safetensors" --vars 'weights=w_h,w_o' >/dev/null
cp "$tmp/export.safetensors" $c/safetensors/export
cp "$tmp/ck/checkpoint" $c/state_file/ours.txt
sed -i '1s/^/\x02\x01/' $c/state_file/ours.txt   # first bytes: max_to_keep 2, 0.5 hours
printf '\x03\x02# written by TensorFlow\nmodel_checkpoint_path: '"'"'model-9'"'"'\nall_model_checkpoint_paths: "model-7"\nall_model_checkpoint_paths: '"'"'model-9'"'"'\n\n' \
  > $c/state_file/tensorflow.txt
cp "$tmp/ck/metrics.jsonl" $c/metrics/metrics.jsonl
python3 - "$last" "$c/config/config.json" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
open(sys.argv[2], "w").write(json.loads(data[8:8 + n])["__metadata__"]["config"])
PY
printf 'weights=w_h,w_o' > $c/var_map/rename
printf 'w_h = w_h , w_h2=w_h2,w_o' > $c/var_map/spaces
printf '625,625' > $c/option_list/hidden
printf -- '--hidden\0001000,1000\000--epochs\0003\000--learning_rate\0001e-3\000--shuffle\000false' > $c/option_list/argv
printf -- '--init_from\000x.safetensors\000--init_map\000w_h=w_h,w_h2\000--init_optimizer' > $c/option_list/init
du -sh $c; find $c -type f | wc -l
