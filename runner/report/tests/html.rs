//! The HTML report draws each expectation on its chart: the threshold line at the threshold,
//! the judged window shaded, the row linking to the chart, and hover tooltips with the values.
#![allow(clippy::unwrap_used)]

mod support;

use chaos_plan::{Comparison, Metric, Plan};
use chaos_report::{Cause, Recording, html, model};
use support::*;

/// The slow fault (20 s–30 s) makes `GET /a` answer in 250 ms from 20 s to 34 s: the p99
/// bound of 200 ms during the fault fails, the error rate bound holds, recovery takes 4 s.
fn scenario() -> (Plan, Recording) {
    let mut rec_w = window("after slow", vec![interval(30.0, 60.0)]);
    rec_w.recovery_from_s = Some(30.0);
    rec_w.baseline = vec![interval(10.0, 20.0)];
    let plan = plan(
        vec![
            expect(
                "p99(gateway \"GET /a\") < 200ms during slow",
                Metric::P99,
                endpoint("gateway", "GET /a"),
                window("during slow", vec![interval(20.0, 30.0)]),
                Comparison::Lt,
                0.2,
            ),
            expect(
                "error_rate(users) < 50%",
                Metric::ErrorRate,
                workload_subject("users"),
                window("overall", vec![interval(10.0, 60.0)]),
                Comparison::Lt,
                0.5,
            ),
            expect(
                "recovery(gateway) < 10s after slow",
                Metric::Recovery,
                service_subject("gateway"),
                rec_w,
                Comparison::Lt,
                10.0,
            ),
        ],
        vec![],
    );
    let rec = record(&plan, 60.0, |t| {
        if (20..34).contains(&t) {
            Second {
                ok: 9,
                errors: 1,
                cause: Cause::Timeout,
                latency_s: 0.25,
                replicas: 1,
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

/// Every value of `attr="..."` in `html`.
fn attrs<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// The element with `id="..."` up to the end of its first `</svg>`.
fn chart_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap();
    let end = html[start..].find("</svg>").unwrap();
    &html[start..start + end]
}

fn num(s: &str) -> f64 {
    s.parse().unwrap()
}

/// `(y, label)` of every horizontal grid line of one chart.
fn grid(svg: &str) -> Vec<(f64, f64)> {
    svg.match_indices("class=\"grid\"/>")
        .map(|(i, m)| {
            let line = &svg[svg[..i].rfind("<line").unwrap()..i];
            let y = num(attrs(line, "y1")[0]);
            let after = &svg[i + m.len()..];
            let label = &after[after.find('>').unwrap() + 1..after.find("</text>").unwrap()];
            (y, num(label))
        })
        .collect()
}

#[test]
fn a_failed_expectation_is_drawn_against_its_threshold() {
    let r = report();
    assert!(!r.expectations[0].passed, "p99 < 200ms fails during slow");
    let html = html::render(&r);

    // The failed row links to its chart.
    let row_start = html.find("<tr class=\"fail\">").unwrap();
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    let href = attrs(row, "href")[0];
    let id = href.strip_prefix('#').unwrap();
    let svg = chart_of(&html, id);
    assert!(svg.contains("p99(gateway &quot;GET /a&quot;) &lt; 200ms during slow"));

    // The threshold line is at 200 ms, on the chart's own axis: between the grid lines that
    // bracket 200, where linear interpolation puts it.
    let line_start = svg.find("<line class=\"threshold\"").unwrap();
    let line = &svg[line_start..];
    assert_eq!(attrs(line, "data-value")[0], "200");
    let (y1, y2) = (num(attrs(line, "y1")[0]), num(attrs(line, "y2")[0]));
    assert_eq!(y1, y2, "horizontal");
    let g = grid(svg);
    let below = g.iter().rev().find(|(_, v)| *v <= 200.0).unwrap();
    let above = g.iter().find(|(_, v)| *v > 200.0).unwrap();
    let want = below.0 + (200.0 - below.1) / (above.1 - below.1) * (above.0 - below.0);
    assert!(
        (y1 - want).abs() < 0.2,
        "threshold at y {y1}, 200 ms is at {want}"
    );
    // Red, since it failed; the value it saw (250 ms) is drawn above the line (smaller y).
    assert!(line.contains("stroke=\"#c62828\""));
    let observed = &svg[svg.find("<line class=\"observed\"").unwrap()..];
    let seen = num(attrs(observed, "data-value")[0]);
    assert!((seen - 250.0).abs() < 1.0, "observed {seen} ms");
    assert!(num(attrs(observed, "y1")[0]) < y1);

    // The window 20 s–30 s is shaded, and the observed value spans exactly it.
    assert!(svg.contains("judged over 20s–30s"));
    let window = &svg[svg.find("<rect class=\"window\"").unwrap()..];
    let (x, w) = (num(attrs(window, "x")[0]), num(attrs(window, "width")[0]));
    assert_eq!(num(attrs(observed, "x1")[0]), x);
    assert!((num(attrs(observed, "x2")[0]) - (x + w)).abs() < 0.15);
}

#[test]
fn every_link_resolves_and_every_expectation_has_a_chart() {
    let html = html::render(&report());
    let ids = attrs(&html, "id");
    let links: Vec<&str> = attrs(&html, "href")
        .into_iter()
        .filter_map(|h| h.strip_prefix('#'))
        .collect();
    assert_eq!(links.len(), 3, "one link per expectation row");
    for l in &links {
        assert_eq!(
            ids.iter().filter(|i| *i == l).count(),
            1,
            "#{l} names one element"
        );
    }
    assert_eq!(html.matches("class=\"threshold\"").count(), 3);
    // Recovery is a time: its threshold is a deadline 10 s after the fault ended, drawn
    // vertically, and the error rate it watched is what is plotted.
    let rec = chart_of(&html, links[2]);
    let line = &rec[rec.find("<line class=\"threshold\"").unwrap()..];
    assert_eq!(attrs(line, "x1")[0], attrs(line, "x2")[0], "vertical");
    assert!(line.contains("recovered by 40s"));
    assert!(rec.contains("error rate of gateway per window"));
}

#[test]
fn hovering_shows_the_values_of_a_window() {
    let html = html::render(&report());
    let svg = chart_of(&html, "expectation-1");
    // A window inside the fault: its p99 and the fault that was on.
    assert!(
        svg.contains("<title>25s–26s\np99 of gateway &quot;GET /a&quot; per window: 250.1 ms\nfault slow</title>"),
        "{svg}"
    );
    // Every chart of the report has hover columns, and the page has no script.
    let charts = html.matches("<svg class=\"chart\"").count();
    let hovered = html
        .split("<svg class=\"chart\"")
        .skip(1)
        .filter(|c| c.contains("class=\"hv\""))
        .count();
    assert_eq!(hovered, charts);
    assert!(!html.contains("<script"));
}

#[test]
fn a_report_from_before_the_charts_still_renders_without_links() {
    let mut r = report();
    for e in &mut r.expectations {
        e.chart = None;
    }
    // As an older JSON report reads back: no `chart` field at all.
    let json = r.to_json();
    assert!(!json.contains("\"chart\""));
    let back = model::Report::from_json(&json).unwrap();
    let html = html::render(&back);
    assert!(!html.contains("href=\"#expectation-"));
    assert!(!html.contains("class=\"threshold\""));
    assert_eq!(html.matches("<tr class=\"fail\">").count(), 1);
}
