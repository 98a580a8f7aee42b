#!/usr/bin/python3
"""A PyTorch DIN written from the paper, on the MovieLens 100K time split of bench/seq/split_time.py, for a
side-by-side with ctr's DIN (bench/seq/compare.sh). Only numpy and torch (Debian python3-torch, /usr/bin/python3).

DIN (Zhou et al., KDD 2018, "Deep Interest Network for Click-Through Rate Prediction"): each behaviour e_t of the
user's history is scored against the candidate item's embedding q by a local activation unit, and the history
becomes sum_t w_t * e_t with the raw scores (no softmax), so the intensity of the interest is kept. The pooled
history, the other fields' embeddings and the candidate feed an MLP that ends in one logit.

Every setting is ctr's DIN default (src/Models/DIN, src/Dsl.FSharp/SequenceCombinators.fs, Layers.fs) and the
settings of bench/seq/quality.sh:
  data      train/valid/test.csv from split_time.py (oldest 80% / next 10% / newest 10% by timestamp); label column
            `label`. Fields as bench/seq/ml100k_history.yaml: id fields user_id, gender, occupation, zip_code,
            item_id (vocabularies from the train file: id 0 = OOV, id 1 = missing (empty), then every value seen in
            train, min_count 1), age bucketized at 18, 25, 35, 45, 50, 56 (id 0 missing, 1 + number of boundaries
            <= age); genres multi-valued ("|", first 6 kept, own vocabulary, mean-pooled over the valid ones, none
            gives 0); history: the same user's strictly earlier events across train, valid and test read as one log
            (ordered by timestamp, then file, then row; events at the same time do not see each other), most recent
            first, at most 20, sharing item_id's vocabulary and embedding rows (items unseen in train are its OOV id).
  embedding one table of k = 8 for all vocabularies, N(0, 0.01); padding reads a zero row that never trains.
  unit      input [q; e; q - e; q * e] (4k = 32) -> Linear 80 -> Dice -> Linear 40 -> Dice -> Linear 1; scores times
            the mask (exactly 0 on padding), no softmax.
  Dice      p * x + (1 - p) * alpha * x, p = sigmoid(batch norm of x without scale and shift, eps 1e-9, momentum 0.01,
            statistics over every (row, position), padding positions included; running statistics in evaluation);
            alpha per unit, 0 at first.
  MLP       [6 id fields; genres; pooled history] flattened (8 x 8 = 64) -> 256 -> 128 -> 64 ReLU -> Linear 1;
            no dropout, no batch norm, no L2. Linear layers keep PyTorch's default initialisation.
  training  BCE from logits, Adam lr 1e-3 (betas 0.9/0.999, eps 1e-8), batch 256 (the last, short batch trains
            too), rows shuffled each epoch (torch.randperm seeded by --seed; --shuffle-blocks 16384 shuffles as ctr's
            reader does, blocks of consecutive rows in a random order, then the rows within each), up to 3 epochs,
            evaluation on valid at each epoch end, early stop after 1 evaluation without a better valid AUC, the
            best epoch's parameters and Dice statistics restored and scored on test. --adam dense: torch.optim.Adam
            over everything (every table row's moments move every step); --adam lazy: torch.optim.SparseAdam on the
            table (only the rows a batch touches move, bias correction by the global step, as ctr's Adam does), Adam
            on the rest.
  threads   --threads (default 1): torch.set_num_threads and set_num_interop_threads; OMP/OpenBLAS threads from
            the environment (compare.sh sets them to the same count).
  metrics   test AUC (ties averaged) and logloss (probabilities clipped to [1e-7, 1 - 1e-7], float64), valid AUC;
            steady samples/s: training rows per second of the steps after the first min(10, batches / 4) of the run,
            each step timed from taking its batch to the end of the optimizer step (ctr's steady figure).

usage: /usr/bin/python3 ref_din.py --data DIR [--seed 1] [--adam dense|lazy] [--threads 1]
                                   [--check-history CACHE_DIR]
Prints one JSON object. --check-history compares this script's histories, row by row, with the history column of
the copies ctr's data layer wrote into its cache folder (exit 1 on any difference).
"""
import argparse
import bisect
import copy
import csv
import glob
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ID_FIELDS = ["user_id", "gender", "occupation", "zip_code", "item_id", "age"]  # the schema's order
TOKEN_FIELDS = ["user_id", "gender", "occupation", "zip_code", "item_id"]
AGE_BOUNDARIES = [18.0, 25.0, 35.0, 45.0, 50.0, 56.0]
GENRES_LENGTH, HISTORY_LENGTH = 6, 20
SPLITS = ["train", "valid", "test"]


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def histories(parts, keep):
    """Per file, per row: the same user's strictly earlier items, most recent first, at most `keep`."""
    events = sorted((float(r["timestamp"]), f, i) for f, rows in enumerate(parts) for i, r in enumerate(rows))
    result = [[None] * len(rows) for rows in parts]
    past = {}
    start = 0
    while start < len(events):
        end = start
        while end < len(events) and events[end][0] == events[start][0]:
            end += 1
        group = events[start:end]
        for _, f, i in group:  # the group sees only what came before it …
            items = past.get(parts[f][i]["user_id"], [])
            result[f][i] = items[: -keep - 1 : -1] if keep > 0 else []
        for _, f, i in group:  # … then joins the past
            past.setdefault(parts[f][i]["user_id"], []).append(parts[f][i]["item_id"])
        start = end
    return result


class Vocabulary:
    """Token ids as ctr's: 0 = OOV, 1 = missing (the empty value), then the train values in order of first sight."""

    def __init__(self):
        self.ids = {}

    def learn(self, token):
        if token != "" and token not in self.ids:
            self.ids[token] = 2 + len(self.ids)

    def size(self):
        return 2 + len(self.ids)

    def id(self, token):
        return 1 if token == "" else self.ids.get(token, 0)


def genre_list(text):
    return [g for g in text.split("|") if g != ""][:GENRES_LENGTH]


def encode(parts, hist):
    """Global ids: id fields [n; 6], genres [n; 6] and history [n; 20] padded with -1; labels [n]; table rows."""
    vocab = {f: Vocabulary() for f in ["user_id", "gender", "occupation", "zip_code", "item", "genres"]}
    for r, h in zip(parts[0], hist[0]):
        for f in TOKEN_FIELDS:
            vocab["item" if f == "item_id" else f].learn(r[f])
        for item in h:
            vocab["item"].learn(item)
        for g in genre_list(r["genres"]):
            vocab["genres"].learn(g)
    # Offsets in the order the schema first uses each vocabulary; age's buckets sit between item and genres.
    sizes = [("user_id", vocab["user_id"].size()), ("gender", vocab["gender"].size()),
             ("occupation", vocab["occupation"].size()), ("zip_code", vocab["zip_code"].size()),
             ("item", vocab["item"].size()), ("age", len(AGE_BOUNDARIES) + 2), ("genres", vocab["genres"].size())]
    offset, at = 0, {}
    for name, size in sizes:
        at[name] = offset
        offset += size

    def age_id(text):
        try:
            return 1 + bisect.bisect_right(AGE_BOUNDARIES, float(text))
        except ValueError:
            return 0

    def padded(ids, length):
        return ids + [-1] * (length - len(ids))

    encoded = []
    for rows, hs in zip(parts, hist):
        ids = np.array([[at[f] + vocab[f].id(r[f]) for f in ["user_id", "gender", "occupation", "zip_code"]]
                        + [at["item"] + vocab["item"].id(r["item_id"]), at["age"] + age_id(r["age"])] for r in rows])
        genres = np.array([padded([at["genres"] + vocab["genres"].id(g) for g in genre_list(r["genres"])],
                                  GENRES_LENGTH) for r in rows])
        history = np.array([padded([at["item"] + vocab["item"].id(i) for i in h], HISTORY_LENGTH) for h in hs])
        labels = np.array([float(r["label"]) for r in rows], dtype=np.float32)
        encoded.append(tuple(torch.from_numpy(a) for a in (ids, genres, history, labels)))
    return encoded, offset, dict(sizes)


def check_history(parts, hist, cache_dir):
    """Compares the histories with ctr's history copies (train.csv.*.history.csv …) in its cache folder."""
    bad = 0
    for name, rows, hs in zip(SPLITS, parts, hist):
        found = sorted(glob.glob(os.path.join(cache_dir, f"{name}.csv.*.history.csv")), key=os.path.getmtime)
        if not found:
            sys.exit(f"ref_din: no {name}.csv.*.history.csv in {cache_dir}")
        theirs = read(found[-1])
        if len(theirs) != len(rows):
            sys.exit(f"ref_din: {found[-1]} has {len(theirs)} rows, {name}.csv {len(rows)}")
        for i, (r, t, h) in enumerate(zip(rows, theirs, hs)):
            same_row = all(r[c] == t[c] for c in ("user_id", "item_id", "timestamp"))
            if not same_row or t["history"] != "|".join(h):
                if bad < 5:
                    print(f"history differs: {name} row {i + 2}: ours {t['history']!r}, reference {'|'.join(h)!r}",
                          file=sys.stderr)
                bad += 1
    print(f"histories: {sum(map(len, parts))} rows compared with ctr's, {bad} differ", file=sys.stderr)
    return bad


class Dice(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.norm = nn.BatchNorm1d(n, eps=1e-9, momentum=0.01, affine=False)
        self.alpha = nn.Parameter(torch.zeros(n))

    def forward(self, x):
        p = torch.sigmoid(self.norm(x.reshape(-1, x.shape[-1]))).reshape(x.shape)
        return p * x + (1 - p) * self.alpha * x


class DIN(nn.Module):
    def __init__(self, rows, k=8, unit=(80, 40), hidden=(256, 128, 64), sparse=False):
        super().__init__()
        self.pad = rows  # one extra row, zero, that never receives a gradient
        self.table = nn.Embedding(rows + 1, k, padding_idx=rows, sparse=sparse)
        with torch.no_grad():
            nn.init.normal_(self.table.weight, 0.0, 0.01)
            self.table.weight[rows].zero_()
        layers, n = [], 4 * k
        for units in unit:
            layers += [nn.Linear(n, units), Dice(units)]
            n = units
        self.unit = nn.Sequential(*layers, nn.Linear(n, 1))
        layers, n = [], (len(ID_FIELDS) + 2) * k
        for units in hidden:
            layers += [nn.Linear(n, units), nn.ReLU()]
            n = units
        self.mlp = nn.Sequential(*layers, nn.Linear(n, 1))

    def lookup(self, ids):
        mask = (ids >= 0).unsqueeze(-1).float()
        return self.table(torch.where(ids >= 0, ids, torch.full_like(ids, self.pad))), mask

    def forward(self, ids, genres, history):
        fields = self.table(ids)  # [b; 6; k]
        g, gmask = self.lookup(genres)
        genre = g.sum(1) / gmask.sum(1).clamp(min=1.0)
        keys, mask = self.lookup(history)  # [b; 20; k], [b; 20; 1]
        q = fields[:, ID_FIELDS.index("item_id")].unsqueeze(1).expand_as(keys)
        w = self.unit(torch.cat([q, keys, q - keys, q * keys], -1)) * mask
        interest = (w * keys).sum(1)
        return self.mlp(torch.cat([fields.flatten(1), genre, interest], 1)).squeeze(1)


def auc(labels, scores):
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    pos = labels > 0.5
    npos, nneg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def evaluate(model, split, batch=8192):
    model.eval()
    ids, genres, history, labels = split
    with torch.no_grad():
        logits = torch.cat([model(ids[s:s + batch], genres[s:s + batch], history[s:s + batch])
                            for s in range(0, len(labels), batch)])
    model.train()
    p = np.clip(torch.sigmoid(logits).numpy().astype(np.float64), 1e-7, 1 - 1e-7)
    y = labels.numpy().astype(np.float64)
    return {"auc": auc(y, p), "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}


def epoch_order(n, generator, block):
    """All rows at random (block 0), or as ctr's reader does: blocks of `block` consecutive rows in a random order,
    the rows of each block in a random order (so a batch holds rows of one stretch of the time-sorted file)."""
    if block <= 0:
        return torch.randperm(n, generator=generator)
    starts = list(range(0, n, block))
    return torch.cat([starts[b] + torch.randperm(min(block, n - starts[b]), generator=generator)
                      for b in torch.randperm(len(starts), generator=generator).tolist()])


def fit(model, optimizers, train, valid, seed, epochs, batch, patience, block=0):
    ids, genres, history, labels = train
    n = len(labels)
    batches = (n + batch - 1) // batch
    warmup = min(10, max(1, batches // 4))
    generator = torch.Generator().manual_seed(seed)
    steps, steady_rows, steady_s, train_s = 0, 0, 0.0, 0.0
    best, best_state, best_epoch, stale, epochs_done, history_log = float("nan"), None, 0, 0, 0, []
    for epoch in range(epochs):
        order = epoch_order(n, generator, block)
        for start in range(0, n, batch):
            t0 = time.perf_counter()
            rows = order[start:start + batch]
            loss = F.binary_cross_entropy_with_logits(model(ids[rows], genres[rows], history[rows]), labels[rows])
            for o in optimizers:
                o.zero_grad()
            loss.backward()
            for o in optimizers:
                o.step()
            dt = time.perf_counter() - t0
            steps += 1
            train_s += dt
            if steps > warmup:
                steady_rows += len(rows)
                steady_s += dt
        epochs_done += 1
        v = evaluate(model, valid)
        history_log.append(v["auc"])
        if not v["auc"] <= best:  # NaN best: the first evaluation improves
            best, best_state, best_epoch, stale = v["auc"], copy.deepcopy(model.state_dict()), epoch + 1, 0
        else:
            stale += 1
            if stale >= patience:
                break
    model.load_state_dict(best_state)
    return {"epochs_completed": epochs_done, "best_epoch": best_epoch, "valid_auc_per_epoch": history_log,
            "train_samples_per_second_steady": steady_rows / steady_s, "train_seconds": train_s}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with split_time.py's train.csv, valid.csv, test.csv")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--adam", choices=["dense", "lazy"], default="dense")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--patience", type=int, default=1)
    ap.add_argument("--shuffle-blocks", type=int, default=0, metavar="ROWS",
                    help="shuffle as ctr's reader: blocks of ROWS rows in random order, rows within each (0: all rows)")
    ap.add_argument("--check-history", metavar="CACHE_DIR", help="compare the histories with ctr's and stop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)

    parts = [read(os.path.join(args.data, s + ".csv")) for s in SPLITS]
    hist = histories(parts, HISTORY_LENGTH)
    if args.check_history:
        sys.exit(1 if check_history(parts, hist, args.check_history) else 0)
    (train, valid, test), rows, sizes = encode(parts, hist)

    torch.manual_seed(args.seed)
    model = DIN(rows, sparse=args.adam == "lazy")
    if args.adam == "lazy":
        rest = [p for name, p in model.named_parameters() if name != "table.weight"]
        optimizers = [torch.optim.SparseAdam([model.table.weight], lr=1e-3), torch.optim.Adam(rest, lr=1e-3)]
    else:
        optimizers = [torch.optim.Adam(model.parameters(), lr=1e-3)]
    result = fit(model, optimizers, train, valid, args.seed, args.epochs, args.batch, args.patience,
                 args.shuffle_blocks)
    result.update({"model": "din", "adam": args.adam, "shuffle_blocks": args.shuffle_blocks, "seed": args.seed,
                   "threads": args.threads,
                   "torch": torch.__version__, "table_rows": rows, "vocabulary_sizes": sizes,
                   "parameters": sum(p.numel() for p in model.parameters()) - model.table.weight.shape[1],
                   "valid": evaluate(model, valid), "test": evaluate(model, test)})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
