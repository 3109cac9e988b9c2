//! Hand-built SVG charts for the HTML report: time series with fault bands, expectations
//! (threshold, window, observed value) and hover tooltips (`<title>`), a dot strip for
//! multi-seed distributions, and the call graph. No script, no fonts, no network.

use std::fmt::Write;

use crate::model::{FaultInfo, Topology};
use crate::text::{duration, num, with_unit};

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Colours that stay apart on screen and in greyscale print.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

pub const FAULT_FILL: &str = "#f0a030";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    /// Stacked on the previous `Stacked` series, filled.
    Stacked,
    /// Horizontal then vertical steps (counts such as replicas).
    Step,
    Dashed,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub colour: String,
    pub style: Style,
    /// `(t_s, value)`; `None` leaves a gap.
    pub points: Vec<(f64, Option<f64>)>,
}

/// An expectation drawn on the chart it concerns: its window shaded, its threshold as a line
/// (or, for `recovery`, as a deadline), and what it observed over that window.
#[derive(Debug, Clone)]
pub struct Mark {
    /// `p99 < 800 ms`.
    pub label: String,
    pub passed: bool,
    pub limit: Limit,
    /// The judged windows, `(start_s, end_s)`.
    pub intervals: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A threshold on the chart's own axis, and the value observed over the whole window.
    Level {
        threshold: f64,
        observed: Option<f64>,
    },
    /// `recovery`: time runs from `from_s`; recovered by `from_s + threshold`; `observed`
    /// is the time it took.
    Deadline {
        from_s: f64,
        threshold: f64,
        observed: Option<f64>,
    },
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub x_max: f64,
    pub series: Vec<Series>,
    pub faults: &'a [FaultInfo],
    /// When an `abort when` stopped the run.
    pub abort_s: Option<f64>,
    /// When sending stopped; the drain after it is shaded grey.
    pub ended_s: f64,
    pub width: f64,
    pub height: f64,
    pub marks: Vec<Mark>,
}

const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 22.0;

/// A "nice" axis maximum and step for `max`: 1, 2, 2.5 or 5 × 10^k.
pub fn nice(max: f64, ticks: usize) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn time_step(x_max: f64) -> f64 {
    let candidates = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    candidates
        .iter()
        .copied()
        .find(|s| x_max / s <= 8.0)
        .unwrap_or(x_max / 8.0)
}

impl Chart<'_> {
    pub fn render(&self) -> String {
        let (w, h) = (self.width, self.height);
        let pw = w - LEFT - RIGHT;
        let ph = h - TOP - BOTTOM;
        let x_max = if self.x_max > 0.0 { self.x_max } else { 1.0 };
        let stacked_max = {
            let stacked: Vec<&Series> = self
                .series
                .iter()
                .filter(|s| s.style == Style::Stacked)
                .collect();
            let n = stacked.iter().map(|s| s.points.len()).max().unwrap_or(0);
            (0..n)
                .map(|i| {
                    stacked
                        .iter()
                        .filter_map(|s| s.points.get(i).and_then(|p| p.1))
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
        };
        // Thresholds and observed values count towards the axis so their lines stay on it.
        let mark_max = self
            .marks
            .iter()
            .flat_map(|m| match m.limit {
                Limit::Level {
                    threshold,
                    observed,
                } => [Some(threshold), observed],
                Limit::Deadline { .. } => [None, None],
            })
            .flatten()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let y_data = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1))
            .fold(stacked_max, f64::max)
            .max(mark_max * 1.05);
        let (y_max, y_step) = nice(y_data, 4);
        let sx = |t: f64| LEFT + (t / x_max).clamp(0.0, 1.0) * pw;
        let sy = |v: f64| TOP + ph - (v / y_max).clamp(0.0, 1.0) * ph;

        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
            esc(self.title)
        );
        let _ = write!(
            o,
            r#"<text x="{LEFT}" y="14" class="ct">{}</text><text x="{}" y="14" class="cu" text-anchor="end">{}</text>"#,
            esc(self.title),
            w - RIGHT,
            esc(self.unit)
        );
        // Fault bands first, under the data.
        for (k, f) in self.faults.iter().enumerate() {
            // Labels on three staggered rows so close faults stay legible.
            let label_y = TOP + 9.0 + (k % 3) as f64 * 10.0;
            for iv in &f.active {
                let (a, b) = (sx(iv.start_s), sx(iv.end_s));
                let bw = (b - a).max(1.5);
                let _ = write!(
                    o,
                    r#"<rect class="fault" x="{a:.1}" y="{TOP}" width="{bw:.1}" height="{ph}" fill="{FAULT_FILL}" fill-opacity="0.18"><title>{} {}–{}</title></rect><text x="{:.1}" y="{:.1}" class="fl">{}</text>"#,
                    esc(&f.name),
                    duration(iv.start_s),
                    duration(iv.end_s),
                    a + 2.0,
                    label_y,
                    esc(&f.name)
                );
            }
        }
        if self.ended_s < x_max {
            let a = sx(self.ended_s);
            let _ = write!(
                o,
                r##"<rect class="drain" x="{a:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="#888" fill-opacity="0.10"><title>drain: no new requests</title></rect><text x="{:.1}" y="{:.1}" class="ax" text-anchor="end">drain</text>"##,
                LEFT + pw - a,
                LEFT + pw - 2.0,
                TOP + 9.0
            );
        }
        // Expectation windows, under the data like the fault bands.
        for m in &self.marks {
            for &(a, b) in &m.intervals {
                let (xa, xb) = (sx(a), sx(b));
                let _ = write!(
                    o,
                    r##"<rect class="window" x="{xa:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="#1f77b4" fill-opacity="0.07" stroke="#1f77b4" stroke-opacity="0.35" stroke-dasharray="2 2"><title>{}: judged over {}–{}</title></rect>"##,
                    (xb - xa).max(1.5),
                    esc(&m.label),
                    duration(a),
                    duration(b)
                );
            }
        }
        // Grid and axes.
        let mut v = 0.0;
        while v <= y_max + y_step * 1e-9 {
            let y = sy(v);
            let _ = write!(
                o,
                r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="ax" text-anchor="end">{}</text>"#,
                w - RIGHT,
                LEFT - 4.0,
                y + 3.5,
                num(v)
            );
            v += y_step;
        }
        let ts = time_step(x_max);
        let mut t = 0.0;
        while t <= x_max + 1e-9 {
            let x = sx(t);
            let _ = write!(
                o,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" class="axis"/><text x="{x:.1}" y="{:.1}" class="ax" text-anchor="middle">{}</text>"#,
                TOP + ph,
                TOP + ph + 4.0,
                h - 6.0,
                if t == 0.0 {
                    "0".to_string()
                } else {
                    duration(t)
                }
            );
            t += ts;
        }
        let _ = write!(
            o,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="axis"/>"#,
            w - RIGHT,
            TOP + ph,
            TOP + ph
        );
        // Data.
        let mut base: Vec<f64> = Vec::new();
        for s in &self.series {
            match s.style {
                Style::Stacked => {
                    if base.len() < s.points.len() {
                        base.resize(s.points.len(), 0.0);
                    }
                    let top: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .enumerate()
                        .map(|(i, (t, v))| (*t, base[i] + v.unwrap_or(0.0)))
                        .collect();
                    let mut d = String::new();
                    for (i, (t, v)) in top.iter().enumerate() {
                        let _ = write!(
                            d,
                            "{}{:.1},{:.1}",
                            if i == 0 { "M" } else { "L" },
                            sx(*t),
                            sy(*v)
                        );
                    }
                    for (i, (t, _)) in s.points.iter().enumerate().rev() {
                        let _ = write!(d, "L{:.1},{:.1}", sx(*t), sy(base[i]));
                    }
                    if !top.is_empty() {
                        let _ = write!(
                            o,
                            r#"<path d="{d}Z" fill="{}" fill-opacity="0.55" stroke="{}" stroke-width="0.6"/>"#,
                            s.colour, s.colour
                        );
                    }
                    for (i, (_, v)) in top.iter().enumerate() {
                        base[i] = *v;
                    }
                }
                Style::Line | Style::Dashed | Style::Step => {
                    let mut d = String::new();
                    let mut pen_up = true;
                    let mut last_y = 0.0;
                    for (t, v) in &s.points {
                        match v {
                            Some(v) => {
                                let (x, y) = (sx(*t), sy(*v));
                                if pen_up {
                                    let _ = write!(d, "M{x:.1},{y:.1}");
                                } else if s.style == Style::Step {
                                    let _ = write!(d, "L{x:.1},{last_y:.1}L{x:.1},{y:.1}");
                                } else {
                                    let _ = write!(d, "L{x:.1},{y:.1}");
                                }
                                last_y = y;
                                pen_up = false;
                            }
                            None => pen_up = true,
                        }
                    }
                    let dash = if s.style == Style::Dashed {
                        r#" stroke-dasharray="5 3""#
                    } else {
                        ""
                    };
                    let _ = write!(
                        o,
                        r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.5"{dash}/>"#,
                        s.colour
                    );
                }
            }
        }
        // Hover columns under the marks, so a threshold keeps its own tooltip.
        self.hover(&mut o, &sx, pw);
        for m in &self.marks {
            self.mark(&mut o, m, &sx, &sy, ph);
        }
        if let Some(t) = self.abort_s {
            let x = sx(t);
            let _ = write!(
                o,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="3 2"/><text x="{:.1}" y="{:.1}" class="fl" text-anchor="end" style="fill:#c62828">abort</text>"##,
                TOP + ph,
                x - 2.0,
                TOP + ph - 4.0
            );
        }
        // Legend.
        let mut lx = LEFT;
        for s in &self.series {
            let _ = write!(
                o,
                r#"<rect x="{lx:.1}" y="21" width="10" height="8" fill="{}"/><text x="{:.1}" y="29" class="lg">{}</text>"#,
                s.colour,
                lx + 13.0,
                esc(&s.name)
            );
            lx += 22.0 + 6.2 * s.name.chars().count() as f64;
        }
        o.push_str("</svg>");
        o
    }

    /// The threshold (or deadline) of one expectation and what it observed.
    fn mark(
        &self,
        o: &mut String,
        m: &Mark,
        sx: &dyn Fn(f64) -> f64,
        sy: &dyn Fn(f64) -> f64,
        ph: f64,
    ) {
        let colour = if m.passed { "#17803d" } else { "#c62828" };
        let (x0, x1) = (sx(0.0), sx(self.x_max));
        match m.limit {
            Limit::Level {
                threshold,
                observed,
            } => {
                let y = sy(threshold);
                let _ = write!(
                    o,
                    r#"<line class="threshold" data-value="{}" x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="1.4" stroke-dasharray="6 3"><title>{}</title></line><text x="{:.1}" y="{:.1}" class="tl" text-anchor="end" style="fill:{colour}">{}</text>"#,
                    num(threshold),
                    esc(&m.label),
                    x1 - 2.0,
                    y - 3.0,
                    esc(&m.label)
                );
                // What the verdict saw: one value over the whole window, drawn across it.
                if let Some(v) = observed {
                    let y = sy(v);
                    for &(a, b) in &m.intervals {
                        let _ = write!(
                            o,
                            r#"<line class="observed" data-value="{}" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2.5" stroke-opacity="0.75" stroke-linecap="round"><title>observed {} over the window</title></line>"#,
                            num(v),
                            sx(a),
                            sx(b),
                            num(v)
                        );
                    }
                }
            }
            Limit::Deadline {
                from_s,
                threshold,
                observed,
            } => {
                let (xf, xd) = (sx(from_s), sx(from_s + threshold));
                let _ = write!(
                    o,
                    r##"<line class="threshold" data-value="{}" x1="{xd:.1}" x2="{xd:.1}" y1="{TOP}" y2="{:.1}" stroke="{colour}" stroke-width="1.4" stroke-dasharray="6 3"><title>{}: recovered by {}</title></line><line x1="{xf:.1}" x2="{xd:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1"/><text x="{:.1}" y="{:.1}" class="tl" style="fill:{colour}">{}</text>"##,
                    num(threshold),
                    TOP + ph,
                    esc(&m.label),
                    duration(from_s + threshold),
                    TOP + 4.0,
                    TOP + 4.0,
                    xd + 2.0,
                    TOP + 12.0,
                    esc(&m.label)
                );
                if let Some(v) = observed {
                    let x = sx(from_s + v);
                    let _ = write!(
                        o,
                        r#"<circle class="observed" data-value="{}" cx="{x:.1}" cy="{:.1}" r="3.5" fill="{colour}"><title>recovered {} after {}</title></circle>"#,
                        num(v),
                        TOP + 4.0,
                        duration(v),
                        duration(from_s)
                    );
                }
            }
        }
    }

    /// Hover: one invisible column per window (or per few windows on long runs) whose
    /// `<title>` lists every series' value there and the faults on. Plain SVG, no script, so
    /// it works in a file opened offline.
    fn hover(&self, o: &mut String, sx: &dyn Fn(f64) -> f64, pw: f64) {
        let mut times: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        if times.is_empty() {
            return;
        }
        // At most one column per 5 px (about 100 a chart): a long run's file stays small (the
        // columns of a 6-minute run's 27 charts are about 350 KB of its 750 KB).
        let max_cols = (pw / 5.0).max(1.0) as usize;
        let per = times.len().div_ceil(max_cols);
        let window = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let window = if window.is_finite() {
            window
        } else {
            self.x_max
        };
        for group in times.chunks(per) {
            let (Some(&a), Some(&last)) = (group.first(), group.last()) else {
                continue;
            };
            let b = (last + window).min(self.x_max.max(last));
            let mut tip = format!("{}–{}", duration(a), duration(b));
            for s in &self.series {
                let vals: Vec<f64> = s
                    .points
                    .iter()
                    .filter(|p| p.0 >= a && p.0 <= last)
                    .filter_map(|p| p.1)
                    .collect();
                let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let shown = if vals.is_empty() {
                    "–".to_string()
                } else if lo == hi {
                    with_unit(lo, self.unit)
                } else {
                    format!("{}–{}", num(lo), with_unit(hi, self.unit))
                };
                let _ = write!(tip, "\n{}: {shown}", s.name);
            }
            for f in self.faults {
                if f.active.iter().any(|iv| iv.start_s < b && iv.end_s > a) {
                    let _ = write!(tip, "\nfault {}", f.name);
                }
            }
            let (xa, xb) = (sx(a), sx(b));
            let _ = write!(
                o,
                r#"<rect class="hv" x="{xa:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill-opacity="0"><title>{}</title></rect>"#,
                (xb - xa).max(0.5),
                self.height - TOP - BOTTOM,
                esc(&tip)
            );
        }
    }
}

/// One dot per run on a horizontal axis, the threshold as a red line, the mean and its 95%
/// confidence interval as a bar.
pub fn strip(
    values: &[Option<f64>],
    passed: &[bool],
    threshold: f64,
    ci: Option<(f64, f64)>,
    mean: Option<f64>,
    unit: &str,
) -> String {
    let (w, h) = (420.0, 46.0);
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let lo = present
        .iter()
        .copied()
        .fold(threshold, f64::min)
        .min(ci.map_or(f64::INFINITY, |c| c.0));
    let hi = present
        .iter()
        .copied()
        .fold(threshold, f64::max)
        .max(ci.map_or(f64::NEG_INFINITY, |c| c.1));
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let sx = |v: f64| 10.0 + (v - lo) / (hi - lo) * (w - 20.0);
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="strip" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><line x1="10" x2="{}" y1="30" y2="30" class="axis"/>"#,
        w - 10.0
    );
    let tx = sx(threshold);
    let _ = write!(
        o,
        r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="8" y2="36" stroke="#d62728" stroke-width="1.5"/><text x="{tx:.1}" y="45" class="ax" text-anchor="middle">{}{}</text>"##,
        num(threshold),
        esc(unit)
    );
    if let (Some((a, b)), Some(m)) = (ci, mean) {
        let _ = write!(
            o,
            r##"<rect x="{:.1}" y="12" width="{:.1}" height="6" fill="#1f77b4" fill-opacity="0.35"/><line x1="{:.1}" x2="{:.1}" y1="10" y2="20" stroke="#1f77b4" stroke-width="2"/>"##,
            sx(a),
            (sx(b) - sx(a)).max(1.0),
            sx(m),
            sx(m)
        );
    }
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let ok = passed.get(i).copied().unwrap_or(false);
            let jitter = (i % 5) as f64 * 1.6;
            let _ = write!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="{}" fill-opacity="0.7"/>"#,
                sx(*v),
                24.0 + jitter - 3.2,
                if ok { "#2ca02c" } else { "#d62728" }
            );
        }
    }
    o.push_str("</svg>");
    o
}

/// The call graph, left to right: workloads, then services by call depth.
pub fn topology(t: &Topology) -> String {
    let n = t.services.len();
    let index = |name: &str| t.services.iter().position(|s| s.name == name);
    // Depth = longest call chain from an entry point; bounded by n so cycles end.
    let mut depth = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for e in &t.calls {
            if let (Some(a), Some(b)) = (index(&e.from), index(&e.to))
                && a != b
                && depth[b] <= depth[a]
                && depth[a] < n
            {
                depth[b] = depth[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let workloads: Vec<&str> = {
        let mut w: Vec<&str> = Vec::new();
        for e in &t.entries {
            if !w.contains(&e.from.as_str()) {
                w.push(&e.from);
            }
        }
        w
    };
    let cols = depth.iter().max().map_or(0, |d| d + 1) + usize::from(!workloads.is_empty());
    let shift = usize::from(!workloads.is_empty());
    let mut rows_in_col = vec![0usize; cols.max(1)];
    let mut pos: Vec<(usize, usize)> = Vec::new();
    for d in &depth {
        let c = d + shift;
        pos.push((c, rows_in_col[c]));
        rows_in_col[c] += 1;
    }
    let wpos: Vec<(usize, usize)> = (0..workloads.len()).map(|i| (0, i)).collect();
    if shift == 1 {
        rows_in_col[0] = workloads.len();
    }
    let max_rows = rows_in_col.iter().copied().max().unwrap_or(1).max(1);
    let (bw, bh, gx, gy) = (150.0, 40.0, 70.0, 22.0);
    let width = 20.0 + cols as f64 * (bw + gx) - gx + 20.0;
    let height = 20.0 + max_rows as f64 * (bh + gy) - gy + 20.0;
    let at = |(c, r): (usize, usize)| {
        let col_rows = rows_in_col.get(c).copied().unwrap_or(1).max(1) as f64;
        let x = 20.0 + c as f64 * (bw + gx);
        let y = 20.0 + (max_rows as f64 - col_rows) * (bh + gy) / 2.0 + r as f64 * (bh + gy);
        (x, y)
    };
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg class="topology" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="topology"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>"##
    );
    let edge = |o: &mut String, from: (f64, f64), to: (f64, f64), class: &str| {
        let (x1, y1) = (from.0 + bw, from.1 + bh / 2.0);
        let (x2, y2) = (to.0, to.1 + bh / 2.0);
        let (x1, x2, y2) = if x2 <= x1 {
            (from.0 + bw / 2.0, to.0 + bw / 2.0, to.1)
        } else {
            (x1, x2, y2)
        };
        let _ = write!(
            o,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}" marker-end="url(#arrow)"/>"#
        );
    };
    for e in &t.entries {
        if let (Some(wi), Some(si)) = (workloads.iter().position(|w| *w == e.from), index(&e.to)) {
            edge(&mut o, at(wpos[wi]), at(pos[si]), "entry");
        }
    }
    for e in &t.calls {
        if let (Some(a), Some(b)) = (index(&e.from), index(&e.to)) {
            edge(&mut o, at(pos[a]), at(pos[b]), "call");
        }
    }
    for (i, w) in workloads.iter().enumerate() {
        let (x, y) = at(wpos[i]);
        let _ = write!(
            o,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw}" height="{bh}" rx="18" class="wl"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="nn">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" class="ns">workload</text>"#,
            x + bw / 2.0,
            y + 17.0,
            esc(w),
            x + bw / 2.0,
            y + 31.0
        );
    }
    for (i, s) in t.services.iter().enumerate() {
        let (x, y) = at(pos[i]);
        let _ = write!(
            o,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw}" height="{bh}" rx="4" class="svc"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="nn">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" class="ns">replicas {}</text>"#,
            x + bw / 2.0,
            y + 17.0,
            esc(&s.name),
            x + bw / 2.0,
            y + 31.0,
            esc(&s.replicas)
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        assert_eq!(nice(87.0, 4), (100.0, 25.0));
        assert_eq!(nice(0.0, 4), (1.0, 0.25));
        assert_eq!(nice(3.0, 4), (3.0, 1.0));
        assert_eq!(nice(420.0, 4), (600.0, 200.0));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
