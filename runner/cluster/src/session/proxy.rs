//! Requests to the run's Pods through the API server's Pod proxy, with the run's token. A
//! cheap clone (a client handle and two strings), so window reads can go on in a task of
//! their own while the run's loop carries out the next decision.

use std::time::Duration;

use futures::StreamExt;
use kube::Client;

use super::TOKEN_HEADER;

/// How many proxied requests one batch (a fault on every Pod of its services, a window read
/// of every agent) keeps in flight: enough that a batch costs about one round trip at the
/// sizes measured (400 Pods), few enough that the client reuses its connections to the API
/// server instead of opening one TLS connection per Pod on a loaded machine.
pub(crate) const IN_FLIGHT: usize = 32;

#[derive(Clone)]
pub(crate) struct PodProxy {
    client: Client,
    namespace: String,
    token: String,
}

pub(crate) enum AgentError {
    /// The Pod is gone or not running: nothing to do on it.
    Gone,
    Failed(String),
}

impl PodProxy {
    pub(crate) fn new(client: Client, namespace: String, token: String) -> PodProxy {
        PodProxy {
            client,
            namespace,
            token,
        }
    }

    /// One request to `port` of `pod`, bounded to 10 s.
    pub(crate) async fn request(
        &self,
        pod: &str,
        port: i32,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<String, AgentError> {
        let uri = format!(
            "/api/v1/namespaces/{}/pods/{pod}:{port}/proxy{path}",
            self.namespace
        );
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header(TOKEN_HEADER, &self.token)
            .body(body)
            .map_err(|e| AgentError::Failed(e.to_string()))?;
        let call =
            tokio::time::timeout(Duration::from_secs(10), self.client.request_text(request)).await;
        match call {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(kube::Error::Api(s))) if s.code == 404 || s.code == 503 => Err(AgentError::Gone),
            Ok(Err(kube::Error::Api(s))) => Err(AgentError::Failed(format!(
                "the agent answered {}: {}",
                s.code,
                s.message.trim()
            ))),
            Ok(Err(e)) => Err(AgentError::Failed(crate::error::chain(&e))),
            Err(_) => Err(AgentError::Failed("no answer within 10 s".to_string())),
        }
    }

    /// The same request to every Pod of `pods`, [`IN_FLIGHT`] at a time; the answers in the
    /// order of `pods`.
    pub(crate) async fn to_each(
        &self,
        pods: &[String],
        port: i32,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Vec<Result<String, AgentError>> {
        // The futures made first, then run: a stream of a closure over borrowed names is not
        // `Send` for every lifetime, which `tokio::spawn` (window reads) needs.
        let requests: Vec<_> = pods
            .iter()
            .map(|pod| self.request(pod, port, method, path, body))
            .collect();
        futures::stream::iter(requests)
            .buffered(IN_FLIGHT)
            .collect()
            .await
    }
}
