//! Stands in for a Kubernetes API server where the real one (scripts/testbed) cannot produce what a
//! test needs: a Pod stuck in `ImagePullBackOff` or `CrashLoopBackOff` (no images, no kubelet on the
//! testbed), a fault install the agent refuses, a load generator whose Job fails, a cleanup that
//! hangs. Test support only: `chaos-cluster` uses it as a dev-dependency and never ships it.
//!
//! A small in-process fake Kubernetes API server.
//!
//! Plain HTTP on 127.0.0.1, bearer-token authentication, one kubeconfig pointing at it. It keeps
//! objects, answers server-side apply (`PATCH` with `application/apply-patch+yaml`), get, list
//! (equality label selectors), delete and Pod logs with the real status codes and `Status`
//! bodies, plays the Deployment and Job controllers (creates Pods, recreates deleted ones, marks
//! them ready or stuck as configured) and forwards Pod/Service proxy requests to a handler the
//! test provides, with the `Authorization` header removed as the real API server does.
//! Deployments' `scale` subresource (get, merge patch) changes `spec.replicas` and so the Pods.
//! The Job's Pod plays the load generator's status API (`chaos loadgen --listen`, see
//! [`chaos_cluster::pod`]): it starts when the test's [`JobHandler`] has answered, reveals the windows
//! of the Recording in its log as its clock passes them, and a stop ends it early.
//! Watch is answered by polling the store (50 ms) and streaming what changed.
//! It does not implement admission, field ownership or validation of object schemas.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the Pods the fake creates behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodBehaviour {
    /// Running and ready shortly after creation.
    Ready,
    /// Pending with `ImagePullBackOff` for ever.
    ImagePullBackOff,
    /// Running, never ready, container waiting in `CrashLoopBackOff`.
    CrashLoop,
}

/// One request forwarded through the Pod or Service proxy.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub namespace: String,
    /// `pods` or `services`.
    pub resource: String,
    pub name: String,
    pub port: Option<String>,
    pub method: String,
    /// Path on the target, with a leading `/`, without the query.
    pub path: String,
    /// The query string (without `?`), passed on to the target.
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// The answer of a proxied request.
#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub status: u16,
    pub body: String,
}

pub type ProxyHandler = Arc<dyn Fn(&ProxyRequest) -> ProxyResponse + Send + Sync>;
/// A boxed future, for handlers that talk to real processes (agents, the load generator).
pub type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;
/// Like [`ProxyHandler`], for forwarding to a real agent; used instead of it when set.
pub type AsyncProxyHandler = Arc<dyn Fn(ProxyRequest) -> BoxFuture<ProxyResponse> + Send + Sync>;
/// Like [`JobHandler`]; the future runs while the Job's Pod runs, `runs_for` is waited after it.
pub type AsyncJobHandler = Arc<dyn Fn(Value) -> BoxFuture<JobOutcome> + Send + Sync>;
/// Given the Job object, what its Pod prints and whether it succeeds.
pub type JobHandler = Arc<dyn Fn(&Value) -> JobOutcome + Send + Sync>;

#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// How long the Job's Pod runs before it finishes.
    pub runs_for: Duration,
    pub logs: String,
    pub succeeded: bool,
}

#[derive(Clone)]
pub struct FakeConfig {
    pub token: String,
    pub pods: PodBehaviour,
    /// How long a new Pod takes to become ready.
    pub ready_after: Duration,
    /// `(verb, resource)` pairs answered with 403, e.g. `("create", "namespaces")`.
    pub forbid: Vec<(String, String)>,
    pub proxy: ProxyHandler,
    pub job: JobHandler,
    pub proxy_async: Option<AsyncProxyHandler>,
    pub job_async: Option<AsyncJobHandler>,
    /// How long a Pod proxy request to a Pod that has exited (a finished Job's Pod) waits
    /// before its 503; `None`: refused at once. The real API server's Pod proxy may dial the
    /// gone Pod's address until its own timeout (about 10 s seen on the testbed) before it
    /// refuses.
    pub exited_pod_proxy_delay: Option<Duration>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            token: "fake-token".to_string(),
            pods: PodBehaviour::Ready,
            ready_after: Duration::from_millis(200),
            forbid: Vec::new(),
            proxy: Arc::new(|_| ProxyResponse {
                status: 200,
                body: "{}".to_string(),
            }),
            job: Arc::new(|_| JobOutcome {
                runs_for: Duration::from_millis(100),
                logs: String::new(),
                succeeded: true,
            }),
            proxy_async: None,
            job_async: None,
            exited_pod_proxy_delay: None,
        }
    }
}

/// A request the fake received (`verb` in Kubernetes terms: get, list, create, patch, delete, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
}

/// Object store key: (api path prefix, namespace or "", resource, name).
type Key = (String, String, String, String);

#[derive(Default)]
struct Store {
    objects: BTreeMap<Key, Value>,
    log: Vec<Logged>,
    proxied: Vec<ProxyRequest>,
    next_rv: u64,
    next_pod: u64,
    /// The load generator each Job Pod plays, by (namespace, Pod name), once it runs.
    loadgens: BTreeMap<(String, String), FakeLoadgen>,
}

/// A Job Pod's load generator: the Recording its log will hold, revealed window by window.
struct FakeLoadgen {
    started: Instant,
    started_at: String,
    recording: Option<chaos_report::Recording>,
    stop: Arc<tokio::sync::Notify>,
    stopped_at: Option<f64>,
}

struct Shared {
    config: FakeConfig,
    store: Mutex<Store>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic in a handler poisons the lock; the data is still consistent enough for tests.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    dir: PathBuf,
}

impl FakeApiServer {
    /// Starts the server on an ephemeral loopback port (on the current tokio runtime).
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeApiServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            store: Mutex::new(Store::default()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let dir = std::env::temp_dir().join(format!(
            "chaos-fake-api-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(FakeApiServer {
            addr,
            shared,
            task,
            dir,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig with one context, `fake`, pointing at this server.
    pub fn kubeconfig(&self) -> std::io::Result<PathBuf> {
        let path = self.dir.join("kubeconfig");
        write_kubeconfig(&path, &self.url(), &self.shared.config.token)?;
        Ok(path)
    }

    /// A handle for handlers that need to read the store while the server runs.
    pub fn view(&self) -> FakeView {
        FakeView(self.shared.clone())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared.store().log.clone()
    }

    /// Every proxied request so far, in order.
    pub fn proxied(&self) -> Vec<ProxyRequest> {
        self.shared.store().proxied.clone()
    }

    /// Stored objects of a resource (e.g. `namespaces`, `pods`), across namespaces.
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        self.shared
            .store()
            .objects
            .iter()
            .filter(|((_, _, r, _), _)| r == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Puts an object in the store as if someone else had created it.
    pub fn insert(&self, prefix: &str, namespace: &str, resource: &str, object: Value) {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.shared.store().objects.insert(
            (
                prefix.to_string(),
                namespace.to_string(),
                resource.to_string(),
                name,
            ),
            object,
        );
    }
}

/// Read access to the fake's store, e.g. for a test's "kubelet" that starts real agents.
#[derive(Clone)]
pub struct FakeView(Arc<Shared>);

impl FakeView {
    /// A ConfigMap's value, e.g. the plan a Pod would read from its mounted file.
    pub fn config_map(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        let store = self.0.store();
        let k = (
            "/api/v1".to_string(),
            namespace.to_string(),
            "configmaps".to_string(),
            name.to_string(),
        );
        store.objects.get(&k)?["data"][key]
            .as_str()
            .map(str::to_string)
    }

    /// A Secret's value, decoded, as a Pod would see it in its environment.
    pub fn secret(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        let store = self.0.store();
        let k = (
            "/api/v1".to_string(),
            namespace.to_string(),
            "secrets".to_string(),
            name.to_string(),
        );
        let encoded = store.objects.get(&k)?["data"][key].as_str()?.to_string();
        String::from_utf8(unbase64(&encoded)?).ok()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A kubeconfig (JSON is valid YAML) with one context named `fake`.
pub fn write_kubeconfig(path: &Path, server: &str, token: &str) -> std::io::Result<()> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "fake", "cluster": { "server": server } }],
        "users": [{ "name": "fake", "user": { "token": token } }],
        "contexts": [{ "name": "fake", "context": { "cluster": "fake", "user": "fake" } }],
        "current-context": "fake",
    });
    std::fs::write(
        path,
        serde_json::to_string_pretty(&config).unwrap_or_default(),
    )
}

/// A parsed API path.
#[derive(Debug, Clone)]
struct Target {
    /// `/api/v1` or `/apis/<group>/<version>`.
    prefix: String,
    group: String,
    namespace: String,
    resource: String,
    name: Option<String>,
    /// `log`, `proxy`, `status`, … with what follows a proxy.
    sub: Option<String>,
    rest: String,
}

fn parse(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (prefix, group, mut i) = match parts.as_slice() {
        ["api", v, ..] => (format!("/api/{v}"), String::new(), 2),
        ["apis", g, v, ..] => (format!("/apis/{g}/{v}"), (*g).to_string(), 3),
        _ => return None,
    };
    let mut namespace = String::new();
    if parts.get(i) == Some(&"namespaces") && parts.len() > i + 2 {
        namespace = parts[i + 1].to_string();
        i += 2;
    }
    let resource = parts.get(i)?.to_string();
    let name = parts
        .get(i + 1)
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty());
    let sub = parts.get(i + 2).map(|s| s.to_string());
    let rest = if parts.len() > i + 3 {
        format!("/{}", parts[i + 3..].join("/"))
    } else {
        "/".to_string()
    };
    Some(Target {
        prefix,
        group,
        namespace,
        resource,
        name,
        sub,
        rest,
    })
}

fn kind_of(resource: &str) -> &'static str {
    match resource {
        "namespaces" => "Namespace",
        "pods" => "Pod",
        "services" => "Service",
        "secrets" => "Secret",
        "configmaps" => "ConfigMap",
        "deployments" => "Deployment",
        "jobs" => "Job",
        "horizontalpodautoscalers" => "HorizontalPodAutoscaler",
        _ => "Unknown",
    }
}

fn status(
    code: StatusCode,
    reason: &str,
    message: String,
    name: Option<&str>,
    t: Option<&Target>,
) -> Response {
    let mut details = serde_json::Map::new();
    if let Some(n) = name {
        details.insert("name".into(), json!(n));
    }
    if let Some(t) = t {
        details.insert("kind".into(), json!(t.resource));
        if !t.group.is_empty() {
            details.insert("group".into(), json!(t.group));
        }
    }
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code.as_u16(),
    });
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn verb(method: &Method, t: &Target, query: &str) -> &'static str {
    match *method {
        Method::GET if query.contains("watch=true") || query.contains("watch=1") => "watch",
        Method::GET if t.name.is_none() => "list",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if t.name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "unknown",
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn labels_match(object: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|req| match req.split_once('=') {
            Some((k, v)) => {
                object["metadata"]["labels"][k.trim_end_matches('=')].as_str()
                    == Some(v.trim_start_matches('='))
            }
            None => false,
        })
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    shared.store().log.push(Logged {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
    });

    let expected = format!("Bearer {}", shared.config.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized".into(),
            None,
            None,
        );
    }
    if path == "/version" {
        return ok(
            StatusCode::OK,
            &json!({ "major": "1", "minor": "37", "gitVersion": "v1.37.0-fake", "platform": "linux/amd64" }),
        );
    }
    let Some(t) = parse(&path) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
            None,
        );
    };
    let v = verb(&method, &t, &query);
    let sub_verb = match t.sub.as_deref() {
        Some("proxy") => "proxy".to_string(),
        Some(s) => format!("{v} {s}"),
        None => v.to_string(),
    };
    let forbidden = shared.config.forbid.iter().any(|(fv, fr)| {
        fr == &t.resource && (fv == v || (fv == "create" && v == "patch") || fv == &sub_verb)
    });
    if forbidden {
        let scope = if t.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", t.namespace)
        };
        let name = t
            .name
            .clone()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let message = format!(
            "{}{name} is forbidden: User \"fake-user\" cannot {v} resource \"{}\" in API group \"{}\" {scope}",
            t.resource, t.resource, t.group
        );
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            message,
            t.name.as_deref(),
            Some(&t),
        );
    }
    match (t.sub.as_deref(), v) {
        (Some("proxy"), _) => proxy(&shared, &t, &method, &headers, &query, &body).await,
        (Some("log"), "get") => logs(&shared, &t),
        (Some("scale"), "get") if t.resource == "deployments" => get_scale(&shared, &t),
        (Some("scale"), "patch") if t.resource == "deployments" => {
            patch_scale(&shared, &t, &headers, &body)
        }
        (None, "get") => get(&shared, &t),
        (None, "list") => list(&shared, &t, &query),
        (None, "patch") => apply(&shared, &t, &headers, &query, &body),
        (None, "delete") => delete(&shared, &t),
        (None, "watch") => watch(shared.clone(), t.clone(), &query),
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "the fake API server does not implement {sub_verb} on {}",
                t.resource
            ),
            None,
            Some(&t),
        ),
    }
}

/// Watch by polling the store every 50 ms and sending what changed (as a real watch, changes
/// in quick succession may coalesce). Without a `resourceVersion` (or with "0") it starts with
/// an `ADDED` event per existing object; it ends after `timeoutSeconds` (default 60).
fn watch(shared: Arc<Shared>, t: Target, query: &str) -> Response {
    let selector = query_param(query, "labelSelector").unwrap_or_default();
    let name = query_param(query, "fieldSelector")
        .and_then(|f| f.strip_prefix("metadata.name=").map(str::to_string));
    let initial = query_param(query, "resourceVersion").is_none_or(|rv| rv.is_empty() || rv == "0");
    let timeout = query_param(query, "timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60)
        .min(300);
    let snapshot = move |shared: &Shared| -> BTreeMap<String, Value> {
        let store = shared.store();
        store
            .objects
            .iter()
            .filter(|((p, ns, r, n), _)| {
                p == &t.prefix
                    && r == &t.resource
                    && (t.namespace.is_empty() || ns == &t.namespace)
                    && name.as_ref().is_none_or(|want| want == n)
            })
            .filter(|(_, o)| labels_match(o, &selector))
            .map(|((_, ns, _, n), o)| (format!("{ns}/{n}"), with_status(&store, &t, o)))
            .collect()
    };
    let known = if initial {
        BTreeMap::new()
    } else {
        snapshot(&shared)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let state = (
        shared,
        known,
        std::collections::VecDeque::<String>::new(),
        snapshot,
    );
    let stream = futures::stream::unfold(
        state,
        move |(shared, mut known, mut pending, snapshot)| async move {
            loop {
                if let Some(line) = pending.pop_front() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(line),
                        (shared, known, pending, snapshot),
                    ));
                }
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                let now = snapshot(&shared);
                for (k, o) in &now {
                    match known.get(k) {
                        None => pending
                            .push_back(json!({ "type": "ADDED", "object": o }).to_string() + "\n"),
                        Some(old) if old != o => pending.push_back(
                            json!({ "type": "MODIFIED", "object": o }).to_string() + "\n",
                        ),
                        Some(_) => {}
                    }
                }
                for (k, o) in &known {
                    if !now.contains_key(k) {
                        pending.push_back(
                            json!({ "type": "DELETED", "object": o }).to_string() + "\n",
                        );
                    }
                }
                known = now;
                if pending.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        },
    );
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

fn key(t: &Target, name: &str) -> Key {
    (
        t.prefix.clone(),
        t.namespace.clone(),
        t.resource.clone(),
        name.to_string(),
    )
}

fn not_found(t: &Target, name: &str) -> Response {
    let group = if t.group.is_empty() {
        String::new()
    } else {
        format!(".{}", t.group)
    };
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("{}{group} \"{name}\" not found", t.resource),
        Some(name),
        Some(t),
    )
}

fn get(shared: &Shared, t: &Target) -> Response {
    let name = t.name.clone().unwrap_or_default();
    let store = shared.store();
    match store.objects.get(&key(t, &name)) {
        Some(o) => ok(StatusCode::OK, &with_status(&store, t, o)),
        None => not_found(t, &name),
    }
}

fn list(shared: &Shared, t: &Target, query: &str) -> Response {
    let selector = query_param(query, "labelSelector").unwrap_or_default();
    let store = shared.store();
    let items: Vec<Value> = store
        .objects
        .iter()
        .filter(|((p, ns, r, _), _)| {
            p == &t.prefix && r == &t.resource && (t.namespace.is_empty() || ns == &t.namespace)
        })
        .filter(|(_, o)| labels_match(o, &selector))
        .map(|(_, o)| with_status(&store, t, o))
        .collect();
    let api_version = t
        .prefix
        .trim_start_matches("/apis/")
        .trim_start_matches("/api/")
        .to_string();
    ok(
        StatusCode::OK,
        &json!({ "kind": format!("{}List", kind_of(&t.resource)), "apiVersion": api_version,
                 "metadata": { "resourceVersion": store.next_rv.to_string() }, "items": items }),
    )
}

/// Deployments and Jobs get their status from their Pods when read, like their controllers would write it.
fn with_status(store: &Store, t: &Target, object: &Value) -> Value {
    let mut o = object.clone();
    let pods_of = |selector: &Value| -> Vec<&Value> {
        let Some(labels) = selector.as_object() else {
            return Vec::new();
        };
        store
            .objects
            .iter()
            .filter(|((_, ns, r, _), _)| r == "pods" && ns == &t.namespace)
            .map(|(_, p)| p)
            .filter(|p| labels.iter().all(|(k, v)| &p["metadata"]["labels"][k] == v))
            .collect()
    };
    match t.resource.as_str() {
        "deployments" => {
            let pods = pods_of(&object["spec"]["selector"]["matchLabels"]);
            let ready = pods.iter().filter(|p| is_ready(p)).count();
            let wanted = object["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
            let available = ready >= wanted;
            o["status"] = json!({
                "observedGeneration": object["metadata"]["generation"],
                "replicas": pods.len(), "updatedReplicas": pods.len(),
                "readyReplicas": ready, "availableReplicas": ready,
                "conditions": [{
                    "type": "Available", "status": if available { "True" } else { "False" },
                    "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                }, {
                    "type": "Progressing", "status": "True",
                    "reason": if available { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                }],
            });
        }
        "jobs" => {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let pods = pods_of(&json!({ "job-name": name }));
            let phase = pods
                .first()
                .and_then(|p| p["status"]["phase"].as_str())
                .unwrap_or("Pending");
            o["status"] = match phase {
                "Succeeded" => {
                    json!({ "succeeded": 1, "conditions": [{ "type": "Complete", "status": "True" }] })
                }
                "Failed" => {
                    json!({ "failed": 1, "conditions": [{ "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }] })
                }
                _ => json!({ "active": 1 }),
            };
        }
        _ => {}
    }
    o
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn apply(
    shared: &Arc<Shared>,
    t: &Target,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/apply-patch+yaml" {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the fake API server only answers server-side apply, not {content_type:?}"),
            None,
            Some(t),
        );
    }
    if query_param(query, "fieldManager").is_none_or(|m| m.is_empty()) {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(), None, Some(t));
    }
    let Ok(mut object) = serde_json::from_slice::<Value>(body) else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "error decoding YAML: the fake API server reads JSON apply patches only".into(),
            None,
            Some(t),
        );
    };
    let name = t.name.clone().unwrap_or_default();
    if object["metadata"]["name"].as_str() != Some(name.as_str()) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the name of the object does not match the name on the URL".into(),
            Some(&name),
            Some(t),
        );
    }
    if !t.namespace.is_empty() {
        match object["metadata"]["namespace"].as_str() {
            Some(ns) if ns != t.namespace => {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request".into(), Some(&name), Some(t));
            }
            _ => object["metadata"]["namespace"] = json!(t.namespace),
        }
        let ns_key = (
            "/api/v1".to_string(),
            String::new(),
            "namespaces".to_string(),
            t.namespace.clone(),
        );
        let store = shared.store();
        match store.objects.get(&ns_key) {
            None => {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("namespaces \"{}\" not found", t.namespace),
                    Some(&t.namespace),
                    None,
                );
            }
            Some(ns) if ns["status"]["phase"] == "Terminating" => {
                return status(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {} because it is being terminated",
                        t.resource, t.namespace
                    ),
                    Some(&name),
                    Some(t),
                );
            }
            Some(_) => {}
        }
    }
    let (code, stored) = {
        let mut store = shared.store();
        store.next_rv += 1;
        let rv = store.next_rv.to_string();
        let k = key(t, &name);
        let (code, generation, uid) = match store.objects.get(&k) {
            Some(old) => (
                StatusCode::OK,
                old["metadata"]["generation"].as_i64().unwrap_or(1) + 1,
                old["metadata"]["uid"].clone(),
            ),
            None => (StatusCode::CREATED, 1, json!(format!("uid-{rv}"))),
        };
        object["metadata"]["resourceVersion"] = json!(rv);
        object["metadata"]["generation"] = json!(generation);
        object["metadata"]["uid"] = uid;
        if t.resource == "namespaces" {
            object["status"] = json!({ "phase": "Active" });
        }
        if t.resource == "secrets" {
            // The API server stores stringData base64-encoded under data.
            if let Some(sd) = object.as_object_mut().and_then(|o| o.remove("stringData")) {
                let data: serde_json::Map<String, Value> = sd
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    json!(base64(v.as_str().unwrap_or_default().as_bytes())),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                object["data"] = Value::Object(data);
            }
        }
        store.objects.insert(k, object.clone());
        (code, object)
    };
    match t.resource.as_str() {
        "deployments" => reconcile_deployment(shared, &t.namespace, &name),
        "jobs" if code == StatusCode::CREATED => start_job(shared, &t.namespace, &stored),
        _ => {}
    }
    let store = shared.store();
    ok(code, &with_status(&store, t, &stored))
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'=')
        .map(value)
        .collect::<Option<_>>()?;
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    Some(out)
}

fn pod_key(namespace: &str, name: &str) -> Key {
    (
        "/api/v1".to_string(),
        namespace.to_string(),
        "pods".to_string(),
        name.to_string(),
    )
}

/// Creates a Pod from a template and schedules its readiness as configured.
fn create_pod(
    shared: &Arc<Shared>,
    namespace: &str,
    base: &str,
    template: &Value,
    extra_labels: &Value,
    owner: &str,
) -> String {
    let mut store = shared.store();
    store.next_pod += 1;
    store.next_rv += 1;
    let name = format!("{base}-{:05x}", store.next_pod);
    let mut labels = template["metadata"]["labels"].clone();
    if let (Some(l), Some(extra)) = (labels.as_object_mut(), extra_labels.as_object()) {
        l.extend(extra.clone());
    }
    let image = template["spec"]["containers"][0]["image"].clone();
    let status = match shared.config.pods {
        PodBehaviour::ImagePullBackOff => json!({ "phase": "Pending", "containerStatuses": [{
            "name": template["spec"]["containers"][0]["name"], "ready": false, "image": image,
            "state": { "waiting": { "reason": "ImagePullBackOff", "message": format!("Back-off pulling image {image}") } } }] }),
        PodBehaviour::CrashLoop => json!({ "phase": "Running", "containerStatuses": [{
            "name": template["spec"]["containers"][0]["name"], "ready": false, "image": image, "restartCount": 4,
            "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container" } } }] }),
        // Started, not ready yet: what the kubelet reports while the readiness probe fails.
        PodBehaviour::Ready => json!({ "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady",
                             "message": format!("containers with unready status: [{}]", template["spec"]["containers"][0]["name"].as_str().unwrap_or_default()) }],
            "containerStatuses": [{ "name": template["spec"]["containers"][0]["name"], "ready": false, "image": image, "state": { "running": {} } }] }),
    };
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace, "labels": labels, "resourceVersion": store.next_rv.to_string(),
                      "annotations": template["metadata"]["annotations"], "ownerReferences": [{ "name": owner }] },
        "spec": template["spec"], "status": status,
    });
    store.objects.insert(pod_key(namespace, &name), pod);
    drop(store);
    if shared.config.pods == PodBehaviour::Ready {
        let shared = shared.clone();
        let (ns, n) = (namespace.to_string(), name.clone());
        let after = shared.config.ready_after;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let mut store = shared.store();
            if let Some(p) = store.objects.get_mut(&pod_key(&ns, &n))
                && p["status"]["phase"] == "Running"
                && !is_ready(p)
            {
                p["status"] = json!({ "phase": "Running", "podIP": "10.0.0.1",
                    "conditions": [{ "type": "Ready", "status": "True" }],
                    "containerStatuses": [{ "name": p["spec"]["containers"][0]["name"], "ready": true, "state": { "running": {} } }] });
            }
        });
    }
    name
}

/// The Deployment controller: as many Pods as `spec.replicas`.
fn reconcile_deployment(shared: &Arc<Shared>, namespace: &str, name: &str) {
    let deployment = {
        let store = shared.store();
        store
            .objects
            .get(&(
                "/apis/apps/v1".into(),
                namespace.into(),
                "deployments".into(),
                name.into(),
            ))
            .cloned()
    };
    let Some(d) = deployment else { return };
    let wanted = d["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let have: Vec<String> = {
        let store = shared.store();
        store
            .objects
            .iter()
            .filter(|((_, ns, r, _), p)| {
                r == "pods"
                    && ns == namespace
                    && p["metadata"]["ownerReferences"][0]["name"] == name
            })
            .map(|((_, _, _, n), _)| n.clone())
            .collect()
    };
    for _ in have.len()..wanted {
        create_pod(
            shared,
            namespace,
            &format!("{name}-5d8f7c6b9"),
            &d["spec"]["template"],
            &json!({}),
            name,
        );
    }
    let mut store = shared.store();
    for extra in have.iter().skip(wanted) {
        store.objects.remove(&pod_key(namespace, extra));
    }
}

/// The Job controller: one Pod that runs as the test's [`JobHandler`] says.
fn start_job(shared: &Arc<Shared>, namespace: &str, job: &Value) {
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pod = create_pod(
        shared,
        namespace,
        &name,
        &job["spec"]["template"],
        &json!({ "job-name": name }),
        &name,
    );
    let outcome: BoxFuture<JobOutcome> = match &shared.config.job_async {
        Some(f) => f(job.clone()),
        None => {
            let o = (shared.config.job)(job);
            Box::pin(async move { o })
        }
    };
    let shared = shared.clone();
    let ns = namespace.to_string();
    tokio::spawn(async move {
        let outcome = outcome.await;
        let stop = Arc::new(tokio::sync::Notify::new());
        let loadgen = FakeLoadgen {
            started: Instant::now(),
            started_at: chaos_cluster::pod::rfc3339_ms(std::time::SystemTime::now()),
            recording: last_recording(&outcome.logs),
            stop: stop.clone(),
            stopped_at: None,
        };
        let id = (ns.clone(), pod.clone());
        shared.store().loadgens.insert(id.clone(), loadgen);
        tokio::select! {
            () = tokio::time::sleep(outcome.runs_for) => {}
            () = stop.notified() => {}
        }
        let mut store = shared.store();
        let stopped = store.loadgens.get(&id).and_then(|l| {
            let at = l.stopped_at?;
            let mut r = l.recording.clone()?;
            // What a stopped load generator prints: nothing sent after the stop.
            for w in &mut r.windows {
                if w.start_s >= at {
                    w.subjects.iter_mut().for_each(|s| *s = Default::default());
                }
            }
            r.ended_s = at.min(r.ended_s);
            Some(serde_json::to_string(&r).unwrap_or_default() + "\n")
        });
        if let Some(p) = store.objects.get_mut(&pod_key(&ns, &pod)) {
            p["status"] = json!({ "phase": if outcome.succeeded { "Succeeded" } else { "Failed" },
                "containerStatuses": [{ "name": "loadgen", "ready": false, "state": { "terminated": { "exitCode": if outcome.succeeded { 0 } else { 1 } } } }] });
            p["fakeLogs"] = json!(stopped.unwrap_or(outcome.logs));
        }
    });
}

/// The last Recording (JSON document) in a load generator's log.
fn last_recording(logs: &str) -> Option<chaos_report::Recording> {
    let starts = std::iter::once(0).chain(logs.match_indices("\n{").map(|(i, _)| i + 1));
    starts
        .filter_map(|i| {
            serde_json::Deserializer::from_str(&logs[i..])
                .into_iter::<chaos_report::Recording>()
                .next()?
                .ok()
        })
        .last()
}

/// The Job Pod's status API, as `chaos loadgen --listen` serves it (see [`chaos_cluster::pod`]).
fn fake_loadgen(shared: &Shared, request: &ProxyRequest) -> ProxyResponse {
    let mut store = shared.store();
    let token = store
        .objects
        .get(&(
            "/api/v1".to_string(),
            request.namespace.clone(),
            "secrets".to_string(),
            chaos_k8s::manifests::TOKEN_SECRET.to_string(),
        ))
        .and_then(|s| s["data"][chaos_k8s::manifests::TOKEN_KEY].as_str())
        .and_then(unbase64)
        .and_then(|b| String::from_utf8(b).ok());
    if token.is_none() || request.headers.get(chaos_cluster::TOKEN_HEADER) != token.as_ref() {
        return ProxyResponse {
            status: 401,
            body: json!({ "error": "missing or wrong control token" }).to_string(),
        };
    }
    let id = (request.namespace.clone(), request.name.clone());
    let loadgen = store.loadgens.get_mut(&id);
    match (request.method.as_str(), request.path.as_str(), loadgen) {
        ("GET", chaos_cluster::pod::STATUS_PATH, l) => {
            let from = query_param(&request.query, "from")
                .and_then(|f| f.parse::<usize>().ok())
                .unwrap_or(0);
            let status = match l {
                None => chaos_cluster::pod::LoadgenStatus {
                    started_at: None,
                    elapsed_s: None,
                    from,
                    windows: Vec::new(),
                    stopped_at_s: None,
                    waiting: false,
                },
                Some(l) => {
                    let elapsed = l.started.elapsed().as_secs_f64();
                    let until = l.stopped_at.unwrap_or(f64::INFINITY);
                    let windows = l
                        .recording
                        .iter()
                        .flat_map(|r| {
                            let w = r.window_s;
                            r.windows.iter().filter(move |x| {
                                x.start_s + w <= elapsed - chaos_cluster::pod::SETTLE_S
                            })
                        })
                        .skip(from)
                        .map(|x| {
                            let mut x = x.clone();
                            if x.start_s >= until {
                                x.subjects.iter_mut().for_each(|s| *s = Default::default());
                            }
                            x
                        })
                        .collect();
                    chaos_cluster::pod::LoadgenStatus {
                        started_at: Some(l.started_at.clone()),
                        elapsed_s: Some(elapsed),
                        from,
                        windows,
                        stopped_at_s: l.stopped_at,
                        waiting: false,
                    }
                }
            };
            ProxyResponse {
                status: 200,
                body: serde_json::to_string(&status).unwrap_or_default(),
            }
        }
        ("POST", chaos_cluster::pod::STOP_PATH, Some(l)) => {
            let at = *l
                .stopped_at
                .get_or_insert(l.started.elapsed().as_secs_f64());
            l.stop.notify_one();
            ProxyResponse {
                status: 200,
                body: json!({ "stopped_at_s": at }).to_string(),
            }
        }
        _ => ProxyResponse {
            status: 404,
            body: "404 page not found".to_string(),
        },
    }
}

/// `GET .../deployments/NAME/scale`: an `autoscaling/v1` `Scale`.
fn get_scale(shared: &Shared, t: &Target) -> Response {
    let name = t.name.clone().unwrap_or_default();
    let store = shared.store();
    match store.objects.get(&key(t, &name)) {
        Some(d) => ok(StatusCode::OK, &scale_of(&store, t, d)),
        None => not_found(t, &name),
    }
}

fn scale_of(store: &Store, t: &Target, d: &Value) -> Value {
    let d = with_status(store, t, d);
    let selector = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": { "name": d["metadata"]["name"], "namespace": d["metadata"]["namespace"],
                      "uid": d["metadata"]["uid"], "resourceVersion": d["metadata"]["resourceVersion"] },
        "spec": { "replicas": d["spec"]["replicas"].as_u64().unwrap_or(1) },
        "status": { "replicas": d["status"]["replicas"], "selector": selector },
    })
}

/// `PATCH .../deployments/NAME/scale` with a JSON merge patch of `spec.replicas`.
fn patch_scale(shared: &Arc<Shared>, t: &Target, headers: &HeaderMap, body: &[u8]) -> Response {
    let name = t.name.clone().unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/merge-patch+json" {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the fake API server patches scale with a JSON merge patch only, not {content_type:?}"
            ),
            None,
            Some(t),
        );
    }
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "error decoding patch: invalid JSON".into(),
            None,
            Some(t),
        );
    };
    let replicas = match &patch["spec"]["replicas"] {
        Value::Null => None,
        v => match v.as_i64() {
            Some(n) if n >= 0 => Some(n),
            _ => {
                return status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    format!(
                        "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {v}: must be greater than or equal to 0"
                    ),
                    Some(&name),
                    Some(t),
                );
            }
        },
    };
    {
        let mut store = shared.store();
        store.next_rv += 1;
        let rv = store.next_rv.to_string();
        let Some(d) = store.objects.get_mut(&key(t, &name)) else {
            return not_found(t, &name);
        };
        if let Some(n) = replicas {
            d["spec"]["replicas"] = json!(n);
            d["metadata"]["generation"] =
                json!(d["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
        }
        d["metadata"]["resourceVersion"] = json!(rv);
    }
    reconcile_deployment(shared, &t.namespace, &name);
    let store = shared.store();
    match store.objects.get(&key(t, &name)) {
        Some(d) => ok(StatusCode::OK, &scale_of(&store, t, d)),
        None => not_found(t, &name),
    }
}

fn logs(shared: &Shared, t: &Target) -> Response {
    let name = t.name.clone().unwrap_or_default();
    let store = shared.store();
    match store.objects.get(&key(t, &name)) {
        Some(p) => (
            StatusCode::OK,
            [("content-type", "text/plain")],
            p["fakeLogs"].as_str().unwrap_or_default().to_string(),
        )
            .into_response(),
        None => not_found(t, &name),
    }
}

fn delete(shared: &Arc<Shared>, t: &Target) -> Response {
    let name = t.name.clone().unwrap_or_default();
    let removed = {
        let mut store = shared.store();
        let removed = store.objects.remove(&key(t, &name));
        if removed.is_some() && t.resource == "namespaces" {
            // Terminating for a moment, then gone with everything in it.
            let mut ns = removed.clone().unwrap_or_default();
            ns["status"]["phase"] = json!("Terminating");
            store.objects.insert(key(t, &name), ns);
        }
        removed
    };
    let Some(mut object) = removed else {
        return not_found(t, &name);
    };
    match t.resource.as_str() {
        "namespaces" => {
            object["status"]["phase"] = json!("Terminating");
            let shared = shared.clone();
            let k = key(t, &name);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut store = shared.store();
                store.objects.retain(|(_, ns, _, _), _| ns != &name);
                store.objects.remove(&k);
            });
        }
        "pods" => {
            // The owning Deployment's controller replaces it.
            if let Some(owner) = object["metadata"]["ownerReferences"][0]["name"].as_str() {
                reconcile_deployment(shared, &t.namespace, owner);
            }
        }
        "deployments" => {
            let mut store = shared.store();
            store.objects.retain(|(_, ns, r, _), p| {
                !(r == "pods"
                    && ns == &t.namespace
                    && p["metadata"]["ownerReferences"][0]["name"] == name.as_str())
            });
        }
        _ => {}
    }
    ok(StatusCode::OK, &object)
}

async fn proxy(
    shared: &Shared,
    t: &Target,
    method: &Method,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response {
    let target = t.name.clone().unwrap_or_default();
    // `name:port`, `scheme:name:port` or `name`.
    let parts: Vec<&str> = target.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [n] => ((*n).to_string(), None),
        [n, p] => ((*n).to_string(), Some((*p).to_string())),
        [_, n, p] => ((*n).to_string(), Some((*p).to_string())),
        _ => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("invalid proxy target {target:?}"),
                None,
                Some(t),
            );
        }
    };
    let (exists, exited) = {
        let store = shared.store();
        let o = store.objects.get(&key(t, &name)).cloned();
        match (t.resource.as_str(), o) {
            ("pods", Some(p)) => {
                let phase = &p["status"]["phase"];
                (
                    Some(phase == "Running"),
                    phase == "Succeeded" || phase == "Failed",
                )
            }
            (_, Some(_)) => (Some(true), false),
            (_, None) => (None, false),
        }
    };
    match exists {
        None => return not_found(t, &name),
        Some(false) => {
            if exited && let Some(delay) = shared.config.exited_pod_proxy_delay {
                tokio::time::sleep(delay).await;
            }
            return status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("error trying to reach service: pod {name} is not running"),
                Some(&name),
                Some(t),
            );
        }
        Some(true) => {}
    }
    // The API server authenticates the caller and does not pass its credentials on.
    let headers: BTreeMap<String, String> = headers
        .iter()
        .filter(|(k, _)| k.as_str() != "authorization")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let request = ProxyRequest {
        namespace: t.namespace.clone(),
        resource: t.resource.clone(),
        name,
        port,
        method: method.to_string(),
        path: t.rest.clone(),
        query: query.to_string(),
        headers,
        body: body.to_vec(),
    };
    shared.store().proxied.push(request.clone());
    let loadgen_port = chaos_k8s::manifests::LOADGEN_PORT.to_string();
    // The load generator's port is always the fake Job Pod's; the test's handlers see the agents.
    let answer = match &shared.config.proxy_async {
        _ if t.resource == "pods" && request.port.as_deref() == Some(loadgen_port.as_str()) => {
            fake_loadgen(shared, &request)
        }
        Some(f) => f(request).await,
        None => (shared.config.proxy)(&request),
    };
    let code = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    (code, [("content-type", "application/json")], answer.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        let t = parse("/apis/apps/v1/namespaces/ns1/deployments/web").unwrap();
        assert_eq!(
            (
                t.prefix.as_str(),
                t.namespace.as_str(),
                t.resource.as_str(),
                t.name.as_deref()
            ),
            ("/apis/apps/v1", "ns1", "deployments", Some("web"))
        );
        let t = parse("/api/v1/namespaces/ns1").unwrap();
        assert_eq!(
            (t.namespace.as_str(), t.resource.as_str(), t.name.as_deref()),
            ("", "namespaces", Some("ns1"))
        );
        let t = parse("/api/v1/namespaces/ns1/pods/p-1:8080/proxy/_chaos/faults/x").unwrap();
        assert_eq!(
            (t.name.as_deref(), t.sub.as_deref(), t.rest.as_str()),
            (Some("p-1:8080"), Some("proxy"), "/_chaos/faults/x")
        );
        let t = parse("/api/v1/namespaces/ns1/pods").unwrap();
        assert_eq!(
            (t.namespace.as_str(), t.resource.as_str(), t.name),
            ("ns1", "pods", None)
        );
    }

    #[test]
    fn selectors_and_encoding() {
        assert_eq!(percent_decode("a%3Db%2Cc%3Dd"), "a=b,c=d");
        let o = json!({ "metadata": { "labels": { "a": "b", "c": "d" } } });
        assert!(labels_match(&o, "a=b,c=d"));
        assert!(!labels_match(&o, "a=x"));
        assert_eq!(base64(b"chaos"), "Y2hhb3M=");
        assert_eq!(base64(b"ab"), "YWI=");
        for text in [
            &b"chaos"[..],
            b"ab",
            b"abc",
            b"0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(unbase64(&base64(text)).unwrap(), text);
        }
    }
}
