//! Issue 12's sim-vs-real decision tests: one plan through the simulator and through the code
//! a real run decides with, the same decisions in the same order. The simulator's decisions
//! come from its trace (`SimOptions::trace`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chaos_agent::breaker::Breakers;
use chaos_agent::loadgen::Loadgen;
use chaos_plan::{BreakerState, Load, Plan, Step};
use chaos_sim::{SimOptions, TraceEvent, simulate_with};
use chaos_test_support::plan_from_source as compile;

fn traced(plan: &Plan) -> Vec<TraceEvent> {
    let opts = SimOptions {
        trace: true,
        ..SimOptions::default()
    };
    let (_, stats) = simulate_with(plan, plan.scenario.seed, &opts, &mut |_| {}).unwrap();
    stats.trace
}

/// Two open workloads on ramps (one Poisson with a spike, one uniform) and a closed one in
/// between, so a workload's instants must not depend on its neighbours.
const RAMPS: &str = r#"
scenario "ramps" {
  duration 20s
  seed 11
}

service api {
  workers 64
  latency exponential(mean = 2ms)
  endpoint "GET /a" { }
}

workload poisson {
  target api "GET /a"
  rate 10/s -> 300/s over 8s, 300/s -> 50/s over 12s
  spike 600/s at 9s for 2s
}

workload users {
  target api "GET /a"
  users 2 -> 10 over 10s think exponential(mean = 50ms)
}

workload uniform {
  target api "GET /a"
  rate 5/s -> 120/s over 15s, 40/s for 5s
  arrivals uniform
}
"#;

#[test]
fn the_simulator_and_the_load_generator_send_at_the_same_instants() {
    let plan = compile(RAMPS);
    let trace = traced(&plan);
    let targets = BTreeMap::from([("api".to_string(), vec!["http://127.0.0.1:9".to_string()])]);
    let lg = Loadgen::new(Arc::new(plan.clone()), &targets, plan.scenario.seed).unwrap();
    let mut open = 0;
    for (i, w) in plan.workloads.iter().enumerate() {
        let sim: Vec<f64> = trace
            .iter()
            .filter_map(|e| match *e {
                TraceEvent::Arrival { workload, at_s } if workload as usize == i => Some(at_s),
                _ => None,
            })
            .collect();
        let Some(mut schedule) = lg.schedule(i) else {
            assert!(matches!(w.load, Load::Closed { .. }));
            assert!(sim.is_empty(), "a closed workload has no planned instants");
            continue;
        };
        open += 1;
        let real: Vec<f64> = std::iter::from_fn(|| schedule.next_arrival()).collect();
        assert!(sim.len() > 500, "{}: {} arrivals", w.name, sim.len());
        assert_eq!(sim, real, "workload {}", w.name);
    }
    assert_eq!(open, 2);
}

/// `back` fails every request for 3 s: the breaker opens, its trials fail until the fault
/// ends, then one succeeds and it closes.
const BREAKER: &str = r#"
scenario "breaker" {
  duration 12s
  seed 5
}

service front {
  workers 64
  endpoint "GET /" {
    call back "GET /x" {
      timeout 100ms
      circuit_breaker 50% over 1s min 10 open 500ms
      on_error continue
    }
  }
}

service back {
  workers 64
  latency exponential(mean = 1ms)
  endpoint "GET /x" { }
}

workload clients {
  target front "GET /"
  rate 200/s
}

fault outage at 3s for 3s {
  errors 100% status 503 on back
}
"#;

#[test]
fn the_simulator_and_the_agent_move_their_breakers_alike() {
    let plan = compile(BREAKER);
    let cfg = plan.services[0]
        .endpoints
        .iter()
        .flat_map(|e| &e.steps)
        .find_map(|s| match s {
            Step::Call(c) => c.circuit_breaker.clone(),
            _ => None,
        })
        .unwrap();
    let name = |i: u32| plan.services[i as usize].name.clone();
    let trace = traced(&plan);
    // The agent's breakers, fed what the simulator's callers saw, at the same instants.
    let agent = Breakers::default();
    let (mut sim, mut real) = (Vec::new(), Vec::new());
    let mut asked = 0;
    for e in &trace {
        match *e {
            TraceEvent::BreakerAdmit {
                callee,
                at_s,
                admission,
                ..
            } => {
                let before = agent.state(&name(callee));
                let got = agent.admit(&name(callee), &cfg, at_s);
                assert_eq!(got, admission, "admission at {at_s}s");
                asked += 1;
                let after = agent.state(&name(callee));
                if before.is_some() && after != before {
                    real.push((at_s, after.unwrap()));
                }
            }
            TraceEvent::BreakerRecord {
                callee,
                at_s,
                admission,
                failed,
                ..
            } => {
                let before = agent.state(&name(callee));
                agent.record(&name(callee), at_s, admission, failed);
                let after = agent.state(&name(callee));
                if after != before {
                    real.push((at_s, after.unwrap()));
                }
            }
            TraceEvent::BreakerState { at_s, state, .. } => sim.push((at_s, state)),
            _ => {}
        }
    }
    assert!(asked > 1000, "{asked} attempts");
    assert_eq!(sim, real);
    let states: Vec<BreakerState> = sim.iter().map(|&(_, s)| s).collect();
    assert_eq!(
        states.first(),
        Some(&BreakerState::Open),
        "the outage trips it"
    );
    assert!(
        states
            .windows(2)
            .any(|w| w == [BreakerState::HalfOpen, BreakerState::Open]),
        "a trial during the outage fails: {states:?}"
    );
    assert_eq!(
        states.last(),
        Some(&BreakerState::Closed),
        "a trial after the outage closes it"
    );
    let opened = sim[0].0;
    assert!((3.0..3.5).contains(&opened), "opened at {opened}s");
}
