//! `chaos run --cluster`: deploy, inject on schedule, collect, always clean up. The only module that talks to Kubernetes.

use chaos_plan::Plan;
use chaos_report::Recording;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub seed: u64,
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub keep: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("`chaos run --cluster` is not built yet")]
    NotBuilt,
}

/// Runs `plan` on the Kubernetes cluster of the user's kubeconfig.
pub fn run(_plan: &Plan, _options: &Options) -> Result<Recording, ClusterError> {
    Err(ClusterError::NotBuilt)
}
