//! `--html`: one self-contained HTML file (inline CSS and SVG, no script, no network): the
//! verdicts, each linked to a chart of its metric against its threshold and window, the
//! multi-seed distributions, the topology, the workloads' offered and answered
//! rates, and per service its throughput, errors by cause, p50/p99 latency and live replicas
//! with every fault drawn as a labelled band. Laid out for a laptop screen and for print.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::model::{ExpectationResult, Report};
use crate::svg::{Chart, Limit, Mark, PALETTE, Series, Style, esc, strip, topology};
use crate::text::{duration, latency, num, observed, threshold, with_unit};

const CSS: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0 auto; max-width: 1180px; padding: 18px 24px 40px; }
h1 { font-size: 22px; margin: 4px 0; } h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
h3 { font-size: 15px; margin: 14px 0 4px; }
.pass { color: #17803d; } .fail { color: #c62828; }
.facts { color: #555; margin: 0 0 6px; } .aborted { background: #fdecea; border-left: 4px solid #c62828; padding: 6px 10px; }
table { border-collapse: collapse; margin: 4px 0 8px; } th, td { padding: 3px 10px; border-bottom: 1px solid #e6e6e6; text-align: left; vertical-align: middle; }
th { font-weight: 600; color: #444; background: #f6f6f6; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 6px 14px; }
.service { break-inside: avoid; page-break-inside: avoid; margin-bottom: 10px; }
svg { max-width: 100%; height: auto; } svg text { font-family: system-ui, sans-serif; }
.ct { font-size: 12px; font-weight: 600; fill: #333; } .cu, .ax { font-size: 10px; fill: #666; } .lg { font-size: 10px; fill: #333; } .fl { font-size: 9px; fill: #a05a00; }
.tl { font-size: 10px; font-weight: 600; } .hv:hover { fill-opacity: 0.07; } .expectation:target { outline: 2px solid #1f77b4; outline-offset: 2px; }
.grid { stroke: #eee; } .axis { stroke: #999; }
.call, .entry { stroke: #555; stroke-width: 1.3; } .entry { stroke-dasharray: 4 3; }
.svc { fill: #eef4fb; stroke: #1f77b4; } .wl { fill: #f4f9ef; stroke: #2ca02c; } .nn { font-size: 12px; font-weight: 600; fill: #222; } .ns { font-size: 10px; fill: #666; }
.faults li { margin: 2px 0; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } h2 { break-after: avoid; } .charts { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
"#;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let held = r.expectations.iter().filter(|e| e.passed).count();
    let (cls, word) = if r.passed {
        ("pass", "PASSED")
    } else {
        ("fail", "FAILED")
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} — chaos report</title><style>{CSS}</style></head><body>\n",
        esc(&r.scenario)
    );
    let _ = write!(
        o,
        "<header><h1><span class=\"{cls}\">{word}</span> {}</h1>",
        esc(&r.scenario)
    );
    let seeds = match &r.runs {
        Some(x) => format!(
            "{} seeds, {} of {} runs passed",
            x.runs, x.passed_runs, x.runs
        ),
        None => format!("seed {}", r.seed),
    };
    let _ = write!(
        o,
        "<p class=\"facts\">{} · {seeds} · {} run (warmup {}, window {}) · {held} of {} expectations held</p>",
        esc(&r.mode),
        duration(r.duration_s),
        duration(r.warmup_s),
        duration(r.window_s),
        r.expectations.len()
    );
    if let Some(a) = &r.aborted {
        let _ = write!(
            o,
            "<p class=\"aborted\">Aborted at {}: <code>{}</code></p>",
            duration(a.at_s),
            esc(&a.text)
        );
    }
    // Styled inline so the page's stylesheet (and every snapshot of it) stays as it was.
    for e in &r.unexpected_events {
        let _ = write!(
            o,
            "<p class=\"unexpected\" style=\"background: #fff8e1; border-left: 4px solid #f9a825; padding: 6px 10px;\">Unexpected (not in the scenario): {}</p>",
            esc(&crate::text::unexpected(e))
        );
    }
    o.push_str("</header>\n");

    // Verdicts.
    o.push_str("<section id=\"verdicts\"><h2>Expectations</h2><table class=\"verdicts\"><thead><tr><th></th><th>expectation</th><th class=\"num\">observed</th><th>threshold</th><th>window</th></tr></thead><tbody>");
    for (i, e) in r.expectations.iter().enumerate() {
        let (c, m) = if e.passed {
            ("pass", "✓")
        } else {
            ("fail", "✗")
        };
        // The expectation links to its chart when the report has one (older JSON has not).
        let text = if e.chart.is_some() {
            format!(
                "<a href=\"#{}\"><code>{}</code></a>",
                expectation_id(i),
                esc(&e.text)
            )
        } else {
            format!("<code>{}</code>", esc(&e.text))
        };
        let _ = write!(
            o,
            "<tr class=\"{c}\"><td class=\"{c}\">{m}</td><td>{text}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&observed(e)),
            esc(&threshold(e)),
            esc(&e.window)
        );
    }
    o.push_str("</tbody></table>");
    let x_max = r
        .timeline
        .iter()
        .map(|p| p.t_s + r.window_s)
        .chain(r.workload_timeline.iter().map(|p| p.t_s + r.window_s))
        .fold(r.ended_s, f64::max);
    expectation_charts(&mut o, r, x_max);
    o.push_str("</section>\n");

    if let Some(runs) = &r.runs {
        let _ = write!(
            o,
            "<section id=\"runs\"><h2>Over {} seeds</h2><table><thead><tr><th>expectation</th><th class=\"num\">holds in</th><th class=\"num\">mean</th><th>95% CI</th><th>every run (green held, red failed; red line: threshold; bar: mean and CI)</th></tr></thead><tbody>",
            runs.runs
        );
        for e in &runs.expectations {
            // Which runs held: a run holds when its value satisfies the threshold; the report
            // keeps only counts, so colour by comparing with the threshold.
            let passed: Vec<bool> = e
                .observed
                .iter()
                .map(|v| v.is_some_and(|v| holds(&e.op, v, e.threshold)))
                .collect();
            let ci = e.ci95_low.zip(e.ci95_high);
            let _ = write!(
                o,
                "<tr><td><code>{}</code></td><td class=\"num\">{} of {}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.text),
                e.held,
                e.runs,
                e.mean.map_or("–".to_string(), |m| with_unit(m, &e.unit)),
                ci.map_or("–".to_string(), |(a, b)| format!(
                    "{} – {}",
                    num(a),
                    with_unit(b, &e.unit)
                )),
                strip(&e.observed, &passed, e.threshold, ci, e.mean, &e.unit)
            );
        }
        o.push_str("</tbody></table></section>\n");
    }

    // Topology and faults.
    o.push_str("<section id=\"topology\"><h2>Topology</h2>");
    o.push_str(&topology(&r.topology));
    if !r.faults.is_empty() {
        o.push_str("<h3>Faults</h3><ul class=\"faults\">");
        for f in &r.faults {
            let when: Vec<String> = f
                .active
                .iter()
                .map(|iv| format!("{}–{}", duration(iv.start_s), duration(iv.end_s)))
                .collect();
            let _ = write!(
                o,
                "<li><b>{}</b>: {} <span class=\"facts\">({})</span></li>",
                esc(&f.name),
                esc(&f.actions.join("; ")),
                esc(&when.join(", "))
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");

    let per_s = |n: u64| n as f64 / r.window_s;

    // Workloads: offered against answered.
    if !r.workloads.is_empty() {
        o.push_str("<section id=\"workloads\"><h2>Workloads</h2><div class=\"charts\">");
        for w in &r.workloads {
            let pts: Vec<_> = r
                .workload_timeline
                .iter()
                .filter(|p| p.workload == w.name)
                .collect();
            let mut series = Vec::new();
            series.push(Series {
                name: "answered ok".into(),
                colour: PALETTE[2].into(),
                style: Style::Line,
                points: pts
                    .iter()
                    .map(|p| (p.t_s, Some(per_s(p.requests - p.errors))))
                    .collect(),
            });
            series.push(Series {
                name: "failed".into(),
                colour: PALETTE[1].into(),
                style: Style::Line,
                points: pts.iter().map(|p| (p.t_s, Some(per_s(p.errors)))).collect(),
            });
            // Offered last, so its dashes stay visible over the answers it matches.
            if pts.iter().any(|p| p.offered_per_s.is_some()) {
                series.push(Series {
                    name: "offered".into(),
                    colour: PALETTE[7].into(),
                    style: Style::Dashed,
                    points: pts.iter().map(|p| (p.t_s, p.offered_per_s)).collect(),
                });
            }
            let title = format!(
                "{} → {} \"{}\"",
                w.name, w.target_service, w.target_endpoint
            );
            o.push_str(&chart(&title, "requests/s", x_max, series, r));
            if pts.iter().any(|p| p.users.is_some()) {
                let users = vec![Series {
                    name: "users".into(),
                    colour: PALETTE[4].into(),
                    style: Style::Step,
                    points: pts.iter().map(|p| (p.t_s, p.users)).collect(),
                }];
                o.push_str(&chart(
                    &format!("{} users", w.name),
                    "users",
                    x_max,
                    users,
                    r,
                ));
            }
        }
        o.push_str("</div></section>\n");
    }

    // Services.
    o.push_str("<section id=\"services\"><h2>Services</h2>");
    for s in &r.services {
        let pts: Vec<_> = r
            .timeline
            .iter()
            .filter(|p| p.service == s.service)
            .collect();
        let _ = write!(
            o,
            "<div class=\"service\" data-service=\"{}\"><h3>{}</h3><p class=\"facts\">{} requests · errors {} · p50 {} · p99 {} · max replicas {} · utilisation {}%</p><div class=\"charts\">",
            esc(&s.service),
            esc(&s.service),
            s.requests,
            s.error_rate_pct
                .map_or("–".to_string(), |e| format!("{}%", num(e))),
            latency(&s.latency_ms, |l| l.p50),
            latency(&s.latency_ms, |l| l.p99),
            s.max_replicas,
            num(s.utilisation_pct)
        );
        let throughput = vec![Series {
            name: "ok answers".into(),
            colour: PALETTE[0].into(),
            style: Style::Line,
            points: pts
                .iter()
                .map(|p| (p.t_s, Some(p.throughput_per_s)))
                .collect(),
        }];
        o.push_str(&chart("throughput", "answers/s", x_max, throughput, r));

        let causes: BTreeSet<&String> = pts.iter().flat_map(|p| p.errors_by_cause.keys()).collect();
        let errors: Vec<Series> = causes
            .iter()
            .enumerate()
            .map(|(i, c)| Series {
                name: (*c).clone(),
                colour: PALETTE[(i + 1) % PALETTE.len()].into(),
                style: Style::Stacked,
                points: pts
                    .iter()
                    .map(|p| {
                        (
                            p.t_s,
                            Some(per_s(p.errors_by_cause.get(*c).copied().unwrap_or(0))),
                        )
                    })
                    .collect(),
            })
            .collect();
        let errors = if errors.is_empty() {
            vec![Series {
                name: "no errors".into(),
                colour: PALETTE[2].into(),
                style: Style::Line,
                points: pts.iter().map(|p| (p.t_s, Some(0.0))).collect(),
            }]
        } else {
            errors
        };
        o.push_str(&chart("errors by cause", "errors/s", x_max, errors, r));

        let lat = vec![
            Series {
                name: "p50".into(),
                colour: PALETTE[0].into(),
                style: Style::Line,
                points: pts.iter().map(|p| (p.t_s, p.p50_ms)).collect(),
            },
            Series {
                name: "p99".into(),
                colour: PALETTE[3].into(),
                style: Style::Line,
                points: pts.iter().map(|p| (p.t_s, p.p99_ms)).collect(),
            },
        ];
        o.push_str(&chart("latency", "ms", x_max, lat, r));
        let replicas = vec![Series {
            name: "live replicas".into(),
            colour: PALETTE[4].into(),
            style: Style::Step,
            points: pts
                .iter()
                .map(|p| (p.t_s, Some(f64::from(p.replicas))))
                .collect(),
        }];
        o.push_str(&chart("replicas", "replicas", x_max, replicas, r));
        o.push_str("</div></div>\n");
    }
    o.push_str("</section>\n");

    // Tables.
    o.push_str("<section id=\"endpoints\"><h2>Endpoints (overall window)</h2><table><thead><tr><th>service</th><th>endpoint</th><th class=\"num\">requests</th><th class=\"num\">errors</th><th>by cause</th><th class=\"num\">p50</th><th class=\"num\">p99</th><th class=\"num\">max</th></tr></thead><tbody>");
    for e in &r.endpoints {
        let causes: Vec<String> = e
            .errors_by_cause
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&e.service),
            esc(&e.endpoint),
            e.requests,
            e.errors,
            esc(&causes.join(", ")),
            latency(&e.latency_ms, |l| l.p50),
            latency(&e.latency_ms, |l| l.p99),
            latency(&e.latency_ms, |l| l.max)
        );
    }
    o.push_str("</tbody></table></section>\n");
    let _ = writeln!(
        o,
        "<footer class=\"facts\"><p>chaos report · {} mode · seed {} · windows of {}</p></footer></body></html>",
        esc(&r.mode),
        r.seed,
        duration(r.window_s)
    );
    o
}

fn holds(op: &str, v: f64, t: f64) -> bool {
    let eq = (v - t).abs() <= 1e-9 * t.abs().max(1.0);
    match op {
        "<" => v < t,
        "<=" => v <= t || eq,
        ">" => v > t,
        ">=" => v >= t || eq,
        "==" => eq,
        "!=" => !eq,
        _ => false,
    }
}

/// The anchor of expectation `i`'s chart.
fn expectation_id(i: usize) -> String {
    format!("expectation-{}", i + 1)
}

/// One chart per expectation: its metric window by window for its subject, the threshold
/// line at the threshold, the judged window shaded, the value the verdict saw drawn across
/// it, and the faults as everywhere else.
fn expectation_charts(o: &mut String, r: &Report, x_max: f64) {
    if r.expectations.iter().all(|e| e.chart.is_none()) {
        return;
    }
    o.push_str("<div class=\"charts\">");
    for (i, e) in r.expectations.iter().enumerate() {
        let Some(c) = &e.chart else { continue };
        let metric = e.text.split('(').next().unwrap_or_default().trim();
        let recovery = c.recovery_from_s.is_some();
        let series = vec![Series {
            name: if recovery {
                format!("error rate of {} per window", c.subject)
            } else {
                format!("{metric} of {} per window", c.subject)
            },
            colour: PALETTE[0].into(),
            style: Style::Line,
            points: c.points.clone(),
        }];
        let limit = match c.recovery_from_s {
            Some(from_s) if recovery => Limit::Deadline {
                from_s,
                threshold: e.threshold,
                observed: e.observed,
            },
            _ => Limit::Level {
                threshold: e.threshold,
                observed: e.observed,
            },
        };
        let marks = vec![Mark {
            label: format!("{metric} {}", threshold(e)),
            passed: e.passed,
            limit,
            intervals: c
                .intervals
                .iter()
                .map(|iv| (iv.start_s, iv.end_s))
                .collect(),
        }];
        let _ = write!(
            o,
            "<div class=\"expectation {}\" id=\"{}\">",
            if e.passed { "pass" } else { "fail" },
            expectation_id(i)
        );
        o.push_str(&chart_with(&e.text, &c.unit, x_max, series, marks, r));
        let _ = write!(o, "<p class=\"facts\">{}</p></div>", esc(&caption(e)));
    }
    o.push_str("</div>");
}

/// Under an expectation's chart, in words: what it saw against what it wanted.
fn caption(e: &ExpectationResult) -> String {
    format!(
        "{} · observed {} · wanted {} · window {}",
        if e.passed { "held" } else { "failed" },
        observed(e),
        threshold(e),
        e.window
    )
}

fn chart(title: &str, unit: &str, x_max: f64, series: Vec<Series>, r: &Report) -> String {
    chart_with(title, unit, x_max, series, Vec::new(), r)
}

fn chart_with(
    title: &str,
    unit: &str,
    x_max: f64,
    series: Vec<Series>,
    marks: Vec<Mark>,
    r: &Report,
) -> String {
    Chart {
        title,
        unit,
        x_max,
        series,
        faults: &r.faults,
        abort_s: r.aborted.as_ref().map(|a| a.at_s),
        ended_s: r.ended_s,
        width: 560.0,
        height: 184.0,
        marks,
    }
    .render()
}
