//! Replica counts changed by someone other than the run while it goes on (a `kubectl scale`, a
//! GitOps tool's server-side apply with `--force-conflicts`, an HPA of the user's own).
//!
//! The runner does not undo them: it is not the Deployment's owner, and two writers setting the
//! same field would fight, each change visible to the other only as churn. It says so instead,
//! on the progress line and as an unexpected event in every report, naming the field manager
//! that made the change, so a verdict is read knowing the run no longer had the plan's replicas.
//! An autoscaled service keeps following the plan's rule from the count it finds, as a
//! HorizontalPodAutoscaler does after a manual scale.

use std::collections::BTreeMap;

use chaos_plan::Plan;
use chaos_report::recording::UnexpectedEvent;
use k8s_openapi::api::apps::v1::Deployment;

use crate::session::FIELD_MANAGER;

/// What the run expects of each of its Deployments' `spec.replicas`.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaWatch {
    /// Kubernetes Deployment name → (plan service, replicas the run applied or last set, run
    /// time (s) its last scale was done).
    expected: BTreeMap<String, (String, u32, f64)>,
}

impl ReplicaWatch {
    /// `services`: (plan service, Deployment name) pairs, as applied.
    pub fn new<'a>(plan: &Plan, services: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let expected = services
            .into_iter()
            .filter_map(|(service, deployment)| {
                let replicas = plan.service(service)?.replicas.initial();
                Some((
                    deployment.to_string(),
                    (service.to_string(), replicas, f64::NEG_INFINITY),
                ))
            })
            .collect();
        ReplicaWatch { expected }
    }

    /// The run itself set `replicas` (the plan's autoscaling), its scale done at run time
    /// `at_s`: not a change from outside.
    pub fn set_by_run(&mut self, deployment: &str, replicas: u32, at_s: f64) {
        if let Some(e) = self.expected.get_mut(deployment) {
            e.1 = replicas;
            e.2 = at_s;
        }
    }

    /// Compares the Deployments' `spec.replicas` with what the run expects; each difference is
    /// returned once (and becomes the expected count, so it is not reported again).
    /// `listed_at_s`: when the list was asked for. A Deployment the run scaled after that may
    /// show the count from before its scale: the lists run beside the run's own scaling, and
    /// such a list once made the run report its own scale as two changes from outside.
    pub fn check(
        &mut self,
        deployments: &[Deployment],
        listed_at_s: f64,
        at_s: f64,
    ) -> Vec<UnexpectedEvent> {
        let mut found = Vec::new();
        for d in deployments {
            let Some(name) = d.metadata.name.as_deref() else {
                continue;
            };
            let Some((service, expected, set_at_s)) = self.expected.get_mut(name) else {
                continue;
            };
            if *set_at_s >= listed_at_s {
                continue;
            }
            let Some(now) = d.spec.replicas else {
                continue;
            };
            let now = now.max(0) as u32;
            if now == *expected {
                continue;
            }
            let by = match replicas_manager(d) {
                Some(m) => format!("field manager `{m}`"),
                None => "an unknown field manager".to_string(),
            };
            found.push(UnexpectedEvent {
                service: service.clone(),
                replica: "the Deployment".to_string(),
                at_s,
                what: format!(
                    "was scaled from {expected} to {now} replicas outside the run (by {by}); the run goes on with them"
                ),
            });
            *expected = now;
        }
        found
    }
}

/// The field manager (and subresource, if any) that last set `spec.replicas`, other than the
/// run's own: read from `metadata.managedFields`, latest first.
fn replicas_manager(d: &Deployment) -> Option<String> {
    let entries = d.metadata.managed_fields.as_ref()?;
    entries
        .iter()
        .filter(|e| e.manager.as_deref() != Some(FIELD_MANAGER))
        .filter(|e| {
            e.fields_v1
                .as_ref()
                .and_then(|f| f.0.get("f:spec"))
                .and_then(|s| s.get("f:replicas"))
                .is_some()
        })
        .max_by(|a, b| {
            a.time
                .as_ref()
                .map(|t| t.0)
                .cmp(&b.time.as_ref().map(|t| t.0))
        })
        .map(|e| {
            let manager = e.manager.clone().unwrap_or_else(|| "?".to_string());
            match e.subresource.as_deref() {
                Some(sub) if !sub.is_empty() => format!("{manager}, {sub} subresource"),
                _ => manager,
            }
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chaos_test_support::plans;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};

    /// Two replicas of `back` in a 3-second scenario.
    fn plan() -> Plan {
        Plan {
            scenario: plans::scenario(3.0),
            ..plans::plan(vec![plans::replicated("back", 2)])
        }
    }

    fn deployment(replicas: i32, managers: &[(&str, Option<&str>, i64)]) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.name = Some("back".to_string());
        d.spec.replicas = Some(replicas);
        d.metadata.managed_fields = Some(
            managers
                .iter()
                .map(|(m, sub, secs)| ManagedFieldsEntry {
                    manager: Some(m.to_string()),
                    subresource: sub.map(str::to_string),
                    time: Some(Time(
                        k8s_openapi::jiff::Timestamp::from_second(*secs).expect("time"),
                    )),
                    fields_v1: Some(FieldsV1(
                        serde_json::json!({ "f:spec": { "f:replicas": {} } }),
                    )),
                    ..ManagedFieldsEntry::default()
                })
                .collect(),
        );
        d
    }

    #[test]
    fn a_scale_from_outside_is_reported_once_with_its_manager() {
        let plan = plan();
        let mut w = ReplicaWatch::new(&plan, [("back", "back")]);
        assert!(
            w.check(&[deployment(2, &[("chaos", None, 1)])], 1.0, 1.0)
                .is_empty()
        );
        let d = deployment(3, &[("chaos", None, 1), ("kubectl", Some("scale"), 5)]);
        let found = w.check(std::slice::from_ref(&d), 7.5, 7.5);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].service, "back");
        assert_eq!(found[0].at_s, 7.5);
        assert!(
            found[0]
                .what
                .contains("from 2 to 3 replicas outside the run (by field manager `kubectl, scale subresource`)"),
            "{}",
            found[0].what
        );
        assert!(w.check(&[d], 8.0, 8.0).is_empty(), "reported once");
    }

    #[test]
    fn the_runs_own_scaling_is_not_reported() {
        let plan = plan();
        let mut w = ReplicaWatch::new(&plan, [("back", "back")]);
        w.set_by_run("back", 4, 1.5);
        assert!(
            w.check(&[deployment(4, &[("chaos", Some("scale"), 3)])], 2.0, 2.0)
                .is_empty()
        );
    }

    #[test]
    fn a_list_asked_for_before_the_runs_own_scale_is_not_a_change_from_outside() {
        let plan = plan();
        let mut w = ReplicaWatch::new(&plan, [("back", "back")]);
        // The run scales 2 -> 4 at 10.0 s; a list asked for at 9.8 s answers with 2 replicas.
        w.set_by_run("back", 4, 10.0);
        let stale = deployment(2, &[("chaos", None, 1)]);
        assert!(
            w.check(&[stale], 9.8, 10.1).is_empty(),
            "its own scale, not seen yet"
        );
        // The next list, asked for after it, shows 4: nothing to say.
        let fresh = deployment(4, &[("chaos", Some("scale"), 3)]);
        assert!(w.check(&[fresh], 11.8, 12.0).is_empty());
        // A scale from outside after it is still reported.
        let outside = deployment(
            6,
            &[("chaos", Some("scale"), 3), ("kubectl", Some("scale"), 5)],
        );
        assert_eq!(w.check(&[outside], 13.8, 14.0).len(), 1);
    }

    #[test]
    fn the_latest_other_manager_is_named() {
        let d = deployment(
            5,
            &[
                ("chaos", None, 1),
                ("kubectl", Some("scale"), 5),
                ("argocd", None, 9),
            ],
        );
        assert_eq!(replicas_manager(&d).as_deref(), Some("argocd"));
        assert_eq!(
            replicas_manager(&deployment(5, &[("chaos", None, 1)])),
            None
        );
    }
}
