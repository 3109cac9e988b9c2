//! The report model shared by every mode: a [`Recording`] of what happened window by window
//! (produced by the simulator, the local runner and the cluster runner alike), and everything
//! computed from it: expectation verdicts, the JSON/JUnit/terminal/HTML reports.

pub mod abort;
pub mod compare;
pub mod digest;
pub mod evaluate;
pub mod hist;
pub mod hop;
pub mod html;
pub mod junit;
pub mod live;
pub mod markdown;
pub mod model;
pub mod multi;
pub mod recording;
pub mod svg;
pub mod terminal;
pub mod text;
pub mod write;

pub use abort::AbortWatcher;
pub use evaluate::{EvalError, Observed, Verdict, evaluate};
pub use hist::{Latency, SparseLatency, WindowLatency};
pub use model::Report;
pub use recording::{
    AbortRecord, Cause, MeasuredHop, Recorder, Recording, ServiceSample, Stats, SubjectKey,
    UnexpectedEvent, WindowSample,
};

/// Evaluates `plan`'s expectations on `rec` and builds the report.
pub fn report(plan: &chaos_plan::Plan, rec: &Recording) -> Result<Report, EvalError> {
    // The expectations and the report's tables read the same sums: computed once.
    let digest = digest::Digest::of(plan, rec);
    let verdicts = evaluate::evaluate_with(plan, rec, Some(&digest))?;
    Ok(model::build_with(plan, rec, &verdicts, &digest))
}
