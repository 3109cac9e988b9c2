#!/usr/bin/env bash
# `chaos run --cluster` against a real control plane (scripts/testbed): the smoke scenario must
# end with its first-line exit code, its faults must have gone through the API server (injected
# errors on `back`, a Pod deleted and replaced by its ReplicaSet), the run's namespace must be
# deleted and no Pod process may be left. Run by scripts/test; needs root, Go and `ip netns`.
set -euo pipefail
cd "$(dirname "$0")/../.."

scenario=tests/cluster/smoke.chaos
out=$(mktemp -d)
trap 'scripts/testbed down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

scripts/testbed up | tail -n 1

want=$(sed -n '1s/^# *expect-exit: *\([0-9]\).*/\1/p' "$scenario")
set +e
scripts/testbed exec -- target/debug/chaos run --cluster "$scenario" --image chaos:dev \
  --report "$out/report.json" >"$out/stdout" 2>"$out/stderr"
got=$?
set -e
cat "$out/stdout"
fail() { echo "FAIL cluster: $*"; sed 's/^/  stderr: /' "$out/stderr" | tail -n 40; exit 1; }
[ "$got" = "$want" ] || fail "chaos run --cluster $scenario exited $got, expected $want"

python3 - "$out/report.json" <<'PY' || fail "the report does not show the faults carried out"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["mode"] == "cluster", r["mode"]
back = next(s for s in r["services"] if s["service"] == "back")
assert back["errors_by_cause"].get("injected", 0) > 0, back["errors_by_cause"]
assert back["requests"] > 0 and r["passed"] is True
print(f"ok   report: mode cluster, {back['requests']} requests to back, "
      f"{back['errors_by_cause']['injected']} injected errors")
PY
grep -q "deleted pod(s) back-" "$out/stderr" "$out/stdout" || fail "the kill deleted no Pod of back"
grep -q "deleted namespace chaos-cluster-smoke-" "$out/stderr" "$out/stdout" ||
  fail "the run's namespace was not deleted"
# the node shim kills a Pod's process when the Pod is deleted: give it a moment
for _ in $(seq 50); do
  left=$(pgrep -fc -- "agent --plan .* --service (front|back)( |$)" || true)
  [ "${left:-0}" = 0 ] && break
  sleep 0.2
done
[ "${left:-0}" = 0 ] || fail "$left agent process(es) of the run are still there"
echo "ok   $scenario --cluster (exit $got) against the real control plane"
