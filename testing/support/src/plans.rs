//! Plans built in Rust, for tests that pin one exact value down (a field the language has no
//! words for, a plan no compiler would lower, a crate below the compiler). Each builder gives a
//! real `chaos_plan` value with the least a test needs: one replica of one worker, no fault,
//! nothing timed beyond a second (so a restart takes 1 s and the drain 1 s: shorter than the
//! compiler's defaults, on purpose). A test changes what it is about with struct update
//! syntax:
//!
//! ```
//! use chaos_plan::{Replicas, Service};
//! use chaos_test_support::plans::{endpoint, plan, service, work};
//!
//! let p = plan(vec![Service {
//!     replicas: Replicas::Fixed { count: 2 },
//!     ..service("api", vec![endpoint("GET /", vec![work(0.01)])])
//! }]);
//! assert_eq!(p.services[0].workers, 1);
//! ```
//!
//! Where a few lines of `.chaos` read better, [`plan_from_source`](crate::plan_from_source).

use chaos_plan::{
    Action, Arrivals, Balance, Call, Discipline, Dist, Endpoint, EndpointRef, Fault, Interval,
    Load, Occurrence, PLAN_VERSION, Plan, RatePiece, Replicas, Retry, Scenario, Service, Spike,
    Step, Target, Workload,
};

/// A one-second scenario `t` with nothing but `services`.
pub fn plan(services: Vec<Service>) -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: scenario(1.0),
        params: vec![],
        services,
        workloads: vec![],
        faults: vec![],
        expectations: vec![],
        aborts: vec![],
    }
}

/// A scenario `t` of `duration_s`: seed 1, windows of 1 s, a drain of 1 s, no warm-up, no hop.
pub fn scenario(duration_s: f64) -> Scenario {
    Scenario {
        name: "t".into(),
        duration_s,
        warmup_s: 0.0,
        seed: 1,
        window_s: 1.0,
        drain_s: 1.0,
        hop_s: 0.0,
    }
}

/// One fixed replica of one worker, an unbounded FIFO queue, no rate limit, a restart after
/// 1 s, round robin, no default latency, no health check, no ejection.
pub fn service(name: &str, endpoints: Vec<Endpoint>) -> Service {
    Service {
        name: name.into(),
        replicas: Replicas::Fixed { count: 1 },
        workers: 1,
        queue: None,
        discipline: Discipline::Fifo,
        health_check: None,
        eject: None,
        rate_limit_per_s: None,
        restart_s: 1.0,
        balance: Balance::RoundRobin,
        latency: Dist::ZERO,
        endpoints,
    }
}

/// [`service`] with `count` fixed replicas and one endpoint, `GET /`, that answers at once: a
/// service that is only there to be counted, scaled or faulted.
pub fn replicated(name: &str, count: u32) -> Service {
    Service {
        replicas: Replicas::Fixed { count },
        ..service(name, vec![endpoint("GET /", vec![work(0.0)])])
    }
}

pub fn endpoint(name: &str, steps: Vec<Step>) -> Endpoint {
    Endpoint {
        name: name.into(),
        steps,
    }
}

/// A `work` step of exactly `seconds`.
pub fn work(seconds: f64) -> Step {
    Step::Work {
        dist: Dist::Constant { value_s: seconds },
    }
}

/// A call of `service`'s `endpoint` that waits for ever (up to the drain), never retries, has
/// no breaker, fails its step when it fails and keeps the priority the request came with.
pub fn call(service: &str, endpoint: &str) -> Call {
    Call {
        service: service.into(),
        endpoint: endpoint.into(),
        timeout_s: None,
        retry: Retry::NONE,
        circuit_breaker: None,
        continue_on_error: false,
        priority: None,
    }
}

/// A fault target: every replica and endpoint of `service`.
pub fn on(service: &str) -> Target {
    Target {
        service: service.into(),
        endpoint: None,
        replicas: None,
    }
}

/// An open workload `name` on `service`'s `endpoint`: Poisson arrivals at `rate` (pieces that
/// cover the run) plus `spikes`, no client timeout, priority 0.
pub fn open(
    name: &str,
    (service, endpoint): (&str, &str),
    rate: Vec<RatePiece>,
    spikes: Vec<Spike>,
) -> Workload {
    workload(
        name,
        (service, endpoint),
        Load::Open {
            rate,
            spikes,
            arrivals: Arrivals::Poisson,
        },
    )
}

/// A closed workload `name` of `users` users from the start on, who send again as soon as
/// they have their answer.
pub fn closed(name: &str, (service, endpoint): (&str, &str), users: u32) -> Workload {
    workload(
        name,
        (service, endpoint),
        Load::Closed {
            users_from: users,
            users_to: users,
            ramp_start_s: 0.0,
            ramp_s: 0.0,
            think: Dist::ZERO,
        },
    )
}

/// A workload `name` on `service`'s `endpoint` with `load`, no client timeout, priority 0.
pub fn workload(name: &str, (service, endpoint): (&str, &str), load: Load) -> Workload {
    Workload {
        name: name.into(),
        target: EndpointRef {
            service: service.into(),
            endpoint: endpoint.into(),
        },
        load,
        timeout_s: None,
        priority: 0,
    }
}

/// The rate going from `from_per_s` at `start_s` to `to_per_s` at `end_s`.
pub fn ramp(start_s: f64, end_s: f64, from_per_s: f64, to_per_s: f64) -> RatePiece {
    RatePiece {
        start_s,
        end_s,
        from_per_s,
        to_per_s,
    }
}

/// `rate_per_s` on top of the rate over `[start_s, end_s)`.
pub fn spike(start_s: f64, end_s: f64, rate_per_s: f64) -> Spike {
    Spike {
        start_s,
        end_s,
        rate_per_s,
    }
}

/// A fault `name` doing `actions` at each `(start, end)` (equal for an instant fault: a
/// kill), active over exactly those (a kill's restart time not added).
pub fn fault(name: &str, occurrences: &[(f64, f64)], actions: Vec<Action>) -> Fault {
    Fault {
        name: name.into(),
        occurrences: occurrences
            .iter()
            .map(|&(start_s, end_s)| Occurrence { start_s, end_s })
            .collect(),
        active: occurrences
            .iter()
            .map(|&(start_s, end_s)| Interval { start_s, end_s })
            .collect(),
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan_from_source;

    #[test]
    fn a_built_service_is_the_one_the_compiler_lowers_from_the_same_words() {
        let lowered = plan_from_source(
            r#"
scenario "t" { duration 1s window 1s seed 1 }
service front {
  restart 1s
  endpoint "GET /" { work 10ms  call back "q" }
}
service back { restart 1s endpoint "q" { } }
workload w { target front "GET /" rate 5/s }
"#,
        );
        let built = plan(vec![
            service(
                "front",
                vec![endpoint(
                    "GET /",
                    vec![work(0.01), Step::Call(call("back", "q"))],
                )],
            ),
            service("back", vec![endpoint("q", vec![work(0.0)])]),
        ]);
        assert_eq!(lowered.services, built.services);
        assert_eq!(
            lowered.workloads[0],
            open(
                "w",
                ("front", "GET /"),
                vec![ramp(0.0, 1.0, 5.0, 5.0)],
                vec![]
            )
        );
        assert_eq!(
            (lowered.scenario.window_s, lowered.scenario.seed),
            (built.scenario.window_s, built.scenario.seed)
        );
    }
}
