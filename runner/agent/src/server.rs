//! One replica of one service: the HTTP server, its admission (rate limit, queue, workers)
//! and the wire faults in front of it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, put};
use chaos_plan::{CircuitBreaker, Endpoint, Plan, Service, Step, TokenBucket};
use chaos_report::Cause;
use tokio::net::TcpListener;

use crate::admission::{Admission, Admit, Refused};
use crate::balance::PeerSet;
use crate::breaker::Breakers;
use crate::control;
use crate::exec::{self, Failure};
use crate::faults::Faults;
use crate::metrics::Metrics;
use crate::wire;

/// Everything `chaos agent` is started with.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub plan: Plan,
    pub service: String,
    pub replica: String,
    pub listen: SocketAddr,
    /// Bearer token of the control API; without one, every control call is refused.
    pub token: Option<String>,
    /// Base URLs of callee replicas, by service.
    pub peers: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("service `{name}` is not in the plan (services: {known})")]
    UnknownService { name: String, known: String },
    #[error("--peer names service `{name}`, which is not in the plan")]
    UnknownPeer { name: String },
    #[error("cannot listen on {addr}: {source}{hint}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// A replica's shared state, used by every request.
pub struct Agent {
    pub service: Service,
    pub replica: String,
    pub token: Option<String>,
    pub faults: Faults,
    pub metrics: Metrics,
    pub peers: BTreeMap<String, PeerSet>,
    pub client: reqwest::Client,
    breakers: Breakers,
    /// Workers and the wait queue (priorities, discipline, shedding).
    admission: Arc<Admission>,
    /// The rate limit's bucket, on the clock of `started`.
    bucket: Option<Mutex<TokenBucket>>,
    started: Instant,
}

impl Agent {
    pub fn new(cfg: &AgentConfig) -> Result<Agent, AgentError> {
        let plan = &cfg.plan;
        let Some(service) = plan.service(&cfg.service).cloned() else {
            return Err(AgentError::UnknownService {
                name: cfg.service.clone(),
                known: plan
                    .services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if let Some(name) = cfg.peers.keys().find(|n| plan.service(n).is_none()) {
            return Err(AgentError::UnknownPeer { name: name.clone() });
        }
        let mut peers = BTreeMap::new();
        for callee in callees(&service) {
            let (balance, eject) = plan
                .service(&callee)
                .map_or((chaos_plan::Balance::RoundRobin, None), |s| {
                    (s.balance, s.eject)
                });
            let urls = cfg.peers.get(&callee).cloned().unwrap_or_default();
            peers.insert(callee, PeerSet::with_eject(balance, eject, &urls));
        }
        // The plan's limit is per service; each replica takes its share of the initial count.
        let bucket = service.rate_limit_per_s.map(|r| {
            let share = r / f64::from(service.replicas.initial().max(1));
            Mutex::new(TokenBucket::new(share, 0.0))
        });
        Ok(Agent {
            replica: cfg.replica.clone(),
            token: cfg.token.clone(),
            faults: Faults::new(&service.name),
            metrics: Metrics::new(&service.name, &cfg.replica, service.workers),
            peers,
            client: http_client(),
            breakers: Breakers::default(),
            admission: Admission::new(service.workers, service.queue, service.discipline),
            bucket,
            started: Instant::now(),
            service,
        })
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.service.endpoints.iter().find(|e| e.name == name)
    }

    fn now_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// May an attempt to `callee` go out now? `None`: the circuit is open.
    pub fn breaker_admit(
        &self,
        callee: &str,
        cfg: &CircuitBreaker,
    ) -> Option<chaos_plan::Admission> {
        self.breakers.admit(callee, cfg, self.now_s())
    }

    /// The outcome of an attempt to `callee` that the breaker let through as `admission`.
    pub fn breaker_record(&self, callee: &str, admission: chaos_plan::Admission, failed: bool) {
        self.breakers
            .record(callee, self.now_s(), admission, failed);
    }
}

/// The client every agent and the load generator use: pooled keep-alive connections, no
/// proxy (loopback must never go through one), Nagle off for small requests.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(4096)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Services called (or sent to) anywhere in a service's endpoints.
pub fn callees(service: &Service) -> Vec<String> {
    fn walk(steps: &[Step], out: &mut Vec<String>) {
        for s in steps {
            match s {
                Step::Call(c) if !out.contains(&c.service) => out.push(c.service.clone()),
                Step::Send { service, .. } if !out.contains(service) => out.push(service.clone()),
                Step::Parallel { steps } => walk(steps, out),
                Step::Choice { branches } => branches.iter().for_each(|b| walk(&b.steps, out)),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for e in &service.endpoints {
        walk(&e.steps, &mut out);
    }
    out
}

/// The router: the control API under `/_chaos/`, every other path an endpoint of the service.
pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/_chaos/health", get(control::health))
        .route("/_chaos/check", get(check))
        .route("/_chaos/metrics", get(control::metrics))
        .route(
            "/_chaos/faults",
            delete(control::clear_faults)
                .post(control::install_fault)
                .get(control::list_faults),
        )
        .route("/_chaos/faults/{id}", delete(control::remove_fault))
        .route("/_chaos/peers", put(control::set_peers))
        .route("/metrics", any(metrics_or_endpoint))
        .fallback(serve_endpoint)
        .with_state(agent)
}

/// A started agent: its address, and the task serving it.
pub struct Running {
    pub addr: SocketAddr,
    pub agent: Arc<Agent>,
    pub task: tokio::task::JoinHandle<Result<(), AgentError>>,
}

/// Binds and starts serving in the background (used by tests and benches in-process).
pub async fn start(cfg: AgentConfig) -> Result<Running, AgentError> {
    let agent = Arc::new(Agent::new(&cfg)?);
    let listener = bind(cfg.listen).await?;
    let addr = listener.local_addr().map_err(AgentError::Serve)?;
    let app = router(agent.clone());
    let task =
        tokio::spawn(async move { axum::serve(listener, app).await.map_err(AgentError::Serve) });
    Ok(Running { addr, agent, task })
}

/// Serves until the process ends (the `chaos agent` command).
pub async fn serve(cfg: AgentConfig) -> Result<(), AgentError> {
    let agent = Arc::new(Agent::new(&cfg)?);
    let listener = bind(cfg.listen).await?;
    axum::serve(listener, router(agent))
        .await
        .map_err(AgentError::Serve)
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AgentError> {
    TcpListener::bind(addr).await.map_err(|source| {
        let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
            " (the port is taken by another process; pick another with --listen)"
        } else {
            ""
        };
        AgentError::Bind { addr, source, hint }
    })
}

/// Keeps a gauge raised while a request waits or is served, even if the caller goes away.
struct Gauge<'a>(&'a Metrics, bool);

impl<'a> Gauge<'a> {
    fn up(m: &'a Metrics, busy: bool) -> Gauge<'a> {
        m.gauge(busy, 1);
        Gauge(m, busy)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.gauge(self.1, -1);
    }
}

pub fn failure_response(f: Failure) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, f.cause.name()).into_response();
    r.headers_mut().insert(
        HeaderName::from_static(wire::CAUSE_HEADER),
        HeaderValue::from_static(f.cause.name()),
    );
    r
}

/// `GET /metrics` without `x-chaos-endpoint` is a scrape: Prometheus never sends that header,
/// and every caller chaos starts always does, so a service may still declare its own
/// `GET /metrics` (or `metrics`, i.e. `POST /metrics`) endpoint and be driven through it.
async fn metrics_or_endpoint(State(agent): State<Arc<Agent>>, req: Request<Body>) -> Response {
    if req.method() == axum::http::Method::GET && !req.headers().contains_key(wire::ENDPOINT_HEADER)
    {
        let text = crate::prometheus::render(&crate::prometheus::view(&agent));
        return (
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(crate::prometheus::CONTENT_TYPE),
            )],
            text,
        )
            .into_response();
    }
    serve_endpoint(State(agent), req).await
}

async fn serve_endpoint(State(agent): State<Arc<Agent>>, req: Request<Body>) -> Response {
    let start = Instant::now();
    let name = match req
        .headers()
        .get(wire::ENDPOINT_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(n) => n.to_string(),
        None => {
            let c = wire::candidates(req.method().as_str(), req.uri().path());
            c.into_iter()
                .find(|n| agent.endpoint(n).is_some())
                .unwrap_or_default()
        }
    };
    let Some(endpoint) = agent.endpoint(&name) else {
        let known: Vec<&str> = agent
            .service
            .endpoints
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let msg = format!(
            "service `{}` has no endpoint `{name}` (endpoints: {})\n",
            agent.service.name,
            known.join(", ")
        );
        return (StatusCode::NOT_FOUND, msg).into_response();
    };
    let priority = wire::priority_of(req.headers());
    let in_flight = agent.metrics.in_flight(&endpoint.name);
    let outcome = handle(&agent, endpoint, priority).await;
    drop(in_flight);
    let served = start.elapsed();
    agent.metrics.received(
        &endpoint.name,
        served.as_secs_f64(),
        outcome.map_err(|f| f.cause),
    );
    let mut r = match outcome {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(f) => failure_response(f),
    };
    r.headers_mut().insert(
        HeaderName::from_static(wire::SERVED_HEADER),
        wire::served_value(served),
    );
    r
}

async fn handle(agent: &Arc<Agent>, endpoint: &Endpoint, priority: u8) -> Result<(), Failure> {
    inbound_faults(agent, &endpoint.name).await?;
    if let Some(bucket) = &agent.bucket
        && !bucket
            .lock()
            .map(|mut b| b.take(agent.started.elapsed().as_secs_f64()))
            .unwrap_or(true)
    {
        return Err(Failure {
            status: 429,
            cause: Cause::RateLimited,
        });
    }
    let refused = |r: Refused| Failure {
        status: 503,
        cause: match r {
            Refused::Rejected => Cause::Rejected,
            Refused::Shed => Cause::Shed,
        },
    };
    let permit = match agent.admission.offer(priority).map_err(refused)? {
        Admit::Now(p) => p,
        Admit::Wait(w) => {
            let _waiting = Gauge::up(&agent.metrics, false);
            w.granted().await.map_err(refused)?
        }
    };
    let _busy = Gauge::up(&agent.metrics, true);
    let r = exec::run_steps(
        agent,
        &endpoint.name,
        priority,
        &endpoint.steps,
        permit.granted_at(),
    )
    .await;
    drop(permit);
    r
}

/// The faults on the wire in front of the replica, for a request to `endpoint` (a health
/// check passes `""`, which only service-wide faults hit): no worker is held.
async fn inbound_faults(agent: &Agent, endpoint: &str) -> Result<(), Failure> {
    let delay = agent.faults.wire_delay_s(endpoint);
    if delay > 0.0 {
        crate::clock::sleep_s(delay).await;
    }
    if agent.faults.lost(endpoint) {
        // Never answer; the caller's timeout (or the end of the run) ends the exchange.
        std::future::pending::<()>().await;
    }
    if let Some(status) = agent.faults.injected_status(endpoint) {
        return Err(Failure {
            status,
            cause: Cause::Injected,
        });
    }
    Ok(())
}

/// `GET /_chaos/check`: the replica's health as a check from outside the topology sees it
/// (a kubelet's readiness probe): through the replica's inbound faults, so injected latency
/// counts toward the checker's timeout, loss never answers and injected errors fail it.
pub async fn check(State(agent): State<Arc<Agent>>) -> Response {
    match inbound_faults(&agent, "").await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(f) => failure_response(f),
    }
}
