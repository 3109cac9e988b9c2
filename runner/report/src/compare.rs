//! `chaos compare`: two reports of the same scenario side by side (two seeds, two commits, or
//! `--sim` against `--local`): per expectation and per endpoint the two figures and their
//! difference, as a text table or Markdown.

use crate::model::{ExpectationResult, Report};
use crate::text::{num, observed, table, with_unit};

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub a: String,
    pub b: String,
    pub diff: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub title_a: String,
    pub title_b: String,
    pub warnings: Vec<String>,
    /// Label: the expectation; `a`/`b` hold the verdict and the observed value.
    pub expectations: Vec<Row>,
    /// Label: `service "endpoint" metric`.
    pub endpoints: Vec<Row>,
    pub workloads: Vec<Row>,
}

/// `B − A` with its relative change: `+12.5 ms (+8.3%)`.
fn diff(a: Option<f64>, b: Option<f64>, unit: &str) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = b - a;
            let sign = if d > 0.0 { "+" } else { "" };
            let abs = format!("{sign}{}", with_unit(d, unit));
            if a.abs() > 0.0 && d != 0.0 {
                format!("{abs} ({sign}{}%)", num(d / a.abs() * 100.0))
            } else {
                abs
            }
        }
        _ => "–".to_string(),
    }
}

fn verdict(e: &ExpectationResult) -> String {
    format!("{} {}", if e.passed { "✓" } else { "✗" }, observed(e))
}

fn title(r: &Report, name: &str) -> String {
    match &r.runs {
        Some(x) => format!("{name}: {} · {} seeds from {}", r.mode, x.runs, r.seed),
        None => format!("{name}: {} · seed {}", r.mode, r.seed),
    }
}

pub fn compare(a: &Report, b: &Report) -> Comparison {
    let mut warnings = Vec::new();
    if a.scenario != b.scenario {
        warnings.push(format!(
            "the reports are of different scenarios: `{}` and `{}`",
            a.scenario, b.scenario
        ));
    }
    let mut expectations = Vec::new();
    for ea in &a.expectations {
        match b
            .expectations
            .iter()
            .find(|eb| eb.text == ea.text && eb.window == ea.window)
        {
            Some(eb) => expectations.push(Row {
                label: ea.text.clone(),
                a: verdict(ea),
                b: verdict(eb),
                diff: diff(ea.observed, eb.observed, &ea.unit),
            }),
            None => expectations.push(Row {
                label: ea.text.clone(),
                a: verdict(ea),
                b: "absent".into(),
                diff: "–".into(),
            }),
        }
    }
    for eb in &b.expectations {
        if !a
            .expectations
            .iter()
            .any(|ea| ea.text == eb.text && ea.window == eb.window)
        {
            expectations.push(Row {
                label: eb.text.clone(),
                a: "absent".into(),
                b: verdict(eb),
                diff: "–".into(),
            });
        }
    }

    let mut endpoints = Vec::new();
    for ea in &a.endpoints {
        let Some(eb) = b
            .endpoints
            .iter()
            .find(|e| e.service == ea.service && e.endpoint == ea.endpoint)
        else {
            warnings.push(format!("{} \"{}\" is only in A", ea.service, ea.endpoint));
            continue;
        };
        let name = format!("{} \"{}\"", ea.service, ea.endpoint);
        let f = |v: Option<f64>, u: &str| v.map_or("–".to_string(), |v| with_unit(v, u));
        let rows = [
            (
                "requests",
                ea.requests.to_string(),
                eb.requests.to_string(),
                diff(Some(ea.requests as f64), Some(eb.requests as f64), ""),
            ),
            (
                "errors",
                f(ea.error_rate_pct, "%"),
                f(eb.error_rate_pct, "%"),
                diff(ea.error_rate_pct, eb.error_rate_pct, "%"),
            ),
            (
                "p50",
                f(ea.latency_ms.p50, "ms"),
                f(eb.latency_ms.p50, "ms"),
                diff(ea.latency_ms.p50, eb.latency_ms.p50, "ms"),
            ),
            (
                "p99",
                f(ea.latency_ms.p99, "ms"),
                f(eb.latency_ms.p99, "ms"),
                diff(ea.latency_ms.p99, eb.latency_ms.p99, "ms"),
            ),
        ];
        for (metric, va, vb, d) in rows {
            endpoints.push(Row {
                label: format!("{name} {metric}"),
                a: va,
                b: vb,
                diff: d,
            });
        }
    }
    for eb in &b.endpoints {
        if !a
            .endpoints
            .iter()
            .any(|e| e.service == eb.service && e.endpoint == eb.endpoint)
        {
            warnings.push(format!("{} \"{}\" is only in B", eb.service, eb.endpoint));
        }
    }

    let mut workloads = Vec::new();
    for wa in &a.workloads {
        let Some(wb) = b.workloads.iter().find(|w| w.name == wa.name) else {
            continue;
        };
        let f = |v: Option<f64>, u: &str| v.map_or("–".to_string(), |v| with_unit(v, u));
        workloads.push(Row {
            label: format!("{} errors", wa.name),
            a: f(wa.error_rate_pct, "%"),
            b: f(wb.error_rate_pct, "%"),
            diff: diff(wa.error_rate_pct, wb.error_rate_pct, "%"),
        });
        workloads.push(Row {
            label: format!("{} p99", wa.name),
            a: f(wa.latency_ms.p99, "ms"),
            b: f(wb.latency_ms.p99, "ms"),
            diff: diff(wa.latency_ms.p99, wb.latency_ms.p99, "ms"),
        });
    }

    Comparison {
        title_a: title(a, "A"),
        title_b: title(b, "B"),
        warnings,
        expectations,
        endpoints,
        workloads,
    }
}

fn rows(r: &[Row]) -> Vec<Vec<String>> {
    r.iter()
        .map(|x| vec![x.label.clone(), x.a.clone(), x.b.clone(), x.diff.clone()])
        .collect()
}

pub fn render_text(c: &Comparison) -> String {
    let mut o = format!("{}\n{}\n", c.title_a, c.title_b);
    for w in &c.warnings {
        o.push_str(&format!("warning: {w}\n"));
    }
    for (name, r) in [
        ("expectation", &c.expectations),
        ("endpoint", &c.endpoints),
        ("workload", &c.workloads),
    ] {
        if r.is_empty() {
            continue;
        }
        o.push('\n');
        o.push_str(&table(&[name, "A", "B", "B − A"], &rows(r), &[1, 2, 3], ""));
    }
    o
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn render_markdown(c: &Comparison) -> String {
    let mut o = format!("**{}**  \n**{}**\n", cell(&c.title_a), cell(&c.title_b));
    for w in &c.warnings {
        o.push_str(&format!("\n> warning: {}\n", cell(w)));
    }
    for (name, r) in [
        ("expectation", &c.expectations),
        ("endpoint", &c.endpoints),
        ("workload", &c.workloads),
    ] {
        if r.is_empty() {
            continue;
        }
        o.push_str(&format!(
            "\n| {name} | A | B | B − A |\n|---|---:|---:|---:|\n"
        ));
        for x in r {
            o.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                cell(&x.label),
                cell(&x.a),
                cell(&x.b),
                cell(&x.diff)
            ));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_read_with_sign_and_ratio() {
        assert_eq!(diff(Some(100.0), Some(112.5), "ms"), "+12.5 ms (+12.5%)");
        assert_eq!(diff(Some(2.0), Some(1.0), "%"), "-1% (-50%)");
        assert_eq!(diff(Some(0.0), Some(0.0), "%"), "0%");
        assert_eq!(diff(None, Some(1.0), "ms"), "–");
    }
}
