# Sourced by tests/cluster/run.sh (uses its run, fail, report, kc, tb, no_agents_left, ns_gone).
# Autoscaling through the scale subresource (issue 11): tests/cluster/autoscale.chaos --keep.
#   - every "autoscale web: A -> B replicas (worker utilisation U%, target T%)" line is what
#     chaos_plan::ScaleRule::desired gives: B = clamp(ceil(A x U / T), min, max), within the
#     rounding of the printed U (it names whole percents);
#   - at least one such change happened, and the Deployment (kept) has the last B replicas,
#     set by field manager `chaos` through the scale subresource;
#   - traffic reached every Pod the runner added (kube-proxy balances connections; the load
#     generator Pods renew theirs every second);
#   - a re-run into the kept namespace is refused (exit 3) naming the run it holds, and changes
#     nothing in it.

ns=chaos-autoscale-ci
kc delete namespace $ns --ignore-not-found --wait=true >/dev/null
run "$ci" autoscale tests/cluster/autoscale.chaos --keep --namespace $ns
[ "$got" = 0 ] || fail "autoscale.chaos exited $got"
grep -h "autoscale web:" "$out/autoscale.out" "$out/autoscale.err" >"$out/autoscale.lines" || true
python3 - "$out/autoscale.lines" <<'PY' || fail "autoscale.chaos: a scaling decision is not the plan's rule (lines above)"
import math, re, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "the runner never scaled web"
lo, hi, target = 1, 3, 0.30  # tests/cluster/autoscale.chaos: autoscale 1..3 target 30%
for l in lines:
    m = re.search(r"autoscale web: (\d+) -> (\d+) replicas \(worker utilisation (\d+)%, target (\d+)%\)", l)
    assert m, l
    a, b, u, t = int(m[1]), int(m[2]), int(m[3]) / 100, int(m[4]) / 100
    assert t == target, l
    # U is printed rounded to a whole percent: B must be the rule's answer somewhere in U +- 0.5%
    want = {min(hi, max(lo, math.ceil(a * x / target - 1e-9))) for x in (u - 0.005, u, u + 0.005)}
    assert b in want, (l, want)
    print(f"     {l.strip()}  (rule: {sorted(want)})")
PY
last=$(tail -n 1 "$out/autoscale.lines" | sed -E 's/.* -> ([0-9]+) replicas.*/\1/')
replicas=$(kc -n $ns get deployment web -o jsonpath='{.spec.replicas}')
[ "$replicas" = "$last" ] || fail "autoscale: the Deployment has $replicas replicas, the runner's last decision was $last"
kc -n $ns get deployment web -o json --show-managed-fields | python3 -c '
import json, sys
d = json.load(sys.stdin)
subs = [(f["manager"], f.get("subresource", "")) for f in d["metadata"]["managedFields"]
        if "f:replicas" in f.get("fieldsV1", {}).get("f:spec", {})]
assert ("chaos", "scale") in subs, subs
' || fail "autoscale: spec.replicas was not set by field manager chaos through the scale subresource"
token=$(kc -n $ns get secret chaos-token -o jsonpath='{.data.token}' | base64 -d)
pods=$(kc -n $ns get pods -l app.kubernetes.io/instance=web -o jsonpath='{.items[*].metadata.name}')
[ "$(echo "$pods" | wc -w)" = "$last" ] || fail "autoscale: $last replicas wanted, Pods: $pods"
served=""
busy=0
for p in $pods; do
  n=$(tb curl -sS --cacert "$tb_state/pki/ca.crt" --cert "$tb_state/pki/admin.crt" \
    --key "$tb_state/pki/admin.key" -H "x-chaos-token: $token" \
    "https://10.244.0.1:6443/api/v1/namespaces/$ns/pods/$p:8080/proxy/_chaos/metrics" |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(r.get("ok", 0) for r in m["received"]))')
  served="$served $p:$n"
  [ "$n" -gt 0 ] && busy=$((busy + 1))
done
# kube-proxy balances connections, not requests: an added Pod gets only the connections the load
# generator opens after it is ready. Its Pods renew each connection after a second (pod.rs), so
# every Pod, the added ones too, served requests (before that, one added Pod often got none).
[ "$busy" = "$last" ] || fail "autoscale: not every Pod served requests (served:$served)"

# Re-running into the namespace the kept run left: refused before any apply, saying whose it is.
generation=$(kc -n $ns get deployment web -o jsonpath='{.metadata.generation}')
run "$ci" rerun tests/cluster/autoscale.chaos --namespace $ns
[ "$got" = 3 ] || fail "a re-run into the kept namespace exited $got, expected 3"
said rerun "namespace \`$ns\` already exists; .*it holds chaos run \`[^\`]+\` \(kept with \`--keep\`" ||
  fail "a re-run into a kept namespace: no message naming the kept run"
[ "$(kc -n $ns get deployment web -o jsonpath='{.metadata.generation}')" = "$generation" ] ||
  fail "a re-run into the kept namespace changed its Deployment"
echo "ok   a re-run into a kept run's namespace: exit 3, nothing applied, '$(grep -ho 'it holds chaos run[^(]*' "$out/rerun.err" | head -1)…'"
kc delete namespace $ns --wait=true >/dev/null
ns_gone $ns
no_agents_left autoscale.chaos
echo "ok   autoscale.chaos: web scaled 1 -> $last by the plan's rule through deployments/scale; traffic reached the added Pods (ok counts:$served)"
