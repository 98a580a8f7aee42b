#!/usr/bin/env bash
# The whole serving table of docs/serving.md in one go: `ctr serve` built from BASE (old) and from this tree (new),
# each started as a process of its own on a free loopback port, take turns for ROUNDS rounds under the same ServeLoad
# (this tree's: the lean raw-socket client and HttpClient, 1/4/16/64 clients x single rows/batches of 64, GET /health,
# and the 10 % malformed soak, every answer checked against `ctr predict`). Then the in-process latency: `ctr bench
# score` and `ModelBench latency deepfm` (1 and 2 threads). Every step is bounded in time.
#
#   bench/ServeLoad/run.sh RUN [BASE] [ROUNDS] [SECONDS]      e.g. bench/ServeLoad/run.sh /tmp/h17lat-run d876981 2 3
#
# BASE is built once from `git archive` under /tmp (no worktree: nothing in .git changes). The load average is
# printed with every row: the latency targets are judged only on a quiet machine.
set -euo pipefail
run=${1:?usage: bench/ServeLoad/run.sh RUN [BASE] [ROUNDS] [SECONDS]}
base=${2:-d876981}
rounds=${3:-2}
seconds=${4:-3}
. "$(dirname "$0")/../old-and-new.sh" ctr-serveload "$base" "src/Cli bench/ServeLoad bench/ModelBench" "src/Cli"

# serve NAME CTR_DLL: starts `ctr serve` on a free loopback port, runs ServeLoad against it, stops it with SIGTERM.
serve() {
    local name=$1 dll=$2 log
    log=$(mktemp)
    dotnet "$dll" serve "$run" --port 0 --workers "$(nproc)" --no-watch > "$log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do grep -q '^serving' "$log" && break; sleep 0.1; done
    local url
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)
    if [ -z "$url" ]; then cat "$log"; kill -TERM "$pid"; return 1; fi
    echo
    echo "## $name server ($dll), round $round"
    timeout 900 dotnet "$root/bench/ServeLoad/$bin/ServeLoad.dll" "$run" --url "$url" --server-pid "$pid" --seconds "$seconds"
    kill -TERM "$pid"
    wait "$pid" || true
    rm -f "$log"
}

for round in $(seq "$rounds"); do
    # Old first in odd rounds, new first in even ones: a drift of the machine's load falls on both.
    if [ $((round % 2)) = 1 ]; then order="old new"; else order="new old"; fi
    for which in $order; do
        if [ "$which" = old ]; then serve old "$old/src/Cli/$bin/ctr.dll"; else serve new "$root/src/Cli/$bin/ctr.dll"; fi
    done
done

echo
echo "## in process (this tree), load average $(cut -d' ' -f1 /proc/loadavg)"
echo '$ ctr bench score --model deepfm --rows 8192 --calls 20000 --threads 1'
timeout 600 dotnet "$root/src/Cli/$bin/ctr.dll" bench score --model deepfm --rows 8192 --calls 20000 --threads 1
echo '$ ModelBench latency deepfm'
timeout 600 dotnet "$root/bench/ModelBench/$bin/ModelBench.dll" latency deepfm
