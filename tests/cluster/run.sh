#!/usr/bin/env bash
# `chaos run --cluster` against a real control plane (scripts/testbed). Run by scripts/test; needs
# root, Go and `ip netns`. Every run below uses a user whose only rights are the ClusterRole written
# in docs/kubernetes.md, applied exactly as written (so the Role is proven sufficient), except the
# two that test what a missing right or server does. What it checks:
#   smoke.chaos          exit 0, injected errors on `back`, a killed Pod replaced by its ReplicaSet
#   replicas.chaos       `on 1 of S` hits one Pod of three; `health_check` as the readinessProbe
#                        takes a Pod under loss out of its Service
#   eject.chaos          callers reach the callee's Pods by the IPs the runner pushes, and eject
#                        the one answering 503
#   loadgen-pods.chaos   with --loadgen-pods 3 the merged report gives what 1 Pod gives (same seed)
#   faults.chaos         each fault kind (latency, errors, partition, cpu, loss, memory) judged by
#                        its expectations: exit 0 only if every one took effect
#   autoscale.sh         the plan's autoscale rule through deployments/scale, traffic on the new
#                        Pods; a re-run into the kept namespace refused
#   ssa.sh               other field managers during a run: a label beside ours, replicas refused
#                        (conflict with chaos), kubectl scale and a forced apply reported, not undone
#   scenarios.sh         the scenarios of scenarios/ to the exit code on their first line: the
#                        long ones in rotation, two per run in a lane beside everything from
#                        smoke.chaos to chaos cleanup; then the short ones, two at a time; the
#                        rest named, skipped, with why (CHAOS_CLUSTER_ALL=1 runs them all)
#   abort.chaos          `abort when` fires: exit 1, the run ends early, faults reverted
#   keep.chaos --keep    the namespace and its Pods stay, no fault left on any agent
#   keep.chaos + SIGTERM exit 3, faults reverted, the namespace finalized, no process left
#   chaos cleanup        deletes the namespace a SIGKILLed runner left, and nothing else: not a
#                        running run's, not a young one with --older-than, not a non-run's
#   an existing namespace, an unreachable server, a user lacking one verb: exit 3, clear messages
set -euo pipefail
cd "$(dirname "$0")/../.."

out=$(mktemp -d)
# CHAOS_TESTBED_KEEP=1 leaves the testbed up afterwards (for working on these tests).
trap '[ "${CHAOS_TESTBED_KEEP:-}" = 1 ] || scripts/testbed down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
started=$(date +%s)
CHAOS=$PWD/target/debug/chaos
# the testbed's state dir (its PKI and kubeconfigs), as scripts/testbed chose it
tb_state=${CHAOS_TESTBED_STATE:-/tmp/chaos-testbed}

scripts/testbed up | tail -n 1
tb() { scripts/testbed exec -- "$@"; }
kc() { tb kubectl "$@"; }

fail() {
  echo "FAIL cluster: $*"
  for f in "$out"/last.out "$out"/last.err; do [ -f "$f" ] && tail -n 30 "$f" | sed "s/^/  $(basename "$f"): /"; done
  exit 1
}

# RUN KUBECONFIG NAME ARGS…: chaos run --cluster as that user; exit code in $got, output in
# $out/NAME.{out,err} (and last.*), the report in $out/NAME.json.
run() {
  local config=$1 name=$2
  shift 2
  set +e
  tb env KUBECONFIG="$config" "$CHAOS" run --cluster --image chaos:dev --report "$out/$name.json" "$@" \
    >"$out/$name.out" 2>"$out/$name.err"
  got=$?
  set -e
  cp "$out/$name.out" "$out/last.out"
  cp "$out/$name.err" "$out/last.err"
}
said() { grep -qE -- "$2" "$out/$1.out" "$out/$1.err"; } # NAME REGEX: in its output?
# START KUBECONFIG NAME FILE REGEX ARGS…: chaos run --cluster FILE as that user in the background,
# returning once REGEX is in its output (fails after 60 s without it); output in
# $out/NAME.{out,err}, the report in $out/NAME.json, the process in $pid: chaos itself
# (scripts/testbed exec, ip netns exec and env all exec), so a signal sent to it reaches the runner.
start() {
  local config=$1 name=$2 file=$3 until=$4
  shift 4
  scripts/testbed exec -- env KUBECONFIG="$config" "$CHAOS" run --cluster --image chaos:dev "$file" \
    --report "$out/$name.json" "$@" >"$out/$name.out" 2>"$out/$name.err" &
  pid=$!
  for _ in $(seq 600); do said "$name" "$until" && break; sleep 0.1; done
  cp "$out/$name.err" "$out/last.err"
  said "$name" "$until" || fail "$file: \"$until\" never came in its output"
}
# FINISH NAME: waits for the run START began; its exit code in $got, its output in last.*.
finish() {
  set +e
  wait "$pid"
  got=$?
  set -e
  cp "$out/$1.out" "$out/last.out"
  cp "$out/$1.err" "$out/last.err"
}
want_exit() { # FILE: the exit code on its first line
  sed -n '1s/^# *expect-exit: *\([0-9]\).*/\1/p' "$1"
}
# No agent process of any run is left (the shim kills a Pod's process once the Pod is deleted),
# but the lane's (scenarios.sh), which runs beside: its Pods are those of chaos-lane-* namespaces.
no_agents_left() {
  local left procs lane_pods pid cmd pod
  for _ in $(seq 100); do
    # only the testbed's processes: other work on this machine may run agents of its own
    procs=()
    for pid in $(ip netns pids "${CHAOS_TESTBED_NETNS:-chaos-testbed}" 2>/dev/null); do
      cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || continue
      case "$cmd" in *" agent --plan "*) procs+=("$cmd") ;; esac
    done
    [ "${#procs[@]}" != 0 ] || return 0
    # listed after the processes: a lane Pod's object exists before its process starts
    lane_pods=" $(kc get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}' |
      tr ' ' '\n' | sed -n 's#^chaos-lane-[^/]*/##p' | tr '\n' ' ') "
    left=0
    for cmd in "${procs[@]}"; do
      pod=$(echo "$cmd" | sed -n 's/.* --replica \([^ ]*\).*/\1/p')
      [ -n "$pod" ] && [[ "$lane_pods" == *" $pod "* ]] || left=$((left + 1))
    done
    [ "$left" = 0 ] && return 0
    sleep 0.2
  done
  fail "$left agent process(es) still running after $1"
}
# NAMESPACE: really gone (the namespace controller finalized it), waiting up to 60 s.
ns_gone() {
  for _ in $(seq 120); do
    kc get namespace "$1" >/dev/null 2>&1 || return 0
    sleep 0.5
  done
  fail "namespace $1 still exists: $(kc get namespace "$1" -o jsonpath='{.status.phase}')"
}
# JSON report checks: python3 - REPORT <<'PY' … PY
report() { python3 - "$out/$1.json"; }

# What an earlier run of this script may have left on a kept testbed (CHAOS_TESTBED_KEEP=1).
# shellcheck disable=SC2046 # the lane's namespaces, one word each
kc delete namespace chaos-keep-ci chaos-term-ci chaos-killed-ci chaos-not-ours chaos-decoy \
  $(kc get namespaces -o name | sed -n 's#^namespace/\(chaos-lane-.*\)#\1#p') \
  --ignore-not-found --wait=true >/dev/null

# --- the documented Role, applied exactly as written -------------------------------------------
python3 - docs/kubernetes.md >"$out/role.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- role -->\s*```yaml\n(.*?)```", text, re.S)
assert m, "docs/kubernetes.md has no ```yaml block after <!-- role -->"
print(m.group(1))
PY
ci=$(scripts/testbed user chaos-ci)
kc apply -f "$out/role.yaml" >/dev/null
kc delete clusterrolebinding chaos-ci --ignore-not-found >/dev/null
kc create clusterrolebinding chaos-ci --clusterrole=chaos-runner --user=chaos-ci >/dev/null
echo "ok   the ClusterRole of docs/kubernetes.md applied; every run below is user chaos-ci with it alone"

# --- the long scenarios' lane, beside everything below (tests/cluster/scenarios.sh) ---------------
. tests/cluster/scenarios.sh
long_lane_start

# --- the smoke scenario ---------------------------------------------------------------------------
run "$ci" smoke tests/cluster/smoke.chaos
[ "$got" = "$(want_exit tests/cluster/smoke.chaos)" ] || fail "smoke.chaos exited $got"
report smoke <<'PY' || fail "the smoke report does not show the faults carried out"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["mode"] == "cluster", r["mode"]
back = next(s for s in r["services"] if s["service"] == "back")
assert back["errors_by_cause"].get("injected", 0) > 0, back["errors_by_cause"]
assert back["requests"] > 0 and r["passed"] is True
PY
said smoke "deleted pod\(s\) back-" || fail "the kill deleted no Pod of back"
said smoke "deleted namespace chaos-cluster-smoke-" || fail "the run's namespace was not deleted"
no_agents_left smoke.chaos
echo "ok   smoke.chaos: exit $got, injected errors on back, a Pod killed and replaced, namespace deleted"

# --- every fault kind ------------------------------------------------------------------------------
run "$ci" faults tests/cluster/faults.chaos
[ "$got" = 0 ] || fail "faults.chaos exited $got: a fault kind did not take effect (see the expectations)"
report faults <<'PY' || fail "faults.chaos: the report does not show every fault's effect"
import json, sys
r = json.load(open(sys.argv[1]))
kinds = ["slow", "broken", "split", "hot", "lossy", "42s"]
texts = [e["text"] for e in r["expectations"]]
for k in kinds:
    assert any(k in t for t in texts), (k, texts)
assert all(e["passed"] for e in r["expectations"]), r["expectations"]
PY
no_agents_left faults.chaos
echo "ok   faults.chaos: latency, errors, partition, cpu, loss and memory each took effect through the Pod proxy"

# --- on N of S, and health_check as the readinessProbe (issue 14) ---------------------------------
# kube-proxy balances connections, not requests, and the load generator keeps its connections:
# how many requests reach the one faulted Pod depends on where they landed. So the run's report
# is not the judge here; the Pods are, read while the fault is on: exactly one Pod of each
# service holds it, and the `checked` Pod under loss turns not Ready (its readinessProbe is the
# health check), then Ready again after the fault.
ns=chaos-replicas-ci
start "$ci" replicas tests/cluster/replicas.chaos "fault bad-0-1 on checked" --namespace $ns
token=$(kc -n $ns get secret chaos-token -o jsonpath='{.data.token}' | base64 -d)
faulted() { # SERVICE: how many of its Pods hold a fault now
  local n=0 p f
  for p in $(kc -n $ns get pods -l app.kubernetes.io/instance="$1" -o jsonpath='{.items[*].metadata.name}'); do
    f=$(tb curl -sS --cacert "$tb_state/pki/ca.crt" --cert "$tb_state/pki/admin.crt" \
      --key "$tb_state/pki/admin.key" -H "x-chaos-token: $token" \
      "https://10.244.0.1:6443/api/v1/namespaces/$ns/pods/$p:8080/proxy/_chaos/faults")
    [ -z "${FAULTED_SAY:-}" ] || echo "$p: $f" >&2
    # a Pod that does not answer yet (not ready: curl's error, not JSON) holds no fault
    case "$(echo "$f" | python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)))
except ValueError: print(0)')" in
    0) ;;
    *) n=$((n + 1)) ;;
    esac
  done
  echo $n
}
for s in plain checked; do
  n=
  for _ in $(seq 10); do
    n=$(faulted $s)
    [ "$n" = 1 ] && break
    sleep 0.3
  done
  [ "$n" = 1 ] || fail "on 1 of $s: $n Pods hold the fault, not 1 ($(FAULTED_SAY=1 faulted $s))"
done
lossy=$(grep -ho "fault bad-0-1 on checked (pods [^)]*)" "$out/replicas.err" | sed 's/.*(pods \(.*\))/\1/')
ready() { kc -n $ns get pod "$lossy" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
# every 1s x unhealthy 2, timeout 1s: not Ready within ~3 s of the fault's start
for _ in $(seq 100); do [ "$(ready)" = False ] && break; sleep 0.1; done
[ "$(ready)" = False ] || fail "health_check: Pod $lossy under loss 100% is still Ready"
for _ in $(seq 200); do said replicas "reverted fault bad-0-1" && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(ready)" = True ] && break; sleep 0.1; done
[ "$(ready)" = True ] || fail "health_check: Pod $lossy did not turn Ready again after the fault (healthy 1)"
finish replicas
[ "$got" = 0 ] || fail "replicas.chaos exited $got"
ns_gone $ns
no_agents_left replicas.chaos
echo "ok   replicas.chaos: on 1 of S holds on exactly one Pod of three; health_check (the readinessProbe) took Pod $lossy out under loss and back in after"

# --- eject: the runner pushes the callee's Pod IPs to its callers (issue 14) ----------------------
run "$ci" eject tests/cluster/eject.chaos
[ "$got" = 0 ] || fail "eject.chaos exited $got: errors went on after the bad Pod should have been ejected"
report eject <<'PY' || fail "eject.chaos: front did not reach the bad Pod by its IP and then stop (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
back = next(s for s in r["services"] if s["service"] == "back")
injected = back["errors_by_cause"].get("injected", 0)
# through the Service alone front's kept-alive connections may never meet the bad Pod (0), or
# keep meeting it (about a third of 420 calls); with its Pods as peers front meets it, then ejects it
print(f"     back: {injected} injected errors of {back['requests']} calls")
assert 1 <= injected <= 20, injected
PY
no_agents_left eject.chaos
echo "ok   eject.chaos: front called back's Pods by the pushed IPs and ejected the bad one"

# --- autoscaling through the scale subresource; a re-run into a kept namespace -------------------
. tests/cluster/autoscale.sh

# --- server-side apply and scales by other writers during a run -----------------------------------
. tests/cluster/ssa.sh

# --- several load generator Pods (issue 11): tests/cluster/loadgen-pods.sh ------------------------
. tests/cluster/loadgen-pods.sh
loadgen_pods_case "$ci"


# --- abort when ------------------------------------------------------------------------------------
run "$ci" abort tests/cluster/abort.chaos
[ "$got" = 1 ] || fail "abort.chaos exited $got, expected 1 (aborted)"
report abort <<'PY' || fail "abort.chaos: the report does not show the abort"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["aborted"], r.get("aborted")
assert r["aborted"]["at_s"] < 25, r["aborted"]
PY
said abort "abort at .*reverting faults" || fail "abort.chaos: no abort line"
said abort "reverted fault broken-0-0" || fail "abort.chaos: the fault was not reverted"
said abort "deleted namespace" || fail "abort.chaos: the namespace was not deleted"
no_agents_left abort.chaos
echo "ok   abort.chaos: aborted early, exit 1, fault reverted, namespace deleted"

# --- an existing namespace is never used --------------------------------------------------------
kc delete namespace chaos-not-ours --ignore-not-found --wait=true >/dev/null
kc create namespace chaos-not-ours >/dev/null
run "$ci" existing tests/cluster/keep.chaos --namespace chaos-not-ours
[ "$got" = 3 ] || fail "a run into an existing namespace exited $got, expected 3"
said existing "namespace \`chaos-not-ours\` already exists" || fail "no clear message for an existing namespace"
kc get namespace chaos-not-ours >/dev/null || fail "the existing namespace was touched"
echo "ok   an existing namespace: exit 3, left alone"

# --- --keep ----------------------------------------------------------------------------------------
run "$ci" keep tests/cluster/keep.chaos --keep --namespace chaos-keep-ci
[ "$got" = 0 ] || fail "keep.chaos --keep exited $got"
said keep "kept namespace chaos-keep-ci" || fail "--keep: no 'kept namespace' line"
[ "$(kc get namespace chaos-keep-ci -o jsonpath='{.status.phase}')" = Active ] || fail "--keep: the namespace is not there"
token=$(kc -n chaos-keep-ci get secret chaos-token -o jsonpath='{.data.token}' | base64 -d)
pods=$(kc -n chaos-keep-ci get pods -l app.kubernetes.io/name=chaos-agent -o jsonpath='{.items[*].metadata.name}')
[ -n "$pods" ] || fail "--keep: no agent Pod left running"
for p in $pods; do
  faults=$(tb curl -sS --cacert "$tb_state/pki/ca.crt" --cert "$tb_state/pki/admin.crt" \
    --key "$tb_state/pki/admin.key" -H "x-chaos-token: $token" \
    "https://10.244.0.1:6443/api/v1/namespaces/chaos-keep-ci/pods/$p:8080/proxy/_chaos/faults")
  [ "$(echo "$faults" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
    fail "--keep: pod $p still has faults: $faults"
done
events() { kc -n chaos-keep-ci get events --field-selector "reason=$1" -o jsonpath='{range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {end}'; }
events ChaosFaultStarted | grep -q "Deployment/back " || fail "no ChaosFaultStarted Event on Deployment back: $(events ChaosFaultStarted)"
events ChaosFaultEnded | grep -q "Deployment/back " || fail "no ChaosFaultEnded Event on Deployment back: $(events ChaosFaultEnded)"
events ChaosPodKilled | grep -q "Pod/front-" || fail "no ChaosPodKilled Event on a Pod of front: $(events ChaosPodKilled)"
echo "ok   keep.chaos --keep: namespace and Pods kept ($pods), no fault left on them; Events: $(events ChaosFaultStarted)$(events ChaosFaultEnded)$(events ChaosPodKilled)"
kc delete namespace chaos-keep-ci --wait=true >/dev/null
ns_gone chaos-keep-ci
no_agents_left "deleting the kept namespace"

# --- SIGTERM mid-run --------------------------------------------------------------------------------
start "$ci" term tests/cluster/keep.chaos "fault slow-0-0 on" --namespace chaos-term-ci
# `chaos cleanup` while a run goes on leaves it alone (its heartbeat is fresh)
tb env KUBECONFIG="$ci" "$CHAOS" cleanup >"$out/cleanup-live.out" 2>&1 || fail "chaos cleanup failed: $(cat "$out/cleanup-live.out")"
grep -q "kept namespace chaos-term-ci: its runner is alive" "$out/cleanup-live.out" ||
  fail "chaos cleanup did not leave the running run alone: $(cat "$out/cleanup-live.out")"
kill -TERM "$pid" # chaos itself (see start)
finish term
[ "$got" = 3 ] || fail "SIGTERM: exited $got, expected 3"
said term "interrupted; faults were reverted and the run's namespace deleted" || fail "SIGTERM: no clear message"
said term "reverted fault slow-0-0" || fail "SIGTERM: the fault was not reverted"
ns_gone chaos-term-ci
no_agents_left SIGTERM
echo "ok   SIGTERM mid-run: exit 3, fault reverted, namespace finalized, no process left"

# --- SIGKILL: the runner cannot clean up; `chaos cleanup` does, once its heartbeat is stale ----
start "$ci" killed tests/cluster/keep.chaos "fault slow-0-0 on" --namespace chaos-killed-ci
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
killed_at=$(date +%s)
kc get namespace chaos-killed-ci >/dev/null || fail "SIGKILL: the namespace is gone already?"
# two namespaces cleanup must never touch: not a run's (no run id), and not chaos's at all
kc delete namespace chaos-decoy --ignore-not-found --wait=true >/dev/null
kc create namespace chaos-decoy >/dev/null
kc label namespace chaos-decoy app.kubernetes.io/managed-by=chaos >/dev/null
echo "ok   SIGKILL mid-run: namespace chaos-killed-ci left behind (cleanup is checked once its heartbeat is stale)"

# --- an unreachable server ------------------------------------------------------------------------
sed 's#https://10.244.0.1:6443#https://10.244.0.1:6999#' "$tb_state/admin.kubeconfig" >"$out/unreachable.kubeconfig"
run "$out/unreachable.kubeconfig" unreachable tests/cluster/keep.chaos
[ "$got" = 3 ] || fail "an unreachable server: exited $got, expected 3"
said unreachable "cannot reach the Kubernetes API server at https://10.244.0.1:6999" ||
  fail "an unreachable server: no clear message"
echo "ok   an unreachable server: exit 3, '$(grep -ho 'cannot reach[^;]*' "$out/unreachable.err" | head -c 120)…'"

# --- a user lacking one verb ------------------------------------------------------------------------
# The documented Role without `patch` on deployments (server-side apply is a patch).
python3 - "$out/role.yaml" >"$out/role-no-patch.yaml" <<'PY'
import sys
lines = open(sys.argv[1]).read().replace("name: chaos-runner", "name: chaos-runner-no-patch").split("\n")
out, deployments = [], False
for l in lines:
    if "resources:" in l:
        deployments = "[deployments]" in l
    if deployments and "verbs:" in l:
        l = l.replace("patch, ", "").replace(", patch", "")
    out.append(l)
print("\n".join(out))
PY
grep -q "chaos-runner-no-patch" "$out/role-no-patch.yaml" || fail "could not derive the limited Role"
limited=$(scripts/testbed user chaos-limited)
kc apply -f "$out/role-no-patch.yaml" >/dev/null
kc delete clusterrolebinding chaos-limited --ignore-not-found >/dev/null
kc create clusterrolebinding chaos-limited --clusterrole=chaos-runner-no-patch --user=chaos-limited >/dev/null
run "$limited" limited tests/cluster/keep.chaos
[ "$got" = 3 ] || fail "a user without patch on deployments: exited $got, expected 3"
said limited "forbidden by RBAC: cannot patch deployments.apps" || fail "the message does not name the verb and resource"
said limited "deleted namespace" || fail "the namespace was not deleted after the refusal"
echo "ok   a user lacking one verb: exit 3, '$(grep -ho 'forbidden by RBAC: cannot patch deployments.apps[^;]*' "$out/limited.err" | head -1)'"

# --- chaos cleanup -----------------------------------------------------------------------------------
# STALE is 60 s (runner/cluster/src/cleanup.rs): six heartbeats of 10 s missed
wait_s=$((killed_at + 62 - $(date +%s)))
[ "$wait_s" -le 0 ] || sleep "$wait_s"
tb env KUBECONFIG="$ci" "$CHAOS" cleanup --older-than 30m >"$out/cleanup-young.out" 2>&1 || fail "chaos cleanup --older-than 30m failed"
grep -q "kept namespace chaos-killed-ci: created .* ago, not older than 30m" "$out/cleanup-young.out" ||
  fail "cleanup --older-than 30m: $(cat "$out/cleanup-young.out")"
tb env KUBECONFIG="$ci" "$CHAOS" cleanup >"$out/cleanup.out" 2>&1 || fail "chaos cleanup failed: $(cat "$out/cleanup.out")"
cp "$out/cleanup.out" "$out/last.out"
grep -q "deleted namespace chaos-killed-ci: its runner is gone" "$out/cleanup.out" || fail "cleanup did not delete the SIGKILLed run's namespace"
! grep -q "chaos-decoy\|chaos-not-ours" "$out/cleanup.out" || fail "cleanup considered a namespace that is not a run's"
ns_gone chaos-killed-ci
kc get namespace chaos-decoy chaos-not-ours >/dev/null || fail "cleanup deleted a namespace that is not a run's"
no_agents_left "chaos cleanup"
echo "ok   chaos cleanup: the SIGKILLed run's namespace deleted ('$(grep -o 'its runner is gone[^)]*)' "$out/cleanup.out")'), a live run's and non-runs' left alone"

# --- the lane's long scenarios, to their exit code -----------------------------------------------
long_lane_finish
no_agents_left "the lane"

# --- the short scenarios, after the lane: they compare with --sim's figures, so not beside it ---
cluster_scenarios

echo "ok   cluster step: $(($(date +%s) - started)) s"
