//! The terminal summary: the verdict, one line per expectation, a compact table per service
//! and per workload. Read in five seconds; colour only when asked (on a TTY).

use crate::model::Report;
use crate::text::{duration, latency, num, observed, table, threshold, unexpected, with_unit};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// Renders the summary; `colour` adds ANSI colours.
pub fn render(report: &Report, colour: bool) -> String {
    let p = Paint { on: colour };
    let mut out = String::new();
    let held = report.expectations.iter().filter(|e| e.passed).count();
    let total = report.expectations.len();
    let verdict = if report.passed {
        p.green("PASSED")
    } else {
        p.red("FAILED")
    };
    out.push_str(&format!("{verdict}  {}\n", p.bold(&report.scenario)));
    let mut facts = vec![
        report.mode.clone(),
        format!("seed {}", report.seed),
        format!("{} run", duration(report.duration_s)),
        format!("{held} of {total} expectations held"),
    ];
    if let Some(r) = &report.runs {
        let always = r.expectations.iter().filter(|e| e.held == e.runs).count();
        facts[1] = format!("{} seeds", r.runs);
        facts[3] = format!("{always} of {total} expectations held in every run");
        facts.push(format!("{} of {} runs passed", r.passed_runs, r.runs));
    }
    out.push_str(&p.dim(&format!("  {}", facts.join(" · "))));
    out.push('\n');
    if let Some(h) = &report.hop {
        out.push_str(&p.dim(&format!("  {}", crate::hop::line(h))));
        out.push('\n');
    }
    if let Some(a) = &report.aborted {
        out.push_str(&p.red(&format!("  aborted at {}: {}", duration(a.at_s), a.text)));
        out.push('\n');
    }
    // Yellow, not red: the verdict stands, but it was reached on a run that did more than the
    // scenario said.
    for e in &report.unexpected_events {
        out.push_str(&p.wrap(
            "33",
            &format!("  unexpected: {} (not in the scenario)", unexpected(e)),
        ));
        out.push('\n');
    }
    out.push('\n');

    if report.runs.is_none() && !report.expectations.is_empty() {
        let rows: Vec<Vec<String>> = report
            .expectations
            .iter()
            .map(|e| {
                let mark = if e.passed { "✓" } else { "✗" };
                vec![
                    mark.to_string(),
                    e.text.clone(),
                    observed(e),
                    threshold(e),
                    e.window.clone(),
                ]
            })
            .collect();
        let t = table(
            &["", "expectation", "observed", "threshold", "window"],
            &rows,
            &[2],
            "  ",
        );
        push_marked(&mut out, &t, &p);
        out.push('\n');
    }

    if let Some(runs) = &report.runs {
        let rows: Vec<Vec<String>> = runs
            .expectations
            .iter()
            .map(|e| {
                let mark = if e.held == e.runs { "✓" } else { "✗" };
                let ci = match (e.ci95_low, e.ci95_high) {
                    (Some(lo), Some(hi)) => format!("{}–{}", num(lo), with_unit(hi, &e.unit)),
                    _ => "–".to_string(),
                };
                let range = match (e.min, e.max) {
                    (Some(lo), Some(hi)) => format!("{}–{}", num(lo), with_unit(hi, &e.unit)),
                    _ => "–".to_string(),
                };
                vec![
                    mark.to_string(),
                    e.text.clone(),
                    format!("{} of {} runs", e.held, e.runs),
                    e.mean.map_or("–".to_string(), |m| with_unit(m, &e.unit)),
                    ci,
                    range,
                ]
            })
            .collect();
        let t = table(
            &[
                "",
                "expectation",
                "holds in",
                "mean",
                "95% CI of the mean",
                "min–max",
            ],
            &rows,
            &[2, 3],
            "  ",
        );
        push_marked(&mut out, &t, &p);
        let unmeasured: usize = runs.expectations.iter().map(|e| e.runs - e.measured).sum();
        if unmeasured > 0 {
            out.push_str(&p.dim(&format!(
                "  {unmeasured} observation(s) without a value (no data or never) are left out of the means"
            )));
            out.push('\n');
        }
        out.push_str(&p.dim(&format!("\n  figures below: seed {}", report.seed)));
        out.push('\n');
        out.push('\n');
    }

    let rows: Vec<Vec<String>> = report
        .services
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.requests.to_string(),
                s.error_rate_pct
                    .map_or("–".to_string(), |r| format!("{}%", num(r))),
                latency(&s.latency_ms, |l| l.p50),
                latency(&s.latency_ms, |l| l.p99),
                s.max_replicas.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let t = table(
            &[
                "service",
                "requests",
                "errors",
                "p50",
                "p99",
                "max replicas",
            ],
            &rows,
            &[1, 2, 3, 4, 5],
            "  ",
        );
        push_table(&mut out, &t, &p);
    }
    let rows: Vec<Vec<String>> = report
        .workloads
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                w.sent.to_string(),
                w.error_rate_pct
                    .map_or("–".to_string(), |r| format!("{}%", num(r))),
                latency(&w.latency_ms, |l| l.p50),
                latency(&w.latency_ms, |l| l.p99),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        let t = table(
            &["workload", "sent", "errors", "p50", "p99"],
            &rows,
            &[1, 2, 3, 4],
            "  ",
        );
        push_table(&mut out, &t, &p);
    }
    let rows: Vec<Vec<String>> = report
        .by_priority
        .iter()
        .map(|r| {
            vec![
                r.priority.to_string(),
                r.requests.to_string(),
                r.error_rate_pct
                    .map_or("–".to_string(), |e| format!("{}%", num(e))),
                latency(&r.latency_ms, |l| l.p50),
                latency(&r.latency_ms, |l| l.p99),
                r.workloads.join(", "),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        let t = table(
            &["priority", "sent", "errors", "p50", "p99", "workloads"],
            &rows,
            &[0, 1, 2, 3, 4],
            "  ",
        );
        push_table(&mut out, &t, &p);
    }
    out
}

fn push_table(out: &mut String, t: &str, p: &Paint) {
    for (i, line) in t.lines().enumerate() {
        out.push_str(&if i == 0 {
            p.dim(line)
        } else {
            line.to_string()
        });
        out.push('\n');
    }
}

/// Colours the marks after alignment, so escape codes do not upset the widths.
fn push_marked(out: &mut String, t: &str, p: &Paint) {
    for line in t.lines() {
        let line = if let Some(rest) = line.strip_prefix("  ✓") {
            format!("  {}{rest}", p.green("✓"))
        } else if let Some(rest) = line.strip_prefix("  ✗") {
            format!("  {}{rest}", p.red("✗"))
        } else {
            p.dim(line)
        };
        out.push_str(&line);
        out.push('\n');
    }
}
