//! The `explore { … }` block: resolved into the search space `chaos explore` reads (lists and
//! `*` expanded, base units, whole seconds), and ignored by the plan a run carries out.
#![allow(clippy::unwrap_used)]

use chaos_compiler::compile_str;
use chaos_plan::explore::{FaultKind, Seconds};

const BASE: &str = r#"
scenario "s" { duration 2m }
service api { replicas 3 endpoint "GET /" { call db "q" send cart "add" } }
service db { endpoint "q" { work 5ms } }
service cart { endpoint "add" { work 1ms } }
workload users { target api "GET /" rate 10/s }
"#;

const BLOCK: &str = r#"
explore {
  max_faults 3
  latency up to 300ms on api, db
  errors 5%..20% on *
  kill up to 2 of api
  cpu x2 on db
  memory up to 20MiB/s on cart limit 256MiB
  partition *
  at 10s..50.5s
  for up to 15s
}
"#;

#[test]
fn the_block_resolves_to_one_entry_per_kind_and_target() {
    let c = compile_str("x.chaos", &format!("{BASE}{BLOCK}"), &[]);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let space = c.explore.unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&space).unwrap());
    assert_eq!(space.max_faults, Some(3));
    assert_eq!(space.start_s, Some(Seconds { min: 10, max: 50 }));
    assert_eq!(space.length_s, Some(Seconds { min: 1, max: 15 }));
    let count = |k: FaultKind| space.faults.iter().filter(|f| f.kind == k).count();
    assert_eq!(count(FaultKind::Latency), 2);
    assert_eq!(count(FaultKind::Errors), 3, "`*` is every service");
    // `partition *`: the call edges, a send included.
    let cuts: Vec<(String, Option<String>)> = space
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::Partition)
        .map(|f| (f.service.clone(), f.other.clone()))
        .collect();
    assert_eq!(
        cuts,
        vec![
            ("api".to_string(), Some("db".to_string())),
            ("api".to_string(), Some("cart".to_string()))
        ]
    );
}

#[test]
fn a_run_ignores_the_block() {
    let with = compile_str("x.chaos", &format!("{BASE}{BLOCK}"), &[]);
    let without = compile_str("x.chaos", BASE, &[]);
    assert_eq!(with.plan.unwrap(), without.plan.unwrap());
    assert!(without.explore.is_none());
}

#[test]
fn params_may_stand_in_the_block() {
    let text = format!(
        "{BASE}param most = 2\nparam late = 40s\nexplore {{ max_faults $most at up to $late }}\n"
    );
    let space = compile_str("x.chaos", &text, &[("late".into(), "1m".into())])
        .explore
        .unwrap();
    assert_eq!(space.max_faults, Some(2));
    assert_eq!(space.start_s, Some(Seconds { min: 0, max: 60 }));
}
