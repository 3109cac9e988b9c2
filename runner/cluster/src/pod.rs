//! The load generator's side of a cluster run (`chaos loadgen --listen`, in the Job's Pod): it
//! runs the workloads and serves a small status API that the runner reads through the API
//! server's Pod proxy: when the load started (a precise time 0 for the fault schedule), the
//! timeline windows closed so far (to watch `abort when` during the run), and a stop.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chaos_agent::loadgen::Loadgen;
use chaos_plan::Plan;
use chaos_report::{Recorder, Recording, WindowSample};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// `GET` (with `?from=N`): a [`LoadgenStatus`].
pub const STATUS_PATH: &str = "/_chaos/loadgen";
/// `POST`: stop sending now (an abort); in-flight requests still finish, then the Recording is printed.
pub const STOP_PATH: &str = "/_chaos/loadgen/stop";
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
    })
    .into_response()
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

/// Serves the status API on `listener`, waits for the targets' health checks (and their
/// acceptance of `token`), runs every workload, and returns what it recorded. A stop ends the
/// sending early; the Recording's `ended_s` is then the stop time.
pub async fn run_loadgen(
    plan: Arc<Plan>,
    targets: &BTreeMap<String, Vec<String>>,
    seed: u64,
    listener: tokio::net::TcpListener,
    token: Option<String>,
    ready_timeout: Duration,
    say: impl Fn(&str),
) -> Result<Recording, String> {
    let loadgen = Loadgen::new(plan.clone(), targets, seed).map_err(|e| e.to_string())?;
    let recorder = Arc::new(Mutex::new(Recorder::new(&plan, "loadgen", seed)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        token: token.clone(),
        started: Mutex::new(None),
        recorder: recorder.clone(),
        stop: stop_tx,
        stopped_at: Mutex::new(None),
    });
    let app = axum::Router::new()
        .route(STATUS_PATH, axum::routing::get(status))
        .route(STOP_PATH, axum::routing::post(stop))
        .with_state(shared.clone());
    let _server = AbortOnDrop(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }));
    chaos_agent::loadgen::wait_ready(targets, ready_timeout).await?;
    if let Some(t) = &token {
        chaos_agent::loadgen::check_token(targets, t).await?;
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
    Ok(rec.finish(ended_s, plan.horizon_s(), None))
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
