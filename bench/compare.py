"""The side-by-side table of bench/compare.sh (chaos run --sim, the floor, SimPy; whole
process), as a Markdown section; bench/report.py prints it into RESULTS.md."""
import json
import os
import re


def gnu_time(path):
    """Wall seconds, user + sys CPU seconds and max RSS (KiB) from `/usr/bin/time -v`."""
    t = open(path).read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", t).group(1))
              for k in ("User", "System"))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    return wall, cpu, rss


def rows(d):
    """One dict per simulator: requests, the workload's figures, whole-process costs."""
    out = []
    ch = json.load(open(f"{d}/chaos.json"))
    w = ch["workloads"][0]
    ev = json.load(open(f"{d}/sim-bench.json"))
    out.append(dict(name="`chaos run --sim` (release)", n=w["sent"], err=w["error_rate_pct"],
                    thr=ch["endpoints"][0]["throughput_per_s"], p50=w["latency_ms"]["p50"],
                    p99=w["latency_ms"]["p99"], epr=ev["events"] / ev["requests"],
                    t=gnu_time(f"{d}/chaos.time")))
    fl = json.load(open(f"{d}/floor.json"))
    out.append(dict(name="floor (`bench/floor`)", n=fl["requests"], err=fl["error_rate_pct"],
                    thr=fl["throughput_per_s"], p50=fl["p50_ms"], p99=fl["p99_ms"],
                    epr=fl["events_per_request"], t=gnu_time(f"{d}/floor.time")))
    sp = json.load(open(f"{d}/simpy.json"))
    out.append(dict(name=f"SimPy {sp['simpy_version']}, {sp['python']}", n=sp["requests"],
                    err=sp["error_rate"] * 100, thr=None, p50=sp["p50_ms"], p99=sp["p99_ms"],
                    epr=sp["events_engine"] / sp["requests"], t=gnu_time(f"{d}/simpy.time")))
    return out


def section(d):
    if not os.path.exists(f"{d}/simpy.json"):
        return ""
    n, seed, run, at, patience = open(f"{d}/params").read().split()
    rs = rows(d)
    floor_us = rs[1]["t"][0] / rs[1]["n"] * 1e6
    floor_cpu = rs[1]["t"][1] / rs[1]["n"] * 1e6
    lines = [
        "## Whole process, side by side: chaos, the floor, SimPy\n",
        f"Written by `bench/compare.sh` (one run, one after the other, seed {seed}): "
        f"`chaos run --sim scenarios/ms-ref-1.chaos --set run={run}s --set fault_at={at}s "
        f"--set fault_for={at}s --set patience={patience}s` (~{int(n):,} requests at 800/s, the "
        "fault over [0.2 T, 0.4 T), no client gives up), the floor `bench/floor` with the same "
        "params, and SimPy (`../shared/bench/simpy_baseline.py`: exactly N requests, no client "
        "timeout, same model otherwise) at the largest size that takes under ~2 minutes here. "
        "Wall, CPU (user + sys) and max RSS of the whole process from `/usr/bin/time -v`; "
        "per request = the whole process over the requests sent. Events/request: chaos's "
        "`RunStats` (the `sim-bench` example, same size and seed), the floor's popped events, "
        "SimPy's scheduled events.\n",
        "| simulator | requests | wall s | µs / request | × floor | CPU s | CPU µs / request "
        "| max RSS MiB | events / request | errors % | p50 s | p99 s | throughput / s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rs:
        wall, cpu, rss = r["t"]
        us = wall / r["n"] * 1e6
        thr = "" if r["thr"] is None else f"{r['thr']:.1f}"
        lines.append(
            f"| {r['name']} | {r['n']:,} | {wall:.2f} | {us:.3f} | {us / floor_us:.1f} | "
            f"{cpu:.2f} | {cpu / r['n'] * 1e6:.3f} | {rss / 1024:.1f} | {r['epr']:.2f} | "
            f"{r['err']:.3f} | {r['p50'] / 1e3:.1f} | {r['p99'] / 1e3:.1f} | {thr} |")
    c, f, s = rs
    lines.append(
        f"\nPer request, whole process: chaos **{c['t'][0] / c['n'] / (f['t'][0] / f['n']):.1f}x** "
        f"the floor's wall time ({c['t'][1] / c['n'] * 1e6 / floor_cpu:.1f}x its CPU time) "
        f"and {c['t'][2] / f['t'][2]:.1f}x its memory; SimPy "
        f"**{s['t'][0] / s['n'] / (c['t'][0] / c['n']):.0f}x** chaos's wall time per request "
        f"({s['t'][1] / s['n'] / (c['t'][1] / c['n']):.0f}x its CPU time). On a loaded machine "
        "the CPU times are the steadier figure. "
        "Load average before and after (2 vCPUs, shared with other builds: ratios matter more "
        "than absolutes):\n")
    lines.append("```")
    lines.append("before: " + open(f"{d}/load_before").read().strip())
    lines.append("after:  " + open(f"{d}/load_after").read().strip())
    lines.append("```\n")
    return "\n".join(lines)
