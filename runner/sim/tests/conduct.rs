//! One plan through the simulator and through the conductor of real runs
//! (`chaos_plan::Conductor`): the same fault decisions, at the same instants, in the same
//! order, equal instants included (issue 12: one rule, once).

use chaos_plan::{Conductor, Decision, Plan};
use chaos_sim::{SimOptions, TraceEvent, simulate_with};

/// `early` ends exactly when `late` (declared before it) and `same` start; `crash` kills at
/// that instant too; `flap` repeats back to back (each occurrence ends when the next starts)
/// and its first start meets `late`'s end; `tail` has no `for` and ends with the run.
const SOURCE: &str = r#"
scenario "equal instants" {
  duration 60s
  seed 5
  window 10s
}

service api {
  replicas 3
  restart 5s
  endpoint "GET /" { work 1ms }
}

service db {
  replicas 2
  endpoint "GET /" { work 1ms }
}

workload users {
  target api "GET /"
  rate 20/s
}

fault late at 20s for 10s {
  latency +5ms on api
}

fault early at 10s for 10s {
  errors 10% status 503 on db
}

fault same at 20s for 5s {
  cpu x2 on api
}

fault crash at 20s {
  kill 1 of db
}

fault flap every 10s from 30s for 10s {
  latency +1ms on db
}

fault tail at 50s {
  latency +2ms on db
}
"#;

fn plan() -> Plan {
    let compiled = chaos_compiler::compile_str("equal.chaos", SOURCE, &[]);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.plan.expect("a plan")
}

/// The simulator's fault decisions, in the order it took them.
fn simulated(plan: &Plan) -> Vec<(f64, Decision)> {
    let opts = SimOptions {
        trace: true,
        ..SimOptions::default()
    };
    let (_, stats) = simulate_with(plan, plan.scenario.seed, &opts, &mut |_| {}).expect("a run");
    stats
        .trace
        .iter()
        .filter_map(|e| match *e {
            TraceEvent::Fault { at_s, decision } => Some((at_s, decision)),
            _ => None,
        })
        .collect()
}

/// The conductor's fault decisions, driven by a fake clock that jumps to each due instant.
fn conducted(plan: &Plan) -> Vec<(f64, Decision)> {
    let mut c = Conductor::new(plan, plan.scenario.seed);
    let mut out = Vec::new();
    while let Some(t) = c.next_due() {
        while let Some(d) = c.poll(t) {
            if matches!(
                d.decision,
                Decision::StartFault { .. } | Decision::RevertFault { .. } | Decision::Kill { .. }
            ) {
                out.push((d.at_s, d.decision));
            }
        }
    }
    out
}

#[test]
fn equal_instants_take_the_same_decisions_in_the_same_order_in_the_simulator_and_the_conductor() {
    let plan = plan();
    let sim = simulated(&plan);
    let conductor = conducted(&plan);
    assert_eq!(sim, conductor);
    // The rule itself, at 20 s: `early` ends, then `late`, `same` and `crash` start in
    // declaration order.
    let index = |name: &str| plan.faults.iter().position(|f| f.name == name).expect(name);
    let at_20: Vec<Decision> = conductor
        .iter()
        .filter(|(t, _)| *t == 20.0)
        .map(|(_, d)| *d)
        .collect();
    let db = plan
        .services
        .iter()
        .position(|s| s.name == "db")
        .expect("db");
    assert_eq!(
        at_20,
        vec![
            Decision::RevertFault {
                fault: index("early"),
                occurrence: 0
            },
            Decision::StartFault {
                fault: index("late"),
                occurrence: 0
            },
            Decision::StartFault {
                fault: index("same"),
                occurrence: 0
            },
            Decision::Kill {
                fault: index("crash"),
                occurrence: 0,
                action: 0,
                service: db,
                count: 1
            },
        ]
    );
    // `flap` at 40 s: its first occurrence reverts before its second starts.
    let at_40: Vec<Decision> = conductor
        .iter()
        .filter(|(t, _)| *t == 40.0)
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(
        at_40,
        vec![
            Decision::RevertFault {
                fault: index("flap"),
                occurrence: 0
            },
            Decision::StartFault {
                fault: index("flap"),
                occurrence: 1
            },
        ]
    );
}

#[test]
fn the_simulator_traces_no_decision_unless_asked() {
    let plan = plan();
    let (_, stats) = simulate_with(
        &plan,
        plan.scenario.seed,
        &SimOptions::default(),
        &mut |_| {},
    )
    .expect("a run");
    assert!(stats.trace.is_empty());
}

/// Two `random(a, b)` kills over three services, repeated: every occurrence is a fresh pick.
const RANDOM_KILL: &str = r#"
scenario "random kills" {
  duration 60s
  seed 3
}

service api {
  replicas 2
  endpoint "GET /" { call cache "get" call db "get" call search "get" }
}

service cache {
  replicas 2
  restart 2s
  endpoint "get" { work 1ms }
}

service db {
  replicas 2
  restart 2s
  endpoint "get" { work 1ms }
}

service search {
  replicas 2
  restart 2s
  endpoint "get" { work 1ms }
}

workload users {
  target api "GET /"
  rate 20/s
}

fault crash every 5s from 10s {
  kill 1 of random(cache, db, search)
}
"#;

fn kills(decisions: &[(f64, Decision)]) -> Vec<(f64, usize)> {
    decisions
        .iter()
        .filter_map(|(t, d)| match *d {
            Decision::Kill { service, .. } => Some((*t, service)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_random_kill_hits_the_same_service_at_the_same_instant_in_the_simulator_and_the_conductor() {
    let compiled = chaos_compiler::compile_str("random.chaos", RANDOM_KILL, &[]);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let mut plan = compiled.plan.expect("a plan");
    let mut picked = std::collections::BTreeSet::new();
    for seed in 1..=8 {
        plan.scenario.seed = seed;
        let sim = kills(&simulated(&plan));
        let conductor = kills(&conducted(&plan));
        assert!(sim.len() >= 5, "seed {seed}: {sim:?}");
        assert_eq!(sim, conductor, "seed {seed}");
        picked.extend(sim.iter().map(|&(_, s)| s));
    }
    // A pick, not always the first candidate: over these seeds every candidate was hit.
    let index = |name: &str| plan.services.iter().position(|s| s.name == name);
    let candidates: std::collections::BTreeSet<usize> = ["cache", "db", "search"]
        .iter()
        .filter_map(|n| index(n))
        .collect();
    assert_eq!(picked, candidates);
}
