//! The public API on small inline scenarios: `--set`, imports through a memory loader, and the
//! time semantics the plan promises (rate pieces, `every`, kills, windows, drain).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use chaos_compiler::{MemoryLoader, compile, compile_str, graph, render};
use chaos_plan::{Interval, Load};

use chaos_test_support::plan_from_source as plan;

fn sets(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn iv(a: f64, b: f64) -> Interval {
    Interval {
        start_s: a,
        end_s: b,
    }
}

const BASE: &str = r#"
param peak = 400/s
scenario "s" { duration 10m warmup 30s }
service api { endpoint "GET /" { } }
workload users { target api "GET /" rate $peak }
"#;

#[test]
fn set_overrides_a_param() {
    let c = compile_str("t.chaos", BASE, &sets(&[("peak", "20/m")]));
    let plan = c.plan.unwrap();
    assert_eq!(plan.params[0].value, "20/m");
    assert!(plan.params[0].overridden);
    let Load::Open { rate, .. } = &plan.workloads[0].load else {
        panic!("open loop")
    };
    assert!((rate[0].from_per_s - 20.0 / 60.0).abs() < 1e-12);
}

#[test]
fn set_errors_point_at_the_command_line() {
    let c = compile_str(
        "t.chaos",
        BASE,
        &sets(&[("paek", "5/s"), ("peak", "5s"), ("peak", "lots")]),
    );
    assert!(c.plan.is_none());
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0106", "E0201", "E0202"]);
    insta::assert_snapshot!(render::render_all_plain(&c.diagnostics, &c.sources));
}

#[test]
fn a_set_without_a_unit_gets_a_hint() {
    let c = compile_str("t.chaos", BASE, &sets(&[("peak", "5")]));
    let help: Vec<_> = c
        .diagnostics
        .iter()
        .filter_map(|d| d.help.clone())
        .collect();
    assert_eq!(
        help,
        ["quantities need a unit: write `--set peak=5/s`, not `5`"],
        "{:?}",
        c.diagnostics
    );
}

#[test]
fn kill_counts_are_only_compared_with_checked_replicas() {
    let text = r#"scenario "s" { duration 10m }
service api { replicas 0 endpoint "GET /" { } }
workload u { target api "GET /" rate 1/s }
fault crash at 2m { kill 2 of api }
"#;
    let c = compile_str("t.chaos", text, &[]);
    let codes: Vec<_> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0301"]);
    let c = compile_str("t.chaos", &text.replace("replicas 0", "replicas 1"), &[]);
    let codes: Vec<_> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["W0006"]);
}

#[test]
fn imports_are_loaded_once_and_relative_to_the_importer() {
    let mut loader = MemoryLoader::new();
    loader
        .insert(
            "scen/main.chaos",
            r#"import "../lib/a.chaos"
import "../lib/b.chaos"
scenario "s" { duration 1m }
workload users { target front "GET /" rate 1/s }"#,
        )
        .insert(
            "lib/a.chaos",
            "import \"common.chaos\"\nservice front { endpoint \"GET /\" { call back \"q\" } }",
        )
        .insert("lib/b.chaos", "import \"./common.chaos\"")
        .insert("lib/common.chaos", "service back { endpoint \"q\" { } }");
    let c = compile(Path::new("scen/main.chaos"), &loader, &[]);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let names: Vec<&str> = c.sources.iter().map(|(_, f)| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "scen/main.chaos",
            "lib/a.chaos",
            "lib/common.chaos",
            "lib/b.chaos"
        ]
    );
    assert!(c.ast(c.root().unwrap()).is_some());
    let plan = c.plan.unwrap();
    // Imported items come first, each once.
    let services: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(services, ["back", "front"]);
}

#[test]
fn rate_pieces_cover_the_run_and_clip_ramps() {
    let p = plan(
        r#"scenario "s" { duration 3m }
service api { endpoint "GET /" { } }
workload a { target api "GET /" rate 10/s -> 100/s over 1m, 100/s for 30s }
workload b { target api "GET /" rate 0/s -> 400/s over 4m spike 50/s at 2m50s for 1m }"#,
    );
    let Load::Open { rate, .. } = &p.workloads[0].load else {
        panic!()
    };
    let got: Vec<(f64, f64, f64, f64)> = rate
        .iter()
        .map(|r| (r.start_s, r.end_s, r.from_per_s, r.to_per_s))
        .collect();
    assert_eq!(
        got,
        [
            (0.0, 60.0, 10.0, 100.0),
            (60.0, 90.0, 100.0, 100.0),
            (90.0, 180.0, 100.0, 100.0)
        ]
    );
    let Load::Open { rate, spikes, .. } = &p.workloads[1].load else {
        panic!()
    };
    assert_eq!(rate.len(), 1);
    assert_eq!(rate[0].end_s, 180.0);
    assert!((rate[0].to_per_s - 300.0).abs() < 1e-9);
    assert_eq!((spikes[0].start_s, spikes[0].end_s), (170.0, 180.0));
}

#[test]
fn every_expands_and_kills_are_active_until_the_restart() {
    let p = plan(
        r#"scenario "s" { duration 10m }
service cart { restart 20s endpoint "GET /" { call inventory "q" } }
service inventory { restart 45s endpoint "q" { } }
workload u { target cart "GET /" rate 1/s }
fault monkey every 90s from 1m until 8m { kill 1 of random(cart, inventory) }
fault blips every 4m for 3m { latency +10ms on cart }
fault leak at 9m { memory 1MiB/s on cart limit 64MiB }"#,
    );
    let monkey = p.fault("monkey").unwrap();
    let starts: Vec<f64> = monkey.occurrences.iter().map(|o| o.start_s).collect();
    assert_eq!(starts, [60.0, 150.0, 240.0, 330.0, 420.0]);
    assert!(monkey.occurrences.iter().all(|o| o.end_s == o.start_s));
    assert_eq!(monkey.active[0], iv(60.0, 105.0));
    assert_eq!(monkey.active.len(), 5);
    let blips = p.fault("blips").unwrap();
    assert_eq!(
        blips.active,
        [iv(0.0, 180.0), iv(240.0, 420.0), iv(480.0, 600.0)]
    );
    // Without `for`, a non-kill fault lasts until the end.
    assert_eq!(p.fault("leak").unwrap().active, [iv(540.0, 600.0)]);
}

#[test]
fn windows_follow_the_precise_meanings() {
    let p = plan(
        r#"scenario "s" { duration 10m warmup 30s }
service api { restart 10s endpoint "GET /" { call db "q" timeout 250ms } }
service db { endpoint "q" { } }
workload u { target api "GET /" users 10 -> 50 over 2m think 1s timeout 2s }
fault slow at 2m for 1m { latency +100ms on db }
fault crash at 6m { kill 1 of api }
expect {
  p99(u) < 1s overall
  p99(u) < 1s during crash
  p99(u) < 1s after slow + 30s for 1m
  error_rate(api) < 1% before slow
  throughput(api "GET /") >= 5/s between 1m and 2m
  recovery(api) < 30s after crash
  availability(u) >= 99% after slow
}"#,
    );
    let w: Vec<(&str, &[Interval])> = p
        .expectations
        .iter()
        .map(|e| (e.window.label.as_str(), e.window.intervals.as_slice()))
        .collect();
    assert_eq!(w[0], ("overall", &[iv(30.0, 600.0)][..]));
    assert_eq!(w[1], ("during crash", &[iv(360.0, 370.0)][..]));
    assert_eq!(w[2], ("after slow + 30s for 1m", &[iv(210.0, 270.0)][..]));
    assert_eq!(w[3], ("before slow", &[iv(30.0, 120.0)][..]));
    assert_eq!(w[4], ("between 1m and 2m", &[iv(60.0, 120.0)][..]));
    let rec = &p.expectations[5].window;
    assert_eq!(rec.recovery_from_s, Some(370.0));
    assert_eq!(rec.baseline, [iv(30.0, 360.0)]);
    assert_eq!(p.expectations[6].threshold, 0.99);
    assert_eq!(p.expectations[0].text, "p99(u) < 1s overall");
    // The longest timeout anywhere bounds the drain.
    assert_eq!(p.scenario.drain_s, 2.0);
    let Load::Closed {
        users_from,
        users_to,
        ramp_s,
        ..
    } = p.workloads[0].load
    else {
        panic!()
    };
    assert_eq!((users_from, users_to, ramp_s), (10, 50, 120.0));
}

#[test]
fn defaults_are_filled_in() {
    let p = plan(
        r#"scenario "s" { duration 1m }
service api { autoscale 1..3 target 50% endpoint "GET /" { fail 1% } }
workload u { target api "GET /" rate 1/s }"#,
    );
    assert_eq!(
        (p.scenario.seed, p.scenario.window_s, p.scenario.warmup_s),
        (1, 1.0, 0.0)
    );
    assert_eq!(p.scenario.drain_s, 30.0);
    let s = &p.services[0];
    assert_eq!((s.workers, s.queue, s.restart_s), (1, None, 5.0));
    assert_eq!(
        s.replicas,
        chaos_plan::Replicas::Autoscale {
            min: 1,
            max: 3,
            rule: chaos_plan::ScaleRule::Target { utilisation: 0.5 },
            delay_s: 10.0,
            interval_s: 15.0
        }
    );
    assert_eq!(
        s.endpoints[0].steps,
        [chaos_plan::Step::Fail {
            probability: 0.01,
            status: 500
        }]
    );
}

#[test]
fn graph_draws_calls_with_their_policies() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ok/spec-checkout.chaos"),
    )
    .unwrap();
    let p = plan(&text);
    insta::assert_snapshot!("checkout_mermaid", graph::mermaid(&p));
    insta::assert_snapshot!("checkout_dot", graph::dot(&p));
}

#[test]
fn a_file_of_services_is_a_library() {
    let c = compile_str(
        "lib.chaos",
        "param p = 3\nservice a { endpoint \"x\" { call b \"y\" } }\nservice b { endpoint \"y\" { } }",
        &[],
    );
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    assert!(c.plan.is_none());
    let services = c.library.unwrap();
    assert_eq!(
        services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // Its errors are still reported, and then there is nothing to draw.
    let c = compile_str(
        "lib.chaos",
        "service a { workers 0 endpoint \"x\" { } }",
        &[],
    );
    assert_eq!(
        c.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["E0301"]
    );
    assert!(c.library.is_none());
}

#[test]
fn a_scenario_is_not_a_library() {
    let c = compile_str(
        "t.chaos",
        "scenario \"s\" { duration 1m }\nservice a { endpoint \"x\" { } }\nworkload u { target a \"x\" rate 1/s }",
        &[],
    );
    assert!(c.plan.is_some());
    assert!(c.library.is_none());
}

#[test]
fn graph_draws_a_library_without_entry_points() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lib/topology.chaos"),
    )
    .unwrap();
    let c = compile_str("topology.chaos", &text, &[]);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let services = c.library.unwrap();
    insta::assert_snapshot!("library_mermaid", graph::library_mermaid(&services));
    insta::assert_snapshot!("library_dot", graph::library_dot(&services));
}

#[test]
fn an_instant_kill_without_restart_has_an_end_but_no_during() {
    let text = r#"scenario "s" { duration 10m }
service api { restart 0s endpoint "GET /" { } }
workload u { target api "GET /" rate 1/s }
fault crash at 2m { kill 1 of api }
expect {
  error_rate(u) < 1% after crash
  error_rate(u) < 1% during crash
}"#;
    let c = compile_str("t.chaos", text, &[]);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0306"]);
    let p = plan(&text.replace("  error_rate(u) < 1% during crash\n", ""));
    assert_eq!(p.expectations[0].window.intervals, [iv(120.0, 600.0)]);
}

#[test]
fn unused_services_of_an_imported_topology_are_not_warned_about() {
    let mut loader = MemoryLoader::new();
    loader
        .insert(
            "main.chaos",
            "import \"topo.chaos\"\nscenario \"s\" { duration 1m }\nservice mine { endpoint \"x\" { } }\nworkload u { target a \"x\" rate 1/s }",
        )
        .insert("topo.chaos", "service a { endpoint \"x\" { } }\nservice b { endpoint \"y\" { } }");
    let c = compile(Path::new("main.chaos"), &loader, &[]);
    let warned: Vec<&str> = c.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(warned, ["service `mine` never receives traffic"]);
}

#[test]
fn graph_draws_sends_dashed_and_call_priorities() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ok/resilience.chaos"),
    )
    .unwrap();
    let p = plan(&text);
    let mermaid = graph::mermaid(&p);
    let dot = graph::dot(&p);
    // The send of api "POST /order" to mailer is the one dashed arrow; calls stay solid.
    assert_eq!(mermaid.matches("-.->").count(), 1, "{mermaid}");
    assert_eq!(dot.matches("style=dashed").count(), 1, "{dot}");
    assert!(mermaid.contains("priority 2"), "{mermaid}");
    insta::assert_snapshot!("resilience_mermaid", mermaid);
    insta::assert_snapshot!("resilience_dot", dot);
}

#[test]
fn health_check_and_eject_defaults_are_filled_in() {
    let p = plan(
        r#"scenario "s" { duration 1m }
service api {
  replicas 3
  queue 10
  health_check every 2s
  eject after 5 errors for 30s
  endpoint "GET /" { send db "q" }
}
service db { replicas 2 endpoint "q" { } }
workload u { target api "GET /" rate 1/s }"#,
    );
    let s = &p.services[0];
    assert_eq!(s.discipline, chaos_plan::Discipline::Fifo);
    assert_eq!(
        s.health_check,
        Some(chaos_plan::HealthCheck {
            every_s: 2.0,
            timeout_s: 1.0,
            unhealthy: 3,
            healthy: 1
        })
    );
    assert_eq!(
        s.eject,
        Some(chaos_plan::Eject {
            after: 5,
            for_s: 30.0,
            max_fraction: 0.5
        })
    );
    assert_eq!(p.workloads[0].priority, 0);
    assert_eq!(
        s.endpoints[0].steps,
        [chaos_plan::Step::Send {
            service: "db".into(),
            endpoint: "q".into()
        }]
    );
    // A service reached only through a send is reached: no "never receives traffic".
    let c = compile_str(
        "t.chaos",
        "scenario \"s\" { duration 1m }\nservice a { endpoint \"x\" { send b \"y\" } }\nservice b { endpoint \"y\" { } }\nworkload u { target a \"x\" rate 1/s }",
        &[],
    );
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
}

#[test]
fn replica_subsets_are_only_compared_with_checked_replicas() {
    // `replicas 0` is wrong; `on 2 of api` must not add an error about its stand-in count.
    let c = compile_str(
        "t.chaos",
        "scenario \"s\" { duration 1m }\nservice api { replicas 0 endpoint \"x\" { } }\nworkload u { target api \"x\" rate 1/s }\nfault f at 1s for 1s { errors 1% on 2 of api }",
        &[],
    );
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0301"]);
}
