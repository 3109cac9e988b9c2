//! Snapshots of every report format for one hand-built run, and their determinism.
#![allow(clippy::unwrap_used)]

mod support;

use chaos_plan::{Abort, Comparison, Metric, Plan};
use chaos_report::{Cause, Recording, html, junit, markdown, model, multi, terminal};
use support::*;

fn scenario() -> (Plan, Recording) {
    let mut rec_w = window("after slow", vec![interval(30.0, 60.0)]);
    rec_w.recovery_from_s = Some(30.0);
    rec_w.baseline = vec![interval(10.0, 20.0)];
    let plan = plan(
        vec![
            expect(
                "p99(gateway \"GET /a\") < 800ms",
                Metric::P99,
                endpoint("gateway", "GET /a"),
                window("overall", vec![interval(10.0, 60.0)]),
                Comparison::Lt,
                0.8,
            ),
            expect(
                "error_rate(users) < 1% during slow",
                Metric::ErrorRate,
                workload_subject("users"),
                window("during slow", vec![interval(20.0, 30.0)]),
                Comparison::Lt,
                0.01,
            ),
            expect(
                "recovery(gateway) < 10s after slow",
                Metric::Recovery,
                service_subject("gateway"),
                rec_w,
                Comparison::Lt,
                10.0,
            ),
            expect(
                "throughput(gateway) >= 5/s",
                Metric::Throughput,
                service_subject("gateway"),
                window("overall", vec![interval(10.0, 60.0)]),
                Comparison::Ge,
                5.0,
            ),
            expect(
                "max_replicas(backend) <= 4",
                Metric::MaxReplicas,
                service_subject("backend"),
                window("overall", vec![interval(10.0, 60.0)]),
                Comparison::Le,
                4.0,
            ),
        ],
        vec![Abort {
            text: "abort when error_rate(gateway) > 90% for 5s".into(),
            metric: Metric::ErrorRate,
            subject: service_subject("gateway"),
            op: Comparison::Gt,
            threshold: 0.9,
            for_s: 5.0,
        }],
    );
    let rec = record(&plan, 60.0, |t| {
        if (20..34).contains(&t) {
            Second {
                ok: 6,
                errors: 4,
                cause: if t < 25 {
                    Cause::Timeout
                } else {
                    Cause::Rejected
                },
                latency_s: 0.25,
                replicas: 3,
            }
        } else {
            healthy()
        }
    });
    (plan, rec)
}

fn report() -> model::Report {
    let (plan, rec) = scenario();
    chaos_report::report(&plan, &rec).unwrap()
}

/// The JSON with the long per-window series cut to a few entries, so the snapshot stays readable.
fn short_json(r: &model::Report) -> String {
    let mut r = r.clone();
    r.timeline.retain(|p| p.t_s == 20.0 || p.t_s == 59.0);
    r.workload_timeline
        .retain(|p| p.t_s == 40.0 || p.t_s == 59.0);
    for c in r.expectations.iter_mut().filter_map(|e| e.chart.as_mut()) {
        c.points.retain(|p| p.0 == 20.0 || p.0 == 59.0);
    }
    r.to_json()
}

#[test]
fn json_report() {
    insta::assert_snapshot!(short_json(&report()));
}

#[test]
fn json_is_byte_identical_for_identical_input_and_reads_back() {
    let a = report().to_json();
    let b = report().to_json();
    assert_eq!(a, b);
    let back = model::Report::from_json(&a).unwrap();
    assert_eq!(back.to_json(), a);
    assert_eq!(
        back.timeline.len(),
        65 * 2,
        "every window of the run and drain, per service"
    );
}

#[test]
fn spec_fields_are_present() {
    let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
    for k in [
        "scenario",
        "mode",
        "seed",
        "passed",
        "duration_s",
        "expectations",
        "endpoints",
        "workloads",
        "timeline",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    let e = &v["expectations"][0];
    for k in ["text", "passed", "observed", "threshold", "unit", "window"] {
        assert!(e.get(k).is_some(), "missing expectations[].{k}");
    }
    assert_eq!(e["unit"], "ms");
    assert_eq!(e["threshold"], 800.0);
    let ep = &v["endpoints"][0];
    for k in ["service", "endpoint", "requests", "errors", "latency_ms"] {
        assert!(ep.get(k).is_some(), "missing endpoints[].{k}");
    }
    for k in ["mean", "p50", "p90", "p99", "p999", "max"] {
        assert!(ep["latency_ms"].get(k).is_some(), "missing latency_ms.{k}");
    }
    for k in ["name", "sent", "ok", "errors", "latency_ms"] {
        assert!(
            v["workloads"][0].get(k).is_some(),
            "missing workloads[].{k}"
        );
    }
    for k in ["t_s", "service", "requests", "errors", "p99_ms", "replicas"] {
        assert!(v["timeline"][0].get(k).is_some(), "missing timeline[].{k}");
    }
}

#[test]
fn terminal_summary_without_colour() {
    let out = terminal::render(&report(), false);
    assert!(!out.contains('\x1b'));
    insta::assert_snapshot!(out);
}

#[test]
fn terminal_colour_only_when_asked() {
    assert!(terminal::render(&report(), true).contains("\x1b[31m"));
}

#[test]
fn junit_xml() {
    let (plan, _) = scenario();
    let aborts: Vec<String> = plan.aborts.iter().map(|a| a.text.clone()).collect();
    insta::assert_snapshot!(junit::render(&report(), &aborts).unwrap());
}

#[test]
fn markdown_summary() {
    insta::assert_snapshot!(markdown::render(&report()));
}

#[test]
fn aborted_run_in_every_format() {
    let (plan, _) = scenario();
    let rec = record(&plan, 60.0, |t| {
        if t >= 40 {
            Second {
                ok: 0,
                errors: 10,
                ..healthy()
            }
        } else {
            healthy()
        }
    });
    assert_eq!(rec.aborted.as_ref().map(|a| a.at_s), Some(45.0));
    let r = chaos_report::report(&plan, &rec).unwrap();
    assert!(!r.passed, "an abort fails the run");
    assert!(
        terminal::render(&r, false)
            .contains("aborted at 45s: abort when error_rate(gateway) > 90% for 5s")
    );
    let aborts: Vec<String> = plan.aborts.iter().map(|a| a.text.clone()).collect();
    assert!(
        junit::render(&r, &aborts)
            .unwrap()
            .contains("the run was aborted at 45s")
    );
    assert!(markdown::render(&r).contains("**Aborted** at 45s"));
}

#[test]
fn unexpected_events_in_every_summary_and_only_when_there_are_some() {
    let (plan, mut rec) = scenario();
    let quiet = chaos_report::report(&plan, &rec).unwrap();
    assert!(
        !quiet.to_json().contains("unexpected"),
        "a --sim report is unchanged"
    );
    assert!(!terminal::render(&quiet, false).contains("unexpected"));
    rec.unexpected.push(chaos_report::UnexpectedEvent {
        service: "backend".into(),
        replica: "backend-1".into(),
        at_s: 12.345_678_9,
        what: "exited with signal 9 (SIGKILL)".into(),
    });
    let r = chaos_report::report(&plan, &rec).unwrap();
    assert_eq!(r.passed, quiet.passed, "the verdict judges what happened");
    let said = "backend-1 of backend exited with signal 9 (SIGKILL) at 12.35s";
    let term = terminal::render(&r, false);
    assert!(
        term.contains(&format!("unexpected: {said} (not in the scenario)")),
        "{term}"
    );
    let md = markdown::render(&r);
    assert!(md.contains(&format!("> - {said}")), "{md}");
    assert!(html::render(&r).contains(said));
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(
        json["unexpected_events"],
        serde_json::json!([{ "service": "backend", "replica": "backend-1",
                             "at_s": 12.345679, "what": "exited with signal 9 (SIGKILL)" }])
    );
    assert_eq!(model::Report::from_json(&r.to_json()).unwrap(), r);
}

#[test]
fn many_seeds_summary() {
    let (plan, _) = scenario();
    let reports: Vec<_> = (0..4u32)
        .map(|k| {
            let rec = record(&plan, 60.0, move |t| {
                if (20..30).contains(&t) {
                    Second {
                        ok: 10 - k as u64,
                        errors: k as u64,
                        latency_s: 0.1 + 0.01 * f64::from(k),
                        ..healthy()
                    }
                } else {
                    healthy()
                }
            });
            chaos_report::report(&plan, &rec).unwrap()
        })
        .collect();
    let combined = multi::combine(reports).unwrap();
    let runs = combined.runs.as_ref().unwrap();
    assert_eq!(runs.runs, 4);
    // error_rate(users) < 1% during slow holds only with k = 0.
    assert_eq!(runs.expectations[1].held, 1);
    assert_eq!(
        runs.expectations[1].observed,
        vec![Some(0.0), Some(10.0), Some(20.0), Some(30.0)]
    );
    assert_eq!(runs.expectations[1].mean, Some(15.0));
    // sd = 12.9099, t(3) = 3.18245 → half-width 20.5431
    let lo = runs.expectations[1].ci95_low.unwrap();
    assert!((lo - (15.0 - 20.543_1)).abs() < 1e-3, "{lo}");
    assert!(!combined.passed);
    insta::assert_snapshot!("many_seeds_terminal", terminal::render(&combined, false));
    let junit = junit::render(&combined, &[]).unwrap();
    assert!(
        junit.contains(
            "holds in 1 of 4 runs; mean observed 15%, expected &lt; 1% (window during slow)"
        ),
        "{junit}"
    );
    let html = chaos_report::html::render(&combined);
    assert!(html.contains("<section id=\"runs\"><h2>Over 4 seeds</h2>"));
    assert_eq!(
        html.matches("<svg class=\"strip\"").count(),
        5,
        "one distribution per expectation"
    );
    insta::assert_snapshot!("many_seeds_markdown", markdown::render(&combined));
}

#[test]
fn t_quantiles_match_tables() {
    assert!((multi::t95(1).unwrap() - 12.706).abs() < 1e-3);
    assert!((multi::t95(9).unwrap() - 2.262).abs() < 1e-3);
    assert!((multi::t95(99).unwrap() - 1.984).abs() < 1e-3);
}

#[test]
fn compare_two_runs() {
    let (plan, _) = scenario();
    let slower = record(&plan, 60.0, |t| {
        if (20..40).contains(&t) {
            Second {
                ok: 8,
                errors: 2,
                cause: Cause::Killed,
                latency_s: 0.4,
                replicas: 4,
            }
        } else {
            healthy()
        }
    });
    let b = chaos_report::report(&plan, &slower).unwrap();
    let c = chaos_report::compare::compare(&report(), &b);
    insta::assert_snapshot!("compare_text", chaos_report::compare::render_text(&c));
    insta::assert_snapshot!(
        "compare_markdown",
        chaos_report::compare::render_markdown(&c)
    );
}

#[test]
fn html_report_structure() {
    let html = chaos_report::html::render(&report());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<table class=\"verdicts\">"));
    assert_eq!(html.matches("<tr class=\"pass\">").count(), 4);
    assert_eq!(html.matches("<tr class=\"fail\">").count(), 1);
    for s in ["gateway", "backend"] {
        assert!(html.contains(&format!("<div class=\"service\" data-service=\"{s}\">")));
    }
    // 4 charts per service + 1 for the workload + 1 per expectation.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 9 + 5);
    // The fault band is drawn on every chart, labelled.
    assert_eq!(html.matches("class=\"fl\">slow</text>").count(), 9 + 5);
    assert!(html.contains("<svg class=\"topology\""));
    assert!(!html.contains("<script"));
    assert_eq!(html, chaos_report::html::render(&report()), "deterministic");
}
