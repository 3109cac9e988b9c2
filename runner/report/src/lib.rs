//! The report model shared by every mode: a [`Recording`] of what happened window by window
//! (produced by the simulator, the local runner and the cluster runner alike), and everything
//! computed from it: expectation verdicts, the JSON/JUnit/terminal/HTML reports.

pub mod abort;
pub mod compare;
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
    let verdicts = evaluate(plan, rec)?;
    Ok(model::build(plan, rec, &verdicts))
}
