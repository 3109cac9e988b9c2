//! What one machine can run: local mode refuses scenarios beyond these limits up front, with
//! the limit's name and how to raise it, rather than producing figures that measure the laptop.

use chaos_plan::{Load, Plan, Replicas};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Agent processes alive at once (autoscaled services count their `max`).
    pub max_replicas: u32,
    /// Open-loop requests per second of all workloads together, spikes included.
    pub max_rate_per_s: f64,
    /// Closed-loop users of all workloads together.
    pub max_users: u32,
}

pub const REPLICAS_VAR: &str = "CHAOS_LOCAL_MAX_REPLICAS";
pub const RATE_VAR: &str = "CHAOS_LOCAL_MAX_RATE";
pub const USERS_VAR: &str = "CHAOS_LOCAL_MAX_USERS";

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_replicas: 48,
            max_rate_per_s: 5000.0,
            max_users: 2000,
        }
    }
}

impl Limits {
    /// Defaults, raised or lowered by the environment variables above.
    pub fn from_env() -> Limits {
        let d = Limits::default();
        let get = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        Limits {
            max_replicas: get(REPLICAS_VAR).map_or(d.max_replicas, |v| v as u32),
            max_rate_per_s: get(RATE_VAR).unwrap_or(d.max_rate_per_s),
            max_users: get(USERS_VAR).map_or(d.max_users, |v| v as u32),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the scenario is too large for local mode: {what} is {value}, the limit is {limit}; run it with --sim or --cluster, lower it with --set, or raise the limit with {var}=N"
)]
pub struct TooLarge {
    pub what: String,
    pub value: String,
    pub limit: String,
    pub var: &'static str,
}

/// Peak open-loop rate of a workload (ramps peak at an end, spikes add on top).
pub fn peak_rate(load: &Load) -> f64 {
    match load {
        Load::Open { rate, spikes, .. } => {
            let base = rate
                .iter()
                .map(|p| p.from_per_s.max(p.to_per_s))
                .fold(0.0, f64::max);
            base + spikes.iter().map(|s| s.rate_per_s).sum::<f64>()
        }
        Load::Closed { .. } => 0.0,
    }
}

pub fn check(plan: &Plan, limits: &Limits) -> Result<(), TooLarge> {
    let replicas: u32 = plan
        .services
        .iter()
        .map(|s| match s.replicas {
            Replicas::Fixed { count } => count,
            Replicas::Autoscale { max, .. } => max,
        })
        .sum();
    if replicas > limits.max_replicas {
        return Err(TooLarge {
            what: "the total number of replicas (autoscaled services at their max)".into(),
            value: replicas.to_string(),
            limit: limits.max_replicas.to_string(),
            var: REPLICAS_VAR,
        });
    }
    let rate: f64 = plan.workloads.iter().map(|w| peak_rate(&w.load)).sum();
    if rate > limits.max_rate_per_s {
        return Err(TooLarge {
            what: "the peak request rate of all workloads together".into(),
            value: format!("{rate}/s"),
            limit: format!("{}/s", limits.max_rate_per_s),
            var: RATE_VAR,
        });
    }
    let users: u32 = plan
        .workloads
        .iter()
        .map(|w| match w.load {
            Load::Closed {
                users_from,
                users_to,
                ..
            } => users_from.max(users_to),
            Load::Open { .. } => 0,
        })
        .sum();
    if users > limits.max_users {
        return Err(TooLarge {
            what: "the number of closed-loop users".into(),
            value: users.to_string(),
            limit: limits.max_users.to_string(),
            var: USERS_VAR,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_plan::*;
    use chaos_test_support::plans;

    /// One service of `replicas`; one workload ramping from `rate / 2` to `rate - 100` with a
    /// spike of 100/s: `rate` at its peak.
    fn plan(replicas: Replicas, rate: f64) -> Plan {
        let s = Service {
            replicas,
            ..plans::service("s", vec![plans::endpoint("e", vec![plans::work(0.0)])])
        };
        Plan {
            workloads: vec![plans::open(
                "w",
                ("s", "e"),
                vec![plans::ramp(0.0, 1.0, rate / 2.0, rate - 100.0)],
                vec![plans::spike(0.0, 0.5, 100.0)],
            )],
            ..plans::plan(vec![s])
        }
    }

    #[test]
    fn autoscaled_services_count_at_their_max() {
        let limits = Limits {
            max_replicas: 4,
            max_rate_per_s: 1e6,
            max_users: 10,
        };
        let p = plan(
            Replicas::Autoscale {
                min: 1,
                max: 5,
                rule: chaos_plan::ScaleRule::Target { utilisation: 0.5 },
                delay_s: 1.0,
                interval_s: 1.0,
            },
            10.0,
        );
        let e = check(&p, &limits).unwrap_err();
        assert_eq!((e.value.as_str(), e.var), ("5", REPLICAS_VAR));
        assert!(e.to_string().contains("CHAOS_LOCAL_MAX_REPLICAS=N"), "{e}");
        assert!(check(&plan(Replicas::Fixed { count: 4 }, 10.0), &limits).is_ok());
    }

    #[test]
    fn the_rate_limit_counts_ramps_and_spikes_at_their_peak() {
        let limits = Limits {
            max_replicas: 4,
            max_rate_per_s: 1000.0,
            max_users: 10,
        };
        assert!(check(&plan(Replicas::Fixed { count: 1 }, 1000.0), &limits).is_ok());
        let e = check(&plan(Replicas::Fixed { count: 1 }, 1001.0), &limits).unwrap_err();
        assert_eq!(e.var, RATE_VAR);
    }
}
