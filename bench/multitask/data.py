#!/usr/bin/python3
"""Synthetic click-and-conversion data with known probabilities, in the spirit of ../../shared/bench/ref/data.py.

Every row has 8 categorical fields C1..C8 (ids written as short hex strings, Zipf-distributed per field). Two logits
share part of their first-order weights (so the tasks are related but not the same) and each has a planted
pairwise interaction:
  z_ctr(x) = b_ctr + sum_f u_f[C_f] + T_ctr[C1, C2]
  z_cvr(x) = b_cvr + sum_f (rho * u_f[C_f] + sqrt(1 - rho^2) * v_f[C_f]) + T_cvr[C3, C4]
  click ~ Bernoulli(sigmoid(z_ctr)),  conversion ~ click * Bernoulli(sigmoid(z_cvr))
so pCTR = sigmoid(z_ctr), pCVR = sigmoid(z_cvr) (given a click) and pCTCVR = pCTR * pCVR are known exactly; they are
written beside each split (truth_*.csv) so the Bayes-optimal AUC of each task can be measured.

Usage: /usr/bin/python3 data.py --out DIR [--train-rows N] [--test-rows M] [--seed S]
Writes DIR/train.csv, valid.csv, test.csv (header: click,conversion,C1..C8) and truth_{split}.csv (pctr,pcvr).
"""
import argparse
import os

import numpy as np

FIELDS = 8
CARDINALITY = [40, 60, 80, 120, 200, 300, 500, 1000]
RHO = 0.6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def truth(seed):
    rng = np.random.default_rng(seed)
    u = [rng.normal(0, 0.45, c) for c in CARDINALITY]
    v = [rng.normal(0, 0.45, c) for c in CARDINALITY]
    t_ctr = rng.normal(0, 0.8, (CARDINALITY[0], CARDINALITY[1]))
    t_cvr = rng.normal(0, 0.8, (CARDINALITY[2], CARDINALITY[3]))
    zipf = [1.0 / np.arange(1, c + 1) ** 1.1 for c in CARDINALITY]
    return u, v, t_ctr, t_cvr, [z / z.sum() for z in zipf]


def rows(n, seed, model):
    u, v, t_ctr, t_cvr, freq = model
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.choice(c, size=n, p=freq[f]) for f, c in enumerate(CARDINALITY)], axis=1)
    z_ctr = -1.2 + sum(u[f][ids[:, f]] for f in range(FIELDS)) + t_ctr[ids[:, 0], ids[:, 1]]
    z_cvr = -0.8 + sum(RHO * u[f][ids[:, f]] + np.sqrt(1 - RHO**2) * v[f][ids[:, f]] for f in range(FIELDS)) + t_cvr[ids[:, 2], ids[:, 3]]
    pctr, pcvr = sigmoid(z_ctr), sigmoid(z_cvr)
    click = (rng.random(n) < pctr).astype(int)
    conversion = click * (rng.random(n) < pcvr).astype(int)
    return ids, click, conversion, pctr, pcvr


def write(path, truth_path, data):
    ids, click, conversion, pctr, pcvr = data
    with open(path + ".tmp", "w") as f:
        f.write("click,conversion," + ",".join(f"C{i + 1}" for i in range(FIELDS)) + "\n")
        for r in range(len(click)):
            f.write(f"{click[r]},{conversion[r]}," + ",".join(f"{f_ + 1:x}{ids[r, f_]:04x}" for f_ in range(FIELDS)) + "\n")
    os.replace(path + ".tmp", path)
    with open(truth_path + ".tmp", "w") as f:
        f.write("pctr,pcvr\n")
        for r in range(len(click)):
            f.write(f"{pctr[r]:.9g},{pcvr[r]:.9g}\n")
    os.replace(truth_path + ".tmp", truth_path)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--out", required=True)
    a.add_argument("--train-rows", type=int, default=400_000)
    a.add_argument("--test-rows", type=int, default=100_000)
    a.add_argument("--seed", type=int, default=20261203)
    args = a.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model = truth(args.seed)
    for k, (split, n) in enumerate([("train", args.train_rows), ("valid", args.test_rows), ("test", args.test_rows)]):
        write(os.path.join(args.out, f"{split}.csv"), os.path.join(args.out, f"truth_{split}.csv"), rows(n, args.seed + 1 + k, model))


if __name__ == "__main__":
    main()
