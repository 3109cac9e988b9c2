#!/usr/bin/env bash
# One command, one run, side by side on this machine, whole process (issue 15): `chaos run
# --sim` on ms-ref-1 at ~1M requests, the floor (bench/floor, a hand-written simulator of
# exactly that model) on the same, and SimPy (../shared/bench/simpy_baseline.py) at the
# largest size that takes under ~2 minutes here, scaled per request. Wall time and max RSS
# from /usr/bin/time -v, events/request where known; then bench/RESULTS.md is rewritten
# (bench/report.py renders this run's table there).
# Usage: bench/compare.sh  (env: N=1000000 requests, SEED=1, SIMPY_N to skip the sizing run)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000000}"
SEED="${SEED:-1}"
BASELINE="${SIMPY_BASELINE:-../shared/bench/simpy_baseline.py}"
OUT=bench/results/compare
rm -rf "$OUT" && mkdir -p "$OUT"

python3 -c 'import simpy' 2>/dev/null || pip install --quiet simpy
cargo build --release -p chaos
cargo build --release -p chaos-sim --example sim-bench
cargo build --release --manifest-path bench/floor/Cargo.toml --target-dir target

# ms-ref-1 at N requests, as bench/run.sh sizes it: run T = N / 800/s, the fault over
# [0.2 T, 0.4 T). `patience` (the client's timeout, also the drain) 300 s: the backlog's worst
# wait at 1M is ~172 s, so no client gives up, as in SimPy, and the backlog drains.
RUN=$(python3 -c "print($N / 800)")
AT=$(python3 -c "print(0.2 * $N / 800)")
PATIENCE=300
echo "$N $SEED $RUN $AT $PATIENCE" > "$OUT/params"
uptime > "$OUT/load_before"

timed() { # name, command...
  local name=$1; shift
  /usr/bin/time -v -o "$OUT/$name.time" "$@"
}

echo "chaos run --sim, N=$N" >&2
rc=0
timed chaos target/release/chaos run --sim scenarios/ms-ref-1.chaos --seed "$SEED" \
  --set "run=${RUN}s" --set "fault_at=${AT}s" --set "fault_for=${AT}s" \
  --set "patience=${PATIENCE}s" --report "$OUT/chaos.json" --color never \
  > "$OUT/chaos.out" || rc=$?
# Exit 1 is the verdict (p99 < 20s does not hold at 1M), not a failure to run.
[ "$rc" -le 1 ] || { cat "$OUT/chaos.out"; exit "$rc"; }
# Keep the figures, not the 1,500 windows of timeline (2 MB).
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); [d.pop(k, None) for k in ("timeline", "workload_timeline")]; json.dump(d, open(sys.argv[1], "w"), indent=1)' "$OUT/chaos.json"

echo "floor, N=$N" >&2
timed floor target/release/ms-ref-1-floor --seed "$SEED" --run "$RUN" --fault-at "$AT" \
  --fault-for "$AT" --patience "$PATIENCE" > "$OUT/floor.json"

# chaos's events per request (RunStats) come from the sim-bench example, same model and size.
target/release/examples/sim-bench -n "$N" --seed "$SEED" > "$OUT/sim-bench.json"

if [ -z "${SIMPY_N:-}" ]; then
  # Size SimPy: 100k first, then the largest multiple of 100k expected under ~100 s.
  echo "SimPy, sizing run at 100000" >&2
  timed simpy-sizing python3 "$BASELINE" -n 100000 --seed "$SEED" --indent 0 \
    > "$OUT/simpy-sizing.json"
  SIMPY_N=$(python3 - "$OUT/simpy-sizing.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
secs = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
print(max(100000, min(1000000, int(100.0 / secs * 100000) // 100000 * 100000)))
PY
)
fi
echo "SimPy, N=$SIMPY_N" >&2
timed simpy python3 "$BASELINE" -n "$SIMPY_N" --seed "$SEED" --indent 0 > "$OUT/simpy.json"
uptime > "$OUT/load_after"

python3 bench/report.py bench/results 100000 > bench/RESULTS.md
sed -n '/^## Whole process/,/^## Reading/p' bench/RESULTS.md
