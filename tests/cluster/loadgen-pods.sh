# Sourced by tests/cluster/run.sh (uses its run, report, fail, no_agents_left and $out):
# several load generator Pods (issue 11). The same scenario and seed run once with one Pod and
# once with three; the merged report of three must give what one gives:
#   open-loop requests: the arrival stream is the seed's alone and the three Pods' shares
#     partition it, so the counts are equal; allowed: 0.5% for requests left unanswered at
#     the end (none expected: the service answers in ~1 ms)
#   injected errors (errors 20%, drawn per request by the agents, independently per run):
#     the two counts differ within 4 standard deviations of a difference of two binomials,
#     4 * sqrt(2 n p (1 - p)) (about 4 * 31 = 125 of ~3,000)
#   closed loop (6 users): its count follows the answers, not the seed; both runs within 25%
#     of each other (a share that lost its users would be a third short)
#   time 0: with three Pods the runner started them together (the progress line says within
#     how many ms)
# CONFIG: the kubeconfig to run as.
loadgen_pods_case() {
  local config=$1
  run "$config" lg1 tests/cluster/loadgen-pods.chaos --loadgen-pods 1
  [ "$got" = 0 ] || fail "loadgen-pods.chaos --loadgen-pods 1 exited $got"
  run "$config" lg3 tests/cluster/loadgen-pods.chaos --loadgen-pods 3
  [ "$got" = 0 ] || fail "loadgen-pods.chaos --loadgen-pods 3 exited $got"
  said lg3 "started the load generator: 3 Pods" || fail "--loadgen-pods 3: the Job did not start 3 Pods"
  said lg3 "3 Pods within [0-9]+ ms of each other" || fail "--loadgen-pods 3: no common start"
  python3 - "$out/lg1.json" "$out/lg3.json" <<'PY' || fail "--loadgen-pods 3 does not add up to what one Pod gives (see above)"
import json, math, sys
one, three = (json.load(open(p)) for p in sys.argv[1:3])
def workload(r, name):
    return next(w for w in r["workloads"] if w["name"] == name)
o1, o3 = workload(one, "open"), workload(three, "open")
c1, c3 = workload(one, "closed"), workload(three, "closed")
n1, n3 = o1["sent"], o3["sent"]
e1, e3 = (w["errors_by_cause"].get("injected", 0) for w in (o1, o3))
p = (e1 + e3) / max(n1 + n3, 1)
noise = 4 * math.sqrt(2 * max(n1, n3) * p * (1 - p))
print(f"     open: {n1} requests with 1 Pod, {n3} with 3; injected errors {e1} vs {e3} (bound {noise:.0f});"
      f" closed: {c1['sent']} vs {c3['sent']}")
assert n1 > 2500, n1
assert abs(n1 - n3) <= 0.005 * n1, (n1, n3)
assert abs(e1 - e3) <= noise, (e1, e3, noise)
assert abs(c1["sent"] - c3["sent"]) <= 0.25 * c1["sent"], (c1["sent"], c3["sent"])
PY
  no_agents_left loadgen-pods.chaos
  echo "ok   loadgen-pods.chaos: 3 load generator Pods, merged, give what 1 gives: $(grep -ho '3 Pods within [0-9]* ms of each other' "$out/lg3.err" "$out/lg3.out" | head -1)"
}
