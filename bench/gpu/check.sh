#!/usr/bin/env bash
# The prepared check for a bare NVIDIA machine (docs/gpu.md, "A prepared check for an NVIDIA machine"): drivers,
# CUDA and PyTorch in a Python venv, but no .NET and no network. Run it from the folder bench/gpu/pack.sh wrote:
#
#   bash check.sh                              # WORK=/tmp/… for the unpacked files, PYTHON=/path/venv/bin/python
#
# It unpacks the self-contained ctr, CLBlast and the synthetic Criteo-shaped data, then runs what can run there:
# DeepFM for one epoch with ctr on the CPU and on each OpenCL GPU (NVIDIA's OpenCL driver), and the PyTorch reference's
# DeepFM on CUDA and on the CPU. Every step has a time limit inside one budget (BUDGET_S, 540 s), a step that fails or
# cannot run is a row that says why, and the script ends with one table. Exit 0 when it ran to the end.
#   OPENCL_TYPES="GPU CPU"  also trains on OpenCL CPU devices (PoCL), for testing the script without a GPU.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/ctrdsl-gpu-check.XXXXXX")}
budget=${BUDGET_S:-540}
opencl_types=${OPENCL_TYPES:-GPU}
start=$(date +%s)
mkdir -p "$work"
table="$work/table.tsv"
: > "$table"
export HOME=${HOME:-$work} DOTNET_CLI_TELEMETRY_OPTOUT=1

# row STEP ENGINE DEVICE STATUS SAMPLES_PER_S TEST_AUC SECONDS NOTE
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$table"; }
elapsed() { echo $(($(date +%s) - start)); }

# run NAME LIMIT CMD…: CMD with stdout in $work/NAME.out and stderr in $work/NAME.err, killed after
# min(LIMIT, what is left of the budget) seconds; sets $rc (124 timed out, 125 no time left) and $secs.
run() {
  local name=$1 limit=$2 left s
  shift 2
  left=$((budget - $(elapsed)))
  [ "$left" -lt "$limit" ] && limit=$left
  secs=0
  if [ "$limit" -lt 10 ]; then
    rc=125
    echo "== $name: not started, the ${budget} s budget is spent"
    return
  fi
  echo "== $name (limit ${limit} s): $*"
  s=$(date +%s)
  timeout -k 10 "$limit" "$@" > "$work/$name.out" 2> "$work/$name.err" < /dev/null
  rc=$?
  secs=$(($(date +%s) - s))
  echo "   exit $rc after ${secs} s"
  [ "$rc" -ne 0 ] && tail -n 3 "$work/$name.err" | sed 's/^/   | /'
}

# why: one line for a failed step (its last stderr line, or the time limit).
why() {
  case $rc in
    124 | 137) echo "killed at its time limit" ;;
    125) echo "not started: time budget spent" ;;
    *) tail -n 1 "$work/$1.err" | tr '\t' ' ' | cut -c1-160 ;;
  esac
}

# failed: the status of a step that did not succeed.
failed() {
  case $rc in
    124 | 137) echo "timed out" ;;
    125) echo "not run" ;;
    *) echo failed ;;
  esac
}

num() { grep -o "\"$2\": *[-0-9.eE+]*" "$1" | head -n 1 | cut -d: -f2 | tr -d ' '; }
fmt() { [ -n "$1" ] && awk -v x="$1" -v d="$2" 'BEGIN { printf "%.*f", d, x }'; }
echo "# CtrDsl GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), work folder $work"
echo "host: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(nproc) cores; $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(ldd --version 2> /dev/null | head -n 1)"
if command -v nvidia-smi > /dev/null; then
  echo "gpu: $(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 4 | tr '\n' ';')"
  echo "cuda (driver): $(timeout 30 nvidia-smi 2> /dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1)"
else
  echo "gpu: nvidia-smi not found"
fi
echo "dotnet on PATH: $(command -v dotnet || echo none) (ctr is self-contained and does not use it)"

# The venv's Python with torch: $PYTHON, python3 on PATH, $VIRTUAL_ENV, then the usual venv places; the first whose
# torch sees CUDA, else the first that has torch.
py=""
for p in ${PYTHON:-} ${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python} $(command -v python3 python 2> /dev/null) \
  /opt/*/bin/python3 /opt/*/*/bin/python3 /root/*/bin/python3 /root/.*/bin/python3 /home/*/*/bin/python3 \
  /workspace/*/bin/python3 /venv/bin/python3 /usr/local/bin/python3 /usr/bin/python3; do
  [ -x "$p" ] || continue
  cuda=$(timeout 60 "$p" -c 'import torch; print(torch.cuda.is_available())' 2> /dev/null)
  [ "$cuda" = True ] && py=$p && break
  [ "$cuda" = False ] && [ -z "$py" ] && py=$p
done
echo "python with torch: ${py:-none found (set PYTHON=/path/to/venv/bin/python)}"

# 1. Unpack, with tar's xz, or Python's lzma where there is no xz.
unpack() { # unpack ARCHIVE DIR
  mkdir -p "$work/$2"
  if command -v xz > /dev/null; then
    run "unpack-$2" 120 tar -xJf "$here/$1" -C "$work/$2"
  else
    run "unpack-$2" 120 "${py:-python3}" -c 'import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])' "$here/$1" "$work/$2"
  fi
  if [ "$rc" -ne 0 ]; then
    row "unpack $1" - - "$(failed)" "" "" "$secs" "$(why "unpack-$2")"
  else
    row "unpack $1" - - ran "" "" "$secs" "$(du -sh "$work/$2" | cut -f1) in $work/$2"
  fi
}
unpack ctr-linux-x64.tar.xz ctr
unpack data.tar.xz data
unpack opencl-libs.tar.xz lib
ctr="$work/ctr/ctr"
train=$(ls "$work"/data/train_*.tsv 2> /dev/null | head -n 1)
test=$(ls "$work"/data/test_*.tsv 2> /dev/null | head -n 1)

# 2. OpenCL: CLBlast from the payload; the ICD loader from the payload only when the system has none; NVIDIA's ICD
# named by a vendors folder of our own when the driver's library is there but /etc/OpenCL/vendors does not list it.
ldcache() { for l in ldconfig /sbin/ldconfig /usr/sbin/ldconfig; do "$l" -p 2> /dev/null && return; done; }
export LD_LIBRARY_PATH="$work/lib/clblast${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! ldcache | grep -q 'libOpenCL\.so\.1 '; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$work/lib/icd-loader"
  echo "opencl: no system libOpenCL.so.1, using the shipped ICD loader (ocl-icd)"
fi
nvcl=$(ldcache | grep -o '/[^ ]*libnvidia-opencl\.so\.1$' | head -n 1)
[ -z "$nvcl" ] && nvcl=$(ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/lib64/libnvidia-opencl.so.1 /usr/local/nvidia/lib64/libnvidia-opencl.so.1 2> /dev/null | head -n 1)
if [ -n "$nvcl" ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
  mkdir -p "$work/vendors"
  cp /etc/OpenCL/vendors/*.icd "$work/vendors/" 2> /dev/null
  echo "$nvcl" > "$work/vendors/nvidia.icd"
  export OCL_ICD_VENDORS="$work/vendors"
  echo "opencl: /etc/OpenCL/vendors does not list NVIDIA's ICD; using $nvcl through OCL_ICD_VENDORS"
fi
echo "opencl: NVIDIA ICD library ${nvcl:-not found}; vendors: $(cat /etc/OpenCL/vendors/*.icd 2> /dev/null | tr '\n' ' ')"

# 3. ctr itself and its devices.
run version 60 "$ctr" --version
if [ "$rc" -ne 0 ]; then
  row ctr ctr - "$(failed)" "" "" "$secs" "$(why version)"
else
  row ctr ctr - ran "" "" "$secs" "$(cat "$work/version.out")"
fi
run devices 120 "$ctr" devices --json
timeout 60 "$ctr" devices > "$work/devices.txt" 2>&1
sed 's/^/   /' "$work/devices.txt"
opencl=$(grep -o '"device":"opencl:[0-9]*","platform":"[^"]*","name":"[^"]*","type":"[A-Za-z]*"' "$work/devices.out" 2> /dev/null)
if [ -z "$opencl" ]; then
  row devices ctr opencl "not run" "" "" "$secs" "no OpenCL device (NVIDIA's libnvidia-opencl.so.1 ${nvcl:-not found}): $(grep -m1 -o 'no OpenCL.*' "$work/devices.txt" | cut -c1-100)"
fi

# 4. DeepFM, one epoch, batch 4096, Adam 1e-3 (the reference's setting), parsed once into a shared cache.
cat > "$work/deepfm.yaml" << YAML
dataset:
  train: $train
  test: $test
  format: criteo
  schema: $work/ctr/schemas/criteo_synthetic.yaml
  cache_dir: $work/cache
model:
  name: deepfm
  embedding_dim: 10
training:
  epochs: 1
  batch_size: 4096
  eval_batch_size: 16384
  optimizer: adam
  learning_rate: 0.001
  shuffle: false
  patience: 0
  reduce_lr_patience: 0
YAML
run prepare 120 "$ctr" data prepare --config "$work/deepfm.yaml" --json
[ "$rc" -ne 0 ] && row "data prepare" ctr cpu "$(failed)" "" "" "$secs" "$(why prepare)"
[ "$rc" -eq 0 ] && row "data prepare" ctr cpu ran "" "" "$secs" "$(wc -l < "$train") train rows, $(wc -l < "$test") test rows"

# train NAME DEVICE LIMIT: one ctr training run and its row.
train_ctr() {
  run "$1" "$3" "$ctr" train --config "$work/deepfm.yaml" --device "$2" --out "$work/run-$1" --json
  if [ "$rc" -eq 0 ]; then
    auc=$(grep -o '"test":{"count":[0-9]*,"auc":[-0-9.eE+]*' "$work/$1.out" | cut -d: -f4)
    row "$1" ctr "$2" ran "$(fmt "$(num "$work/$1.out" train_samples_per_second_steady)" 0)" "$(fmt "$auc" 5)" "$secs" \
      "run $(fmt "$(num "$work/$1.out" train_samples_per_second_run)" 0) samples/s, train $(fmt "$(num "$work/$1.out" train_seconds)" 1) s"
  else
    row "$1" ctr "$2" "$(failed)" "" "" "$secs" "$(why "$1")"
  fi
}
train_ctr "deepfm-cpu" cpu 150
while IFS= read -r d; do
  [ -n "$d" ] || continue
  dev=$(echo "$d" | grep -o 'opencl:[0-9]*')
  type=$(echo "$d" | grep -o '"type":"[A-Za-z]*"' | cut -d'"' -f4)
  name=$(echo "$d" | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
  if [[ " $opencl_types " == *" $type "* ]]; then
    train_ctr "deepfm-${dev/:/}" "$dev" 240
  else
    row "deepfm-${dev/:/}" ctr "$dev" "not run" "" "" 0 "$type device $name (OPENCL_TYPES=\"$opencl_types\")"
  fi
done <<< "$opencl"

# 5. The PyTorch reference's DeepFM (models.py) on CUDA, then on the CPU.
ref_torch() {
  run "$1" "$3" "$py" "$here/torch_ref.py" --train "$train" --test "$test" --device "$2"
  if [ "$rc" -eq 0 ]; then
    row "$1" "pytorch $(grep -o '"torch": "[^"]*"' "$work/$1.out" | cut -d'"' -f4)" "$2" ran \
      "$(fmt "$(num "$work/$1.out" train_samples_per_s_steady)" 0)" "$(fmt "$(num "$work/$1.out" test_auc)" 5)" "$secs" \
      "$(grep -o '"device_name": "[^"]*"' "$work/$1.out" | cut -d'"' -f4); run $(fmt "$(num "$work/$1.out" train_samples_per_s)" 0) samples/s"
  else
    row "$1" pytorch "$2" "$(failed)" "" "" "$secs" "$(why "$1")"
  fi
}
if [ -z "$py" ]; then
  row "ref-cuda" pytorch cuda "not run" "" "" 0 "no Python with torch found (set PYTHON)"
else
  run cuda 60 "$py" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.device_count())'
  echo "   torch, its CUDA, CUDA available, devices: $(cat "$work/cuda.out")"
  if [ "$rc" -ne 0 ]; then
    row ref-cuda pytorch cuda "$(failed)" "" "" "$secs" "the CUDA probe: $(why cuda)"
  elif grep -q ' True ' "$work/cuda.out"; then
    ref_torch ref-cuda cuda 150
  else
    row ref-cuda pytorch cuda "not run" "" "" "$secs" "torch.cuda.is_available() is False: $(cat "$work/cuda.out" "$work/cuda.err" | tail -n 1 | cut -c1-100)"
  fi
  ref_torch ref-cpu cpu 150
fi

# 6. The table.
echo
echo "# Result ($(elapsed) s in all; samples/s is the steady training rate after the first steps, AUC on the test file)"
{
  printf 'step\tengine\tdevice\tstatus\tsamples/s\ttest AUC\ts\tnote\n'
  cat "$table"
} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
  END { for (r = 1; r <= n; r++) { line = ""; for (i = 1; i <= 8; i++) line = line (i < 8 ? sprintf("%-" w[i] "s  ", c[r, i]) : c[r, i]); print line } }'
[ -f "$work/data/bayes_auc.txt" ] && echo "Bayes-optimal test AUC of this data (data.py's ground truth): $(cat "$work/data/bayes_auc.txt")"
echo "Logs: $work/*.out, $work/*.err"
exit 0
