#!/usr/bin/env bash
# Builds the payload of bench/gpu/check.sh for a bare NVIDIA machine (no .NET, no network, at most 64 MiB in all):
#
#   bash bench/gpu/pack.sh [OUT]           # default OUT=/tmp/ctrdsl-gpu-check; also writes OUT.tar
#   ROWS=400000 TEST_ROWS=50000            # the synthetic data's size (defaults)
#   DATA_DIR=/tmp/refout                   # reuse train_ROWS.tsv and test_TEST_ROWS.tsv that data.py wrote there
#   TRIM=partial                           # trim the framework's assemblies only (29 -> 11 MB compressed)
#
# OUT holds check.sh, torch_ref.py and the reference's models.py, and three xz archives: ctr-linux-x64.tar.xz (ctr
# published self-contained for linux-x64; untrimmed by default, because full trimming breaks Argu's reflection and a
# partial trim is not what the tests ran, docs/gpu.md),
# opencl-libs.tar.xz (CLBlast and the ocl-icd loader from this machine's Debian packages libclblast1 and
# ocl-icd-libopencl1) and data.tar.xz (the reference's synthetic Criteo-shaped data, written here by its data.py:
# the GPU machine's venv may lack numpy, and generating there would cost its time). Needs dotnet, xz,
# /usr/bin/python3 with numpy, and ../shared/bench/ref. Fails when the payload exceeds 64 MiB.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ref=$(cd "$root/../shared/bench/ref" 2> /dev/null && pwd) || { echo "pack: ../shared/bench/ref not found" >&2; exit 2; }
out=${1:-/tmp/ctrdsl-gpu-check}
rows=${ROWS:-400000}
test_rows=${TEST_ROWS:-50000}
limit=$((64 * 1024 * 1024))
stage=$(mktemp -d "${TMPDIR:-/tmp}/ctrdsl-gpu-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rm -rf "$out" "$out.tar"
mkdir -p "$out"

echo "pack: publishing ctr (linux-x64, self-contained)"
trim=()
# Partial: only assemblies marked trimmable (the framework's); ours, FSharp.Core's reflection users and Argu stay whole.
[ "${TRIM:-none}" = partial ] && trim=(-p:PublishTrimmed=true -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true -p:TreatWarningsAsErrors=false)
dotnet publish "$root/src/Cli" -c Release -r linux-x64 --self-contained "${trim[@]}" -o "$stage/ctr" -nologo -v quiet > "$stage/publish.log" \
  || { cat "$stage/publish.log" >&2; exit 1; }
# The published binary must run without the SDK before it is shipped.
env -i PATH=/nonexistent "$stage/ctr/ctr" --version > /dev/null
tar -C "$stage/ctr" -cf - . | xz -6 -T0 > "$out/ctr-linux-x64.tar.xz"

echo "pack: CLBlast and the OpenCL ICD loader"
lib() { { ldconfig -p || /sbin/ldconfig -p; } 2> /dev/null | grep -o "/[^ ]*/$1\$" | head -n 1; }
blast=$(lib libclblast.so.1) || true
loader=$(lib libOpenCL.so.1) || true
[ -n "$blast" ] && [ -n "$loader" ] || { echo "pack: apt-get install libclblast1 ocl-icd-libopencl1" >&2; exit 2; }
mkdir -p "$stage/lib/clblast" "$stage/lib/icd-loader"
cp -L "$blast" "$stage/lib/clblast/libclblast.so.1"
cp -L "$loader" "$stage/lib/icd-loader/libOpenCL.so.1"
tar -C "$stage/lib" -cf - . | xz -9 > "$out/opencl-libs.tar.xz"

echo "pack: synthetic data, $rows train and $test_rows test rows"
mkdir -p "$stage/data"
if [ -n "${DATA_DIR:-}" ]; then
  cp "$DATA_DIR/train_$rows.tsv" "$DATA_DIR/test_$test_rows.tsv" "$DATA_DIR/data_meta_${rows}_$test_rows.json" "$stage/data/"
else
  (cd "$ref" && /usr/bin/python3 data.py --train-rows "$rows" --test-rows "$test_rows" --out "$stage/data" > /dev/null)
fi
/usr/bin/python3 -c 'import json, sys; print("%.5f" % json.load(open(sys.argv[1]))["test_bayes_optimal"]["auc"])' \
  "$stage/data/data_meta_${rows}_$test_rows.json" > "$stage/data/bayes_auc.txt"
tar -C "$stage/data" -cf - "train_$rows.tsv" "test_$test_rows.tsv" bayes_auc.txt | xz -6 -T0 > "$out/data.tar.xz"

cp "$here/check.sh" "$here/torch_ref.py" "$ref/models.py" "$out/"
tar -C "$(dirname "$out")" -cf "$out.tar" "$(basename "$out")"
size=$(stat -c %s "$out.tar")
ls -l "$out" | tail -n +2 | awk '{ printf "  %10d  %s\n", $5, $9 }'
echo "pack: $out.tar, $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB of the 64 MiB allowed)"
[ "$size" -le "$limit" ] || { echo "pack: the payload exceeds 64 MiB; lower ROWS" >&2; exit 1; }
