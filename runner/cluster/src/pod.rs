//! The load generator's side of a cluster run (`chaos loadgen --listen`, in the Job's Pod): it
//! runs the workloads and serves a small status API that the runner reads through the API
//! server's Pod proxy: when the load started (a precise time 0 for the fault schedule), the
//! timeline windows closed so far (to watch `abort when` during the run), and a stop.
//!
//! With several load generator Pods (`--share I/N`, an Indexed Job), each waits, once its
//! targets are ready, for the runner's start (`--wait-for-start`): the runner starts them all
//! at one instant, so their windows line up and are merged by index.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chaos_agent::loadgen::{Loadgen, Share};
use chaos_plan::Plan;
use chaos_report::{Recorder, Recording, WindowSample};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The workloads' targets are Services, and kube-proxy balances connections, not requests: a
/// connection kept for the whole run would never reach a Pod that autoscaling added. Each is
/// renewed after a second, so new Pods get their share within about one (at the cost of one
/// connect per worker per second).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(1);

/// `GET` (with `?from=N`): a [`LoadgenStatus`].
pub const STATUS_PATH: &str = "/_chaos/loadgen";
/// `POST`: stop sending now (an abort); in-flight requests still finish, then the Recording is printed.
pub const STOP_PATH: &str = "/_chaos/loadgen/stop";
/// `POST` with a [`StartRequest`]: a load generator started with `--wait-for-start` begins
/// sending `in_s` seconds after this request reached it.
pub const START_PATH: &str = "/_chaos/loadgen/start";
/// A window is served once the load generator's clock is this far past its end: a request
/// answered just before the boundary is recorded a moment later.
pub const SETTLE_S: f64 = 0.25;
/// At most this many windows per answer (the runner asks again from where it got to).
const MAX_WINDOWS: usize = 32;

/// Body of `GET /_chaos/loadgen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadgenStatus {
    /// Wall clock at time 0 on the load generator's node, RFC 3339 in UTC with milliseconds
    /// (for people and logs; the runner uses `elapsed_s`, which needs no synchronised clocks).
    pub started_at: Option<String>,
    /// Seconds since time 0 on the load generator's monotonic clock when this answer was made;
    /// absent until the load starts (the targets' health checks come first).
    pub elapsed_s: Option<f64>,
    /// Index of the first window in `windows`.
    pub from: usize,
    /// Closed timeline windows from `from` on, as the load generator recorded them.
    pub windows: Vec<WindowSample>,
    /// When a stop was asked for (seconds since time 0).
    pub stopped_at_s: Option<f64>,
    /// Its targets are ready and it waits for [`START_PATH`] (`--wait-for-start`).
    #[serde(default)]
    pub waiting: bool,
}

/// Body of `POST /_chaos/loadgen/start`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    /// Seconds from this request's arrival to the first send: the runner gives every Pod the
    /// same instant on its own clock, less what has passed since it chose it.
    pub in_s: f64,
}

#[derive(Debug, Deserialize)]
struct From {
    from: Option<usize>,
}

struct Shared {
    token: Option<String>,
    started: Mutex<Option<(Instant, String)>>,
    recorder: Arc<Mutex<Recorder>>,
    stop: watch::Sender<bool>,
    stopped_at: Mutex<Option<f64>>,
    /// Ready and waiting for the runner's start.
    waiting: AtomicBool,
    /// The instant the runner said to start at.
    start: watch::Sender<Option<Instant>>,
}

impl Shared {
    fn elapsed(&self) -> Option<(f64, String)> {
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(t0, wall)| (t0.elapsed().as_secs_f64(), wall.clone()))
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        header(crate::session::TOKEN_HEADER) == Some(token.as_str())
            || header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|v| v == token)
    }
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": "missing or wrong control token" })),
    )
        .into_response()
}

async fn status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<From>,
) -> Response {
    if !shared.authorised(&headers) {
        return unauthorised();
    }
    let from = q.from.unwrap_or(0);
    let started = shared.elapsed();
    let windows = match &started {
        Some((elapsed, _)) => {
            let mut r = shared
                .recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Time has passed even if no request finished: close the windows behind us.
            r.advance_to((elapsed - SETTLE_S).max(0.0));
            let closed = r.closed_windows();
            closed
                .iter()
                .skip(from)
                .take(MAX_WINDOWS)
                .cloned()
                .collect()
        }
        None => Vec::new(),
    };
    Json(LoadgenStatus {
        started_at: started.as_ref().map(|(_, w)| w.clone()),
        elapsed_s: started.map(|(e, _)| e),
        from,
        windows,
        stopped_at_s: *shared
            .stopped_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
        waiting: shared.waiting.load(Ordering::Relaxed),
    })
    .into_response()
}

async fn start(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<StartRequest>,
) -> Response {
    let arrived = Instant::now();
    if !shared.authorised(&headers) {
        return unauthorised();
    }
    if shared.elapsed().is_some() {
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "the load has started already" })),
        )
            .into_response();
    }
    // At most an hour ahead: anything further is a mistake, not a plan.
    let in_s = if body.in_s.is_finite() {
        body.in_s.clamp(0.0, 3600.0)
    } else {
        0.0
    };
    shared
        .start
        .send_replace(Some(arrived + Duration::from_secs_f64(in_s)));
    Json(serde_json::json!({ "in_s": in_s })).into_response()
}

async fn stop(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !shared.authorised(&headers) {
        return unauthorised();
    }
    let at = shared.elapsed().map_or(0.0, |(e, _)| e);
    let at = *shared
        .stopped_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert(at);
    shared.stop.send_replace(true);
    Json(serde_json::json!({ "stopped_at_s": at })).into_response()
}

/// Aborts the status server when the run is over (or the future is dropped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How one `chaos loadgen --listen` runs.
#[derive(Debug, Clone)]
pub struct LoadgenOptions {
    pub seed: u64,
    /// The control token the targets must accept and the status API asks for.
    pub token: Option<String>,
    /// How long the targets get to answer their health checks.
    pub ready_timeout: Duration,
    /// This Pod's share of the load.
    pub share: Share,
    /// Start on the runner's [`START_PATH`], not as soon as the targets are ready.
    pub wait_for_start: bool,
}

/// Serves the status API on `listener`, waits for the targets' health checks (and their
/// acceptance of `token`) and, with `wait_for_start`, for the runner's start, runs its share
/// of every workload, and returns what it recorded. A stop ends the sending early; the
/// Recording's `ended_s` is then the stop time.
pub async fn run_loadgen(
    plan: Arc<Plan>,
    targets: &BTreeMap<String, Vec<String>>,
    listener: tokio::net::TcpListener,
    options: LoadgenOptions,
    say: impl Fn(&str),
) -> Result<Recording, String> {
    let LoadgenOptions {
        seed,
        token,
        ready_timeout,
        share,
        wait_for_start,
    } = options;
    let loadgen = Loadgen::new(plan.clone(), targets, seed)
        .map_err(|e| e.to_string())?
        .with_share(share)
        .with_connection_lifetime(CONNECTION_LIFETIME);
    let recorder = Arc::new(Mutex::new(Recorder::new(&plan, "loadgen", seed)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (start_tx, start_rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        token: token.clone(),
        started: Mutex::new(None),
        recorder: recorder.clone(),
        stop: stop_tx,
        stopped_at: Mutex::new(None),
        waiting: AtomicBool::new(false),
        start: start_tx,
    });
    let app = axum::Router::new()
        .route(STATUS_PATH, axum::routing::get(status))
        .route(STOP_PATH, axum::routing::post(stop))
        .route(START_PATH, axum::routing::post(start))
        .with_state(shared.clone());
    let _server = AbortOnDrop(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }));
    chaos_agent::loadgen::wait_ready(targets, ready_timeout).await?;
    if let Some(t) = &token {
        chaos_agent::loadgen::check_token(targets, t).await?;
    }
    if wait_for_start {
        say(&format!(
            "share {share} of the load; targets ready, waiting for the runner's start"
        ));
        shared.waiting.store(true, Ordering::Relaxed);
        let at = wait_for(start_rx, stop_rx.clone()).await;
        shared.waiting.store(false, Ordering::Relaxed);
        if let Some(at) = at {
            // The precise clock: every Pod wakes within microseconds of the instant.
            chaos_agent::clock::sleep_until(at).await;
        }
    }
    let t0 = Instant::now();
    let wall = rfc3339_ms(SystemTime::now());
    *shared
        .started
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some((t0, wall.clone()));
    say(&format!("load started at {wall}"));
    loadgen.run(t0, recorder.clone(), stop_rx).await;
    let stopped = *shared
        .stopped_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let ended_s = stopped.map_or(plan.scenario.duration_s, |s| {
        s.min(plan.scenario.duration_s)
    });
    // Every request task has ended; take the recorder out of its lock.
    let rec = std::mem::replace(
        &mut *recorder.lock().unwrap_or_else(PoisonError::into_inner),
        Recorder::new(&plan, "loadgen", seed),
    );
    let mut recording = rec.finish(ended_s, plan.horizon_s(), None);
    // The hop to the entry replicas as this Pod met it; the runner adds the agents' calls.
    recording.hop = Some(chaos_report::MeasuredHop {
        entry: loadgen.hop(),
        calls: chaos_report::SparseLatency::default(),
    });
    Ok(recording)
}

/// The instant the runner's start named, or `None` when a stop came first (the load then
/// starts and stops at once, so the run still ends with a Recording).
async fn wait_for(
    mut start: watch::Receiver<Option<Instant>>,
    mut stop: watch::Receiver<bool>,
) -> Option<Instant> {
    loop {
        if let Some(at) = *start.borrow_and_update() {
            return Some(at);
        }
        if *stop.borrow_and_update() {
            return None;
        }
        tokio::select! {
            changed = start.changed() => if changed.is_err() { return None },
            changed = stop.changed() => if changed.is_err() { return None },
        }
    }
}

/// `2026-11-22T15:44:50.123Z`.
pub fn rfc3339_ms(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn waits_for_the_start_or_a_stop() {
        let (start_tx, start_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let waiter = tokio::spawn(wait_for(start_rx, stop_rx));
        tokio::task::yield_now().await;
        let at = Instant::now() + Duration::from_millis(5);
        start_tx.send_replace(Some(at));
        assert_eq!(waiter.await.unwrap(), Some(at));

        let (_start_tx, start_rx) = watch::channel(None);
        let waiter = tokio::spawn(wait_for(start_rx, stop_tx.subscribe()));
        stop_tx.send_replace(true);
        assert_eq!(waiter.await.unwrap(), None);
    }

    #[test]
    fn formats_utc_with_milliseconds() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(s * 1000 + ms);
        assert_eq!(rfc3339_ms(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(at(951_782_400, 7)), "2000-02-29T00:00:00.007Z");
        assert_eq!(
            rfc3339_ms(at(1_795_362_290, 123)),
            "2026-11-22T15:44:50.123Z"
        );
    }
}
