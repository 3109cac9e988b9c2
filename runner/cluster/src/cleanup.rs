//! `chaos cleanup`: deletes the namespaces of chaos runs that nobody will clean up any more.
//!
//! A runner deletes its namespace on every exit path it lives through; one killed with SIGKILL
//! (or whose machine died) cannot. While it runs it renews a heartbeat annotation on its
//! namespace; the namespace also carries an expiry. Cleanup deletes a namespace only when it is
//! labelled as a chaos run (`app.kubernetes.io/managed-by=chaos` and a run id) and its runner is
//! gone (no heartbeat for [`STALE`]) or its expiry passed; with `--older-than`, only those older
//! than that too. Nothing else is ever touched.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams};

use crate::connect;
use crate::error::{Call, ClusterError};

/// Annotation the runner renews every [`HEARTBEAT`] while it runs (RFC 3339, the runner's clock).
pub const HEARTBEAT_ANNOTATION: &str = "chaos.dev/heartbeat";
/// Annotation after which the namespace may be deleted whatever its heartbeat says (RFC 3339).
pub const EXPIRES_ANNOTATION: &str = "chaos.dev/expires";
/// How often a running runner renews its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A heartbeat older than this means the runner is gone: six missed beats, room for clock skew.
pub const STALE: Duration = Duration::from_secs(60);
/// The labels every run's namespace carries (with `chaos.dev/run-id`).
const SELECTOR: &str = "app.kubernetes.io/managed-by=chaos,chaos.dev/run-id";

#[derive(Debug, Clone, Default)]
pub struct CleanupOptions {
    pub kubeconfig: Option<std::path::PathBuf>,
    pub context: Option<String>,
    /// Only namespaces created longer ago than this.
    pub older_than: Option<Duration>,
    /// Say what would be deleted, delete nothing.
    pub dry_run: bool,
}

/// What cleanup decided about one chaos namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub namespace: String,
    /// Why it is deleted, or why it is left.
    pub reason: String,
    pub delete: bool,
}

/// Lists the chaos namespaces, decides, deletes (unless `dry_run`); one verdict per namespace.
pub async fn cleanup(options: &CleanupOptions) -> Result<Vec<Verdict>, ClusterError> {
    let connection = connect::connect(
        options.kubeconfig.as_deref(),
        options.context.as_deref(),
        false,
    )
    .await?;
    let api = Api::<Namespace>::all(connection.client.clone());
    let call = |verb| Call {
        verb,
        resource: "namespaces",
        namespace: None,
        server: &connection.server,
    };
    let list = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .map_err(|e| call("list").error(e))?;
    let now = SystemTime::now();
    let mut verdicts: Vec<Verdict> = list
        .items
        .iter()
        .map(|ns| judge(ns, now, options.older_than))
        .collect();
    verdicts.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    if !options.dry_run {
        for v in verdicts.iter().filter(|v| v.delete) {
            match api.delete(&v.namespace, &DeleteParams::background()).await {
                Ok(_) => {}
                // Deleted meanwhile (by its runner, or another cleanup).
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(call("delete").error(e)),
            }
        }
    }
    Ok(verdicts)
}

/// Pure: whether `ns` goes, at `now`.
pub fn judge(ns: &Namespace, now: SystemTime, older_than: Option<Duration>) -> Verdict {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let verdict = |delete, reason: String| Verdict {
        namespace: name.clone(),
        reason,
        delete,
    };
    if ns.metadata.deletion_timestamp.is_some() {
        return verdict(false, "already being deleted".to_string());
    }
    let annotation = |key: &str| -> Option<SystemTime> {
        let text = ns.metadata.annotations.as_ref()?.get(key)?;
        to_system_time(text.parse::<Timestamp>().ok()?)
    };
    let created = ns
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| to_system_time(t.0));
    let age = |t: Option<SystemTime>| t.and_then(|t| now.duration_since(t).ok());
    if let (Some(limit), Some(created_age)) = (older_than, age(created))
        && created_age < limit
    {
        return verdict(
            false,
            format!(
                "created {} ago, not older than {}",
                secs(created_age),
                secs(limit)
            ),
        );
    }
    if let Some(expired) = age(annotation(EXPIRES_ANNOTATION)) {
        return verdict(true, format!("its expiry passed {} ago", secs(expired)));
    }
    // A namespace without a heartbeat (made by an older chaos) is judged by its creation time.
    let beat = annotation(HEARTBEAT_ANNOTATION).or(created);
    match age(beat) {
        Some(silent) if silent >= STALE => verdict(
            true,
            format!("its runner is gone (no heartbeat for {})", secs(silent)),
        ),
        Some(silent) => verdict(
            false,
            format!("its runner is alive (heartbeat {} ago)", secs(silent)),
        ),
        // A heartbeat from the future: the runner's clock is ahead; it is alive.
        None if beat.is_some() => verdict(
            false,
            "its runner is alive (heartbeat just now)".to_string(),
        ),
        None => verdict(false, "no heartbeat and no creation time".to_string()),
    }
}

fn to_system_time(t: Timestamp) -> Option<SystemTime> {
    let ms = t.as_millisecond();
    let ms = u64::try_from(ms).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    fn at(s: &str) -> SystemTime {
        to_system_time(s.parse::<Timestamp>().unwrap()).unwrap()
    }

    fn ns(created: &str, annotations: &[(&str, &str)]) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some("chaos-x-1".into()),
                creation_timestamp: Some(Time(created.parse().unwrap())),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    const NOW: &str = "2026-01-01T12:00:00Z";

    #[test]
    fn a_live_runner_keeps_its_namespace_a_silent_one_loses_it() {
        let live = ns(
            "2026-01-01T11:00:00Z",
            &[(HEARTBEAT_ANNOTATION, "2026-01-01T11:59:50.000Z")],
        );
        assert!(!judge(&live, at(NOW), None).delete);
        let gone = ns(
            "2026-01-01T11:00:00Z",
            &[(HEARTBEAT_ANNOTATION, "2026-01-01T11:58:00Z")],
        );
        let v = judge(&gone, at(NOW), None);
        assert!(v.delete, "{v:?}");
        assert!(v.reason.contains("runner is gone"), "{}", v.reason);
    }

    #[test]
    fn an_expiry_wins_over_a_heartbeat_and_older_than_over_both() {
        let expired = ns(
            "2026-01-01T10:00:00Z",
            &[
                (HEARTBEAT_ANNOTATION, "2026-01-01T11:59:59Z"),
                (EXPIRES_ANNOTATION, "2026-01-01T11:00:00Z"),
            ],
        );
        assert!(judge(&expired, at(NOW), None).delete);
        let v = judge(&expired, at(NOW), Some(Duration::from_secs(3 * 3600)));
        assert!(
            !v.delete && v.reason.contains("not older than 3h0m"),
            "{v:?}"
        );
        assert!(judge(&expired, at(NOW), Some(Duration::from_secs(3600))).delete);
    }

    #[test]
    fn no_heartbeat_counts_from_creation_and_deleting_ones_are_left() {
        assert!(judge(&ns("2026-01-01T11:00:00Z", &[]), at(NOW), None).delete);
        assert!(!judge(&ns("2026-01-01T11:59:30Z", &[]), at(NOW), None).delete);
        let mut deleting = ns("2026-01-01T11:00:00Z", &[]);
        deleting.metadata.deletion_timestamp = Some(Time("2026-01-01T11:30:00Z".parse().unwrap()));
        assert!(!judge(&deleting, at(NOW), None).delete);
        // a heartbeat ahead of this clock: alive
        let ahead = ns(
            "2026-01-01T11:00:00Z",
            &[(HEARTBEAT_ANNOTATION, "2026-01-01T12:00:30Z")],
        );
        assert!(!judge(&ahead, at(NOW), None).delete);
    }
}
