//! A Markdown summary fit for `$GITHUB_STEP_SUMMARY`: the verdict, the expectations, the
//! services and workloads, and the multi-seed distribution when there is one.

use crate::model::Report;
use crate::text::{duration, latency, num, observed, threshold, unexpected, with_unit};

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let held = report.expectations.iter().filter(|e| e.passed).count();
    let icon = if report.passed { "✅" } else { "❌" };
    let verdict = if report.passed { "passed" } else { "failed" };
    out.push_str(&format!(
        "### {icon} {} — {verdict}\n\n",
        cell(&report.scenario)
    ));
    let seeds = match &report.runs {
        Some(r) => format!(
            "{} seeds ({} of {} runs passed)",
            r.runs, r.passed_runs, r.runs
        ),
        None => format!("seed {}", report.seed),
    };
    out.push_str(&format!(
        "`{}` · {seeds} · {} run · {held} of {} expectations held\n\n",
        report.mode,
        duration(report.duration_s),
        report.expectations.len()
    ));
    if let Some(h) = &report.hop {
        out.push_str(&format!("{}\n\n", cell(&crate::hop::line(h))));
    }
    if let Some(a) = &report.aborted {
        out.push_str(&format!(
            "> **Aborted** at {}: `{}`\n\n",
            duration(a.at_s),
            a.text
        ));
    }
    if !report.unexpected_events.is_empty() {
        out.push_str("> **Unexpected** (not in the scenario):\n");
        for e in &report.unexpected_events {
            out.push_str(&format!("> - {}\n", cell(&unexpected(e))));
        }
        out.push('\n');
    }
    if !report.expectations.is_empty() {
        out.push_str("| | expectation | observed | threshold | window |\n|---|---|---:|---|---|\n");
        for e in &report.expectations {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                if e.passed { "✅" } else { "❌" },
                cell(&e.text),
                cell(&observed(e)),
                cell(&threshold(e)),
                cell(&e.window)
            ));
        }
        out.push('\n');
    }
    if let Some(r) = &report.runs {
        out.push_str(
            "| expectation | holds in | mean | 95% CI | min – max |\n|---|---:|---:|---|---|\n",
        );
        for e in &r.expectations {
            let ci = match (e.ci95_low, e.ci95_high) {
                (Some(lo), Some(hi)) => format!("{} – {}", num(lo), with_unit(hi, &e.unit)),
                _ => "–".to_string(),
            };
            let range = match (e.min, e.max) {
                (Some(lo), Some(hi)) => format!("{} – {}", num(lo), with_unit(hi, &e.unit)),
                _ => "–".to_string(),
            };
            out.push_str(&format!(
                "| `{}` | {} of {} | {} | {ci} | {range} |\n",
                cell(&e.text),
                e.held,
                e.runs,
                e.mean.map_or("–".to_string(), |m| with_unit(m, &e.unit)),
            ));
        }
        out.push('\n');
    }
    if !report.services.is_empty() {
        out.push_str("| service | requests | errors | p50 | p99 | max replicas |\n|---|---:|---:|---:|---:|---:|\n");
        for s in &report.services {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                cell(&s.service),
                s.requests,
                s.error_rate_pct
                    .map_or("–".to_string(), |r| format!("{}%", num(r))),
                latency(&s.latency_ms, |l| l.p50),
                latency(&s.latency_ms, |l| l.p99),
                s.max_replicas
            ));
        }
        out.push('\n');
    }
    if !report.workloads.is_empty() {
        out.push_str("| workload | sent | errors | p50 | p99 |\n|---|---:|---:|---:|---:|\n");
        for w in &report.workloads {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&w.name),
                w.sent,
                w.error_rate_pct
                    .map_or("–".to_string(), |r| format!("{}%", num(r))),
                latency(&w.latency_ms, |l| l.p50),
                latency(&w.latency_ms, |l| l.p99),
            ));
        }
        out.push('\n');
    }
    if !report.by_priority.is_empty() {
        out.push_str(
            "| priority | sent | errors | p50 | p99 | workloads |\n|---:|---:|---:|---:|---:|---|\n",
        );
        for r in &report.by_priority {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.priority,
                r.requests,
                r.error_rate_pct
                    .map_or("–".to_string(), |e| format!("{}%", num(e))),
                latency(&r.latency_ms, |l| l.p50),
                latency(&r.latency_ms, |l| l.p99),
                cell(&r.workloads.join(", ")),
            ));
        }
        out.push('\n');
    }
    out
}
