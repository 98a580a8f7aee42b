#!/usr/bin/env bash
# Side by side with the PyTorch reference (../shared/bench/ref): DeepFM, Wide&Deep, DeepFEFM and FGCNN trained for
# one epoch on the reference's synthetic Criteo-shaped data (batch 4096, k = 10, MLP 400-400-400, Adam 1e-3,
# dropout 0, file order), in one invocation: training samples/s (steady and whole epoch), data-loading time,
# peak RSS, test AUC and logloss for both, the ratios ours / PyTorch, and the share of the GEMM ceiling (read before,
# between and after our models; the best reading counts). CI does not run this.
#
#   bash bench/compare.sh                      # 1M/200k rows (FGCNN on the first 200k on both sides)
#   ROWS=100000 TEST_ROWS=20000 bash bench/compare.sh   # a quick check
#   MODELS="deepfm widedeep" bash bench/compare.sh
#   DATA_DIR=/tmp/refout bash bench/compare.sh          # reuse files data.py wrote there
#   TORCH_MODELS= bash bench/compare.sh        # leave out libtorch 2.10 running our graph (--device torch)
#   CEILING_SECONDS=1 bash bench/compare.sh    # time each GEMM shape longer in the ceiling readings (default 0.3 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ref_src=$(cd "$root/../shared/bench/ref" 2>/dev/null && pwd) || { echo "compare: ../shared/bench/ref not found" >&2; exit 2; }
out=${OUT:-/tmp/ctrdsl-compare}
rows=${ROWS:-1000000}
test_rows=${TEST_ROWS:-200000}
fgcnn_rows=${FGCNN_ROWS:-$(( rows < 200000 ? rows : 200000 ))}
models=${MODELS:-deepfm widedeep deepfefm fgcnn}
torch_models=${TORCH_MODELS-$models}
mkdir -p "$out"
. "$here/experiment.sh"
rm -rf "$out/cache"

# PyTorch from Debian, with the OpenMP OpenBLAS build the reference README uses (the pthread one halves its speed).
if ! /usr/bin/python3 -c "import torch, numpy, sklearn" 2>/dev/null; then
  echo "compare: installing python3-torch (Debian) for the reference"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy python3-sklearn libopenblas0-openmp >/dev/null
fi

# The reference writes caches beside itself; run a copy of it in the output folder (never committed).
ref="$out/ref"
rm -rf "$ref" && cp -r "$ref_src" "$ref" && chmod -R u+w "$ref"
train="$ref/out/train_${rows}.tsv"; test="$ref/out/test_${test_rows}.tsv"
# DATA_DIR: a folder that already holds train_ROWS.tsv and test_TEST_ROWS.tsv from data.py (saves the 40 s generation).
if [ -n "${DATA_DIR:-}" ]; then mkdir -p "$ref/out"; ln -sf "$DATA_DIR/train_${rows}.tsv" "$train"; ln -sf "$DATA_DIR/test_${test_rows}.tsv" "$test"; fi
if [ ! -f "$train" ] || [ ! -f "$test" ]; then
  (cd "$ref" && /usr/bin/python3 data.py --train-rows "$rows" --test-rows "$test_rows" --out "$ref/out")
fi
head -n "$fgcnn_rows" "$train" > "$out/train_fgcnn.tsv"

# Ours: the ctr CLI, one process per model, peak RSS from /usr/bin/time. Unless TORCH_MODELS is empty the same build
# carries the Torch backend (libtorch 2.10, CPU), and those models (all by default) also train their same compiled
# graph on libtorch's kernels (--device torch) from the same cache: the "modern anchor" column.
torch_build=(); [ -n "${torch_models// /}" ] && torch_build=(-p:Torch=true)
dotnet build "$root/src/Cli" -c Release -v quiet -nologo "${torch_build[@]}" >/dev/null
ctr="dotnet $root/src/Cli/bin/Release/net10.0/ctr.dll"
# The GEMM ceiling, read before, between and after our models (gemm-1.json …): every shape of `ctr bench gemm`, ours
# beside OpenBLAS, CEILING_SECONDS a shape and side. The VM's speed drifts within minutes, so the report lists every
# reading and takes the shares against the best one (a ceiling is the best rate the GEMM reaches).
readings=0
ceiling() {
  readings=$((readings + 1))
  echo "GEMM ceiling, reading $readings"
  $ctr bench gemm --json --seconds "${CEILING_SECONDS:-0.3}" > "$out/gemm-$readings.json" || true
}
rm -f "$out"/gemm*.json
for m in $models; do
  t="$train"; [ "$m" = fgcnn ] && t="$out/train_fgcnn.tsv"
  experiment_yaml "$out/$m.yaml" "$m" "$t" "$test" "$out/cache"
  # Parse once into the columnar cache in its own process (as the reference parses in its parent and each worker
  # loads its .npy cache), then train from the memory-mapped cache.
  echo "ours: $m"
  $ctr data prepare --config "$out/$m.yaml" --json > "$out/ours-$m-data.json"
  ceiling
  /usr/bin/time -f "%M" -o "$out/ours-$m.rss" $ctr train --config "$out/$m.yaml" --out "$out/run-$m" --json > "$out/ours-$m.json"
  if grep -qx "$m" <<<"$(tr ' ' '\n' <<<"$torch_models")"; then
    echo "ours on libtorch: $m"
    /usr/bin/time -f "%M" -o "$out/torch-$m.rss" $ctr train --config "$out/$m.yaml" --device torch --out "$out/run-torch-$m" \
      --json > "$out/torch-$m.json"
  fi
done
ceiling

# The reference, in the same invocation. Debian's OpenBLAS 0.3.21 misdetects this VM's Xeon as an SSE3 "Prescott"
# and runs about 4x slower; naming the AVX-512 kernels keeps the comparison fair. They replace an OPENBLAS_CORETYPE
# the environment holds (the EPYC VM's names Haswell, at half the rate); CTR_OPENBLAS_CORETYPE asks for another.
# FGCNN reads the same first rows on both sides: the reference's --rows-for would still build its vocabulary from the
# whole file (72,346 ids at 1M rows against 25,460 at 200k), which alone was worth +0.0085 AUC to it.
echo "reference: $models"
reference() { # models, train file, results file
  (cd "$ref" && OPENBLAS_CORETYPE=${CTR_OPENBLAS_CORETYPE:-SkylakeX} /usr/bin/python3 bench.py --train "$2" --test "$test" --models $1 \
     --no-gemm --results "$3" >> "$out/ref.log" 2>&1)
}
: > "$out/ref.log"
others=$(tr ' ' '\n' <<<"$models" | grep -vx fgcnn | tr '\n' ' ')
[ -n "${others// /}" ] && reference "$others" "$train" "$out/ref.json"
if grep -qx fgcnn <<<"$(tr ' ' '\n' <<<"$models")"; then
  reference fgcnn "$out/train_fgcnn.tsv" "$out/ref-fgcnn.json"
  /usr/bin/python3 - "$out/ref.json" "$out/ref-fgcnn.json" <<'PY'
import json, os, sys
whole, fgcnn = sys.argv[1], json.load(open(sys.argv[2]))
merged = json.load(open(whole)) if os.path.exists(whole) else fgcnn
merged["models"]["fgcnn"] = fgcnn["models"]["fgcnn"]
json.dump(merged, open(whole + ".tmp", "w"), indent=1)
os.replace(whole + ".tmp", whole)
PY
fi

/usr/bin/python3 "$here/compare_report.py" "$out" $models | tee "$out/report.md"
