#!/usr/bin/env bash
# DIN against DeepFM without the history and DeepFM with the history mean-pooled, on MovieLens 100K split by time
# (oldest 80% train, 10% valid, newest 10% test), over several seeds: test AUC per run, then mean and spread per model.
# Settings for every model: k = 8, batch 256, Adam 1e-3, up to 3 epochs, patience 1 on validation AUC, 1 thread.
# CI does not run this.
#
#   bash bench/seq/quality.sh                  # seeds 1 2 3, models din deepfm deepfm+history
#   SEEDS="1 2 3 4 5" MODELS="din" bash bench/seq/quality.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${DATA:-$root/../shared/data/movielens100k/movielens100k.csv}
[ -f "$data" ] || { echo "quality: $data not found (MovieLens 100K from ../shared/data)" >&2; exit 2; }
out=${OUT:-/tmp/ctrdsl-seq}
seeds=${SEEDS:-1 2 3}
models=${MODELS:-din deepfm deepfm+history}
ctr="$root/src/Cli/bin/Release/net10.0/ctr"
mkdir -p "$out"
. "$here/run_yaml.sh"
/usr/bin/python3 "$here/split_time.py" "$data" "$out/data"

for model in $models; do
  case $model in
    din) name=din; schema=ml100k_history.yaml; extra="  dnn_hidden_units: [256, 128, 64]" ;;
    deepfm) name=deepfm; schema=ml100k_nohistory.yaml; extra="  dnn_hidden_units: [256, 128, 64]" ;;
    deepfm+history) name=deepfm; schema=ml100k_history.yaml; extra="  dnn_hidden_units: [256, 128, 64]" ;;
    *) name=$model; schema=ml100k_history.yaml; extra="" ;;
  esac
  for seed in $seeds; do
    run="$out/runs/$model-$seed"
    rm -rf "$run"
    seq_yaml "$out/$model-$seed.yaml" "$out" "$here/$schema" "$out/cache-$schema" "$seed" 3 1 "  name: $name
  embedding_dim: 8
$extra"
    "$ctr" train --config "$out/$model-$seed.yaml" --out "$run" --json > "$out/$model-$seed.json"
    /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); t=r['throughput']; print(f\"$model seed $seed: test AUC {r['metrics']['test']['auc']:.4f}, valid AUC {r['metrics']['valid']['auc']:.4f}, epochs {r['epochs_completed']}, train samples/s {t['train_samples_per_second_steady']:.0f}\")" "$out/$model-$seed.json"
  done
done | tee "$out/results.txt"

/usr/bin/python3 - "$out/results.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) seed \d+: test AUC ([0-9.]+)", line)
    if m: runs.setdefault(m.group(1), []).append(float(m.group(2)))
for model, aucs in runs.items():
    sd = statistics.stdev(aucs) if len(aucs) > 1 else 0.0
    print(f"{model}: mean test AUC {statistics.mean(aucs):.4f}, sd {sd:.4f}, min {min(aucs):.4f}, max {max(aucs):.4f} over {len(aucs)} seeds")
PY
