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
    /// Failing schedules the search ran into (before shrinking), all of them.
    pub failing_schedules: usize,
    /// Index in `failures` of the smallest one (what `-o` writes).
    pub smallest: Option<usize>,
    pub baseline: RunReport,
    /// Every distinct failure (distinct by the shrunk schedule), in the order found.
    pub failures: Vec<Failure>,
    /// The failures grouped by the (kind, target) pairs of their smallest schedule.
    pub weaknesses: Vec<Weakness>,
    pub coverage: Coverage,
    pub space: SpaceReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpaceReport {
    /// Whether the file's `explore` block declared the space (else the default).
    pub declared: bool,
    pub slots: Vec<SlotReport>,
    /// Whole seconds at which added faults may start, `[first, last]`.
    pub start_s: [u32; 2],
    /// Whole seconds an added fault may last, `[shortest, longest]`.
    pub length_s: [u32; 2],
    pub max_len_s: u32,
    pub hot_s: Vec<u32>,
}

/// One (kind, target) of the space with the gentlest and the strongest action it tries.
#[derive(Debug, Clone, Serialize)]
pub struct SlotReport {
    #[serde(flatten)]
    pub slot: Slot,
    pub lowest: String,
    pub highest: String,
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
    /// Simulations its shrinking made (schedules already run are not run again).
    pub shrink_runs: usize,
    pub effects: Vec<Effect>,
    /// Later failing schedules of the search that shrank to the same schedule.
    pub also_found: Vec<AlsoFound>,
}

/// Failures made of the same (kind, target) pairs: one weakness, hit at other times or
/// intensities.
#[derive(Debug, Clone, Serialize)]
pub struct Weakness {
    /// `kind on target`, sorted.
    pub faults: Vec<String>,
    /// Indices in `failures`.
    pub failures: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlsoFound {
    pub found_at_run: usize,
    pub faults: Vec<FaultReport>,
    pub failed: Vec<String>,
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

fn space_report(target: &Target, space: &Space) -> SpaceReport {
    let at = |slot: usize, level: u8| {
        action_text(
            space,
            &super::schedule::FaultSpec {
                slot,
                start_s: 0,
                len_s: 1,
                level,
            },
        )
    };
    SpaceReport {
        declared: target.explore.is_some(),
        slots: space
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| SlotReport {
                slot: slot.clone(),
                lowest: at(i, 1),
                highest: at(i, super::space::LEVELS),
            })
            .collect(),
        start_s: [space.first_start_s, space.last_start_s()],
        length_s: [space.min_len_s, space.max_len_s],
        max_len_s: space.max_len_s,
        hot_s: space.hot_s.clone(),
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
        let failures: Vec<Failure> = ex
            .failures
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
                    shrink_runs: f.shrunk.as_ref().map_or(0, |s| s.runs),
                    effects,
                    also_found: f
                        .also
                        .iter()
                        .map(|(at_run, t)| {
                            let r = schedule_report(target, space, &t.schedule, &t.outcome);
                            AlsoFound {
                                found_at_run: *at_run,
                                faults: r.faults,
                                failed: r.failed,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let mut weaknesses: Vec<Weakness> = Vec::new();
        for (i, f) in failures.iter().enumerate() {
            let mut kinds: Vec<String> = f
                .shrunk
                .as_ref()
                .unwrap_or(&f.original)
                .faults
                .iter()
                .map(|x| format!("{} on {}", x.kind, x.target))
                .collect();
            kinds.sort();
            kinds.dedup();
            match weaknesses.iter_mut().find(|w| w.faults == kinds) {
                Some(w) => w.failures.push(i),
                None => weaknesses.push(Weakness {
                    faults: kinds,
                    failures: vec![i],
                }),
            }
        }
        let smallest = ex.found.as_ref().and_then(|s| {
            ex.failures
                .iter()
                .position(|f| f.smallest().schedule == s.smallest().schedule)
        });
        ExploreReport {
            scenario: target.plan.scenario.name.clone(),
            strategy: ex.strategy.to_string(),
            seed: config.seed,
            sim_seed: target.sim_seed,
            budget: config.limits.budget,
            max_faults: space.max_faults,
            runs: ex.searched.runs,
            shrink_runs: ex.shrink_runs,
            found: ex.found.is_some(),
            failing_schedules: ex.searched.failures.len(),
            smallest,
            baseline: run_report(&target.plan, &ex.baseline),
            failures,
            weaknesses,
            coverage: ex.coverage.clone(),
            space: space_report(target, space),
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
        let Some(first) = self.failures.first() else {
            return format!(
                "NO FAILURE FOUND in {} runs ({} strategy, seed {})\n{cov}\n",
                self.runs, self.strategy, self.seed
            );
        };
        let n = self.failures.len();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut out = format!(
            "FAILURE FOUND at run {} of {} ({} strategy, seed {}): {n} distinct failure{} \
             ({} failing schedule{} in {} runs, shrunk in {} runs) of {} weakness{}\n",
            first.found_at_run,
            self.budget,
            self.strategy,
            self.seed,
            plural(n),
            self.failing_schedules,
            plural(self.failing_schedules),
            self.runs,
            self.shrink_runs,
            self.weaknesses.len(),
            if self.weaknesses.len() == 1 { "" } else { "es" },
        );
        for (k, w) in self.weaknesses.iter().enumerate() {
            out.push_str(&format!(
                "weakness {}: {} ({} failure{})\n",
                k + 1,
                w.faults.join(" + "),
                w.failures.len(),
                plural(w.failures.len())
            ));
            for &i in &w.failures {
                if let Some(f) = self.failures.get(i) {
                    out.push_str(&failure_line(i, f));
                }
            }
        }
        if let Some(f) = self.smallest.and_then(|i| self.failures.get(i)) {
            out.push_str(&format!(
                "the smallest, #{} (written by -o):\n",
                self.smallest.map_or(0, |i| i + 1)
            ));
            out.push_str(&failure_detail(f));
        }
        out.push_str(&cov);
        out.push('\n');
        out
    }
}

/// One line per failure: its number, where the search found it, its faults (each as
/// `action at T for D`) and what it breaks.
fn failure_line(i: usize, f: &Failure) -> String {
    let small = f.shrunk.as_ref().unwrap_or(&f.original);
    let faults: Vec<String> = small
        .faults
        .iter()
        .map(|x| {
            // The source's first line is `fault NAME at T [for D] {`.
            let when = x
                .source
                .lines()
                .next()
                .and_then(|l| l.split_once(" at "))
                .map_or("", |(_, rest)| rest.trim_end_matches('{').trim_end());
            format!("{} at {when}", x.action)
        })
        .collect();
    let broken: Vec<String> = small
        .run
        .expectations
        .iter()
        .filter(|e| !e.passed)
        .map(|e| {
            let observed = e.observed.map_or_else(
                || "no data".to_string(),
                |v| chaos_report::text::with_unit(v, &e.unit),
            );
            format!("{} ({observed})", e.expectation)
        })
        .chain(small.run.aborted.iter().map(|a| format!("abort when {a}")))
        .collect();
    format!(
        "  #{} run {}{}{}: {} -> breaks {}\n",
        i + 1,
        f.found_at_run,
        if f.also_found.is_empty() {
            String::new()
        } else {
            format!(" (+{} later)", f.also_found.len())
        },
        if f.shrunk.is_some() {
            ", shrunk"
        } else {
            ", as found"
        },
        faults.join("; "),
        broken.join(", ")
    )
}

/// A failure in full: what it breaks and its faults as `.chaos` source.
fn failure_detail(f: &Failure) -> String {
    let small = f.shrunk.as_ref().unwrap_or(&f.original);
    let mut out = String::from("breaks:\n");
    for e in &small.run.expectations {
        if !e.passed {
            let observed = e.observed.map_or_else(
                || "no data".to_string(),
                |v| chaos_report::text::with_unit(v, &e.unit),
            );
            out.push_str(&format!("  {}  (observed {observed})\n", e.expectation));
        }
    }
    if let Some(a) = &small.run.aborted {
        out.push_str(&format!("  abort when {a}\n"));
    }
    out.push_str("with:\n");
    for fr in &small.faults {
        for line in fr.source.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
