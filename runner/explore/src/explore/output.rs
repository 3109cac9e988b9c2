//! The explore report: `--report explore.json` and the lines printed at the end.

use chaos_plan::Plan;
use serde::Serialize;

use super::schedule::{Schedule, action_text, fault_text};
use super::search::Coverage;
use super::space::{Slot, Space};
use super::{Explored, Target};
use crate::outcome::Outcome;

#[derive(Debug, Clone, Serialize)]
pub struct ExploreReport {
    pub scenario: String,
    pub strategy: String,
    pub seed: u64,
    /// The simulation seed every variant ran with (the scenario's, or `--sim-seed`).
    pub sim_seed: u64,
    pub budget: usize,
    pub max_faults: usize,
    /// Search runs made (shrinking not included).
    pub runs: usize,
    pub shrink_runs: usize,
    pub found: bool,
    pub baseline: RunReport,
    pub failures: Vec<Failure>,
    pub coverage: Coverage,
    pub space: SpaceReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpaceReport {
    pub slots: Vec<Slot>,
    pub max_len_s: u32,
    pub hot_s: Vec<u32>,
    pub intensity_max: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub passed: bool,
    pub aborted: Option<String>,
    pub expectations: Vec<ExpReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpReport {
    pub expectation: String,
    pub passed: bool,
    /// In `unit`; `null`: no data.
    pub observed: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub at_s: u32,
    /// `null` for a kill.
    pub for_s: Option<u32>,
    /// Share of the kind's largest intensity (`1` = the docs' example).
    pub intensity: f64,
    pub action: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleReport {
    pub faults: Vec<FaultReport>,
    /// The expectations it broke.
    pub failed: Vec<String>,
    pub run: RunReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub fault: String,
    /// What failed with every fault but this one: the expectations it is needed to break.
    pub without_it_still_failing: Vec<String>,
    pub needed_for: Vec<String>,
    pub without_it: RunReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub found_at_run: usize,
    pub original: ScheduleReport,
    pub shrunk: Option<ScheduleReport>,
    pub shrink_steps: usize,
    pub effects: Vec<Effect>,
}

fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub fn run_report(plan: &Plan, o: &Outcome) -> RunReport {
    RunReport {
        passed: o.passed,
        aborted: o.aborted.clone(),
        expectations: plan
            .expectations
            .iter()
            .zip(&o.expectations)
            .map(|(e, x)| {
                let u = e.metric.display_unit();
                ExpReport {
                    expectation: e.text.clone(),
                    passed: x.passed,
                    observed: x.observed.map(|v| r6(v * u.factor())),
                    unit: u.symbol().to_string(),
                }
            })
            .collect(),
    }
}

pub fn faults(target: &Target, space: &Space, s: &Schedule) -> Vec<FaultReport> {
    s.faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let slot = space.slots.get(f.slot)?;
            let name = format!("{}_{}", target.prefix, i + 1);
            Some(FaultReport {
                kind: slot.kind.name().to_string(),
                target: slot.target(),
                at_s: f.start_s,
                for_s: (f.len_s > 0).then_some(f.len_s),
                intensity: f64::from(f.level) / f64::from(super::space::LEVELS),
                action: action_text(space, f),
                source: fault_text(&name, space, f),
                name,
            })
        })
        .collect()
}

fn schedule_report(target: &Target, space: &Space, s: &Schedule, o: &Outcome) -> ScheduleReport {
    let mut failed: Vec<String> = o
        .failed(&target.plan)
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(a) = &o.aborted {
        failed.push(format!("abort when {a}"));
    }
    ScheduleReport {
        faults: faults(target, space, s),
        failed,
        run: run_report(&target.plan, o),
    }
}

impl ExploreReport {
    pub fn build(target: &Target, config: &super::Config, ex: &Explored) -> ExploreReport {
        let space = &ex.space;
        let failures = ex
            .found
            .iter()
            .map(|f| {
                let smallest = f.smallest();
                let broken = smallest.outcome.failed(&target.plan);
                let effects = f
                    .effects
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let still: Vec<String> = e
                            .without
                            .failed(&target.plan)
                            .into_iter()
                            .map(String::from)
                            .collect();
                        Effect {
                            fault: format!("{}_{}", target.prefix, i + 1),
                            needed_for: broken
                                .iter()
                                .filter(|b| !still.iter().any(|s| s.as_str() == **b))
                                .map(|b| b.to_string())
                                .collect(),
                            without_it_still_failing: still,
                            without_it: run_report(&target.plan, &e.without),
                        }
                    })
                    .collect();
                Failure {
                    found_at_run: f.at_run,
                    original: schedule_report(
                        target,
                        space,
                        &f.original.schedule,
                        &f.original.outcome,
                    ),
                    shrunk: f.shrunk.as_ref().map(|s| {
                        schedule_report(target, space, &s.result.schedule, &s.result.outcome)
                    }),
                    shrink_steps: f.shrunk.as_ref().map_or(0, |s| s.steps),
                    effects,
                }
            })
            .collect();
        ExploreReport {
            scenario: target.plan.scenario.name.clone(),
            strategy: ex.strategy.to_string(),
            seed: config.seed,
            sim_seed: target.sim_seed,
            budget: config.limits.budget,
            max_faults: space.max_faults,
            runs: ex.searched.runs,
            shrink_runs: ex
                .found
                .as_ref()
                .and_then(|f| f.shrunk.as_ref())
                .map_or(0, |s| s.runs),
            found: ex.found.is_some(),
            baseline: run_report(&target.plan, &ex.baseline),
            failures,
            coverage: ex.coverage.clone(),
            space: SpaceReport {
                slots: space.slots.clone(),
                max_len_s: space.max_len_s,
                hot_s: space.hot_s.clone(),
                intensity_max: vec![
                    "latency +300ms".into(),
                    "errors 20%".into(),
                    "kill 2".into(),
                    "cpu x3".into(),
                    "loss 10%".into(),
                    "memory 20MiB/s limit 512MiB".into(),
                ],
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// What `chaos explore` prints on stdout at the end.
    pub fn render_terminal(&self) -> String {
        let c = &self.coverage;
        let cov = format!(
            "coverage: {}/{} (kind, target) pairs, {}/{} combinations of two, {}/{} twentieths of the run",
            c.kinds_targets_tried,
            c.kinds_targets_total,
            c.combinations_tried,
            c.combinations_total,
            c.time_slices_covered,
            c.time_slices_total
        );
        let Some(f) = self.failures.first() else {
            return format!(
                "NO FAILURE FOUND in {} runs ({} strategy, seed {})\n{cov}\n",
                self.runs, self.strategy, self.seed
            );
        };
        let smallest = f.shrunk.as_ref().unwrap_or(&f.original);
        let mut out = format!(
            "FAILURE FOUND at run {} of {} ({} strategy, seed {}); shrunk from {} to {} fault{} in {} runs\n",
            f.found_at_run,
            self.budget,
            self.strategy,
            self.seed,
            f.original.faults.len(),
            smallest.faults.len(),
            if smallest.faults.len() == 1 { "" } else { "s" },
            self.shrink_runs
        );
        out.push_str("breaks:\n");
        for e in &smallest.run.expectations {
            if !e.passed {
                let observed = e.observed.map_or_else(
                    || "no data".to_string(),
                    |v| chaos_report::text::with_unit(v, &e.unit),
                );
                out.push_str(&format!("  {}  (observed {observed})\n", e.expectation));
            }
        }
        if let Some(a) = &smallest.run.aborted {
            out.push_str(&format!("  abort when {a}\n"));
        }
        out.push_str("with:\n");
        for fr in &smallest.faults {
            for line in fr.source.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&cov);
        out.push('\n');
        out
    }
}
