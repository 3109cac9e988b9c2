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
    use super::*;
    use chaos_plan::{RatePiece, Spike, Workload};
    use chaos_test_support::plans::{self, ramp, spike};

    /// `workloads` on a 10-second scenario of one endpoint, `api`'s `GET /`.
    fn plan(workloads: Vec<Workload>) -> Plan {
        let api = plans::service("api", vec![plans::endpoint("GET /", vec![])]);
        Plan {
            scenario: plans::scenario(10.0),
            workloads,
            ..plans::plan(vec![api])
        }
    }

    fn open(rate: Vec<RatePiece>, spikes: Vec<Spike>) -> Workload {
        plans::open("w", ("api", "GET /"), rate, spikes)
    }

    #[test]
    fn the_peak_is_where_ramps_and_spikes_meet() {
        // A ramp 0 -> 60k/s over [0, 5), then 20k/s, a 50k/s spike over [4, 6): the peak is
        // just before 5 s (60k + 50k), not at any single piece's own maximum plus the spike.
        let p = plan(vec![open(
            vec![
                ramp(0.0, 5.0, 0.0, 60000.0),
                ramp(5.0, 10.0, 20000.0, 20000.0),
            ],
            vec![spike(4.0, 6.0, 50000.0)],
        )]);
        assert_eq!(peak_offered_per_s(&p), 110_000.0);
        assert_eq!(default_pods(&p), 3);
    }

    #[test]
    fn workloads_add_up_and_closed_loops_count_nothing() {
        let steady = |r: f64| open(vec![ramp(0.0, 10.0, r, r)], vec![]);
        let closed = plans::closed("c", ("api", "GET /"), 500);
        let p = plan(vec![steady(30000.0), steady(20000.0), closed]);
        assert_eq!(peak_offered_per_s(&p), 50_000.0);
        assert_eq!(default_pods(&p), 1);
        let p = plan(vec![steady(30000.0), steady(20001.0)]);
        assert_eq!(default_pods(&p), 2);
        assert_eq!(default_pods(&plan(vec![])), 1);
        assert_eq!(default_pods(&plan(vec![steady(1e9)])), MAX_PODS);
    }
}
