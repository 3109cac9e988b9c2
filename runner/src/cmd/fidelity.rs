//! `chaos fidelity FILE [--runs N]`: runs one scenario N times in `--sim` and N times in
//! `--local` (seeds `seed .. seed+N-1` in both) and says, per workload and per entry endpoint
//! (a workload's target), whether the two modes agree: p50 within 10% of the simulator's,
//! p99 within 15%, error rates within sampling noise, and every expectation with the same
//! verdict. Exit 0 when everything agrees, 1 when any figure is outside its tolerance, 2 on
//! bad input, 3 when a run could not be carried out.
//!
//! Figures over N runs: a latency is the mean of the runs' quantiles (the runs' histograms
//! are not in their reports); an error rate pools the runs' requests and errors. Two error
//! rates agree when their difference lies inside the 95% interval of a difference between
//! two binomial samples of those sizes with one common rate (the pooled one): `±1.96 ·
//! sqrt(p(1−p)(1/n₁ + 1/n₂))`. This treats requests as independent, which a fault window
//! (errors bunched in time) bends a little; both modes share the same windows.
//!
//! `chaos compare` puts two single reports side by side as text; this command needs the
//! numbers over several runs and their tolerances, so it builds its own rows and only shares
//! the number formatting (`chaos_report::text`).

use std::path::PathBuf;

use chaos_report::Report;
use chaos_report::text::{num, table, with_unit};

use super::exit;

/// p50s agree when the local one is within this fraction of the simulator's.
pub const P50_TOLERANCE: f64 = 0.10;
/// p99s agree when the local one is within this fraction of the simulator's.
pub const P99_TOLERANCE: f64 = 0.15;
/// The two-sided 95% quantile of the standard normal distribution.
const Z95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Md,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario to run in both modes.
    pub file: PathBuf,
    /// Runs per mode (seeds seed, seed+1, …); each local run takes the scenario's duration.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// First seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Whether one figure agrees between the modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Within,
    Outside,
    /// Neither mode measured it (no request in either).
    NoData,
}

/// The local figure against the simulator's, relative: within `tol` × the simulator's.
pub fn relative(sim: Option<f64>, local: Option<f64>, tol: f64) -> Check {
    match (sim, local) {
        (None, None) => Check::NoData,
        (Some(s), Some(l)) if (l - s).abs() <= tol * s.abs() => Check::Within,
        _ => Check::Outside,
    }
}

/// Half the 95% interval of the difference between two error rates (as fractions) measured
/// on `n_sim` and `n_local` requests, if both come from one rate (the pooled estimate);
/// `None` when a side has no request.
pub fn error_rate_interval(
    errors_sim: u64,
    n_sim: u64,
    errors_local: u64,
    n_local: u64,
) -> Option<f64> {
    if n_sim == 0 || n_local == 0 {
        return None;
    }
    let (n1, n2) = (n_sim as f64, n_local as f64);
    let p = (errors_sim + errors_local) as f64 / (n1 + n2);
    Some(Z95 * (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt())
}

/// Whether two error rates agree within sampling noise (see the module's note).
pub fn error_rates(errors_sim: u64, n_sim: u64, errors_local: u64, n_local: u64) -> Check {
    match error_rate_interval(errors_sim, n_sim, errors_local, n_local) {
        None if n_sim == 0 && n_local == 0 => Check::NoData,
        None => Check::Outside,
        Some(half) => {
            let d = errors_local as f64 / n_local as f64 - errors_sim as f64 / n_sim as f64;
            // A hair of slack for rounding: identical rates always agree, even at p = 0 or 1.
            if d.abs() <= half + 1e-12 {
                Check::Within
            } else {
                Check::Outside
            }
        }
    }
}

/// One subject's figures over the runs of one mode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Each run's p50 and p99 in ms (runs that measured none are left out).
    pub p50_ms: Vec<f64>,
    pub p99_ms: Vec<f64>,
    pub requests: u64,
    pub errors: u64,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

impl Figures {
    fn add(&mut self, p50: Option<f64>, p99: Option<f64>, requests: u64, errors: u64) {
        self.p50_ms.extend(p50);
        self.p99_ms.extend(p99);
        self.requests += requests;
        self.errors += errors;
    }
    pub fn p50(&self) -> Option<f64> {
        mean(&self.p50_ms)
    }
    pub fn p99(&self) -> Option<f64> {
        mean(&self.p99_ms)
    }
    /// Pooled over the runs, in %.
    pub fn error_rate_pct(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64 * 100.0)
    }
}

/// A workload or an entry endpoint, in both modes.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// `workload users` or `endpoint front "GET /page"`.
    pub label: String,
    pub sim: Figures,
    pub local: Figures,
}

/// One line of the table: one figure of one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub subject: String,
    pub metric: &'static str,
    pub sim: Option<f64>,
    pub local: Option<f64>,
    pub unit: &'static str,
    /// `±10%`, `±0.31 pts`.
    pub tolerance: String,
    pub check: Check,
}

/// One expectation: in how many runs it held in each mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdicts {
    pub text: String,
    pub sim_held: usize,
    pub local_held: usize,
    pub runs: usize,
}

impl Verdicts {
    /// The same verdict in every run of both modes: held everywhere or nowhere.
    pub fn agree(&self) -> bool {
        (self.sim_held == self.runs && self.local_held == self.runs)
            || (self.sim_held == 0 && self.local_held == 0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fidelity {
    pub rows: Vec<Row>,
    pub expectations: Vec<Verdicts>,
}

impl Fidelity {
    /// Any figure outside its tolerance, or any expectation judged differently.
    pub fn outside(&self) -> bool {
        self.rows.iter().any(|r| r.check == Check::Outside)
            || self.expectations.iter().any(|e| !e.agree())
    }
}

/// The rows of one subject.
pub fn rows(s: &Subject) -> Vec<Row> {
    let interval = error_rate_interval(
        s.sim.errors,
        s.sim.requests,
        s.local.errors,
        s.local.requests,
    );
    vec![
        Row {
            subject: s.label.clone(),
            metric: "p50",
            sim: s.sim.p50(),
            local: s.local.p50(),
            unit: "ms",
            tolerance: format!("±{}%", num(P50_TOLERANCE * 100.0)),
            check: relative(s.sim.p50(), s.local.p50(), P50_TOLERANCE),
        },
        Row {
            subject: s.label.clone(),
            metric: "p99",
            sim: s.sim.p99(),
            local: s.local.p99(),
            unit: "ms",
            tolerance: format!("±{}%", num(P99_TOLERANCE * 100.0)),
            check: relative(s.sim.p99(), s.local.p99(), P99_TOLERANCE),
        },
        Row {
            subject: s.label.clone(),
            metric: "errors",
            sim: s.sim.error_rate_pct(),
            local: s.local.error_rate_pct(),
            unit: "%",
            tolerance: interval
                .map_or_else(|| "–".to_string(), |h| format!("±{} pts", num(h * 100.0))),
            check: error_rates(
                s.sim.errors,
                s.sim.requests,
                s.local.errors,
                s.local.requests,
            ),
        },
    ]
}

/// Every workload and every workload's target endpoint (once), from the runs of each mode
/// (the same plan, so the same workloads and expectations in the same order).
pub fn subjects(sim: &[Report], local: &[Report]) -> Vec<Subject> {
    let Some(first) = sim.first().or(local.first()) else {
        return Vec::new();
    };
    let mut out: Vec<Subject> = Vec::new();
    for w in &first.workloads {
        let label = format!("workload {}", w.name);
        let collect = |reports: &[Report]| {
            let mut f = Figures::default();
            for r in reports {
                if let Some(x) = r.workloads.iter().find(|x| x.name == w.name) {
                    f.add(x.latency_ms.p50, x.latency_ms.p99, x.sent, x.errors);
                }
            }
            f
        };
        out.push(Subject {
            label,
            sim: collect(sim),
            local: collect(local),
        });
    }
    for w in &first.workloads {
        let label = format!("endpoint {} \"{}\"", w.target_service, w.target_endpoint);
        if out.iter().any(|s| s.label == label) {
            continue;
        }
        let collect = |reports: &[Report]| {
            let mut f = Figures::default();
            for r in reports {
                if let Some(x) = r
                    .endpoints
                    .iter()
                    .find(|x| x.service == w.target_service && x.endpoint == w.target_endpoint)
                {
                    f.add(x.latency_ms.p50, x.latency_ms.p99, x.requests, x.errors);
                }
            }
            f
        };
        out.push(Subject {
            label,
            sim: collect(sim),
            local: collect(local),
        });
    }
    out
}

/// Each expectation's verdicts, matched by position.
pub fn verdicts(sim: &[Report], local: &[Report]) -> Vec<Verdicts> {
    let Some(first) = sim.first().or(local.first()) else {
        return Vec::new();
    };
    let held = |reports: &[Report], i: usize| {
        reports
            .iter()
            .filter(|r| r.expectations.get(i).is_some_and(|e| e.passed))
            .count()
    };
    first
        .expectations
        .iter()
        .enumerate()
        .map(|(i, e)| Verdicts {
            text: e.text.clone(),
            sim_held: held(sim, i),
            local_held: held(local, i),
            runs: sim.len().max(local.len()),
        })
        .collect()
}

pub fn fidelity(sim: &[Report], local: &[Report]) -> Fidelity {
    Fidelity {
        rows: subjects(sim, local).iter().flat_map(rows).collect(),
        expectations: verdicts(sim, local),
    }
}

fn value(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| "–".to_string(), |v| with_unit(v, unit))
}

/// `local − sim` with its relative change; in percentage points for error rates.
fn difference(r: &Row) -> String {
    match (r.sim, r.local) {
        (Some(s), Some(l)) => {
            let d = l - s;
            let sign = if d > 0.0 { "+" } else { "" };
            if r.unit == "%" {
                format!("{sign}{} pts", num(d))
            } else if s != 0.0 {
                format!(
                    "{sign}{} ({sign}{}%)",
                    with_unit(d, r.unit),
                    num(d / s * 100.0)
                )
            } else {
                format!("{sign}{}", with_unit(d, r.unit))
            }
        }
        _ => "–".to_string(),
    }
}

fn mark(c: Check) -> &'static str {
    match c {
        Check::Within => "ok",
        Check::Outside => "OUTSIDE",
        Check::NoData => "no data",
    }
}

fn held(n: usize, runs: usize) -> String {
    format!("{n}/{runs}")
}

const HEADER: [&str; 7] = [
    "subject",
    "figure",
    "sim",
    "local",
    "local − sim",
    "tolerance",
    "",
];

fn cells(r: &Row) -> Vec<String> {
    vec![
        r.subject.clone(),
        r.metric.to_string(),
        value(r.sim, r.unit),
        value(r.local, r.unit),
        difference(r),
        r.tolerance.clone(),
        mark(r.check).to_string(),
    ]
}

fn verdict_cells(v: &Verdicts) -> Vec<String> {
    vec![
        v.text.clone(),
        held(v.sim_held, v.runs),
        held(v.local_held, v.runs),
        if v.agree() { "ok" } else { "DIFFERS" }.to_string(),
    ]
}

fn summary(f: &Fidelity) -> String {
    let out = f.rows.iter().filter(|r| r.check == Check::Outside).count();
    let differ = f.expectations.iter().filter(|e| !e.agree()).count();
    if out == 0 && differ == 0 {
        "the modes agree: every figure within its tolerance, every expectation judged alike\n"
            .to_string()
    } else {
        format!(
            "the modes differ: {out} of {} figures outside their tolerance, {differ} of {} expectations judged differently\n",
            f.rows.len(),
            f.expectations.len()
        )
    }
}

pub fn render_text(f: &Fidelity, title: &str) -> String {
    let mut o = format!("{title}\n\n");
    let rows: Vec<Vec<String>> = f.rows.iter().map(cells).collect();
    o.push_str(&table(&HEADER, &rows, &[2, 3, 4, 5], ""));
    if !f.expectations.is_empty() {
        o.push('\n');
        let rows: Vec<Vec<String>> = f.expectations.iter().map(verdict_cells).collect();
        o.push_str(&table(
            &["expectation", "held in sim", "held in local", ""],
            &rows,
            &[1, 2],
            "",
        ));
    }
    o.push('\n');
    o.push_str(&summary(f));
    o
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn render_markdown(f: &Fidelity, title: &str) -> String {
    let mut o = format!("**{}**\n\n", md_cell(title));
    o.push_str("| subject | figure | sim | local | local − sim | tolerance | |\n");
    o.push_str("|---|---|---:|---:|---:|---:|---|\n");
    for r in &f.rows {
        let c = cells(r);
        let subject = format!("`{}`", md_cell(&c[0]));
        let mark = match r.check {
            Check::Outside => "**outside**",
            Check::Within => "ok",
            Check::NoData => "no data",
        };
        o.push_str(&format!(
            "| {subject} | {} | {} | {} | {} | {} | {mark} |\n",
            c[1],
            md_cell(&c[2]),
            md_cell(&c[3]),
            md_cell(&c[4]),
            md_cell(&c[5]),
        ));
    }
    if !f.expectations.is_empty() {
        o.push_str("\n| expectation | held in sim | held in local | |\n|---|---:|---:|---|\n");
        for v in &f.expectations {
            let c = verdict_cells(v);
            let mark = if v.agree() { "ok" } else { "**differs**" };
            o.push_str(&format!(
                "| `{}` | {} | {} | {mark} |\n",
                md_cell(&c[0]),
                c[1],
                c[2]
            ));
        }
    }
    o.push('\n');
    o.push_str(&summary(f));
    o
}

fn reports(
    plan: &chaos_plan::Plan,
    recordings: &[chaos_report::Recording],
) -> Result<Vec<Report>, u8> {
    recordings
        .iter()
        .map(|rec| {
            chaos_report::report(plan, rec).map_err(|e| {
                eprintln!("error: cannot evaluate the run: {e}");
                exit::CANNOT_RUN
            })
        })
        .collect()
}

pub fn run(args: Args) -> u8 {
    let plan = match super::compile::load_plan(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let first = args.seed.unwrap_or(plan.scenario.seed);
    let seeds: Vec<u64> = (0..u64::from(args.runs))
        .map(|k| first.wrapping_add(k))
        .collect();

    let mut sim = Vec::with_capacity(seeds.len());
    for (r, s) in chaos_sim::simulate_many(&plan, &seeds)
        .into_iter()
        .zip(&seeds)
    {
        match r {
            Ok(rec) => sim.push(rec),
            Err(e) => {
                eprintln!("error: --sim, seed {s}: {e}");
                return exit::CANNOT_RUN;
            }
        }
    }
    let mut local = Vec::with_capacity(seeds.len());
    for (k, s) in seeds.iter().enumerate() {
        eprintln!(
            "fidelity: --local run {} of {} (seed {s}, about {})",
            k + 1,
            seeds.len(),
            chaos_report::text::duration(plan.scenario.duration_s + plan.scenario.drain_s)
        );
        match super::run::run_local(&plan, *s) {
            Ok(rec) => local.push(rec),
            Err(code) => return code,
        }
    }
    let (sim, local) = match (reports(&plan, &sim), reports(&plan, &local)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(c), _) | (_, Err(c)) => return c,
    };

    let f = fidelity(&sim, &local);
    let title = format!(
        "{}: --sim against --local, {} run{} each, seeds {}..={}",
        args.file.display(),
        seeds.len(),
        if seeds.len() == 1 { "" } else { "s" },
        first,
        seeds.last().copied().unwrap_or(first)
    );
    match args.format {
        Format::Text => print!("{}", render_text(&f, &title)),
        Format::Md => print!("{}", render_markdown(&f, &title)),
    }
    println!("{}", hop_line(plan.scenario.hop_s, &local));
    if f.outside() { exit::FAILED } else { exit::OK }
}

/// The model's hop beside the one `--local` measured (the mean over the runs of each run's
/// p50, p99 and mean), so that a gap at the entry reads against what the network cost.
pub fn hop_line(model_s: f64, local: &[Report]) -> String {
    let measured: Vec<&chaos_report::hop::HopFigures> = local
        .iter()
        .filter_map(|r| r.hop.as_ref()?.measured.as_ref()?.all.as_ref())
        .collect();
    let model = format!("hop: model {} ms", num(model_s * 1e3));
    if measured.is_empty() {
        return format!("{model}; --local measured none");
    }
    let avg = |f: fn(&chaos_report::hop::HopFigures) -> f64| {
        num(measured.iter().map(|m| f(m)).sum::<f64>() / measured.len() as f64)
    };
    format!(
        "{model}; measured in --local (mean of {} run{}): p50 {} ms, p99 {} ms, mean {} ms",
        measured.len(),
        if measured.len() == 1 { "" } else { "s" },
        avg(|m| m.p50_ms),
        avg(|m| m.p99_ms),
        avg(|m| m.mean_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_agree_within_their_relative_tolerance() {
        assert_eq!(
            relative(Some(10.0), Some(10.9), P50_TOLERANCE),
            Check::Within
        );
        assert_eq!(
            relative(Some(10.0), Some(9.0), P50_TOLERANCE),
            Check::Within
        );
        assert_eq!(
            relative(Some(10.0), Some(11.2), P50_TOLERANCE),
            Check::Outside
        );
        assert_eq!(
            relative(Some(10.0), Some(8.8), P50_TOLERANCE),
            Check::Outside
        );
        assert_eq!(
            relative(Some(40.0), Some(45.9), P99_TOLERANCE),
            Check::Within
        );
        assert_eq!(
            relative(Some(40.0), Some(46.1), P99_TOLERANCE),
            Check::Outside
        );
        // A figure only one mode measured is a disagreement; one neither measured is not.
        assert_eq!(relative(Some(1.0), None, P50_TOLERANCE), Check::Outside);
        assert_eq!(relative(None, Some(1.0), P50_TOLERANCE), Check::Outside);
        assert_eq!(relative(None, None, P50_TOLERANCE), Check::NoData);
        assert_eq!(relative(Some(0.0), Some(0.0), P50_TOLERANCE), Check::Within);
    }

    #[test]
    fn error_rates_agree_within_the_binomial_interval() {
        // 5% of 10,000 against 5.4% of 10,000: pooled p = 5.2%, half-width 1.96 ·
        // sqrt(0.052 · 0.948 · 2/10,000) = 0.615 points; 0.4 points apart: within.
        let half = error_rate_interval(500, 10_000, 540, 10_000).unwrap();
        assert!((half - 0.006154).abs() < 1e-5, "{half}");
        assert_eq!(error_rates(500, 10_000, 540, 10_000), Check::Within);
        // 0.7 points apart: outside.
        assert_eq!(error_rates(500, 10_000, 570, 10_000), Check::Outside);
        // No error on either side: the same rate, whatever the counts.
        assert_eq!(error_rates(0, 5_000, 0, 4_900), Check::Within);
        // One error in 5,000 against none: well inside the noise.
        assert_eq!(error_rates(0, 5_000, 1, 5_000), Check::Within);
        // 20 against none in 5,000 each: outside.
        assert_eq!(error_rates(0, 5_000, 20, 5_000), Check::Outside);
        assert_eq!(error_rates(0, 0, 0, 0), Check::NoData);
        assert_eq!(error_rates(0, 100, 0, 0), Check::Outside);
    }

    #[test]
    fn figures_average_latencies_and_pool_errors_over_runs() {
        let mut f = Figures::default();
        f.add(Some(10.0), Some(40.0), 1000, 10);
        f.add(Some(12.0), None, 3000, 50);
        assert_eq!(f.p50(), Some(11.0));
        assert_eq!(f.p99(), Some(40.0));
        assert_eq!(f.error_rate_pct(), Some(1.5));
        assert_eq!(Figures::default().p50(), None);
        assert_eq!(Figures::default().error_rate_pct(), None);
    }

    #[test]
    fn expectations_agree_only_when_every_run_judged_alike() {
        let v = |s, l| Verdicts {
            text: "x".into(),
            sim_held: s,
            local_held: l,
            runs: 3,
        };
        assert!(v(3, 3).agree());
        assert!(v(0, 0).agree());
        assert!(!v(3, 2).agree());
        assert!(!v(1, 1).agree());
    }

    fn subject(sim_p50: f64, local_p50: f64, sim_err: u64, local_err: u64) -> Subject {
        let mut sim = Figures::default();
        sim.add(Some(sim_p50), Some(4.0 * sim_p50), 10_000, sim_err);
        let mut local = Figures::default();
        local.add(Some(local_p50), Some(4.0 * sim_p50), 10_000, local_err);
        Subject {
            label: "workload users".into(),
            sim,
            local,
        }
    }

    #[test]
    fn one_figure_outside_makes_the_whole_outside() {
        let agree = Fidelity {
            rows: rows(&subject(10.0, 10.5, 100, 110)),
            expectations: vec![],
        };
        assert!(!agree.outside());
        let slow = Fidelity {
            rows: rows(&subject(10.0, 11.5, 100, 110)),
            expectations: vec![],
        };
        assert!(slow.outside());
        assert_eq!(slow.rows[0].check, Check::Outside);
        assert_eq!(slow.rows[1].check, Check::Within);
        let judged = Fidelity {
            rows: rows(&subject(10.0, 10.5, 100, 110)),
            expectations: vec![Verdicts {
                text: "p50(users) < 15ms".into(),
                sim_held: 3,
                local_held: 2,
                runs: 3,
            }],
        };
        assert!(judged.outside());
    }

    #[test]
    fn the_table_marks_what_is_outside() {
        let f = Fidelity {
            rows: rows(&subject(10.0, 11.5, 100, 110)),
            expectations: vec![Verdicts {
                text: "p50(users) < 15ms".into(),
                sim_held: 3,
                local_held: 3,
                runs: 3,
            }],
        };
        let t = render_text(&f, "t");
        let p50 = t.lines().find(|l| l.contains(" p50 ")).unwrap();
        assert!(
            p50.contains("+1.5 ms (+15%)") && p50.ends_with("OUTSIDE"),
            "{t}"
        );
        let p99 = t.lines().find(|l| l.contains(" p99 ")).unwrap();
        assert!(p99.ends_with("ok"), "{t}");
        assert!(
            t.contains("3/3") && t.contains("1 of 3 figures outside"),
            "{t}"
        );
        let md = render_markdown(&f, "t");
        assert_eq!(md.matches("**outside**").count(), 1, "{md}");
    }
}
