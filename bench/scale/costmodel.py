#!/usr/bin/env python3
"""Cost model of one data-parallel DeepFM step on N machines (docs/scale.md).

Weak scaling: every machine trains b rows per step. Per step and machine it counts the bytes of
  * the dense all-reduce (ring: 2(N-1)/N of the dense gradient, plus 2(N-1) latency hops), and
  * the embedding all-to-all of row-wise sharded tables (ids out, rows back, row gradients out; (N-1)/N of each
    leaves the machine; ids deduplicated per machine with the measured unique fraction u),
and compares them with the compute time of the step. Efficiency = compute / (compute + exposed communication).
With overlap, the dense gradients travel in buckets (GradientExchange: --bucket-mb, filled in the order the backward
pass finishes them, each bucket its own ring with its own 2(N-1) hops) that start during the backward pass (about 2/3
of the step). What shows is what exceeds the backward pass, and at least the last bucket: it holds the first layer,
whose gradient is final only when the backward pass ends.
Every input is a command-line flag; the defaults are the figures named in docs/scale.md.
"""
import argparse

p = argparse.ArgumentParser()
p.add_argument("--rows", type=int, default=4096, help="rows per machine per step")
p.add_argument("--fields", type=int, default=39)
p.add_argument("--dim", type=int, default=10, help="embedding width k")
p.add_argument("--hidden", default="400,400,400")
p.add_argument("--unique", type=float, default=0.147, help="unique ids / lookups in one machine's batch")
p.add_argument("--step-ms", type=float, default=77.7, help="compute time of one step on one machine")
p.add_argument("--latency-us", type=float, default=10.0, help="one network hop")
p.add_argument("--bytes-per-value", type=int, default=4, help="4: fp32; 2: fp16 compression of rows and gradients")
p.add_argument("--overlap", action="store_true", help="all-reduce in buckets overlapped with the backward pass")
p.add_argument("--bucket-mb", type=float, default=1.048576, help="bucket size with --overlap (MB of fp32 gradient)")
p.add_argument("--exchange-bytes", type=int, default=4, help="bytes a dense gradient value travels as (2: bf16)")
p.add_argument("--replicated", action="store_true",
               help="tables replicated on every machine, row gradients all-gathered (what CtrDsl does today)")
a = p.parse_args()

hidden = [int(h) for h in a.hidden.split(",")]
sizes = [a.fields * a.dim] + hidden + [1]
dense = sum(i * o + o for i, o in zip(sizes, sizes[1:]))
dense_bytes = dense * a.exchange_bytes
# Buckets in backward order (output layer first), cut as GradientExchange cuts them: a parameter that does not fit
# starts the next bucket; one larger than a bucket has one of its own.
limit = a.bucket_mb * 1e6 / 4 if a.overlap else float("inf")
buckets = [0]
for i, o in reversed(list(zip(sizes, sizes[1:]))):
    for n in (i * o, o):
        if buckets[-1] > 0 and buckets[-1] + n > limit:
            buckets.append(0)
        buckets[-1] += n
lookups = a.rows * a.fields * a.unique
# Each id reads a k-wide embedding row and a 1-wide linear weight (DeepFM's first-order term) from the same shard.
row_bytes = (a.dim + 1) * a.bytes_per_value

print(f"DeepFM: {dense:,} dense parameters ({dense_bytes / 1e6:.2f} MB); {a.rows} rows x {a.fields} ids per machine, "
      f"unique fraction {a.unique}; compute {a.step_ms} ms per step"
      f"{f'; all-reduce in {len(buckets)} buckets overlapped' if a.overlap else ''}")
table = "all-gather" if a.replicated else "all-to-all"
print(f"| Gb/s | N | all-reduce MB | {table} MB | all-reduce ms | {table} ms | bottleneck | efficiency |")
print("|---|---|---|---|---|---|---|---|")
for gbps in (10, 25, 100):
    bw = gbps * 1e9 / 8  # bytes/s
    for n in (8, 16, 32, 64):
        off = (n - 1) / n
        ar_bytes = 2 * off * dense_bytes
        if a.replicated:
            # Every machine receives every other machine's touched rows and their gradients (ring all-gather).
            a2a_bytes = (n - 1) * lookups * (4 + row_bytes)
            a2a_ms = (a2a_bytes / bw + 2 * (n - 1) * a.latency_us * 1e-6) * 1e3
        else:
            a2a_bytes = off * lookups * (4 + 2 * row_bytes)  # ids out, rows back, gradients out
            a2a_ms = (a2a_bytes / bw + 3 * (n - 1) * a.latency_us * 1e-6) * 1e3
        def ring_ms(values):
            return (2 * off * values * a.exchange_bytes / bw + 2 * (n - 1) * a.latency_us * 1e-6) * 1e3
        ar_ms = sum(ring_ms(b) for b in buckets)
        shown_ar = max(ring_ms(buckets[-1]), ar_ms - a.step_ms * 2 / 3) if a.overlap else ar_ms
        eff = a.step_ms / (a.step_ms + shown_ar + a2a_ms)
        neck = "all-reduce" if ar_ms > a2a_ms else table
        print(f"| {gbps} | {n} | {ar_bytes / 1e6:.2f} | {a2a_bytes / 1e6:.2f} | {ar_ms:.2f} | {a2a_ms:.2f} | {neck} | {eff:.0%} |")
