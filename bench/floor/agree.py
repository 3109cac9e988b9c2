#!/usr/bin/env python3
"""Checks that the floor (bench/floor) and `chaos run --sim` give the same figures on
ms-ref-1 within sampling noise: K seeds of each (different random streams, so only the
seed-to-seed spread can be compared), the mean and standard deviation of each figure and
Welch's z of the difference. |z| < 2 on every figure: the same model.
Usage: bench/floor/agree.py [K] [--set NAME=VALUE ...]  (from the repository root, after
`cargo build --release -p chaos` and building the floor; see bench/floor/README.md)."""
import json
import os
import statistics as st
import subprocess
import sys
import tempfile

K = int(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else 20
SETS = [a for a in sys.argv[1:] if "=" in a]
CHAOS = "target/release/chaos" if os.path.exists("target/release/chaos") else "target/debug/chaos"
FLOOR = "target/release/ms-ref-1-floor"
PARAMS = {"rate": "800/s", "run": "125s", "fault_at": "25s", "fault_for": "25s", "patience": "60s"}
for s in SETS:
    k, v = s.split("=", 1)
    PARAMS[k] = v


def secs(v):
    return float(v[:-2]) / 1e3 if v.endswith("ms") else float(v.rstrip("s"))


def chaos(seed, tmp):
    rep = os.path.join(tmp, f"c{seed}.json")
    args = [CHAOS, "run", "--sim", "scenarios/ms-ref-1.chaos", "--seed", str(seed),
            "--report", rep, "--color", "never"]
    for s in SETS:
        args += ["--set", s]
    subprocess.run(args, stdout=subprocess.DEVNULL, check=False)
    d = json.load(open(rep))
    w = d["workloads"][0]
    return dict(requests=w["sent"], error_pct=w["error_rate_pct"],
                throughput=d["endpoints"][0]["throughput_per_s"], mean_ms=w["latency_ms"]["mean"],
                p50_ms=w["latency_ms"]["p50"], p99_ms=w["latency_ms"]["p99"])


def floor(seed):
    args = [FLOOR, "--seed", str(seed), "--rate", PARAMS["rate"].removesuffix("/s"),
            "--run", str(secs(PARAMS["run"])), "--fault-at", str(secs(PARAMS["fault_at"])),
            "--fault-for", str(secs(PARAMS["fault_for"])),
            "--patience", str(secs(PARAMS["patience"]))]
    d = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    return dict(requests=d["requests"], error_pct=d["error_rate_pct"],
                throughput=d["throughput_per_s"], mean_ms=d["mean_ms"], p50_ms=d["p50_ms"],
                p99_ms=d["p99_ms"])


with tempfile.TemporaryDirectory() as tmp:
    a = [chaos(s, tmp) for s in range(1, K + 1)]
b = [floor(s) for s in range(1, K + 1)]
print(f"ms-ref-1 {' '.join(SETS) or '(as written)'}, seeds 1-{K} of each ({CHAOS})\n")
print("| figure | chaos run --sim | floor | Welch z |")
print("|---|---|---|---|")
worst = 0.0
for k in a[0]:
    xa, xb = [r[k] for r in a], [r[k] for r in b]
    ma, mb, sa, sb = st.mean(xa), st.mean(xb), st.stdev(xa), st.stdev(xb)
    z = (mb - ma) / (((sa ** 2 + sb ** 2) / K) ** 0.5 or 1.0)
    worst = max(worst, abs(z))
    print(f"| {k} | {ma:.3f} ± {sa:.3f} | {mb:.3f} ± {sb:.3f} | {z:+.2f} |")
print(f"\nlargest |z| = {worst:.2f}: {'same model within sampling noise' if worst < 2 else 'DIFFERENT'}")
sys.exit(0 if worst < 2 else 1)
