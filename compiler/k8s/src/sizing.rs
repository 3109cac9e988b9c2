//! How many load generator Pods a run needs: the plan's peak offered rate over what one Pod
//! sends ([`POD_CAPACITY_PER_S`]), unless the user says (`--loadgen-pods N`).

use chaos_plan::{Load, Plan};

/// Requests per second one load generator Pod is assumed to sustain. The figure
/// (issue 11: "one load-generator Pod tops out near 50k requests/s"), in line with
/// `runner/local/BENCH.md`, where one load generator sustained 47,500/s (16-19 µs of CPU per
/// request) on a 2-vCPU machine it shared with the agent it loaded. The Job's Pod may use up
/// to 2 CPUs.
pub const POD_CAPACITY_PER_S: f64 = 50_000.0;

/// The most Pods a run may ask for: each is a Pod of its own with its own connections, and a
/// typo (`--loadgen-pods 1000`) should not flood a cluster.
pub const MAX_PODS: u32 = 64;

/// The highest total rate of the plan's open-loop workloads at any instant: each rate is
/// linear between its pieces' and spikes' edges, so the sum peaks at one of those edges
/// (just after it, or just before it for a piece that ends there). Closed-loop workloads
/// count nothing: their rate follows the answers, which the plan does not know.
pub fn peak_offered_per_s(plan: &Plan) -> f64 {
    let mut edges = Vec::new();
    for w in &plan.workloads {
        if let Load::Open { rate, spikes, .. } = &w.load {
            edges.extend(rate.iter().flat_map(|p| [p.start_s, p.end_s]));
            edges.extend(spikes.iter().flat_map(|s| [s.start_s, s.end_s]));
        }
    }
    edges
        .iter()
        .flat_map(|&t| [(t, false), (t, true)])
        .map(|(t, before)| {
            plan.workloads
                .iter()
                .map(|w| rate_at(&w.load, t, before))
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// The open-loop rate at `t` (`before`: the limit from the left, where a piece ends at `t`).
fn rate_at(load: &Load, t: f64, before: bool) -> f64 {
    let Load::Open { rate, spikes, .. } = load else {
        return 0.0;
    };
    let inside = |a: f64, b: f64| {
        if before {
            a < t && t <= b
        } else {
            a <= t && t < b
        }
    };
    let base = rate
        .iter()
        .find(|p| inside(p.start_s, p.end_s))
        .map_or(0.0, |p| {
            let len = p.end_s - p.start_s;
            if len <= 0.0 {
                p.from_per_s
            } else {
                p.from_per_s + (p.to_per_s - p.from_per_s) * (t - p.start_s) / len
            }
        });
    let spikes: f64 = spikes
        .iter()
        .filter(|s| inside(s.start_s, s.end_s))
        .map(|s| s.rate_per_s)
        .sum();
    (base + spikes).max(0.0)
}

/// Pods for a plan when the user did not say: enough that none is offered more than
/// [`POD_CAPACITY_PER_S`], at least 1, at most [`MAX_PODS`].
pub fn default_pods(plan: &Plan) -> u32 {
    let pods = (peak_offered_per_s(plan) / POD_CAPACITY_PER_S).ceil();
    (pods as u32).clamp(1, MAX_PODS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan(workloads: serde_json::Value) -> Plan {
        serde_json::from_value(serde_json::json!({
            "version": 2,
            "scenario": { "name": "s", "duration_s": 10.0, "warmup_s": 0.0, "seed": 1, "window_s": 1.0, "drain_s": 1.0 },
            "params": [], "services": [{
                "name": "api", "replicas": { "kind": "fixed", "count": 1 }, "workers": 1, "queue": null,
                "rate_limit_per_s": null, "restart_s": 1.0, "balance": "round_robin",
                "latency": { "dist": "constant", "value_s": 0.0 },
                "endpoints": [{ "name": "GET /", "steps": [] }]
            }],
            "workloads": workloads, "faults": [], "expectations": [], "aborts": []
        }))
        .unwrap()
    }

    fn open(rate: serde_json::Value, spikes: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "name": "w", "target": { "service": "api", "endpoint": "GET /" }, "timeout_s": null,
            "load": { "kind": "open", "rate": rate, "spikes": spikes, "arrivals": "poisson" }
        })
    }

    #[test]
    fn the_peak_is_where_ramps_and_spikes_meet() {
        // A ramp 0 -> 60k/s over [0, 5), then 20k/s, a 50k/s spike over [4, 6): the peak is
        // just before 5 s (60k + 50k), not at any single piece's own maximum plus the spike.
        let p = plan(serde_json::json!([open(
            serde_json::json!([
                { "start_s": 0.0, "end_s": 5.0, "from_per_s": 0.0, "to_per_s": 60000.0 },
                { "start_s": 5.0, "end_s": 10.0, "from_per_s": 20000.0, "to_per_s": 20000.0 }
            ]),
            serde_json::json!([{ "start_s": 4.0, "end_s": 6.0, "rate_per_s": 50000.0 }])
        )]));
        assert_eq!(peak_offered_per_s(&p), 110_000.0);
        assert_eq!(default_pods(&p), 3);
    }

    #[test]
    fn workloads_add_up_and_closed_loops_count_nothing() {
        let steady = |r: f64| {
            open(
                serde_json::json!([{ "start_s": 0.0, "end_s": 10.0, "from_per_s": r, "to_per_s": r }]),
                serde_json::json!([]),
            )
        };
        let closed = serde_json::json!({
            "name": "c", "target": { "service": "api", "endpoint": "GET /" }, "timeout_s": null,
            "load": { "kind": "closed", "users_from": 500, "users_to": 500, "ramp_start_s": 0.0,
                      "ramp_s": 0.0, "think": { "dist": "constant", "value_s": 0.0 } }
        });
        let p = plan(serde_json::json!([
            steady(30000.0),
            steady(20000.0),
            closed
        ]));
        assert_eq!(peak_offered_per_s(&p), 50_000.0);
        assert_eq!(default_pods(&p), 1);
        let p = plan(serde_json::json!([steady(30000.0), steady(20001.0)]));
        assert_eq!(default_pods(&p), 2);
        assert_eq!(default_pods(&plan(serde_json::json!([]))), 1);
        assert_eq!(
            default_pods(&plan(serde_json::json!([steady(1e9)]))),
            MAX_PODS
        );
    }
}
