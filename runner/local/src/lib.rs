//! `chaos run --local`: agent processes on loopback, real load, faults through the control API.

use std::path::PathBuf;

use chaos_plan::Plan;
use chaos_report::Recording;

#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// The `chaos` binary to start agents from (normally the running executable).
    pub chaos_bin: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("`chaos run --local` is not built yet")]
    NotBuilt,
}

/// Runs `plan` for real with agent processes on 127.0.0.1.
pub fn run(_plan: &Plan, _options: &Options) -> Result<Recording, LocalError> {
    Err(LocalError::NotBuilt)
}
