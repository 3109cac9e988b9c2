//! The sweep's report: the JSON of `--report sweep.json` and the terminal table.

use chaos_report::text::{num, table};
use serde::Serialize;

use super::boundary::{self, Kind};
use super::{Config, ExpInfo, Sweep};

/// `--report sweep.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub param: String,
    /// The unit of `value`, `from`, `to` and boundaries (`/s`, `ms`, `%`, `x`, ``).
    pub unit: String,
    pub from: f64,
    pub to: f64,
    pub steps: usize,
    pub runs: u32,
    pub seeds: Vec<u64>,
    pub simulations: usize,
    /// Every value run (grid and bisection), ascending.
    pub points: Vec<Point>,
    /// One per expectation, in the scenario's order.
    pub boundaries: Vec<Boundary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub value: f64,
    /// The seeds run at this value (bisection runs only the seeds whose bracket holds it).
    pub seeds: Vec<u64>,
    pub expectations: Vec<PointExpectation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PointExpectation {
    pub expectation: String,
    /// Runs at this value in which it held.
    pub held: usize,
    pub runs: usize,
    /// Mean observed value over the runs that measured something, in `unit`.
    pub observed: Option<f64>,
    /// Per seed, as in `seeds` (`null`: no data).
    pub observed_per_seed: Vec<Option<f64>>,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Boundary {
    pub expectation: String,
    /// `holds_up_to`, `holds_down_to`, `holds_everywhere`, `holds_nowhere`.
    pub kind: Kind,
    /// The median over seeds of the last value at which it held (param unit); `null` for
    /// everywhere / nowhere.
    pub value: Option<f64>,
    /// The lowest and highest of the seeds' boundaries.
    pub interval: Option<[f64; 2]>,
    pub per_seed: Vec<f64>,
    pub op: String,
    pub threshold: f64,
    /// The expectation's unit.
    pub unit: String,
}

/// Rounds to 6 significant decimals so reports read well and compare byte for byte.
fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl SweepReport {
    pub fn build(scenario: &str, config: &Config, exps: &[ExpInfo], sweep: &Sweep) -> SweepReport {
        let mut points: Vec<Point> = Vec::new();
        for (&(bits, seed), o) in &sweep.runs {
            let value = f64::from_bits(bits);
            if points.last().is_none_or(|p| p.value != value) {
                points.push(Point {
                    value,
                    seeds: Vec::new(),
                    expectations: exps
                        .iter()
                        .map(|e| PointExpectation {
                            expectation: e.text.clone(),
                            held: 0,
                            runs: 0,
                            observed: None,
                            observed_per_seed: Vec::new(),
                            unit: e.unit.to_string(),
                        })
                        .collect(),
                });
            }
            let Some(p) = points.last_mut() else { continue };
            p.seeds.push(seed);
            for (pe, (e, x)) in p
                .expectations
                .iter_mut()
                .zip(exps.iter().zip(&o.expectations))
            {
                pe.runs += 1;
                pe.held += usize::from(x.passed);
                pe.observed_per_seed
                    .push(x.observed.map(|v| r6(v * e.factor)));
            }
        }
        for p in &mut points {
            p.value = r6(p.value);
            for pe in &mut p.expectations {
                let seen: Vec<f64> = pe.observed_per_seed.iter().flatten().copied().collect();
                pe.observed =
                    (!seen.is_empty()).then(|| r6(seen.iter().sum::<f64>() / seen.len() as f64));
            }
        }
        let boundaries = exps
            .iter()
            .zip(&sweep.boundaries)
            .map(|(e, f)| {
                let summary = boundary::summarise(&f.per_seed);
                Boundary {
                    expectation: e.text.clone(),
                    kind: f.kind,
                    value: summary.map(|s| r6(s.0)),
                    interval: summary.map(|s| [r6(s.1[0]), r6(s.1[1])]),
                    per_seed: f.per_seed.iter().map(|v| r6(*v)).collect(),
                    op: e.op.symbol().to_string(),
                    threshold: r6(e.threshold),
                    unit: e.unit.to_string(),
                }
            })
            .collect();
        SweepReport {
            scenario: scenario.to_string(),
            param: config.range.name.clone(),
            unit: config.range.unit.suffix.to_string(),
            from: config.range.from,
            to: config.range.to,
            steps: config.steps,
            runs: config.runs,
            seeds: config.seeds(),
            simulations: sweep.simulations,
            points,
            boundaries,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// `40/s`, `250ms`.
    pub fn value(&self, v: f64) -> String {
        match self.unit.as_str() {
            "" | "/s" | "%" | "x" => format!("{}{}", num(v), self.unit),
            u => format!("{} {u}", num(v)),
        }
    }

    /// The terminal table: one line per expectation.
    pub fn render_terminal(&self) -> String {
        let mut out = format!(
            "sweep of {} from {} to {} ({} points × {} seed{}, {} simulations)\n\n",
            self.param,
            self.value(self.from),
            self.value(self.to),
            self.steps,
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.simulations
        );
        let rows: Vec<Vec<String>> = self
            .boundaries
            .iter()
            .map(|b| {
                let value = b.value.map_or_else(|| "–".to_string(), |v| self.value(v));
                let interval = match b.interval {
                    Some([lo, hi]) if self.runs > 1 => {
                        format!("{} – {}", self.value(lo), self.value(hi))
                    }
                    _ => String::new(),
                };
                vec![
                    b.expectation.clone(),
                    b.kind.label().to_string(),
                    value,
                    interval,
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "expectation",
                "boundary",
                &self.param,
                "interval over seeds",
            ],
            &rows,
            &[2],
            "  ",
        ));
        out
    }
}
