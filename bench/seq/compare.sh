#!/usr/bin/env bash
# ctr's DIN against the PyTorch DIN of bench/seq/ref_din.py, side by side, on MovieLens 100K split by time
# (split_time.py: oldest 80% train, next 10% valid, newest 10% test), with the same rows, histories, features and
# settings: bench/seq/ml100k_history.yaml, k = 8, unit 80-40 Dice, MLP 256-128-64 ReLU, batch 256, Adam 1e-3, up to
# EPOCHS (default 3) epochs, early stop with patience 1 on valid AUC (the best epoch scored on test), THREADS threads
# each (default 1; OMP and OpenBLAS get the same count). First the reference's histories are checked, row by row,
# against the ones ctr's data layer built. Then, for each seed, ours and the reference (each ADAM variant: dense =
# torch.optim.Adam, lazy = SparseAdam on the table, as ctr's Adam) run one after the other, so a change of load hits
# both. report.py prints per seed test AUC / logloss / steady samples/s, mean ± sd, the difference of test AUC with its
# paired and Welch 95 % intervals, and the speed ratios of the same run. CI does not run this.
#
#   bash bench/seq/compare.sh                        # SEEDS="1 2 3 4 5" ADAM="dense lazy"
#   SEEDS="1 2" ADAM=lazy bash bench/seq/compare.sh
#   JOBS=5 bash bench/seq/compare.sh                 # the seeds in 5 lanes at once (see below)
#   SEEDS="1 2 3" ADAM=dense EPOCHS=1 bash bench/seq/compare.sh   # speed: one epoch each, pairs one after the other
#   BASE=/tmp/old/ctr SEEDS="1 2 3" ADAM=lazy EPOCHS=1 bash bench/seq/compare.sh   # and another build of ctr first in
#                                                    # each seed (report: its speed ratio and whether its AUCs agree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${DATA:-$root/../shared/data/movielens100k/movielens100k.csv}
[ -f "$data" ] || { echo "compare: $data not found (MovieLens 100K from ../shared/data)" >&2; exit 2; }
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || { echo "compare: /usr/bin/python3 lacks torch or numpy (Debian python3-torch)" >&2; exit 2; }
out=${OUT:-/tmp/ctrdsl-seq-compare}
seeds=${SEEDS:-1 2 3 4 5}
adams=${ADAM:-dense lazy}
threads=${THREADS:-1}
epochs=${EPOCHS:-3}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
# Debian's OpenBLAS misdetects this VM's Xeon as an SSE3 "Prescott" (see bench/compare.sh).
export OPENBLAS_CORETYPE=${CTR_OPENBLAS_CORETYPE:-SkylakeX}
ctr=${CTR:-$root/src/Cli/bin/Release/net10.0/ctr}
[ -x "$ctr" ] || { echo "compare: build ctr first (dotnet build src/Cli -c Release)" >&2; exit 2; }
[ -z "${BASE:-}" ] || [ -x "$BASE" ] || { echo "compare: BASE=$BASE is not an executable ctr" >&2; exit 2; }
rm -f "$out"/base-*.json
mkdir -p "$out"
. "$here/run_yaml.sh"
/usr/bin/python3 "$here/split_time.py" "$data" "$out/data"

config() { # seed
  seq_yaml "$out/din-$1.yaml" "$out" "$here/ml100k_history.yaml" "$out/cache" "$1" "$epochs" "$threads" "  name: din
  embedding_dim: 8
  dnn_hidden_units: [256, 128, 64]
  attention_hidden_units: [80, 40]
  attention_hidden_activations: dice
  din_use_softmax: false"
}

config "${seeds%% *}"
"$ctr" data prepare --config "$out/din-${seeds%% *}.yaml" --json > "$out/prepare.json"
/usr/bin/python3 "$here/ref_din.py" --data "$out/data" --check-history "$out/cache"

seed_runs() { # seed: the BASE build when given, ours, then each reference variant
  config "$1"
  if [ -n "${BASE:-}" ]; then
    rm -rf "$out/runs/base-$1"
    "$BASE" train --config "$out/din-$1.yaml" --out "$out/runs/base-$1" --json > "$out/base-$1.json"
  fi
  rm -rf "$out/runs/ours-$1"
  "$ctr" train --config "$out/din-$1.yaml" --out "$out/runs/ours-$1" --json > "$out/ours-$1.json"
  for adam in $adams; do
    /usr/bin/python3 "$here/ref_din.py" --data "$out/data" --seed "$1" --adam "$adam" --threads "$threads" --epochs "$epochs" > "$out/ref-$adam-$1.json"
  done
  echo "seed $1 done:$(uptime | sed 's/.*,  load/ load/')"
}
# JOBS lanes (default 1) run seeds at once, each lane still alternating ours and the reference: for the quality
# figures on a machine others load anyway; the speeds are then measured under each other's load too.
for seed in $seeds; do
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-1}" ]; do wait -n; done
  seed_runs "$seed" &
done
while [ -n "$(jobs -rp)" ]; do wait -n; done
/usr/bin/python3 "$here/report.py" "$out" "$seeds" "$adams" | tee "$out/report.md"
