//! Faults as Kubernetes Events: each fault's start and end, each kill and an abort becomes an
//! Event on the objects it touches (a service's Deployment, a killed Pod, the run's namespace),
//! so `kubectl get events` and dashboards show them beside what Kubernetes did in reaction.
//! An Event that cannot be written is only logged: it never stops a run.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

/// The object an Event is about.
pub(crate) enum About<'a> {
    Deployment(&'a str),
    Pod(&'a str),
    Namespace,
}

pub(crate) const FAULT_STARTED: &str = "ChaosFaultStarted";
pub(crate) const FAULT_ENDED: &str = "ChaosFaultEnded";
pub(crate) const POD_KILLED: &str = "ChaosPodKilled";
pub(crate) const RUN_ABORTED: &str = "ChaosRunAborted";

/// Writes one Event in `namespace` (bounded to 5 s).
pub(crate) async fn record(
    client: &Client,
    namespace: &str,
    about: About<'_>,
    reason: &str,
    message: &str,
) {
    let (kind, api_version, name) = match about {
        About::Deployment(n) => ("Deployment", "apps/v1", n),
        About::Pod(n) => ("Pod", "v1", n),
        About::Namespace => ("Namespace", "v1", namespace),
    };
    let now = Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some("chaos-".to_string()),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            kind: Some(kind.to_string()),
            api_version: Some(api_version.to_string()),
            name: Some(name.to_string()),
            namespace: (kind != "Namespace").then(|| namespace.to_string()),
            ..ObjectReference::default()
        },
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some(
            if reason == FAULT_ENDED {
                "Normal"
            } else {
                "Warning"
            }
            .to_string(),
        ),
        source: Some(EventSource {
            component: Some("chaos".to_string()),
            ..EventSource::default()
        }),
        reporting_component: Some("chaos".to_string()),
        reporting_instance: Some("chaos-run".to_string()),
        action: Some(reason.trim_start_matches("Chaos").to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        count: Some(1),
        ..Event::default()
    };
    let api = Api::<Event>::namespaced(client.clone(), namespace);
    match tokio::time::timeout(
        Duration::from_secs(5),
        api.create(&PostParams::default(), &event),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::debug!("event {reason} on {kind} {name}: {e}"),
        Err(_) => tracing::debug!("event {reason} on {kind} {name}: no answer within 5 s"),
    }
}
