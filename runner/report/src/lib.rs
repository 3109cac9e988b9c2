//! The report model shared by every mode: a [`Recording`] of what happened window by window
//! (produced by the simulator, the local runner and the cluster runner alike), and everything
//! computed from it: expectation verdicts, the JSON/JUnit/terminal/HTML reports.

pub mod hist;
pub mod recording;

pub use hist::{Latency, SparseLatency};
pub use recording::{Cause, Recorder, Recording, ServiceSample, Stats, SubjectKey};
