#!/bin/bash
# MMoE and ESMM, ctr against the PyTorch reference (bench/multitask/ref.py), on the synthetic click/conversion data of
# bench/multitask/data.py, with the same settings: defaults of each model (k = 8; MMoE 3 experts of 256-128, towers 64;
# ESMM towers 256-128-64), Adam lr 1e-3, batch 512, 2 epochs, shuffled, keep the best validation epoch; THREADS threads
# each (default 1: on a loaded machine OpenBLAS's spinning threads stall PyTorch, so its BLAS gets the same count).
# Runs alternate ours / reference per model and seed, so a load change on the machine hits both.
#   bench/multitask/compare.sh [TRAIN_ROWS] [SEEDS]      (defaults 200000 and "1")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rows=${1:-200000}
seeds=${2:-1}
threads=${THREADS:-1}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
work=${WORK:-/tmp/ctrdsl-multitask}
mkdir -p "$work"
[ -f "$work/test.csv" ] || /usr/bin/python3 "$here/data.py" --out "$work" --train-rows "$rows" --test-rows $((rows / 4))
ctr=${CTR:-$root/src/Cli/bin/Release/net10.0/ctr}
cat > "$work/schema_tasks.yaml" <<'YAML'
format: csv
labels:
  - {name: click, column: click}
  - {name: conversion, column: conversion}
fields:
  - {names: [C1, C2, C3, C4, C5, C6, C7, C8], kind: categorical}
YAML
cat > "$work/schema_esmm.yaml" <<'YAML'
format: csv
labels:
  - {name: ctr, column: click}
  - {name: ctcvr, columns: [click, conversion]}
fields:
  - {names: [C1, C2, C3, C4, C5, C6, C7, C8], kind: categorical}
YAML
for seed in $seeds; do
  for model in ${MODELS:-mmoe esmm}; do
    schema=$work/schema_tasks.yaml; [ "$model" = esmm ] && schema=$work/schema_esmm.yaml
    cat > "$work/$model.yaml" <<YAML
dataset: {train: $work/train.csv, valid: $work/valid.csv, test: $work/test.csv, schema: $schema}
model: {name: $model}
training: {epochs: 2, batch_size: 512, learning_rate: 0.001, optimizer: adam, seed: $seed, threads: $threads}
out: $work/run_${model}_$seed
YAML
    rm -rf "$work/run_${model}_$seed"
    "$ctr" train --config "$work/$model.yaml" --json > "$work/ours_${model}_$seed.json"
    /usr/bin/python3 "$here/ref.py" --data "$work" --model "$model" --seed "$seed" --threads "$threads" > "$work/ref_${model}_$seed.json"
  done
done
/usr/bin/python3 "$here/report.py" "$work" $seeds
