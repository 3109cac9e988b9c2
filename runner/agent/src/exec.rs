//! Running an endpoint's steps for real: work, calls (timeouts, retries, breaker, ejection),
//! sends (fire-and-forget), parallel, choice and fail. Every request a step makes carries the
//! priority of the request being served unless the call sets its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos_plan::{Call, Step};
use chaos_report::Cause;
use futures::future::{BoxFuture, join_all};
use rand::Rng;
use reqwest::header::HeaderValue;

use crate::dist;
use crate::server::Agent;
use crate::wire;

/// Why an endpoint did not answer 200, and with which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    pub cause: Cause,
}

/// Runs `steps` of `endpoint`, serving a request of `priority`, in order; the first failing
/// step ends the endpoint. `ready` is when the steps may start (the worker's grant,
/// [`crate::admission::Permit::granted_at`]): a `work` step ends its duration after the end
/// of the step before it, as in the simulator, not after the instant this task got to run
/// it, so the runtime's delays in polling a woken task do not add up over a request's steps.
pub fn run_steps<'a>(
    agent: &'a Arc<Agent>,
    endpoint: &'a str,
    priority: u8,
    steps: &'a [Step],
    ready: Instant,
) -> BoxFuture<'a, Result<(), Failure>> {
    Box::pin(async move {
        let mut ready = ready;
        for step in steps {
            ready = run_step(agent, endpoint, priority, step, ready).await?;
        }
        Ok(())
    })
}

/// Runs one step that may start at `ready`; `Ok` carries when it ended: a `work` step's
/// planned end, otherwise the instant it came back (calls, sends and the rest take real time).
async fn run_step(
    agent: &Arc<Agent>,
    endpoint: &str,
    priority: u8,
    step: &Step,
    ready: Instant,
) -> Result<Instant, Failure> {
    if let Step::Work { dist } = step {
        let d = dist::sample(dist, &mut rand::rng());
        let factor = agent.faults.cpu_factor(endpoint);
        return Ok(work(ready, d, factor).await);
    }
    other_step(agent, endpoint, priority, step, ready).await?;
    Ok(Instant::now())
}

async fn other_step(
    agent: &Arc<Agent>,
    endpoint: &str,
    priority: u8,
    step: &Step,
    ready: Instant,
) -> Result<(), Failure> {
    match step {
        Step::Work { .. } => Ok(()),
        Step::Send { service, endpoint } => {
            fire_and_forget(agent, service, endpoint, priority);
            Ok(())
        }
        Step::Call(call) => {
            match self::call(agent, call, call.priority.unwrap_or(priority)).await {
                Ok(()) => Ok(()),
                Err(_) if call.continue_on_error => Ok(()),
                Err(_) => Err(Failure {
                    status: 500,
                    cause: Cause::Downstream,
                }),
            }
        }
        Step::Parallel { steps } => {
            let results = join_all(
                steps
                    .iter()
                    .map(|s| run_steps(agent, endpoint, priority, std::slice::from_ref(s), ready)),
            )
            .await;
            results
                .into_iter()
                .collect::<Result<Vec<()>, Failure>>()
                .map(|_| ())
        }
        Step::Choice { branches } => {
            let mut u: f64 = rand::rng().random();
            for b in branches {
                if u < b.probability {
                    return run_steps(agent, endpoint, priority, &b.steps, ready).await;
                }
                u -= b.probability;
            }
            // Rounding left u past the last branch: it is the last one.
            match branches.last() {
                Some(b) => run_steps(agent, endpoint, priority, &b.steps, ready).await,
                None => Ok(()),
            }
        }
        Step::Fail {
            probability,
            status,
        } => {
            if rand::rng().random::<f64>() < *probability {
                Err(Failure {
                    status: *status,
                    cause: Cause::Failed,
                })
            } else {
                Ok(())
            }
        }
    }
}

/// Busy for `d × factor` from `ready`: a sleep normally; with a cpu fault the time is spent
/// spinning on a blocking thread, so the machine's CPU is really used. Returns the planned end.
async fn work(ready: Instant, d: f64, factor: f64) -> Instant {
    let end = ready + Duration::from_secs_f64((d * factor).max(0.0));
    if factor > 1.0 {
        let _ = tokio::task::spawn_blocking(move || {
            while Instant::now() < end {
                std::hint::spin_loop();
            }
        })
        .await;
    } else if end > Instant::now() {
        crate::clock::sleep_until(end).await;
    }
    end
}

/// A `send`: the request goes out on a task of its own and the step ends at once. Its answer
/// is recorded as an attempt sent to the callee endpoint (so the callee's figures count sends
/// like calls) and otherwise ignored: no timeout, retry, breaker or ejection.
fn fire_and_forget(agent: &Arc<Agent>, service: &str, endpoint: &str, priority: u8) {
    let agent = agent.clone();
    let (service, endpoint) = (service.to_string(), endpoint.to_string());
    tokio::spawn(async move {
        let start = Instant::now();
        let outcome = if agent.faults.partitioned(&service) {
            Err((0, Cause::Connection))
        } else {
            match agent.peers.get(&service).and_then(|p| p.pick()) {
                None => Err((0, Cause::Connection)),
                Some(peer) => {
                    let sent = Instant::now();
                    let r = outbound(&agent.client, &peer.peer().url, &endpoint, priority)
                        .send()
                        .await;
                    let r = match r {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let cause = resp.headers().get(wire::CAUSE_HEADER).and_then(cause_of);
                            let served = resp.headers().get(wire::SERVED_HEADER).cloned();
                            let body = resp.bytes().await;
                            if body.is_ok()
                                && let Some(hop) = wire::hop_s(sent.elapsed(), served.as_ref())
                            {
                                agent.metrics.hop(hop);
                            }
                            body.map(|_| (status, cause))
                        }
                        Err(e) => Err(e),
                    };
                    classify(r)
                }
            }
        };
        agent.metrics.sent(
            &service,
            &endpoint,
            start.elapsed().as_secs_f64(),
            outcome.map_err(|(_, c)| c),
        );
    });
}

/// One call with its retries, at `priority`; each attempt is recorded as sent to the callee
/// endpoint.
pub async fn call(agent: &Agent, call: &Call, priority: u8) -> Result<(), Cause> {
    let mut retry = 0;
    loop {
        let outcome = attempt(agent, call, priority).await;
        match outcome {
            Ok(()) => return Ok(()),
            Err((s, c)) if c != Cause::CircuitOpen && call.retry.retries_after(retry + 1, s) => {
                retry += 1;
                let d = call.retry.backoff_s(retry, &mut rand::rng());
                if d > 0.0 {
                    crate::clock::sleep_s(d).await;
                }
            }
            Err((_, c)) => return Err(c),
        }
    }
}

async fn attempt(agent: &Agent, call: &Call, priority: u8) -> Result<(), (u16, Cause)> {
    let start = Instant::now();
    let outcome = attempt_inner(agent, call, priority).await;
    agent.metrics.sent(
        &call.service,
        &call.endpoint,
        start.elapsed().as_secs_f64(),
        outcome.map_err(|(_, c)| c),
    );
    outcome
}

async fn attempt_inner(agent: &Agent, call: &Call, priority: u8) -> Result<(), (u16, Cause)> {
    if agent.faults.partitioned(&call.service) {
        return Err((0, Cause::Connection));
    }
    let admission = match &call.circuit_breaker {
        Some(cb) => match agent.breaker_admit(&call.service, cb) {
            Some(a) => Some(a),
            None => return Err((0, Cause::CircuitOpen)),
        },
        None => None,
    };
    let outcome = send(agent, call, priority).await;
    if let Some(a) = admission {
        agent.breaker_record(&call.service, a, outcome.is_err());
    }
    outcome
}

/// Sends one attempt to a live replica of the callee; `Err((status, cause))` on failure. The
/// outcome feeds the caller's ejection of that replica (`eject`), if the callee has one.
async fn send(agent: &Agent, call: &Call, priority: u8) -> Result<(), (u16, Cause)> {
    let Some(set) = agent.peers.get(&call.service) else {
        return Err((0, Cause::Connection));
    };
    let Some(peer) = set.pick() else {
        return Err((0, Cause::Connection));
    };
    let outcome = exchange(agent, call, &peer.peer().url, priority).await;
    set.record(peer.peer(), ejection_failure(outcome));
    drop(peer);
    outcome
}

/// What outlier ejection counts as a failure: no answer (connection error, timeout, a replica
/// that died mid-answer) or a 5xx. A 4xx or 429 is the replica answering.
pub fn ejection_failure(outcome: Result<(), (u16, Cause)>) -> bool {
    match outcome {
        Ok(()) => false,
        Err((status, _)) => status == 0 || status >= 500,
    }
}

async fn exchange(agent: &Agent, call: &Call, url: &str, priority: u8) -> Result<(), (u16, Cause)> {
    let request = outbound(&agent.client, url, &call.endpoint, priority);
    let exchange = async {
        let sent = Instant::now();
        let resp = request.send().await?;
        let status = resp.status().as_u16();
        let cause = resp.headers().get(wire::CAUSE_HEADER).and_then(cause_of);
        let served = resp.headers().get(wire::SERVED_HEADER).cloned();
        resp.bytes().await?;
        if let Some(hop) = wire::hop_s(sent.elapsed(), served.as_ref()) {
            agent.metrics.hop(hop);
        }
        Ok::<_, reqwest::Error>((status, cause))
    };
    let result = match call.timeout_s {
        Some(t) => {
            match tokio::time::timeout(Duration::from_secs_f64(t.max(0.0)), exchange).await {
                Ok(r) => r,
                Err(_) => return Err((0, Cause::Timeout)),
            }
        }
        None => exchange.await,
    };
    classify(result)
}

/// The request for one attempt at `endpoint` of the replica at `base_url`, at `priority`.
pub fn outbound(
    client: &reqwest::Client,
    base_url: &str,
    endpoint: &str,
    priority: u8,
) -> reqwest::RequestBuilder {
    let (method, path) = wire::method_and_path(endpoint);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = client.request(method, format!("{base_url}{path}"));
    if let Ok(v) = HeaderValue::from_str(endpoint) {
        req = req.header(wire::ENDPOINT_HEADER, v);
    }
    if let Some(p) = wire::priority_value(priority) {
        req = req.header(wire::PRIORITY_HEADER, p);
    }
    req
}

fn cause_of(v: &HeaderValue) -> Option<Cause> {
    v.to_str().ok().and_then(wire::cause_from_name)
}

/// Maps an HTTP exchange to an outcome: 2xx is a success, anything else fails with the cause
/// the callee named, or one inferred from the status or the transport error.
pub fn classify(result: Result<(u16, Option<Cause>), reqwest::Error>) -> Result<(), (u16, Cause)> {
    match result {
        Ok((s, _)) if (200..300).contains(&s) => Ok(()),
        Ok((s, Some(c))) => Err((s, c)),
        Ok((429, None)) => Err((429, Cause::RateLimited)),
        Ok((503, None)) => Err((503, Cause::Rejected)),
        Ok((s, None)) => Err((s, Cause::Failed)),
        Err(e) if e.is_connect() => Err((0, Cause::Connection)),
        Err(e) if e.is_timeout() => Err((0, Cause::Timeout)),
        // The connection broke mid-answer: the replica died under the request.
        Err(_) => Err((0, Cause::Killed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_ends_its_duration_after_ready_not_after_it_got_to_run() {
        // Ready 50 ms ago, 5 ms of work: its end has passed, it returns at once with it.
        let ready = Instant::now() - Duration::from_millis(50);
        let end = work(ready, 0.005, 1.0).await;
        assert_eq!(end, ready + Duration::from_millis(5));
        // The next step is timed from there: 60 ms after `ready` is still 10 ms ahead.
        let next = work(end, 0.055, 1.0).await;
        assert_eq!(next, ready + Duration::from_millis(60));
        assert!(Instant::now() >= next);
    }

    #[test]
    fn ejection_counts_silence_and_5xx_only() {
        assert!(!ejection_failure(Ok(())));
        assert!(ejection_failure(Err((0, Cause::Timeout))));
        assert!(ejection_failure(Err((0, Cause::Connection))));
        assert!(ejection_failure(Err((503, Cause::Injected))));
        assert!(!ejection_failure(Err((429, Cause::RateLimited))));
        assert!(!ejection_failure(Err((404, Cause::Failed))));
    }

    #[test]
    fn statuses_map_to_causes() {
        assert_eq!(classify(Ok((200, None))), Ok(()));
        assert_eq!(classify(Ok((429, None))), Err((429, Cause::RateLimited)));
        assert_eq!(
            classify(Ok((503, Some(Cause::Injected)))),
            Err((503, Cause::Injected))
        );
        assert_eq!(classify(Ok((500, None))), Err((500, Cause::Failed)));
    }
}
