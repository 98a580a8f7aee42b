#!/usr/bin/env python3
"""The PyTorch reference's DeepFM (../shared/bench/ref/models.py, shipped beside this file by pack.sh) for one
epoch on a torch device, for bench/gpu/check.sh. Needs torch only (no numpy, no scikit-learn), because the GPU
machine's venv is only known to have PyTorch.

The preprocessing and the loop follow the reference's bench.py: vocabularies on the train split, a value seen at least
5 times gets its own id in first-appearance order, everything else the field's id 0; dense fields become the tokens
"b" + floor(3·log1p(max(x, 0))), missing ("") an ordinary value; Adam 1e-3, batch 4096, one epoch in file order,
BCE with logits, torch seed 1234, `loss.item()` every step (as the reference does). Prints one JSON object.

    python3 torch_ref.py --train train.tsv --test test.tsv --device cuda [--model deepfm]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

N_DENSE, N_CAT = 13, 26
N_FIELDS = N_DENSE + N_CAT


def dense_token(s):
    return "" if s == "" else "b%d" % int(3.0 * math.log1p(max(int(s), 0)))


def read(path):
    labels, rows = [], []
    with open(path) as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            labels.append(float(parts[0]))
            rows.append([dense_token(s) for s in parts[1:1 + N_DENSE]] + parts[1 + N_DENSE:1 + N_FIELDS])
    return labels, rows


def encode(train, test, min_count=5):
    """Global ids: field f's vocabulary at offset f, id 0 of each field for rare and unseen values."""
    counts = [{} for _ in range(N_FIELDS)]
    for r in train:
        for f, v in enumerate(r):
            counts[f][v] = counts[f].get(v, 0) + 1
    vocab, offsets, offset = [], [], 0
    for f in range(N_FIELDS):
        ids = {}
        for v, c in counts[f].items():          # dicts keep insertion order: first appearance
            if c >= min_count:
                ids[v] = len(ids) + 1
        vocab.append(ids)
        offsets.append(offset)
        offset += len(ids) + 1
    enc = lambda rows: torch.tensor(  # noqa: E731
        [[offsets[f] + vocab[f].get(v, 0) for f, v in enumerate(r)] for r in rows], dtype=torch.int64)
    return enc(train), enc(test), offset


def auc(p, y):
    """Mann-Whitney AUC with tied scores sharing their average rank."""
    p, y = p.double().cpu(), y.double().cpu()
    order = torch.argsort(p)
    sp = p[order]
    change = torch.ones(len(sp) + 1, dtype=torch.bool)
    change[1:-1] = sp[1:] != sp[:-1]
    bounds = torch.nonzero(change).flatten()
    starts, ends = bounds[:-1], bounds[1:]
    ranks = torch.empty_like(p)
    ranks[order] = torch.repeat_interleave((starts + ends + 1).double() / 2, ends - starts)
    pos = y.sum()
    neg = len(y) - pos
    return float((ranks[y > 0.5].sum() - pos * (pos + 1) / 2) / (pos * neg))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="deepfm")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models as M

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    device = torch.device(args.device)
    t0 = time.perf_counter()
    y_tr, r_tr = read(args.train)
    y_te, r_te = read(args.test)
    x_tr, x_te, n_features = encode(r_tr, r_te)
    del r_tr, r_te
    x_tr, x_te = x_tr.to(device), x_te.to(device)
    y_tr, y_te = torch.tensor(y_tr, device=device), torch.tensor(y_te)
    data_s = time.perf_counter() - t0

    model = M.build_model(args.model, n_features, N_FIELDS, emb_dim=10, hidden=(400, 400, 400)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    B, n = args.batch_size, x_tr.shape[0]
    model.train()
    t_start = time.perf_counter()
    step_end = []
    for s in range(0, n, B):
        loss = F.binary_cross_entropy_with_logits(model(x_tr[s:s + B]), y_tr[s:s + B])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        step_end.append(time.perf_counter())
    train_s = step_end[-1] - t_start
    warm = min(5, len(step_end) - 1)
    steady = (n - warm * B) / (step_end[-1] - step_end[warm - 1]) if warm > 0 and len(step_end) > warm + 1 else None

    model.eval()
    with torch.no_grad():
        p = torch.cat([torch.sigmoid(model(x_te[s:s + 16384])).float().cpu() for s in range(0, x_te.shape[0], 16384)])
    pc = p.double().clamp(1e-7, 1 - 1e-7)
    logloss = float(-(y_te * pc.log() + (1 - y_te) * (1 - pc).log()).mean())
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "model": args.model, "train_rows": n, "test_rows": len(y_te), "features": n_features, "data_s": data_s,
        "train_s": train_s, "train_samples_per_s": n / train_s, "train_samples_per_s_steady": steady,
        "test_auc": auc(p, y_te), "test_logloss": logloss}))


if __name__ == "__main__":
    main()
