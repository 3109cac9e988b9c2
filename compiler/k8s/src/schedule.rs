//! The timed fault schedule (`schedule.json`): every fault action of every occurrence, with its
//! start, end, how it is applied and how it is reverted. The cluster runner executes exactly this.

use chaos_plan::{Action, Plan};
use serde::{Deserialize, Serialize};

/// Bumped on every change that an older reader would misread.
pub const SCHEDULE_VERSION: u32 = 1;

/// Path prefix of the agent's fault control API.
pub const FAULTS_PATH: &str = "/_chaos/faults";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub version: u32,
    pub scenario: String,
    pub run_id: String,
    pub namespace: String,
    /// Time 0 is when the load generator starts sending; workloads stop at `duration_s`.
    pub duration_s: f64,
    pub drain_s: f64,
    /// Sorted by start, then plan order (fault, occurrence, action).
    pub entries: Vec<Entry>,
}

/// One action of one occurrence of one fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique in the run, URL-safe: `<fault>-<occurrence>-<action>`; the agent's fault id.
    pub id: String,
    pub fault: String,
    pub occurrence: usize,
    pub start_s: f64,
    /// Equal to `start_s` for an instant action (kill).
    pub end_s: f64,
    pub action: Action,
    pub apply: Step,
    pub revert: Step,
}

/// What the runner does at an entry's start (`apply`) or end (`revert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// `POST /_chaos/faults` with `body` on every ready Pod of these services (reached through
    /// the API server's Pod proxy), and on Pods that become ready while the fault is active.
    Install {
        services: Vec<Target>,
        method: String,
        path: String,
        body: serde_json::Value,
    },
    /// `DELETE /_chaos/faults/{id}` on every Pod of these services.
    Remove {
        services: Vec<Target>,
        method: String,
        path: String,
    },
    /// Delete `count` running Pods picked at random among the candidates' Pods.
    DeletePods { count: u32, candidates: Vec<Target> },
    /// Nothing to undo; `reason` says why.
    Nothing { reason: String },
}

/// A plan service and how to find its Pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The plan's name (what the agent knows itself as).
    pub service: String,
    /// The Deployment's and Service's name.
    pub kubernetes: String,
    /// Selects exactly this service's Pods of this run.
    pub label_selector: String,
}

/// The JSON body the agent's `POST /_chaos/faults` takes: an id and one plan action.
pub fn install_body(id: &str, action: &Action) -> serde_json::Value {
    serde_json::json!({ "id": id, "action": action })
}

/// Plan services whose agents carry an action (kill has none: its Pods are deleted instead).
pub fn services_of(action: &Action) -> Vec<String> {
    let mut out: Vec<String> = match action {
        Action::Latency { target, .. }
        | Action::Errors { target, .. }
        | Action::Cpu { target, .. }
        | Action::Loss { target, .. } => vec![target.service.clone()],
        // Either side refuses to talk to the other, so both sides get it.
        Action::Partition { a, b } => a.iter().chain(b).cloned().collect(),
        Action::Memory { service, .. } => vec![service.clone()],
        Action::Kill { services, .. } => services.clone(),
    };
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|s| seen.insert(s.clone()));
    out
}

/// Builds the schedule; `target` maps a plan service name to how its Pods are found.
pub fn build(
    plan: &Plan,
    run_id: &str,
    namespace: &str,
    target: &dyn Fn(&str) -> Target,
) -> Schedule {
    let mut entries = Vec::new();
    for fault in &plan.faults {
        for (o, occ) in fault.occurrences.iter().enumerate() {
            for (a, action) in fault.actions.iter().enumerate() {
                let id = format!("{}-{o}-{a}", fault.name);
                let targets: Vec<Target> = services_of(action).iter().map(|s| target(s)).collect();
                let (apply, revert) = match action {
                    Action::Kill { count, .. } => (
                        Step::DeletePods {
                            count: *count,
                            candidates: targets,
                        },
                        Step::Nothing {
                            reason: "the Deployment recreates deleted Pods".to_string(),
                        },
                    ),
                    _ => (
                        Step::Install {
                            services: targets.clone(),
                            method: "POST".to_string(),
                            path: FAULTS_PATH.to_string(),
                            body: install_body(&id, action),
                        },
                        Step::Remove {
                            services: targets,
                            method: "DELETE".to_string(),
                            path: format!("{FAULTS_PATH}/{id}"),
                        },
                    ),
                };
                entries.push(Entry {
                    id,
                    fault: fault.name.clone(),
                    occurrence: o,
                    start_s: occ.start_s,
                    end_s: occ.end_s,
                    action: action.clone(),
                    apply,
                    revert,
                });
            }
        }
    }
    // Stable sort keeps plan order among entries starting together.
    entries.sort_by(|x, y| x.start_s.total_cmp(&y.start_s));
    Schedule {
        version: SCHEDULE_VERSION,
        scenario: plan.scenario.name.clone(),
        run_id: run_id.to_string(),
        namespace: namespace.to_string(),
        duration_s: plan.scenario.duration_s,
        drain_s: plan.scenario.drain_s,
        entries,
    }
}
