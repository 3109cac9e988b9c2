//! The Kubernetes back end: a plan becomes manifests (k8s-openapi types) and a fault schedule.

use chaos_plan::Plan;

/// What `chaos compile --target k8s` can change from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The agent image, e.g. `ghcr.io/chaos/agent:0.1.0`.
    pub image: String,
    /// Namespace to create; defaults to one derived from the scenario and run id.
    pub namespace: Option<String>,
    /// Labelled on every object; the cluster runner only ever touches objects carrying it.
    pub run_id: String,
}

/// The files `chaos compile --target k8s` writes.
#[derive(Debug, Clone)]
pub struct Output {
    pub manifests_yaml: String,
    pub schedule_json: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Kubernetes back end is not built yet")]
    NotBuilt,
}

pub fn compile(_plan: &Plan, _options: &Options) -> Result<Output, Error> {
    Err(Error::NotBuilt)
}
