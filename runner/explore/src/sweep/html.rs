//! `--html sweep.html`: one self-contained page, one inline SVG plot per expectation (the
//! observed value against the param, the threshold as a line, the boundary as a band).

use std::fmt::Write;

use chaos_report::svg::{esc, nice};
use chaos_report::text::num;

use super::output::{Boundary, SweepReport};

const W: f64 = 640.0;
const H: f64 = 280.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 36.0;

pub fn render(r: &SweepReport) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sweep of {p}: {s}</title><style>
body{{font:14px system-ui,sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse}}
td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}} .ax{{font-size:11px;fill:#555}}
.ct{{font-size:13px;font-weight:600}} .grid{{stroke:#eee}} .axis{{stroke:#999}} figure{{margin:18px 0}}
</style></head><body><h1>Sweep of <code>{p}</code></h1><p>{s}: {from} to {to}, {steps} points × {runs} seed(s), {sims} simulations.</p>"#,
        p = esc(&r.param),
        s = esc(&r.scenario),
        from = esc(&r.value(r.from)),
        to = esc(&r.value(r.to)),
        steps = r.steps,
        runs = r.runs,
        sims = r.simulations,
    );
    o.push_str("<table><tr><th>expectation</th><th>boundary</th><th>value</th><th>interval over seeds</th></tr>");
    for b in &r.boundaries {
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&b.expectation),
            b.kind.label(),
            b.value.map_or_else(|| "–".into(), |v| esc(&r.value(v))),
            b.interval.map_or_else(String::new, |[a, c]| esc(&format!(
                "{} – {}",
                r.value(a),
                r.value(c)
            )))
        );
    }
    o.push_str("</table>");
    for (i, b) in r.boundaries.iter().enumerate() {
        o.push_str("<figure>");
        o.push_str(&plot(r, i, b));
        o.push_str("</figure>");
    }
    o.push_str("</body></html>\n");
    o
}

/// One expectation's plot.
pub fn plot(r: &SweepReport, i: usize, b: &Boundary) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let span = (r.to - r.from).max(f64::MIN_POSITIVE);
    let sx = |v: f64| LEFT + ((v - r.from) / span).clamp(0.0, 1.0) * pw;
    // (value, observed per seed, mean) per point.
    type Row<'a> = (f64, &'a Vec<Option<f64>>, Option<f64>);
    let observed: Vec<Row<'_>> = r
        .points
        .iter()
        .filter_map(|p| {
            p.expectations
                .get(i)
                .map(|e| (p.value, &e.observed_per_seed, e.observed))
        })
        .collect();
    let y_data = observed
        .iter()
        .flat_map(|(_, s, _)| s.iter().flatten().copied())
        .fold(b.threshold, f64::max);
    let (y_max, y_step) = nice(y_data * 1.05, 4);
    let sy = |v: f64| TOP + ph - (v / y_max).clamp(0.0, 1.0) * ph;

    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}"><text x="{LEFT}" y="16" class="ct">{t}</text>"#,
        t = esc(&b.expectation)
    );
    // The band where the seeds' boundaries lie, under everything else.
    if let (Some(v), Some([lo, hi])) = (b.value, b.interval) {
        let (a, c) = (sx(lo), sx(hi));
        let _ = write!(
            o,
            r##"<rect class="boundary" x="{a:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="#2ca02c" fill-opacity="0.15"/><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#2ca02c" stroke-width="1.5"><title>{} {}</title></line>"##,
            (c - a).max(1.5),
            TOP + ph,
            b.kind.label(),
            esc(&r.value(v)),
            x = sx(v),
        );
    }
    let mut v = 0.0;
    while v <= y_max + y_step * 1e-9 {
        let y = sy(v);
        let _ = write!(
            o,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="ax" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 4.0,
            y + 3.5,
            num(v)
        );
        v += y_step;
    }
    let (_, x_step) = nice(span, 6);
    let mut k = (r.from / x_step).ceil();
    while k * x_step <= r.to + x_step * 1e-9 {
        let x = sx(k * x_step);
        let _ = write!(
            o,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" class="axis"/><text x="{x:.1}" y="{:.1}" class="ax" text-anchor="middle">{}</text>"#,
            TOP + ph,
            TOP + ph + 4.0,
            TOP + ph + 16.0,
            esc(&num(k * x_step))
        );
        k += 1.0;
    }
    let _ = write!(
        o,
        r#"<text x="{:.1}" y="{:.1}" class="ax" text-anchor="middle">{} ({})</text><text x="{:.1}" y="16" class="ax" text-anchor="end">{}</text>"#,
        LEFT + pw / 2.0,
        H - 4.0,
        esc(&r.param),
        esc(&r.unit),
        W - RIGHT,
        esc(&b.unit)
    );
    // Threshold.
    let ty = sy(b.threshold);
    let _ = write!(
        o,
        r##"<line class="threshold" x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5 3"><title>threshold {} {}</title></line>"##,
        W - RIGHT,
        esc(&b.op),
        num(b.threshold)
    );
    // Mean line, then one dot per run.
    let mut d = String::new();
    for (value, _, mean) in &observed {
        if let Some(m) = mean {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if d.is_empty() { "M" } else { "L" },
                sx(*value),
                sy(*m)
            );
        }
    }
    let _ = write!(
        o,
        r##"<path class="mean" d="{d}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##
    );
    for (value, per_seed, _) in &observed {
        for y in per_seed.iter().flatten() {
            let _ = write!(
                o,
                r##"<circle class="run" cx="{:.1}" cy="{:.1}" r="2.2" fill="#1f77b4" fill-opacity="0.6"/>"##,
                sx(*value),
                sy(*y)
            );
        }
    }
    o.push_str("</svg>");
    o
}
