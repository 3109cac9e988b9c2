//! The deterministic discrete-event simulator: plan + seed in, [`chaos_report::Recording`] out.

use chaos_plan::Plan;
use chaos_report::Recording;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulator is not built yet")]
    NotBuilt,
}

/// Simulates `plan` with `seed`. Deterministic: same plan and seed, same recording.
pub fn simulate(_plan: &Plan, _seed: u64) -> Result<Recording, SimError> {
    Err(SimError::NotBuilt)
}
