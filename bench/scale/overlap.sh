#!/usr/bin/env bash
# Training throughput of DeepFM (docs/scale.md, "Overlap on this machine"): one process with 2 threads against
# `mpiexec -n 2` ranks of 1 thread, with the dense gradients exchanged by one blocking all-reduce after the backward
# pass (exchange_bucket_kb: 0) and in 1 MiB buckets overlapped with it (the default), in float32 and bfloat16.
# PAIRS rounds, each running the variants one after the other, so a change of load on the machine hits all alike.
# Needs the reference's synthetic files (../shared/bench/ref/data.py --small): DATA_DIR holds train_100000.tsv and
# test_20000.tsv.
#
#   DATA_DIR=/tmp/refout PAIRS=3 bash bench/scale/overlap.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
data=${DATA_DIR:?set DATA_DIR to the folder with train_100000.tsv and test_20000.tsv}
out=${OUT:-/tmp/ctrdsl-overlap}
pairs=${PAIRS:-3}
mkdir -p "$out"
. "$here/experiment.sh"

dotnet build "$root/src/Cli" -c Release -v quiet -nologo >/dev/null
ctr="dotnet $root/src/Cli/bin/Release/net10.0/ctr.dll"

config() { # name threads extra-training-lines
  experiment_yaml "$out/$1.yaml" deepfm "$data/train_100000.tsv" "$data/test_20000.tsv" "$out/cache" "$2"
  printf '%b' "$3" >> "$out/$1.yaml"
  echo "$out/$1.yaml"
}
one=$(config one 2 "")
blocking=$(config blocking 1 "  exchange_bucket_kb: 0\n")
overlapped=$(config overlapped 1 "")
bf16=$(config bf16 1 "  exchange: bf16\n")
$ctr data prepare --config "$one" --json > /dev/null

field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
run() { # name launcher...
  local name=$1; shift
  rm -rf "$out/run-$name"
  "$@" train --config "$out/$name.yaml" --out "$out/run-$name" --json > "$out/$name.json"
  echo -n " $(field "$out/$name.json" "round(d['throughput']['train_samples_per_second_steady'])") / $(field "$out/$name.json" "round(d['metrics']['test']['auc'], 6)") |"
}

echo "| round | 1 process × 2 threads | 2 ranks, blocking | 2 ranks, overlapped | 2 ranks, overlapped bf16 |"
echo "|---|---|---|---|---|"
for i in $(seq 1 "$pairs"); do
  echo -n "| $i |"
  run one $ctr
  run blocking mpiexec -n 2 -hosts localhost $ctr
  run overlapped mpiexec -n 2 -hosts localhost $ctr
  run bf16 mpiexec -n 2 -hosts localhost $ctr
  echo
done
echo "(steady samples/s / test AUC)"
