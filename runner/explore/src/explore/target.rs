//! The scenario explore works on: its texts, the plan as written, the fault names that do not
//! clash with it; a schedule becomes the root file's text plus fault blocks, compiled and
//! simulated with the scenario's own seed.

use chaos_plan::Plan;
use chaos_plan::explore::ExploreSpace;
use rayon::prelude::*;

use super::schedule::Schedule;
use super::space::Space;
use crate::eval::{EvalError, run_plan};
use crate::outcome::Outcome;
use crate::sources::{CompileFailure, Sources};

#[derive(Debug, Clone)]
pub struct Target {
    pub sources: Sources,
    pub sets: Vec<(String, String)>,
    /// The plan as written (no added fault).
    pub plan: Plan,
    /// The search space of the file's `explore` block, if it has one.
    pub explore: Option<ExploreSpace>,
    /// The simulation seed of every variant.
    pub sim_seed: u64,
    /// Added faults are named `{prefix}_1`, `{prefix}_2`, ...
    pub prefix: String,
}

impl Target {
    pub fn new(
        sources: Sources,
        sets: Vec<(String, String)>,
        sim_seed: Option<u64>,
    ) -> Result<Target, CompileFailure> {
        let (plan, explore) = sources.compile_with_space(&sets)?;
        let taken = |p: &str| {
            let named = |n: &str| n.starts_with(&format!("{p}_"));
            plan.services.iter().any(|s| named(&s.name))
                || plan.workloads.iter().any(|w| named(&w.name))
                || plan.faults.iter().any(|f| named(&f.name))
        };
        let prefix = ["explore", "explored", "found"]
            .into_iter()
            .find(|p| !taken(p))
            .unwrap_or("chaos_explore")
            .to_string();
        Ok(Target {
            sim_seed: sim_seed.unwrap_or(plan.scenario.seed),
            sources,
            sets,
            plan,
            explore,
            prefix,
        })
    }

    /// The space to search: the `explore` block's (or the default), with `max_faults` (the
    /// command line's `--max-faults`) overriding the block's.
    pub fn space(&self, max_faults: Option<usize>) -> Space {
        Space::new(&self.plan, self.explore.as_ref(), max_faults)
    }

    /// The root text with the schedule's faults appended.
    pub fn text(&self, space: &Space, s: &Schedule) -> String {
        let mut t = self.sources.root_text().to_string();
        if !t.ends_with('\n') {
            t.push('\n');
        }
        if !s.is_empty() {
            t.push('\n');
            t.push_str(&s.render(space, &self.prefix));
        }
        t
    }

    pub fn plan_of(&self, space: &Space, s: &Schedule) -> Result<Plan, CompileFailure> {
        self.sources.compile_text(&self.text(space, s), &self.sets)
    }

    pub fn run(&self, space: &Space, s: &Schedule) -> Result<Outcome, EvalError> {
        run_plan(&self.plan_of(space, s)?, self.sim_seed)
    }

    /// Runs schedules on every core; outcomes in the order given.
    pub fn run_all(
        &self,
        space: &Space,
        schedules: &[Schedule],
    ) -> Result<Vec<Outcome>, EvalError> {
        schedules.par_iter().map(|s| self.run(space, s)).collect()
    }

    /// The file `chaos run --sim` reproduces the failure with: the root text (its
    /// `# expect-exit:` line, if any, now saying 1), a comment, the faults; formatted as
    /// `chaos fmt` would. The `explore` block stays: a run ignores it, and the file stays the
    /// original plus the faults found.
    pub fn reproduction(&self, space: &Space, s: &Schedule, comment: &str) -> String {
        let mut t = String::new();
        for (i, line) in self.sources.root_text().lines().enumerate() {
            if i == 0 && line.trim_start().starts_with("# expect-exit:") {
                t.push_str("# expect-exit: 1");
            } else {
                t.push_str(line);
            }
            t.push('\n');
        }
        t.push('\n');
        for line in comment.lines() {
            t.push_str("# ");
            t.push_str(line);
            t.push('\n');
        }
        t.push_str(&s.render(space, &self.prefix));
        chaos_grammar::format::format_source(&t).unwrap_or(t)
    }
}
