#!/usr/bin/env bash
# Scaling of DeepFM training on this machine (the figures behind docs/benchmarks.md, "Scaling"):
#   1. samples/s at 1 and 2 threads (one epoch over the 1M synthetic rows);
#   2. epoch time at 100k and 1M rows (linear in rows?);
#   3. peak RSS and step time as the embedding vocabulary grows: 10^5, 10^6 and 10^7 table rows in all
#      (`ctr bench` on synthetic ids, 39 fields sharing one table).
# Needs the reference's synthetic files (../shared/bench/ref/data.py): DATA_DIR holds train_1000000.tsv,
# test_200000.tsv and the 100k prefix train_100000.tsv (made here with head when missing).
#
#   DATA_DIR=/tmp/refout bash bench/scaling.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
data=${DATA_DIR:?set DATA_DIR to the folder with train_1000000.tsv and test_200000.tsv}
out=${OUT:-/tmp/ctrdsl-scaling}
mkdir -p "$out"
. "$here/experiment.sh"
[ -f "$data/train_100000.tsv" ] || head -n 100000 "$data/train_1000000.tsv" > "$data/train_100000.tsv"

dotnet build "$root/src/Cli" -c Release -v quiet -nologo >/dev/null
ctr="dotnet $root/src/Cli/bin/Release/net10.0/ctr.dll"

config() { # rows threads
  experiment_yaml "$out/deepfm-$1-$2.yaml" deepfm "$data/train_$1.tsv" "$data/test_200000.tsv" "$out/cache" "$2"
  echo "$out/deepfm-$1-$2.yaml"
}

field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "| run | train rows | threads | samples/s steady | samples/s whole epoch | epoch train s | test AUC |"
echo "|---|---|---|---|---|---|---|"
for run in "1000000 1" "1000000 2" "100000 2"; do
  set -- $run
  c=$(config "$1" "$2")
  $ctr data prepare --config "$c" --json > /dev/null
  $ctr train --config "$c" --out "$out/run-$1-$2" --json > "$out/train-$1-$2.json"
  j="$out/train-$1-$2.json"
  echo "| deepfm | $1 | $2 | $(field "$j" "round(d['throughput']['train_samples_per_second_steady'])") | $(field "$j" "round(d['throughput']['train_samples_per_second_run'])") | $(field "$j" "round(d['throughput']['train_seconds'], 2)") | $(field "$j" "round(d['metrics']['test']['auc'], 5)") |"
done

echo
echo "| table rows (39 fields) | ids per field | parameters | train step ms (median) | train samples/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for rows in 100000 1000000 10000000; do
  per=$(( rows / 39 ))
  /usr/bin/time -f "%M" -o "$out/vocab-$rows.rss" $ctr bench --model deepfm --vocabulary "$per" --steps 10 --json > "$out/vocab-$rows.json"
  j="$out/vocab-$rows.json"
  params=$(( per * 39 * 11 + 390 * 400 + 400 * 400 * 2 + 400 * 3 + 400 + 1 + 1 ))
  echo "| $(( per * 39 )) | $per | $params | $(field "$j" "round(d['train_step_ms'], 1)") | $(field "$j" "round(d['train_samples_per_second'])") | $(( $(cat "$out/vocab-$rows.rss") / 1024 )) |"
done
