# Sourced by tests/cluster/run.sh (uses its start, finish, said, fail, report, kc, faulted,
# ns_gone, no_agents_left). Server-side apply and other writers while a run goes on (issue 11), with
# tests/cluster/ssa.chaos (a latency fault on `back`, 2 replicas, from 4 s to 28 s):
#   1. another field manager applies a label to the run's Deployment: no conflict (a field the
#      run does not own), the run goes on;
#   2. another field manager applies replicas without forcing: the API server refuses it with a
#      conflict naming field manager `chaos` (the run applied the Deployment and owns replicas);
#   3. `kubectl scale` mid-run: the runner does not undo it; it says so at once, naming the field
#      manager, and installs the active fault on the new Pod;
#   4. the same apply as 2 with --force-conflicts: taken over, reported the same way;
#   then exit 0 (the verdict), the report's unexpected events name both scales, namespace gone.

ns=chaos-ssa-ci
kc delete namespace $ns --ignore-not-found --wait=true >/dev/null
start "$ci" ssa tests/cluster/ssa.chaos "fault slow-0-0 on back" --namespace $ns
# faulted() reads the Pods' faults with this run's token (not the previous section's)
token=$(kc -n $ns get secret chaos-token -o jsonpath='{.data.token}' | base64 -d)

# 1. a label of another manager's own
label=$(printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: back\n  labels:\n    team: other\n' |
  kc -n $ns apply --server-side --field-manager=other -f - 2>&1) || fail "a label applied by another manager was refused: $label"
[ "$(kc -n $ns get deployment back -o jsonpath='{.metadata.labels.team}')" = other ] || fail "the label of manager other is not there"

# 2. replicas, owned by chaos: a conflict
replicas() { printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: back\nspec:\n  replicas: %s\n' "$1"; }
set +e
conflict=$(replicas 3 | kc -n $ns apply --server-side --field-manager=other -f - 2>&1)
code=$?
set -e
[ "$code" != 0 ] || fail "another manager's apply of replicas was not refused"
echo "$conflict" | grep -q 'conflict with "chaos"' || fail "the conflict does not name field manager chaos: $conflict"
echo "$conflict" | grep -q '\.spec\.replicas' || fail "the conflict does not name .spec.replicas: $conflict"

# 3. kubectl scale mid-run
kc -n $ns scale deployment back --replicas=3 >/dev/null
for _ in $(seq 100); do said ssa "the Deployment of back was scaled from 2 to 3 replicas outside the run" && break; sleep 0.1; done
said ssa "the Deployment of back was scaled from 2 to 3 replicas outside the run \(by field manager \`kubectl" ||
  fail "the runner did not say that back was scaled to 3 from outside (naming kubectl)"
n=
for _ in $(seq 60); do
  n=$(faulted back)
  [ "$n" = 3 ] && break
  sleep 0.5
done
[ "$n" = 3 ] || fail "after kubectl scale, $n Pods of back hold the active fault, not 3"

# 4. the same apply, forced: taken over from chaos, reported with manager other
replicas 4 | kc -n $ns apply --server-side --field-manager=other --force-conflicts -f - >/dev/null
for _ in $(seq 100); do said ssa "scaled from 3 to 4 replicas outside the run" && break; sleep 0.1; done
said ssa "scaled from 3 to 4 replicas outside the run \(by field manager \`other\`\)" ||
  fail "the runner did not say that manager other scaled back to 4"
finish ssa
[ "$got" = 0 ] || fail "ssa.chaos exited $got"
report ssa <<'PY' || fail "ssa.chaos: the report does not list both scales as unexpected events"
import json, sys
r = json.load(open(sys.argv[1]))
events = [e["what"] for e in r["unexpected_events"]]
assert any("from 2 to 3" in e and "kubectl" in e for e in events), events
assert any("from 3 to 4" in e and "`other`" in e for e in events), events
assert r["passed"] is True
PY
ns_gone $ns
no_agents_left ssa.chaos
echo "ok   ssa.chaos: another manager's label applied beside the run's; its replicas refused ($(echo "$conflict" | grep -o 'conflict with "chaos"[^,]*' | head -1)); kubectl scale and a forced apply reported (not undone), the fault on the new Pods"
