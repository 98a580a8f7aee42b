#!/usr/bin/env bash
# 10x the rows at linear cost (issue 18): DeepFM, one epoch, on the first 1M and on 10M rows of the reference's
# synthetic Criteo-shaped data (data.py's rows are generated in seeded 100k chunks, so the 1M file is the 10M file's
# prefix). Per size: parse + cache (seconds, rows/s, peak RSS of `ctr data prepare`), the epoch's training seconds,
# steady samples/s and peak RSS (training phase and whole process). Then the 10M epoch once more inside a cgroup (v1)
# whose memory limit is below the cache's size on disk, so the cache cannot all be resident: it must stream from the
# mapped file. Prints one table; CI does not run this.
#
#   DATA_DIR=/tmp/refout bash bench/rows10x.sh     # DATA_DIR holds train_1000000.tsv, train_10000000.tsv, test_200000.tsv
#   LIMIT_MB=768 DATA_DIR=... bash bench/rows10x.sh      # LIMIT_MB=0 skips the limited run
#   CTR=/path/to/ctr.dll DATA_DIR=... bash bench/rows10x.sh   # that build instead of building this tree
#   SCHEMA=examples/schemas/criteo_synthetic_hashed.yaml DATA_DIR=... bash bench/rows10x.sh
# SCHEMA (default examples/schemas/criteo_synthetic.yaml, the reference's min-count vocabularies, which grow with the
# rows) may name the hashed variant, whose fixed buckets keep the model one size at 1M and 10M rows, so that what
# grows is the data path alone. OUT defaults to one folder per schema.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
data=${DATA_DIR:?set DATA_DIR to the folder with train_1000000.tsv, train_10000000.tsv and test_200000.tsv}
schema=$(cd "$root" && realpath "${SCHEMA:-examples/schemas/criteo_synthetic.yaml}")
out=${OUT:-/tmp/ctrdsl-rows10x-$(basename "$schema" .yaml)}
limit_mb=${LIMIT_MB:-1024}
mkdir -p "$out"
. "$here/experiment.sh"
if [ -n "${CTR:-}" ]; then   # a build made elsewhere (e.g. while another run uses this tree's bin folder)
  ctr="dotnet $CTR"
else
  dotnet build "$root/src/Cli" -c Release -v quiet -nologo >/dev/null
  ctr="dotnet $root/src/Cli/bin/Release/net10.0/ctr.dll"
fi
field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
rss_mb() { echo $(( $(cat "$1") / 1024 )); }

echo "$(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "schema: ${schema#$root/}"
echo
echo "| run | rows | ids (model rows) | parse + cache s (train + test) | rows/s | prepare peak RSS MB | cache on disk MB | epoch train s | steady samples/s | training peak RSS MB | process peak RSS MB | test AUC |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
run() { # label rows [cgroup]
  local c="$out/deepfm-$2.yaml" cache="$out/cache-$2"
  experiment_yaml "$c" deepfm "$data/train_$2.tsv" "$data/test_200000.tsv" "$cache"
  sed -i "s|^  schema: .*|  schema: $schema|" "$c"
  if [ ! -f "$out/prepare-$2.json" ]; then
    rm -rf "$cache"
    /usr/bin/time -f "%M" -o "$out/prepare-$2.rss" $ctr data prepare --config "$c" --json > "$out/prepare-$2.json"
  fi
  local prefix=()
  [ -n "${3:-}" ] && prefix=(bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$3")
  "${prefix[@]}" /usr/bin/time -f "%M" -o "$out/train-$1.rss" $ctr train --config "$c" --out "$out/run-$1" --json > "$out/train-$1.json"
  local p="$out/prepare-$2.json" t="$out/train-$1.json"
  echo "| $1 | $(field "$p" "d['train_rows']") | $(field "$p" "d['features']") | $(field "$p" "round(d['seconds'], 1)") | $(field "$p" "round((d['train_rows'] + d['test_rows']) / d['seconds'])") | $(rss_mb "$out/prepare-$2.rss") | $(( $(du -sk "$cache" | cut -f1) / 1024 )) | $(field "$t" "round(d['throughput']['train_seconds'], 1)") | $(field "$t" "round(d['throughput']['train_samples_per_second_steady'])") | $(field "$t" "round(d['memory']['peak_rss_train_mb'], 1)") | $(rss_mb "$out/train-$1.rss") | $(field "$t" "round(d['metrics']['test']['auc'], 5)") |"
}
rm -f "$out"/prepare-*.json
run 1M 1000000
run 10M 10000000
echo
t1=$(field "$out/train-1M.json" "d['throughput']['train_seconds']"); t10=$(field "$out/train-10M.json" "d['throughput']['train_seconds']")
echo "epoch time 10M / (10 x 1M): $(/usr/bin/python3 -c "print(round($t10 / (10 * $t1), 3))")"

cg=/sys/fs/cgroup/memory/ctrdsl-rows10x
if [ "$limit_mb" = 0 ]; then
  echo "LIMIT_MB=0: the limited run is skipped"
elif mkdir -p "$cg" 2>/dev/null && echo $(( limit_mb * 1024 * 1024 )) > "$cg/memory.limit_in_bytes" 2>/dev/null; then
  sync; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || true   # start the limited run with a cold page cache
  run "10M-in-${limit_mb}MB" 10000000 "$cg"
  echo
  echo "cgroup memory limit ${limit_mb} MB: peak usage (RSS + page cache) $(( $(cat "$cg/memory.max_usage_in_bytes") / 1048576 )) MB, times the limit was hit $(cat "$cg/memory.failcnt")"
  rmdir "$cg" 2>/dev/null || true
else
  echo "no writable cgroup v1 memory controller here: the limited run is skipped"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
