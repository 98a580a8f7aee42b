"""Prints the side-by-side table of bench/compare.sh from its output folder: ours (ctr train --json, /usr/bin/time)
against the PyTorch reference (bench.py's results JSON), with the ratios ours / PyTorch."""
import json
import os
import sys

out, models = sys.argv[1], sys.argv[2:]
ref = json.load(open(os.path.join(out, "ref.json")))["models"]
print("| model | rows | ours samples/s steady (whole) | PyTorch steady (whole) | ratio steady | ours load s | PyTorch load s "
      "| ours peak RSS MB | PyTorch peak RSS MB | RSS ratio | ours AUC / logloss | PyTorch AUC / logloss |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    o = json.load(open(os.path.join(out, f"ours-{m}.json")))
    rss = int(open(os.path.join(out, f"ours-{m}.rss")).read().split()[-1]) / 1024.0
    r = ref[m]
    t = o["throughput"]
    test = o["metrics"]["test"]
    steady, whole = t["train_samples_per_second_steady"], t["train_samples_per_second_run"]
    r_steady, r_whole = r["train_samples_per_s_steady"], r["train_samples_per_s"]
    r_rss = r.get("peak_rss_process_mb", float("nan"))
    print(f"| {m} | {t['train_rows']:,} | {steady:,.0f} ({whole:,.0f}) | {r_steady:,.0f} ({r_whole:,.0f}) | "
          f"{steady / r_steady:.2f}x | {t['data_seconds']:.1f} | {r['load_s']:.1f} | {rss:,.0f} | {r_rss:,.0f} | "
          f"{rss / r_rss:.2f}x | {test['auc']:.5f} / {test['logloss']:.5f} | {r['test_auc']:.5f} / {r['test_logloss']:.5f} |")
