//! From the user's kubeconfig (and `--context`) to a checked kube-rs client.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use crate::error::{Call, ClusterError, chain};

pub(crate) struct Connection {
    pub client: Client,
    /// The API server's URL, for messages.
    pub server: String,
}

/// Reads the kubeconfig (`path`, else `KUBECONFIG`, else `~/.kube/config`), picks the context,
/// and checks the API server answers before anything is created.
pub(crate) async fn connect(
    path: Option<&Path>,
    context: Option<&str>,
    require_context: bool,
) -> Result<Connection, ClusterError> {
    if require_context && context.is_none() {
        return Err(ClusterError::ContextRequired);
    }
    let kubeconfig = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    }
    .map_err(|e| ClusterError::NoKubeconfig(chain(&e)))?;
    if let Some(c) = context {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        if !known.contains(&c) {
            return Err(ClusterError::UnknownContext {
                context: c.to_string(),
                message: if known.is_empty() {
                    "it defines no context".to_string()
                } else {
                    format!("it defines {}", known.join(", "))
                },
            });
        }
    }
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| match (&e, context) {
            (KubeconfigError::LoadContext(_), Some(c)) => ClusterError::UnknownContext {
                context: c.to_string(),
                message: chain(&e),
            },
            _ => ClusterError::NoKubeconfig(chain(&e)),
        })?;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let client = Client::try_from(config).map_err(|e| ClusterError::NoKubeconfig(chain(&e)))?;
    let call = Call {
        verb: "get",
        resource: "the server version (/version)",
        namespace: None,
        server: &server,
    };
    // A short bound: an unreachable address otherwise waits for the OS connect timeout.
    match tokio::time::timeout(
        std::time::Duration::from_secs(15),
        client.apiserver_version(),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(call.error(e)),
        Err(_) => {
            return Err(ClusterError::Unreachable {
                server,
                message: "no answer within 15 s".to_string(),
            });
        }
    }
    Ok(Connection { client, server })
}
