#!/usr/bin/env bash
# Runs the SimPy baseline and chaos-sim side by side on this machine on scenario ms-ref-1
# (bench/README.md), and writes bench/RESULTS.md. Usage: bench/run.sh [N] (default 100000).
# Our simulator also runs at 1 000 000 requests. SimPy at 1M takes ~2.5 minutes: set SIMPY_1M=1.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
BASELINE="${SIMPY_BASELINE:-../shared/bench/simpy_baseline.py}"
OUT=bench/results
mkdir -p "$OUT"

python3 -c 'import simpy' 2>/dev/null || pip install --quiet simpy
cargo build --release -p chaos-sim --example sim-bench
BENCH=target/release/examples/sim-bench

run_simpy() { # n seed
  /usr/bin/time -f '%e %M %U' -o "$OUT/simpy_n$1_seed$2.time" \
    python3 "$BASELINE" -n "$1" --seed "$2" --indent 0 > "$OUT/simpy_n$1_seed$2.json"
}
run_ours() { # n seed
  /usr/bin/time -f '%e %M %U' -o "$OUT/chaos_n$1_seed$2.time" \
    "$BENCH" -n "$1" --seed "$2" > "$OUT/chaos_n$1_seed$2.json"
}

for seed in 1 2 3; do
  run_simpy "$N" "$seed"
  run_ours "$N" "$seed"
done
run_ours 1000000 1
if [ "${SIMPY_1M:-0}" = 1 ]; then run_simpy 1000000 1; fi

python3 bench/report.py "$OUT" "$N" > bench/RESULTS.md
cat bench/RESULTS.md
