//! The plan: a fully resolved, versioned description of one scenario run.
//!
//! The compiler writes it, every back end and runner reads it, and nothing else passes between
//! them. Every default is filled in, every name is resolved (and checked to exist), every
//! quantity is in base units: seconds, requests per second, fractions in `0..=1`, bytes.
//! Names are kept as strings so `plan.json` reads well; consumers index them once at load.
//! Collections keep declaration order so output is deterministic.

use serde::{Deserialize, Serialize};

pub mod arrivals;
pub mod breaker;
pub mod conduct;
pub mod explore;
pub mod resilience;
mod retry;
mod rules;
pub mod sample;

pub use arrivals::{ArrivalTimes, PlanRng, RateFn, UsersRamp, arrival_rng};
pub use breaker::{Admission, Breaker, BreakerState};
pub use conduct::{Conductor, Decision, Due};
pub use resilience::{
    Ejector, HealthTracker, MAX_PRIORITY, Offer, WaitQueue, pick_replicas, subset_size,
};
pub use retry::{backoff_s, retryable_status};
pub use rules::{MIN_RESTART_S, MIN_ROUND_TRIP_S, TokenBucket, next_user_send_s, restart_after_s};

/// Bumped on every change that an older reader would misread.
pub const PLAN_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub scenario: Scenario,
    /// Params after `--set` overrides, as the user wrote them (for reports and hover).
    pub params: Vec<Param>,
    pub services: Vec<Service>,
    pub workloads: Vec<Workload>,
    pub faults: Vec<Fault>,
    pub expectations: Vec<Expectation>,
    pub aborts: Vec<Abort>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    /// Canonical source text of the value, e.g. `400/s`.
    pub value: String,
    pub overridden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub seed: u64,
    pub window_s: f64,
    /// Time after `duration_s` that in-flight requests get to finish: the longest client or
    /// call timeout in the plan, or 30 s when there is none. Unfinished after it = `unfinished`.
    pub drain_s: f64,
    /// The model's cost of one network hop (`hop`): the time an attempt's caller waits on top
    /// of the callee's own time, for the request and its answer to cross the network and both
    /// HTTP stacks. The simulator adds it to every attempt that reaches a replica (calls and
    /// the load generator's requests alike); real runs pay the real one and measure it
    /// ([`HOP_DEFAULT_S`]).
    #[serde(default, skip_serializing_if = "is_zero_s")]
    pub hop_s: f64,
}

/// `hop` when a scenario does not say: none. A scenario's figures then are its services' own
/// times, as written; `--local` and `--cluster` report the hop they measured beside it, so a
/// difference that comes from the network shows as such.
pub const HOP_DEFAULT_S: f64 = 0.0;

fn is_zero_s(s: &f64) -> bool {
    *s == 0.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub replicas: Replicas,
    /// Requests served concurrently by one replica (>= 1).
    pub workers: u32,
    /// Requests waiting per replica; `None` is unbounded. Beyond it: rejected (503), or a
    /// lower-priority waiting request is shed ([`WaitQueue`]).
    pub queue: Option<u32>,
    /// Which waiting request of the highest waiting priority a free worker takes.
    #[serde(default, skip_serializing_if = "Discipline::is_fifo")]
    pub discipline: Discipline,
    /// Callers send only to replicas whose checks pass ([`HealthTracker`]); `None`: callers
    /// know at once which replicas are alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Outlier ejection by each caller of this service ([`Ejector`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eject: Option<Eject>,
    /// Token bucket per service ([`TokenBucket`]: one second of tokens, at least one);
    /// excess rejected (429).
    pub rate_limit_per_s: Option<f64>,
    /// A killed replica serves again this long after it died (never sooner than
    /// [`MIN_RESTART_S`]: see [`restart_after_s`]).
    pub restart_s: f64,
    pub balance: Balance,
    /// Default work of an endpoint without a `work` step (already applied to empty bodies).
    pub latency: Dist,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discipline {
    #[default]
    Fifo,
    Lifo,
}

impl Discipline {
    fn is_fifo(&self) -> bool {
        *self == Discipline::Fifo
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// `health_check every 2s timeout 500ms unhealthy 3 healthy 2`: a check every `every_s`,
/// answered by the replica like a request and failed past `timeout_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub every_s: f64,
    pub timeout_s: f64,
    /// Consecutive failed checks that take a healthy replica out (>= 1).
    pub unhealthy: u32,
    /// Consecutive passed checks that put a replica (back) in (>= 1).
    pub healthy: u32,
}

/// `eject after 5 errors for 30s max 50%`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eject {
    /// Consecutive failed calls (connection errors, timeouts, 5xx) to one replica.
    pub after: u32,
    pub for_s: f64,
    /// At most this fraction of the replicas (rounded down) ejected at once, in `(0, 1]`.
    pub max_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Replicas {
    Fixed {
        count: u32,
    },
    /// Each `interval_s` the [`ScaleRule`] decides the count, clamped to `min..=max`;
    /// replicas added serve after `delay_s`. A replica removed on scale-down that
    /// still finishes its requests counts toward `max` (a scale-up takes it back first), so no
    /// more than `max` run at once.
    Autoscale {
        min: u32,
        max: u32,
        rule: ScaleRule,
        delay_s: f64,
        interval_s: f64,
    },
}

/// How an autoscaled service picks its replica count from the workers' utilisation (busy
/// over available worker-time) over the last interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ScaleRule {
    /// The HPA rule, [`desired_replicas`]: `ceil(current × utilisation / target)`.
    Target { utilisation: f64 },
    /// Watermarks: one replica more when utilisation is above `up`, one fewer when below
    /// `down` (`up > down`, fractions).
    Watermarks { up: f64, down: f64 },
}

impl ScaleRule {
    /// The count every mode applies each interval, clamped to `min..=max`. Without a measure
    /// (NaN) the count stays as it is.
    pub fn desired(self, current: u32, utilisation: f64, min: u32, max: u32) -> u32 {
        match self {
            ScaleRule::Target {
                utilisation: target,
            } => desired_replicas(current, utilisation, target, min, max),
            ScaleRule::Watermarks { up, down } => {
                let next = if utilisation > up {
                    current.saturating_add(1)
                } else if utilisation < down {
                    current.saturating_sub(1)
                } else {
                    current
                };
                next.clamp(min, max.max(min))
            }
        }
    }
}

/// The autoscale rule every mode applies each interval: `ceil(current × utilisation / target)`
/// clamped to `min..=max`, where utilisation is busy over available worker-time. Without a
/// measure (no capacity, NaN) the count stays as it is.
pub fn desired_replicas(current: u32, utilisation: f64, target: f64, min: u32, max: u32) -> u32 {
    let want = if target > 0.0 && utilisation.is_finite() {
        // The epsilon keeps an exact hit of the target (0.7 / 0.7 in floating point) from
        // rounding up to one replica more.
        (f64::from(current) * utilisation / target - 1e-9)
            .ceil()
            .max(0.0)
    } else {
        f64::from(current)
    };
    (want.min(f64::from(u32::MAX)) as u32).clamp(min, max.max(min))
}

impl Replicas {
    /// Replicas live at the start of the run.
    pub fn initial(&self) -> u32 {
        match self {
            Replicas::Fixed { count } => *count,
            Replicas::Autoscale { min, .. } => *min,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    RoundRobin,
    Random,
    LeastRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    /// Never empty: an empty body is compiled to `work <service latency>`.
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Busy for a sample of `dist` (scaled by cpu faults), holding the worker.
    Work {
        dist: Dist,
    },
    Call(Call),
    /// Every step runs concurrently; ends when all end; fails if any fails.
    Parallel {
        steps: Vec<Step>,
    },
    /// Exactly one branch by probability; probabilities sum to 1.
    Choice {
        branches: Vec<Branch>,
    },
    /// The endpoint itself fails with `status` with this probability.
    Fail {
        probability: f64,
        status: u16,
    },
    /// Fire-and-forget: the request goes to `service`/`endpoint` and the step ends at once;
    /// the callee's answer never reaches the caller. No timeout, retry or breaker.
    Send {
        service: String,
        endpoint: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    pub probability: f64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub service: String,
    pub endpoint: String,
    /// Per attempt, caller side; `None` waits for ever (bounded by the end-of-run drain).
    pub timeout_s: Option<f64>,
    pub retry: Retry,
    pub circuit_breaker: Option<CircuitBreaker>,
    /// `on_error continue`: a failed call does not fail the step.
    pub continue_on_error: bool,
    /// Overrides the priority the request inherited (0..=[`MAX_PRIORITY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// Extra attempts after the first (0 = no retry). Retries on timeout, 5xx, 429 and
    /// connection errors; never on `circuit_open`.
    pub retries: u32,
    pub backoff: Backoff,
    pub jitter: Jitter,
}

impl Retry {
    pub const NONE: Retry = Retry {
        retries: 0,
        backoff: Backoff::Constant { delay_s: 0.0 },
        jitter: Jitter::None,
    };
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backoff {
    /// The same wait before every retry.
    Constant { delay_s: f64 },
    /// Wait `base_s * 2^(n-1)` before retry n (n from 1), capped at `max_s`.
    Exponential { base_s: f64, max_s: Option<f64> },
}

impl Backoff {
    /// Wait before retry `n` (1-based), before jitter.
    pub fn delay_s(&self, n: u32) -> f64 {
        match self {
            Backoff::Constant { delay_s } => *delay_s,
            Backoff::Exponential { base_s, max_s } => {
                let exp = n.saturating_sub(1).min(62) as i32;
                let d = base_s * 2f64.powi(exp);
                max_s.map_or(d, |m| d.min(m))
            }
        }
    }
}

/// How a backoff delay `d` is randomised: none = d; full = U(0, d); equal = d/2 + U(0, d/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    None,
    Full,
    Equal,
}

/// Caller-side breaker per (caller service, callee service).
/// Closed: opens when, over the last `window_s`, at least `min_requests` attempts were made and
/// the failed fraction is >= `failure_ratio`. Open: every attempt fails at once with
/// `circuit_open` for `open_s`. Half-open: one trial attempt; success closes, failure reopens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub failure_ratio: f64,
    pub window_s: f64,
    pub min_requests: u32,
    pub open_s: f64,
}

/// A distribution of durations, in seconds. Samples are never negative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Dist {
    Constant {
        value_s: f64,
    },
    Exponential {
        mean_s: f64,
    },
    /// Clamped at 0.
    Normal {
        mean_s: f64,
        stddev_s: f64,
    },
    /// ln X ~ N(mu, sigma) with mu = ln(median), sigma = ln(p99 / median) / z(0.99).
    Lognormal {
        median_s: f64,
        p99_s: f64,
    },
    Uniform {
        low_s: f64,
        high_s: f64,
    },
    Pareto {
        scale_s: f64,
        shape: f64,
    },
}

/// The 0.99 quantile of the standard normal distribution.
pub const Z_99: f64 = 2.326_347_874_040_841;

impl Dist {
    pub const ZERO: Dist = Dist::Constant { value_s: 0.0 };

    /// The mean, where it exists (Pareto with shape <= 1 has none: `f64::INFINITY`).
    pub fn mean_s(&self) -> f64 {
        match self {
            Dist::Constant { value_s } => *value_s,
            Dist::Exponential { mean_s } => *mean_s,
            Dist::Normal { mean_s, .. } => *mean_s,
            Dist::Lognormal { median_s, p99_s } => {
                let sigma = (p99_s / median_s).ln() / Z_99;
                median_s * (sigma * sigma / 2.0).exp()
            }
            Dist::Uniform { low_s, high_s } => (low_s + high_s) / 2.0,
            Dist::Pareto { scale_s, shape } => {
                if *shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale_s / (shape - 1.0)
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub name: String,
    pub target: EndpointRef,
    pub load: Load,
    /// Client side: the user gives up after this long (counts as `timeout`).
    pub timeout_s: Option<f64>,
    /// 0..=[`MAX_PRIORITY`], higher served first; carried into every call the request
    /// causes unless a call sets its own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EndpointRef {
    pub service: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Load {
    /// Open loop. `rate` covers `[0, duration)` without gaps (the compiler extends the last
    /// rate to the end); spikes are added on top. Latency is measured from the intended send time.
    Open {
        rate: Vec<RatePiece>,
        spikes: Vec<Spike>,
        arrivals: Arrivals,
    },
    /// Closed loop: each user sends, waits for the answer (or its timeout), thinks, sends again,
    /// never sooner than [`MIN_ROUND_TRIP_S`] after its previous send ([`next_user_send_s`]).
    /// The number of users goes linearly from `users_from` to `users_to` over
    /// `[ramp_start_s, ramp_start_s + ramp_s]` and stays at `users_to` afterwards.
    Closed {
        users_from: u32,
        users_to: u32,
        ramp_start_s: f64,
        ramp_s: f64,
        think: Dist,
    },
}

/// Rate going linearly from `from_per_s` at `start_s` to `to_per_s` at `end_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatePiece {
    pub start_s: f64,
    pub end_s: f64,
    pub from_per_s: f64,
    pub to_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    pub start_s: f64,
    pub end_s: f64,
    pub rate_per_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    Poisson,
    Uniform,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub name: String,
    /// Every occurrence (one, or many for `every`), in time order, within the run.
    pub occurrences: Vec<Occurrence>,
    /// The fault's `during` window: for timed faults the occurrences; for a kill from the kill
    /// until the killed replica serves again (start + the longest `restart` among the
    /// candidate services, as written: [`MIN_RESTART_S`] does not lengthen it). Sorted, non-overlapping, clipped to the run.
    pub active: Vec<Interval>,
    pub actions: Vec<Action>,
}

/// `end_s == start_s` for an instant fault (kill). A fault without `for` other than a kill
/// lasts until the end of the run (`end_s == duration_s`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub start_s: f64,
    pub end_s: f64,
}

impl Interval {
    pub fn contains(&self, t: f64) -> bool {
        self.start_s <= t && t < self.end_s
    }
    pub fn len_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// A fault's target: a whole service or one of its endpoints, on every replica or, with
/// `on N of S`, on the replicas [`pick_replicas`] picks per occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub service: String,
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<ReplicaSubset>,
}

/// `on 1 of api` or `on 30% of api`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum ReplicaSubset {
    Count {
        count: u32,
    },
    /// A fraction in `(0, 1]`, rounded up to whole replicas ([`subset_size`]).
    Fraction {
        fraction: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Extra delay on the wire in front of the target, on the way in: the caller waits longer,
    /// the target's workers are not held by it.
    Latency { target: Target, delay: Dist },
    /// The target answers `status` for this fraction of requests, without doing the work.
    Errors {
        target: Target,
        ratio: f64,
        status: u16,
    },
    /// Kill `count` live replicas of one service picked from `services` (one candidate unless
    /// written `random(a, b)`; the pick is random per occurrence). They serve again after the
    /// service's `restart`.
    Kill { count: u32, services: Vec<String> },
    /// Calls between any service of `a` and any of `b`, either way, fail to connect.
    Partition { a: Vec<String>, b: Vec<String> },
    /// Every `work` step of the target takes `factor` times as long.
    Cpu { target: Target, factor: f64 },
    /// This fraction of requests to the target vanish: the caller waits for its timeout.
    Loss { target: Target, ratio: f64 },
    /// Each replica of `service` grows by `bytes_per_s`; one that reaches `limit_bytes` is
    /// killed (and restarts after `restart`, growing again while the fault lasts).
    Memory {
        service: String,
        bytes_per_s: f64,
        limit_bytes: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replicas: Option<ReplicaSubset>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Canonical source text, e.g. `p99(gateway "GET /checkout") < 800ms`.
    pub text: String,
    pub metric: Metric,
    pub subject: Subject,
    pub window: Window,
    pub op: Comparison,
    /// In base units: seconds, fractions, per second, counts.
    pub threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Abort {
    pub text: String,
    pub metric: Metric,
    pub subject: Subject,
    pub op: Comparison,
    pub threshold: f64,
    /// The condition must hold in every window for this long, consecutively.
    pub for_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P90,
    P95,
    P99,
    P999,
    Mean,
    Max,
    ErrorRate,
    Availability,
    Throughput,
    Recovery,
    MaxReplicas,
}

impl Metric {
    /// The percentile (0..=100) for latency percentiles.
    pub fn percentile(self) -> Option<f64> {
        match self {
            Metric::P50 => Some(50.0),
            Metric::P90 => Some(90.0),
            Metric::P95 => Some(95.0),
            Metric::P99 => Some(99.0),
            Metric::P999 => Some(99.9),
            _ => None,
        }
    }

    /// The unit reports show the observed value and threshold in.
    pub fn display_unit(self) -> DisplayUnit {
        match self {
            Metric::P50
            | Metric::P90
            | Metric::P95
            | Metric::P99
            | Metric::P999
            | Metric::Mean
            | Metric::Max => DisplayUnit::Milliseconds,
            Metric::ErrorRate | Metric::Availability => DisplayUnit::Percent,
            Metric::Throughput => DisplayUnit::PerSecond,
            Metric::Recovery => DisplayUnit::Seconds,
            Metric::MaxReplicas => DisplayUnit::Count,
        }
    }
}

/// Base value × `factor()` = displayed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DisplayUnit {
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "%")]
    Percent,
    #[serde(rename = "/s")]
    PerSecond,
    #[serde(rename = "")]
    Count,
}

impl DisplayUnit {
    pub fn factor(self) -> f64 {
        match self {
            DisplayUnit::Milliseconds => 1000.0,
            DisplayUnit::Percent => 100.0,
            DisplayUnit::Seconds | DisplayUnit::PerSecond | DisplayUnit::Count => 1.0,
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            DisplayUnit::Milliseconds => "ms",
            DisplayUnit::Seconds => "s",
            DisplayUnit::Percent => "%",
            DisplayUnit::PerSecond => "/s",
            DisplayUnit::Count => "",
        }
    }
}

/// What an expectation measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// Every attempt sent to this endpoint, as its callers saw it.
    Endpoint { service: String, endpoint: String },
    /// All endpoints of a service together.
    Service { service: String },
    /// What a workload's clients saw.
    Workload { workload: String },
}

/// An expectation's window, kept symbolically (`label`) and resolved to time (`intervals`).
/// Runners clip the intervals to the part of the run that happened (an abort ends it early).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// `overall`, `during slow_payments`, `after crash + 30s`, `between 1m and 2m`, ...
    pub label: String,
    pub intervals: Vec<Interval>,
    /// For `recovery`: the fault's last end, from which recovery is timed.
    pub recovery_from_s: Option<f64>,
    /// For `recovery`: the baseline window (`before F`).
    pub baseline: Vec<Interval>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Comparison {
    /// Equality compares with a relative tolerance of 1e-9 so `== 0%` and `== 100%` work.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        let eq = (observed - threshold).abs() <= 1e-9 * threshold.abs().max(1.0);
        match self {
            Comparison::Lt => observed < threshold,
            Comparison::Le => observed <= threshold || eq,
            Comparison::Gt => observed > threshold,
            Comparison::Ge => observed >= threshold || eq,
            Comparison::Eq => eq,
            Comparison::Ne => !eq,
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
        }
    }
}

impl Plan {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
    pub fn fault(&self, name: &str) -> Option<&Fault> {
        self.faults.iter().find(|f| f.name == name)
    }
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }
    /// End of the run including the drain after `duration`.
    pub fn horizon_s(&self) -> f64 {
        self.scenario.duration_s + self.scenario.drain_s
    }
    pub fn to_json(&self) -> String {
        // Plan types are plain data; serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan = serde_json::from_str(text).map_err(PlanError::Json)?;
        if plan.version != PLAN_VERSION {
            return Err(PlanError::Version {
                found: plan.version,
                expected: PLAN_VERSION,
            });
        }
        Ok(plan)
    }
}

#[derive(Debug)]
pub enum PlanError {
    Json(serde_json::Error),
    Version { found: u32, expected: u32 },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Json(e) => write!(f, "plan is not valid JSON for this version: {e}"),
            PlanError::Version { found, expected } => write!(
                f,
                "plan version {found} is not supported (this chaos reads version {expected}); recompile the scenario"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

#[cfg(test)]
mod tests {
    use super::{ScaleRule, desired_replicas};

    #[test]
    fn watermarks_step_one_replica_at_a_time() {
        let w = ScaleRule::Watermarks { up: 0.8, down: 0.3 };
        assert_eq!(w.desired(3, 0.95, 2, 8), 4);
        assert_eq!(w.desired(3, 0.5, 2, 8), 3);
        assert_eq!(w.desired(3, 0.1, 2, 8), 2);
        assert_eq!(w.desired(2, 0.1, 2, 8), 2, "clamped to min");
        assert_eq!(w.desired(8, 1.0, 2, 8), 8, "clamped to max");
        assert_eq!(w.desired(3, f64::NAN, 2, 8), 3, "no measure");
    }

    #[test]
    fn desired_replicas_follows_the_hpa_rule() {
        assert_eq!(desired_replicas(3, 0.70, 0.70, 3, 8), 3, "on target");
        assert_eq!(desired_replicas(3, 1.0, 0.70, 3, 8), 5);
        assert_eq!(desired_replicas(4, 0.1, 0.70, 3, 8), 3, "clamped to min");
        assert_eq!(desired_replicas(8, 1.0, 0.5, 3, 8), 8, "clamped to max");
        assert_eq!(desired_replicas(5, 0.35, 0.70, 1, 8), 3);
        assert_eq!(desired_replicas(2, f64::NAN, 0.5, 1, 8), 2, "no measure");
    }
}
