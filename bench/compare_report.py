"""Prints the side-by-side tables of bench/compare.sh from its output folder: ours (ctr data prepare / ctr train
--json, /usr/bin/time) against the PyTorch reference (bench.py's results JSON), with the ratios ours / PyTorch, and the
share of the MLP's GEMM-bound ceiling each run reaches."""
import json
import os
import sys

out, models = sys.argv[1], sys.argv[2:]
ref = json.load(open(os.path.join(out, "ref.json")))["models"]

# Width of each model's MLP input (400-400-400-1 after it), for the GEMM-bound ceiling: training costs 3x the forward
# FLOPs (forward, dX, dW).
MLP_INPUT = {"deepfm": 390, "widedeep": 390, "deepfefm": 390 + 741, "fgcnn": 1410 + 9870}


# FGCNN's step also runs GEMM-shaped work outside the MLP, per trained sample (docs/benchmarks.md, "Where an FGCNN
# step goes"): the recombination layers 3 x 2 x (2,660·570 + 1,440·270 + 720·120 + 400·60) and the field convolutions
# 3 x 2 x 618,380 MACs. Counting only the MLP, a perfect FGCNN reaches 29.0 / 44.8 = 64.7 % of the ceiling; the last
# column of the first table counts both.
OTHER_FLOPS = {"fgcnn": 3 * 2 * (2660 * 570 + 1440 * 270 + 720 * 120 + 400 * 60) + 3 * 2 * 618380}


def mlp_flops_per_sample(m):
    i = MLP_INPUT[m]
    return 3 * 2 * (i * 400 + 400 * 400 + 400 * 400 + 400)


# The GEMM ceiling: in each of compare.sh's readings of `ctr bench gemm` (gemm-1.json …, before, between and after our
# models), the mean rate of the three 400-wide training shapes (forward NN, backward NT and TN) at the machine's thread
# count, which a training step uses in equal FLOPs; OpenBLAS's mean on the same shapes in the same reading beside it.
# The shares are taken against the best reading: a ceiling is the best rate the GEMM reaches, and a reading taken while
# the VM ran slow would otherwise make a model look faster than the GEMM itself.
def reading(path):
    rows = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    shapes = [r for r in rows if r["k"] in (400, 4096) and r["n"] == 400 and r["m"] in (400, 4096)
              and (r["m"], r["k"]) != (400, 400)]
    if not shapes:
        return None
    threads = max(r["threads"] for r in shapes)
    shapes = [r for r in shapes if r["threads"] == threads]
    blas = [r["openblas_gflops"] for r in shapes if r["openblas_gflops"] is not None]
    return threads, sum(r["ours_gflops"] for r in shapes) / len(shapes), sum(blas) / len(blas) if blas else None


def reading_number(name):
    return int(name[len("gemm-"):-len(".json")])


files = sorted((f for f in os.listdir(out) if f.startswith("gemm-") and f.endswith(".json")), key=reading_number)
taken = [(reading_number(f), reading(os.path.join(out, f))) for f in files]
readings = [(i, r) for i, r in taken if r is not None]
if not readings:
    sys.exit("compare_report: no GEMM reading (gemm-N.json) in " + out)


def when(i):
    return f"before {models[0]}" if i == 1 else f"after {models[i - 2]}" if i > len(models) else f"between {models[i - 2]} and {models[i - 1]}"


threads = readings[0][1][0]
ours_rates = [r[1] for _, r in readings]
gemm = max(ours_rates)
print(f"GEMM ceiling (ctr bench gemm, {threads} threads, mean of NN/NT/TN 4096x400x400), best of {len(readings)} "
      f"readings: {gemm:.1f} GFLOP/s (readings {min(ours_rates):.1f}–{gemm:.1f}, best / worst "
      f"{gemm / min(ours_rates):.2f}x)\n")
print("| reading | when | ours GFLOP/s | OpenBLAS GFLOP/s | ours / OpenBLAS |")
print("|---|---|---|---|---|")
for i, r in taken:
    if r is None:
        print(f"| {i} | {when(i)} | failed | — | — |")
        continue
    _, ours, blas = r
    theirs = f"{blas:.1f} | {ours / blas:.2f}x" if blas else "— | —"
    print(f"| {i} | {when(i)} | {ours:.1f} | {theirs} |")
print()
print("| model | rows | ours samples/s steady (whole epoch) | PyTorch steady (whole epoch) | ratio steady | "
      "MLP GFLOP/s ours | share of GEMM ceiling | ours AUC / logloss | PyTorch AUC / logloss | share counting all GEMM FLOPs |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    o = json.load(open(os.path.join(out, f"ours-{m}.json")))
    r = ref[m]
    t = o["throughput"]
    test = o["metrics"]["test"]
    # Whole epoch: training rows over the epoch's training time, first steps included, as bench.py's train_s
    # (not train_samples_per_second_run, whose clock also covers start-up and scoring the test split).
    steady, whole = t["train_samples_per_second_steady"], t["train_rows"] / t["train_seconds"]
    r_whole = r["train_samples_per_s"]
    r_steady = r["train_samples_per_s_steady"] or r_whole  # too few batches for a steady rate (a quick ROWS=...)
    mlp = mlp_flops_per_sample(m) * steady / 1e9
    every = f"{(mlp + OTHER_FLOPS[m] * steady / 1e9) / gemm:.0%}" if m in OTHER_FLOPS else "—"
    print(f"| {m} | {t['train_rows']:,} | {steady:,.0f} ({whole:,.0f}) | {r_steady:,.0f} ({r_whole:,.0f}) | "
          f"{steady / r_steady:.2f}x | {mlp:.1f} | {mlp / gemm:.0%} | {test['auc']:.5f} / {test['logloss']:.5f} | "
          f"{r['test_auc']:.5f} / {r['test_logloss']:.5f} | {every} |")

print()
print("| model | ours parse s (first run) | ours cache load s | PyTorch load s | ours peak RSS training MB | "
      "PyTorch peak RSS training MB | ratio | ours peak RSS process MB | PyTorch peak RSS process MB | ratio |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    o = json.load(open(os.path.join(out, f"ours-{m}.json")))
    d = json.load(open(os.path.join(out, f"ours-{m}-data.json")))
    r = ref[m]
    mem = o.get("memory", {})
    train_rss = mem.get("peak_rss_train_mb") or float("nan")
    time_rss = int(open(os.path.join(out, f"ours-{m}.rss")).read().split()[-1]) / 1024.0
    proc_rss = max(mem.get("peak_rss_process_mb") or 0.0, time_rss)
    r_train, r_proc = r.get("peak_rss_train_mb", float("nan")), r.get("peak_rss_process_mb", float("nan"))
    print(f"| {m} | {d['seconds']:.1f} | {o['throughput']['data_seconds']:.1f} | {r['load_s']:.1f} | {train_rss:,.0f} | "
          f"{r_train:,.0f} | {train_rss / r_train:.2f}x | {proc_rss:,.0f} | {r_proc:,.0f} | {proc_rss / r_proc:.2f}x |")

# libtorch 2.10 running our compiled graph (--device torch), when compare.sh ran it (TORCH=1).
torch_runs = [m for m in models if os.path.exists(os.path.join(out, f"torch-{m}.json"))]
if torch_runs:
    print()
    print("| model | libtorch (our graph) samples/s steady (whole epoch) | ours / libtorch | libtorch / PyTorch | "
          "share of GEMM ceiling | libtorch AUC / logloss | libtorch peak RSS process MB |")
    print("|---|---|---|---|---|---|---|")
    for m in torch_runs:
        o = json.load(open(os.path.join(out, f"ours-{m}.json")))["throughput"]["train_samples_per_second_steady"]
        j = json.load(open(os.path.join(out, f"torch-{m}.json")))
        t, test = j["throughput"], j["metrics"]["test"]
        steady, whole = t["train_samples_per_second_steady"], t["train_rows"] / t["train_seconds"]
        rss = int(open(os.path.join(out, f"torch-{m}.rss")).read().split()[-1]) / 1024.0
        mlp = mlp_flops_per_sample(m) * steady / 1e9
        print(f"| {m} | {steady:,.0f} ({whole:,.0f}) | {o / steady:.2f}x | {steady / (ref[m]['train_samples_per_s_steady'] or ref[m]['train_samples_per_s']):.2f}x | "
              f"{mlp / gemm:.0%} | {test['auc']:.5f} / {test['logloss']:.5f} | {rss:,.0f} |")
