"""Splits the MovieLens 100K table by time: the oldest 80% of events train, the next 10% validate, the newest 10% test.

usage: /usr/bin/python3 bench/seq/split_time.py SHARED/data/movielens100k/movielens100k.csv OUT_DIR
Ties in the timestamp keep the file's order (a stable sort), so the split is the same on every run.
"""
import csv
import os
import sys

source, out = sys.argv[1], sys.argv[2]
with open(source, newline="") as f:
    rows = list(csv.DictReader(f))
rows.sort(key=lambda r: int(r["timestamp"]))
a, b = int(len(rows) * 0.8), int(len(rows) * 0.9)
os.makedirs(out, exist_ok=True)
for name, part in [("train", rows[:a]), ("valid", rows[a:b]), ("test", rows[b:])]:
    tmp = os.path.join(out, name + ".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(part)
    os.replace(tmp, os.path.join(out, name + ".csv"))
print(f"{len(rows)} rows: train {a}, valid {b - a}, test {len(rows) - b}")
