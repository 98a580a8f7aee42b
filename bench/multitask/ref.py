#!/usr/bin/python3
"""PyTorch MMoE and ESMM written from the papers, on bench/multitask/data.py's files, for a side-by-side with ctr.

MMoE (Ma et al., KDD 2018): experts f_e (ReLU MLPs) over the concatenated embeddings, one gate per task
g_t = softmax(W_t x), task t's input sum_e g_t,e f_e(x), one tower per task ending in a logit.
ESMM (Ma et al., SIGIR 2018): a CTR tower and a CVR tower over one shared embedding, pCTCVR = pCTR * pCVR, the loss
BCE(pCTR, click) + BCE(pCTCVR, click AND conversion) over every impression.
Settings are ctr's defaults for these models (k = 8, embeddings N(0, 0.01), PyTorch's Linear init; MMoE: 3 experts of
256-128, towers 64; ESMM: towers 256-128-64), Adam lr 1e-3, batch 512, shuffled each epoch, vocabularies from the
train file (ids seen once or more, OOV id 0 per field). The test metrics are those of the epoch with the best mean
validation AUC, as ctr's keep-best does.

Usage: /usr/bin/python3 ref.py --data DIR --model mmoe|esmm [--epochs 2] [--seed 1] [--threads 2]
Prints one JSON line: per-task test AUC and logloss, and steady training samples/s.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.rstrip("\n").split(",") for line in f]
    cols = list(zip(*rows))
    return {h: c for h, c in zip(header, cols)}


def encode(splits, fields):
    ids, offset = {}, 0
    out = {k: np.zeros((len(v[fields[0]]), len(fields)), dtype=np.int64) for k, v in splits.items()}
    for j, f in enumerate(fields):
        vocab = {}
        for tok in splits["train"][f]:
            if tok not in vocab:
                vocab[tok] = len(vocab) + 1
        for k, v in splits.items():
            out[k][:, j] = [offset + vocab.get(t, 0) for t in v[f]]
        offset += len(vocab) + 1
    return out, offset


def mlp(n, hidden, out=True):
    layers = []
    for h in hidden:
        layers += [nn.Linear(n, h), nn.ReLU()]
        n = h
    if out:
        layers.append(nn.Linear(n, 1))
    return nn.Sequential(*layers)


class Embed(nn.Module):
    def __init__(self, rows, k, sparse=False):
        super().__init__()
        self.t = nn.Embedding(rows, k, sparse=sparse)
        nn.init.normal_(self.t.weight, 0.0, 0.01)

    def forward(self, idx):
        return self.t(idx).flatten(1)


class MMoE(nn.Module):
    def __init__(self, rows, fields, k=8, experts=3, expert_hidden=(256, 128), tower=(64,), tasks=2, sparse=False):
        super().__init__()
        self.embed = Embed(rows, k, sparse)
        n = fields * k
        self.experts = nn.ModuleList([mlp(n, expert_hidden, out=False) for _ in range(experts)])
        self.gates = nn.ModuleList([nn.Linear(n, experts) for _ in range(tasks)])
        self.towers = nn.ModuleList([mlp(expert_hidden[-1], tower) for _ in range(tasks)])

    def forward(self, idx):
        x = self.embed(idx)
        e = torch.stack([f(x) for f in self.experts], dim=1)                 # [B, E, d]
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            g = torch.softmax(gate(x), dim=-1).unsqueeze(1)                   # [B, 1, E]
            outs.append(tower(torch.bmm(g, e).squeeze(1)))
        return torch.cat(outs, dim=1)                                          # logits [B, tasks]


class ESMM(nn.Module):
    def __init__(self, rows, fields, k=8, tower=(256, 128, 64), sparse=False):
        super().__init__()
        self.embed = Embed(rows, k, sparse)
        self.ctr = mlp(fields * k, tower)
        self.cvr = mlp(fields * k, tower)

    def forward(self, idx):
        x = self.embed(idx)
        return torch.cat([self.ctr(x), self.cvr(x)], dim=1)                   # logits of pCTR and pCVR


def esmm_outputs(z):
    """[pCTR, pCTCVR] probabilities, and the loss's log-probabilities, from the two logits."""
    p_ctr = torch.sigmoid(z[:, 0])
    p_ctcvr = p_ctr * torch.sigmoid(z[:, 1])
    return torch.stack([p_ctr, p_ctcvr], dim=1)


class Optimizers:
    """Adam over the model, or SparseAdam over its embedding and Adam over the rest (lazy), stepped together."""

    def __init__(self, model, lr, lazy):
        table = [model.embed.t.weight] if lazy else []
        rest = [p for p in model.parameters() if all(p is not t for t in table)]
        self.all = [torch.optim.Adam(rest, lr=lr)] + ([torch.optim.SparseAdam(table, lr=lr)] if lazy else [])

    def zero_grad(self):
        for o in self.all:
            o.zero_grad(set_to_none=o is not self.all[0])  # a sparse gradient is dropped, not zeroed in place

    def step(self):
        for o in self.all:
            o.step()


def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    y, p = y[order], p[order]
    ranks = np.empty(len(p))
    i = 0
    while i < len(p):
        j = i
        while j + 1 < len(p) and p[j + 1] == p[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos = y.sum()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def logloss(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--data", required=True)
    a.add_argument("--model", choices=["mmoe", "esmm"], required=True)
    a.add_argument("--epochs", type=int, default=2)
    a.add_argument("--batch-size", type=int, default=512)
    a.add_argument("--lr", type=float, default=1e-3)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--adam", choices=["dense", "lazy"], default="dense",
                   help="dense: torch.optim.Adam on every parameter (every embedding row's moments and weights move at "
                        "each step); lazy: SparseAdam on a sparse embedding (only the rows a batch touches move, as "
                        "ctr's Adam does), Adam on the rest")
    args = a.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    raw = {s: read(f"{args.data}/{s}.csv") for s in ["train", "valid", "test"]}
    fields = [h for h in raw["train"] if h.startswith("C")]
    ids, rows = encode(raw, fields)
    click = {s: np.array(raw[s]["click"], dtype=np.float32) for s in raw}
    conv = {s: np.array(raw[s]["conversion"], dtype=np.float32) for s in raw}
    # Task labels: MMoE learns click and conversion; ESMM learns CTR and CTCVR (click AND conversion).
    labels = {s: np.stack([click[s], click[s] * conv[s]], axis=1) for s in raw}
    names = ["click", "conversion"] if args.model == "mmoe" else ["ctr", "ctcvr"]
    lazy = args.adam == "lazy"
    model = MMoE(rows, len(fields), sparse=lazy) if args.model == "mmoe" else ESMM(rows, len(fields), sparse=lazy)
    opt = Optimizers(model, args.lr, lazy)
    x = {s: torch.from_numpy(ids[s]) for s in raw}
    y = {s: torch.from_numpy(labels[s]) for s in raw}

    def probabilities(z):
        return esmm_outputs(z) if args.model == "esmm" else torch.sigmoid(z)

    def evaluate(s):
        model.eval()
        with torch.no_grad():
            p = torch.cat([probabilities(model(x[s][i:i + 4096])) for i in range(0, len(x[s]), 4096)]).numpy()
        model.train()
        return [{"task": n, "auc": auc(labels[s][:, t], p[:, t]), "logloss": logloss(labels[s][:, t], p[:, t])} for t, n in enumerate(names)]

    n = len(x["train"])
    gen = torch.Generator().manual_seed(args.seed)
    best, best_test, steady_rows, steady_s = -1.0, None, 0, 0.0
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=gen)
        for step, i in enumerate(range(0, n, args.batch_size)):
            t0 = time.perf_counter()
            b = order[i:i + args.batch_size]
            z = model(x["train"][b])
            if args.model == "esmm":
                p = esmm_outputs(z).clamp(1e-7, 1 - 1e-7)
                loss = F.binary_cross_entropy(p, y["train"][b])  # mean over rows of each task, summed below
                loss = 2 * loss
            else:
                loss = 2 * F.binary_cross_entropy_with_logits(z, y["train"][b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if epoch > 0 or step >= 10:
                steady_rows += len(b)
                steady_s += time.perf_counter() - t0
        v = evaluate("valid")
        mean_auc = sum(t["auc"] for t in v) / len(v)
        if mean_auc > best:
            best, best_test = mean_auc, evaluate("test")
    print(json.dumps({"impl": "pytorch", "model": args.model, "seed": args.seed, "epochs": args.epochs,
                      "test": best_test, "samples_per_s": steady_rows / steady_s, "threads": args.threads,
                      "adam": args.adam}))


if __name__ == "__main__":
    main()
