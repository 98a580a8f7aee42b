#!/usr/bin/env bash
# In-process single-row latency of DeepFM, built from BASE (old) and from this tree (new), in turns: each round runs
# `ModelBench latency deepfm` (1 and 2 threads, plain and packed weights, and the packed plan by op) and then
# `ctr bench score --model deepfm --rows 8192 --calls 20000 --threads 1`, old then new, each a process of its own.
# The CPU and the load average are printed with every run: the < 100 µs p99 target is judged on a quiet machine only.
#
#   bench/latency/pair.sh [BASE] [ROUNDS]       e.g. bench/latency/pair.sh d876981 2
#
# BASE is built once from `git archive` under /tmp/lat3-old-BASE (no worktree: nothing in .git changes).
set -euo pipefail
base=${1:-d876981}
rounds=${2:-2}
. "$(dirname "$0")/../old-and-new.sh" lat3-old "$base" "src/Cli bench/ModelBench" "src/Cli bench/ModelBench"

for round in $(seq "$rounds"); do
    for side in old new; do
        dir=$root
        [ "$side" = old ] && dir=$old
        echo "## round $round, $side: ModelBench latency deepfm (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        timeout 600 dotnet "$dir/bench/ModelBench/$bin/ModelBench.dll" latency deepfm
    done
    for side in old new; do
        dir=$root
        [ "$side" = old ] && dir=$old
        echo "## round $round, $side: ctr bench score --model deepfm --rows 8192 --calls 20000 --threads 1 (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        timeout 600 dotnet "$dir/src/Cli/$bin/ctr.dll" bench score --model deepfm --rows 8192 --calls 20000 --threads 1
    done
done
