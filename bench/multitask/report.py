#!/usr/bin/python3
"""The table of bench/multitask/compare.sh: per model, seed and task, test AUC of ctr and of the PyTorch reference,
their difference, the Bayes-optimal AUC of the known probabilities, and steady training samples/s of each.
Usage: report.py WORK SEED...
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from ref import auc  # noqa: E402

work, seeds = sys.argv[1], sys.argv[2:]
test = np.genfromtxt(f"{work}/test.csv", delimiter=",", names=True, dtype=None, encoding=None)
truth = np.genfromtxt(f"{work}/truth_test.csv", delimiter=",", names=True)
click, conv = test["click"].astype(float), test["conversion"].astype(float)
best = {
    "click": auc(click, truth["pctr"]),
    "conversion": auc(click * conv, truth["pctr"] * truth["pcvr"]),
    "ctr": auc(click, truth["pctr"]),
    "ctcvr": auc(click * conv, truth["pctr"] * truth["pcvr"]),
}
print("| model | seed | task | ctr AUC | PyTorch AUC | difference | Bayes-optimal AUC | ctr samples/s | PyTorch samples/s |")
print("|---|---|---|---|---|---|---|---|---|")
for model in [m for m in ["mmoe", "esmm"] if os.path.exists(f"{work}/ref_{m}_{seeds[0]}.json")]:  # the models run
    for seed in seeds:
        ours = json.load(open(f"{work}/ours_{model}_{seed}.json"))
        ref = json.load(open(f"{work}/ref_{model}_{seed}.json"))
        tasks = ours["metrics"]["test"]["tasks"]
        for r in ref["test"]:
            a = tasks[r["task"]]["auc"]
            print(f"| {model} | {seed} | {r['task']} | {a:.5f} | {r['auc']:.5f} | {a - r['auc']:+.5f} | {best[r['task']]:.5f} "
                  f"| {ours['throughput']['train_samples_per_second_steady']:.0f} | {ref['samples_per_s']:.0f} |")
