#!/usr/bin/python3
"""The tables of bench/seq/compare.sh: ctr's DIN against the PyTorch DIN (ref_din.py), per seed and summarised.

usage: report.py OUT "SEED ..." "ADAM ..."
Per seed: test AUC, test logloss, the best epoch / epochs run, steady training samples/s of each side. Then per side
mean ± sd over the seeds; for each reference variant the difference of test AUC (ours − reference): paired by seed
(mean, sd, 95 % t-interval) and Welch's two-sample 95 % interval, since a seed number is all the two runs of a pair
share (their initial values and shuffles come from different generators); and the speed ratio ours / reference of the
pairs run one after the other. Seeds whose runs are not all there are left out,
and the report says so.
"""
import json
import math
import os
import statistics
import sys

out, seeds, adams = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
BAR = 0.003


def t_quantile(df, q=0.975):
    """The q-quantile of Student's t with df degrees of freedom (df may be fractional): bisection on its CDF."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(x, steps=4000):  # 0.5 + the integral of the density from 0 to x (Simpson)
        h = x / steps
        f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
        return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))

    lo, hi = 0.0, 100.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return (lo + hi) / 2


def load(name):
    with open(f"{out}/{name}") as f:
        return json.load(f)


def ours(seed, name="ours"):
    r = load(f"{name}-{seed}.json")
    t = r["metrics"]["test"]
    return {"auc": t["auc"], "logloss": t["logloss"], "speed": r["throughput"]["train_samples_per_second_steady"],
            "epochs": f"{r.get('best_epoch', '?')}/{r['epochs_completed']}"}


def reference(adam, seed):
    r = load(f"ref-{adam}-{seed}.json")
    return {"auc": r["test"]["auc"], "logloss": r["test"]["logloss"], "speed": r["train_samples_per_second_steady"],
            "epochs": f"{r['best_epoch']}/{r['epochs_completed']}"}


def complete(seed):
    names = [f"ours-{seed}.json"] + [f"ref-{a}-{seed}.json" for a in adams]
    return all(os.path.exists(f"{out}/{n}") and os.path.getsize(f"{out}/{n}") > 0 for n in names)


missing = [s for s in seeds if not complete(s)]
if missing:
    print(f"(seeds {' '.join(missing)} left out: their runs are missing or unfinished)\n")
seeds = [s for s in seeds if s not in missing]
if not seeds:
    sys.exit("report: no seed has all its runs")
sides = {"ctr": {s: ours(s) for s in seeds}}
# compare.sh's BASE: another build of ctr, run first in each seed.
has_base = all(os.path.exists(f"{out}/base-{s}.json") and os.path.getsize(f"{out}/base-{s}.json") > 0 for s in seeds)
if has_base:
    sides["ctr, BASE build"] = {s: ours(s, "base") for s in seeds}
for a in adams:
    sides[f"PyTorch, {a} Adam"] = {s: reference(a, s) for s in seeds}


def sd(xs):
    return statistics.stdev(xs) if len(xs) > 1 else float("nan")


print("| side | seed | test AUC | test logloss | best epoch / run | steady train samples/s |")
print("|---|---|---|---|---|---|")
for name, runs in sides.items():
    for s in seeds:
        r = runs[s]
        print(f"| {name} | {s} | {r['auc']:.4f} | {r['logloss']:.4f} | {r['epochs']} | {r['speed']:,.0f} |")
print()
print("| side | test AUC mean ± sd | test logloss mean ± sd | samples/s mean (min – max) |")
print("|---|---|---|---|")
for name, runs in sides.items():
    auc = [runs[s]["auc"] for s in seeds]
    ll = [runs[s]["logloss"] for s in seeds]
    sp = [runs[s]["speed"] for s in seeds]
    print(f"| {name} | {statistics.mean(auc):.4f} ± {sd(auc):.4f} | {statistics.mean(ll):.4f} ± {sd(ll):.4f} "
          f"| {statistics.mean(sp):,.0f} ({min(sp):,.0f} – {max(sp):,.0f}) |")
print()
print(f"| ctr − reference | mean test AUC difference | paired by seed: sd, 95 % interval | Welch 95 % interval "
      f"| within {BAR}? | speed ratio ctr / reference, mean (min – max) |")
print("|---|---|---|---|---|---|")
ctr = sides["ctr"]
for a in adams:
    ref = sides[f"PyTorch, {a} Adam"]
    x = [ctr[s]["auc"] for s in seeds]
    y = [ref[s]["auc"] for s in seeds]
    d = [p - q for p, q in zip(x, y)]
    n = len(d)
    mean = statistics.mean(d)
    if n > 1:
        half = t_quantile(n - 1) * sd(d) / math.sqrt(n)
        vx, vy = statistics.variance(x) / n, statistics.variance(y) / n
        df = (vx + vy) ** 2 / (vx ** 2 / (n - 1) + vy ** 2 / (n - 1)) if vx + vy > 0 else float(n - 1)
        welch = t_quantile(df) * math.sqrt(vx + vy)
        paired = f"{sd(d):.4f}, [{mean - half:+.4f}, {mean + half:+.4f}]"
        unpaired = f"[{mean - welch:+.4f}, {mean + welch:+.4f}] (df {df:.1f})"
        inside = abs(mean) <= BAR
        verdict = ("yes" if inside else "no") + (", interval inside ±0.003" if abs(mean) + welch <= BAR else
                                                ", interval not inside ±0.003")
    else:
        paired, unpaired, verdict = "n/a (one seed)", "n/a", "yes" if abs(mean) <= BAR else "no"
    ratio = [ctr[s]["speed"] / ref[s]["speed"] for s in seeds]
    print(f"| {a} Adam | {mean:+.4f} | {paired} | {unpaired} | {verdict} "
          f"| {statistics.mean(ratio):.2f} ({min(ratio):.2f} – {max(ratio):.2f}) |")
if has_base:
    base = sides["ctr, BASE build"]
    ratio = [ctr[s]["speed"] / base[s]["speed"] for s in seeds]
    same = [s for s in seeds if ctr[s]["auc"] == base[s]["auc"] and ctr[s]["logloss"] == base[s]["logloss"]]
    print()
    print(f"ctr / BASE build speed ratio, mean (min – max): {statistics.mean(ratio):.2f} ({min(ratio):.2f} – {max(ratio):.2f}); "
          f"test AUC and logloss identical on {len(same)} of {len(seeds)} seeds")

