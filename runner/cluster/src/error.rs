//! Errors of a cluster run, in words a user can act on, and the mapping from kube-rs errors.

/// Why `chaos run --cluster` could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "this run must name its Kubernetes context: pass `--context NAME` (the current context is not used implicitly)"
    )]
    ContextRequired,
    #[error(
        "no usable kubeconfig: {0}; set KUBECONFIG or create ~/.kube/config (e.g. `kind create cluster`)"
    )]
    NoKubeconfig(String),
    #[error("kubeconfig has no context `{context}`: {message}")]
    UnknownContext { context: String, message: String },
    #[error("cannot reach the Kubernetes API server at {server}: {message}")]
    Unreachable { server: String, message: String },
    #[error(
        "the Kubernetes API server at {server} rejected the credentials of the kubeconfig: {message}"
    )]
    Unauthorized { server: String, message: String },
    #[error(
        "forbidden by RBAC: cannot {verb} {resource}{scope}; grant it to your user or use another context ({message})",
        scope = namespace.as_ref().map(|n| format!(" in namespace `{n}`")).unwrap_or_default()
    )]
    Forbidden {
        verb: String,
        resource: String,
        namespace: Option<String>,
        message: String,
    },
    /// The namespace, and whose it is with what to do.
    #[error(
        "namespace `{0}` already exists; chaos only runs in a namespace it creates, and never applies into one it did not ({1})"
    )]
    NamespaceExists(String, String),
    #[error(
        "pod `{pod}` cannot pull image `{image}`: {reason}: {message}; build it and load it into the cluster (see docs/kubernetes.md) or pass `--image`"
    )]
    ImagePull {
        pod: String,
        image: String,
        reason: String,
        message: String,
    },
    #[error("pod `{pod}` is failing: {reason}: {message}")]
    PodFailing {
        pod: String,
        reason: String,
        message: String,
    },
    #[error("deployment `{deployment}` was not ready after {waited_s} s ({ready}/{wanted} replicas ready){}", reason.as_ref().map(|r| format!("; {r}")).unwrap_or_default())]
    RolloutTimeout {
        deployment: String,
        ready: i32,
        wanted: i32,
        waited_s: u64,
        reason: Option<String>,
    },
    #[error("fault `{id}` could not be {what} on pod `{pod}`: {message}")]
    Fault {
        id: String,
        what: &'static str,
        pod: String,
        message: String,
    },
    #[error("the load generator failed: {0}")]
    Loadgen(String),
    #[error("Kubernetes API error on {verb} {resource}: {message}")]
    Api {
        verb: String,
        resource: String,
        code: u16,
        message: String,
    },
    #[error("cannot build the run's Kubernetes objects: {0}")]
    Compile(#[from] chaos_k8s::Error),
    #[error("interrupted; faults were reverted and the run's namespace deleted")]
    Interrupted,
    #[error("interrupted; faults were reverted and the namespace `{0}` kept (--keep)")]
    InterruptedKept(String),
    #[error("could not clean up namespace `{namespace}`: {message}; delete it with `kubectl delete namespace {namespace}`{}", cause.as_ref().map(|c| format!(" (the run had failed: {c})")).unwrap_or_default())]
    Cleanup {
        namespace: String,
        message: String,
        cause: Option<String>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Where a failed API call happened, to turn a kube-rs error into a [`ClusterError`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub server: &'a str,
}

impl Call<'_> {
    pub fn error(self, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(s) if s.code == 403 => {
                // The API server names what it refused (server-side apply is authorised as
                // `patch`, and as `create` too when the object is new): say that, not our guess.
                let (verb, resource) = refused(&s.message)
                    .unwrap_or_else(|| (self.verb.to_string(), self.resource.to_string()));
                ClusterError::Forbidden {
                    verb,
                    resource,
                    namespace: self.namespace.map(str::to_string),
                    message: s.message,
                }
            }
            kube::Error::Api(s) if s.code == 401 => ClusterError::Unauthorized {
                server: self.server.to_string(),
                message: s.message,
            },
            kube::Error::Api(s) => ClusterError::Api {
                verb: self.verb.to_string(),
                resource: self.resource.to_string(),
                code: s.code,
                message: if s.message.is_empty() {
                    s.reason
                } else {
                    s.message
                },
            },
            e @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => {
                ClusterError::Unreachable {
                    server: self.server.to_string(),
                    message: chain(&e),
                }
            }
            other => ClusterError::Api {
                verb: self.verb.to_string(),
                resource: self.resource.to_string(),
                code: 0,
                message: chain(&other),
            },
        }
    }
}

/// The verb and resource (`deployments.apps`, `pods/proxy`) of an RBAC refusal, from the API
/// server's message: `… cannot patch resource "deployments" in API group "apps" in the namespace …`.
fn refused(message: &str) -> Option<(String, String)> {
    let rest = &message[message.find("cannot ")? + "cannot ".len()..];
    let (verb, rest) = rest.split_once(" resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group = rest
        .strip_prefix(" in API group \"")
        .and_then(|g| g.split_once('"'))
        .map(|(g, _)| g)
        .filter(|g| !g.is_empty());
    Some((
        verb.to_string(),
        match group {
            Some(g) => format!("{resource}.{g}"),
            None => resource.to_string(),
        },
    ))
}

/// An error and its sources, joined: kube-rs wraps the useful part (connection refused, …) deep down.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn rbac_refusals_name_the_servers_verb_and_resource() {
        let m = r#"deployments.apps "back" is forbidden: User "chaos-ci" cannot patch resource "deployments" in API group "apps" in the namespace "chaos-x""#;
        assert_eq!(
            refused(m),
            Some(("patch".to_string(), "deployments.apps".to_string()))
        );
        let m = r#"namespaces "chaos-x" is forbidden: User "u" cannot create resource "namespaces" in API group "" at the cluster scope"#;
        assert_eq!(
            refused(m),
            Some(("create".to_string(), "namespaces".to_string()))
        );
        assert_eq!(refused("something else"), None);
    }
}
