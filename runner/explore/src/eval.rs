//! Runs variants of a scenario in the simulator, in parallel on every core. Results come back
//! in the order asked, so a search that reads them in order is deterministic whatever the
//! number of cores.

use chaos_plan::Plan;
use rayon::prelude::*;

use crate::outcome::Outcome;
use crate::sources::{CompileFailure, Sources};

/// Why a variant could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Compile(#[from] CompileFailure),
    #[error("{0}")]
    Sim(#[from] chaos_sim::SimError),
    #[error("cannot evaluate the run: {0}")]
    Evaluate(#[from] chaos_report::EvalError),
}

/// Simulates a plan with a seed and judges its expectations.
pub fn run_plan(plan: &Plan, seed: u64) -> Result<Outcome, EvalError> {
    let rec = chaos_sim::simulate(plan, seed)?;
    let verdicts = chaos_report::evaluate(plan, &rec)?;
    let aborted = rec.aborted.as_ref().map(|a| a.text.clone());
    Ok(Outcome::from_verdicts(&verdicts, aborted))
}

/// One variant: the root file's text (the scenario's, or it plus faults), `--set` overrides
/// and the simulation seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub root_text: String,
    pub sets: Vec<(String, String)>,
    pub seed: u64,
}

/// Compiles and simulates variants of one scenario.
#[derive(Debug, Clone)]
pub struct Evaluator {
    pub sources: Sources,
}

impl Evaluator {
    pub fn new(sources: Sources) -> Evaluator {
        Evaluator { sources }
    }

    /// Compiles and runs one variant.
    pub fn run(&self, v: &Variant) -> Result<(Plan, Outcome), EvalError> {
        let plan = self.sources.compile_text(&v.root_text, &v.sets)?;
        let outcome = run_plan(&plan, v.seed)?;
        Ok((plan, outcome))
    }

    /// Runs every variant on every core; results in the order of `variants`.
    pub fn run_all(&self, variants: &[Variant]) -> Vec<Result<Outcome, EvalError>> {
        variants
            .par_iter()
            .map(|v| self.run(v).map(|(_, o)| o))
            .collect()
    }
}
