//! `chaos run --dashboard`: an HTTP server on its own thread and runtime (the runners bring
//! their own), serving the live page, its server-sent events, the run's `/metrics` and, once
//! the run is over, the HTML report.
//!
//! Routes: `/` the page (self-contained, no network needed; the windows so far are inlined
//! so it paints at once), `/events` SSE (`update`: a `LiveUpdate` as JSON, once per window
//! and at the end; `done`: the verdict and the HTML report, then the stream ends),
//! `/metrics` (Prometheus text), `/update` (the update of this moment, JSON), `/report`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as Sse_, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::broadcast::error::RecvError;

use super::{Event, Hub};

const PAGE: &str = include_str!("page.html");
/// Where the page's script finds the windows so far.
const INITIAL: &str = "/*INITIAL*/[]";

/// The dashboard's server; stops when dropped.
pub struct Dashboard {
    pub addr: SocketAddr,
    hub: Arc<Hub>,
    rt: tokio::runtime::Runtime,
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(
        "--dashboard {0}: not an address (write HOST:PORT, e.g. 127.0.0.1:5665; before the scenario's file, write --dashboard=ADDR or --dashboard with the file first)"
    )]
    Address(String),
    #[error("--dashboard cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error("cannot start the dashboard's runtime: {0}")]
    Runtime(std::io::Error),
}

impl Dashboard {
    /// Listens on `addr` now (so a taken port is an error before the run starts) and serves.
    pub fn start(hub: Arc<Hub>, addr: &str) -> Result<Dashboard, DashboardError> {
        // An IP address and port, or a host name (`localhost:5665`) resolved here.
        let parsed: SocketAddr = match addr.parse() {
            Ok(a) => a,
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(addr)
                .ok()
                .and_then(|mut all| all.next())
                .ok_or_else(|| DashboardError::Address(addr.to_string()))?,
        };
        let listener = std::net::TcpListener::bind(parsed)
            .map_err(|e| DashboardError::Listen(addr.to_string(), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| DashboardError::Listen(addr.to_string(), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| DashboardError::Listen(addr.to_string(), e))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("chaos-dashboard")
            .enable_all()
            .build()
            .map_err(DashboardError::Runtime)?;
        let app = Router::new()
            .route("/", get(page))
            .route("/events", get(events))
            .route("/metrics", get(metrics))
            .route("/update", get(update))
            .route("/report", get(report))
            .with_state(hub.clone());
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(listener)
                .map_err(|e| DashboardError::Listen(addr.to_string(), e))?
        };
        rt.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("warning: the dashboard stopped serving: {e}");
            }
        });
        Ok(Dashboard {
            addr: local,
            hub,
            rt,
        })
    }

    /// After the run: lets connected pages receive the end (a few seconds at most).
    pub fn let_pages_finish(&self) {
        let until = Instant::now() + Duration::from_secs(3);
        while self.hub.watchers() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Serves until Ctrl-C or SIGTERM (`--dashboard-keep`).
    pub fn serve_until_interrupted(&self) {
        self.rt.block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                if let Ok(mut term) = signal(SignalKind::terminate()) {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                    return;
                }
            }
            let _ = tokio::signal::ctrl_c().await;
        });
    }
}

async fn page(State(hub): State<Arc<Hub>>) -> Html<String> {
    // `</` inside the inlined JSON would end the script element.
    let initial = hub.history_json().replace("</", "<\\/");
    Html(PAGE.replacen(INITIAL, &initial, 1))
}

async fn update(State(hub): State<Arc<Hub>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&hub.update()).unwrap_or_default(),
    )
        .into_response()
}

async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        hub.metrics(),
    )
        .into_response()
}

async fn report(State(hub): State<Arc<Hub>>) -> Response {
    match hub.report_html() {
        Some(html) => Html(html.to_string()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "the run is not over yet: the report is written at its end\n",
        )
            .into_response(),
    }
}

async fn events(
    State(hub): State<Arc<Hub>>,
) -> Sse<impl futures::Stream<Item = Result<Sse_, Infallible>>> {
    let (past, rx) = hub.subscribe();
    let stream = futures::stream::unfold(
        (VecDeque::from(past), rx, false),
        |(mut past, mut rx, ended)| async move {
            if ended {
                return None;
            }
            let event = match past.pop_front() {
                Some(e) => e,
                None => loop {
                    match rx.recv().await {
                        Ok(e) => break e,
                        // A slow page misses updates; the next one carries the state anew.
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    }
                },
            };
            let (sse, done) = match event {
                Event::Update(json) => (Sse_::default().event("update").data(&*json), false),
                Event::Done(json) => (Sse_::default().event("done").data(&*json), true),
            };
            Some((Ok(sse), (past, rx, done)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
