//! Searching a scenario's neighbourhood in the simulator.
//!
//! - [`sweep`]: run a scenario over a range of one `param` and find, for every expectation,
//!   the value at which it stops holding (grid, then bisection once bracketed).
//! - [`explore`]: search fault schedules for one that breaks an expectation, then shrink it.
//!
//! The strategies are pure: they see a plan (or a search space made from it), a seed and the
//! outcomes of the runs they asked for, and nothing else. Runs are made by an evaluator
//! ([`eval`]: compile + simulate on every core); the strategies hand it batches of a fixed
//! size and read the results in order, so a search is the same on 1 core or 64.

pub mod eval;
pub mod explore;
pub mod outcome;
pub mod sources;
pub mod sweep;

pub use eval::Evaluator;
pub use outcome::{ExpOutcome, Outcome};
pub use sources::{CompileFailure, Sources};
