//! The deterministic discrete-event simulator: plan + seed in, [`chaos_report::Recording`] out.
//!
//! The plan is compiled once into indexed tables and a flat instruction array per endpoint
//! ([`model`]); the engine ([`engine`]) then runs a binary-heap event loop over slab-stored
//! requests and fibers. Randomness comes only from the seed, one ChaCha stream per purpose
//! (arrivals, think times, work, routing, wire faults, jitter, fault picks), so the same plan
//! and seed give the same recording on every machine and thread count.

mod engine;
mod fifo;
mod model;
mod queue;
mod slab;

use chaos_plan::{Admission, BreakerState, Plan};
use chaos_report::Recording;
use rayon::prelude::*;

pub use chaos_plan::RateFn;
pub use chaos_plan::sample::Sampler;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("the plan cannot be simulated: {0}")]
    Invalid(String),
    /// An internal invariant broke; never expected, reported rather than hidden.
    #[error("internal error: an event at {event}s was due while the clock was at {now}s")]
    TimeWentBack { now: f64, event: f64 },
    /// The watchdog: this many events at one simulated instant means simulated time stopped
    /// advancing (something answers and starts again without time passing), not a big run.
    #[error(
        "the simulation stopped advancing: {events} events at the simulated instant {at_s}s \
         without time passing. Something in the scenario repeats without taking time (likely \
         a loop of instant answers: `think 0s` users, `restart 0s`, retries without backoff); \
         please report it with the scenario, this is a simulator bug"
    )]
    Stalled { at_s: f64, events: u64 },
}

/// Events the simulator processes at one simulated instant before it gives up with
/// [`SimError::Stalled`]. Far above any real burst (a million users starting together cost a
/// few million), far below what an endless loop reaches in a few seconds.
pub const MAX_EVENTS_PER_INSTANT: u64 = 50_000_000;

/// Knobs for benchmarks and tests; `chaos run --sim` uses the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimOptions {
    /// Stop open-loop arrivals after this many requests in total.
    pub max_arrivals: Option<u64>,
    /// Replace the plan's drain time after `duration`.
    pub drain_s: Option<f64>,
    /// Replace [`MAX_EVENTS_PER_INSTANT`] (tests of the watchdog).
    pub max_events_per_instant: Option<u64>,
    /// Keep the decisions of [`TraceEvent`] in [`RunStats::trace`]: tests that run one plan
    /// through the simulator and through a real mode's code compare them.
    pub trace: bool,
}

/// A decision the simulator made, kept when [`SimOptions::trace`] is on. Services and
/// workloads are indices into the plan's lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceEvent {
    /// An open workload's request was sent at its planned instant.
    Arrival { workload: u32, at_s: f64 },
    /// An attempt from `caller` to `callee` asked their breaker (`None`: circuit open).
    BreakerAdmit {
        caller: u32,
        callee: u32,
        at_s: f64,
        admission: Option<Admission>,
    },
    /// An admitted attempt's outcome reached the breaker.
    BreakerRecord {
        caller: u32,
        callee: u32,
        at_s: f64,
        admission: Admission,
        failed: bool,
    },
    /// The breaker moved to `state`.
    BreakerState {
        caller: u32,
        callee: u32,
        at_s: f64,
        state: BreakerState,
    },
    /// A fault started, was reverted or killed replicas, named as the conductor of
    /// `--local` and `--cluster` names it ([`chaos_plan::Conductor`]).
    Fault {
        at_s: f64,
        decision: chaos_plan::Decision,
    },
}

/// Figures about a run that are not part of the recording.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    /// Events taken from the event queue.
    pub events: u64,
    /// Attempts sent per recording subject (endpoints, then workloads), in `subjects_of` order.
    pub sent: Vec<u64>,
    /// When the last workload request got its answer (or gave up).
    pub last_workload_answer_s: f64,
    /// Most attempts in the system at once (memory follows this, not the request count).
    pub peak_in_flight: usize,
    /// The decisions, in order, with [`SimOptions::trace`]; empty otherwise.
    pub trace: Vec<TraceEvent>,
}

/// Simulates `plan` with `seed`. Deterministic: same plan and seed, same recording.
pub fn simulate(plan: &Plan, seed: u64) -> Result<Recording, SimError> {
    simulate_with_progress(plan, seed, &mut |_| {})
}

/// Like [`simulate`], calling `progress` with the fraction of simulated time done (0..=1).
pub fn simulate_with_progress(
    plan: &Plan,
    seed: u64,
    progress: &mut dyn FnMut(f64),
) -> Result<Recording, SimError> {
    simulate_with(plan, seed, &SimOptions::default(), progress).map(|(r, _)| r)
}

/// Simulates with options and returns the run's statistics too.
pub fn simulate_with(
    plan: &Plan,
    seed: u64,
    opts: &SimOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<(Recording, RunStats), SimError> {
    let model = model::Model::new(plan)?;
    engine::Sim::new(plan, &model, seed, opts).run(progress)
}

/// Simulates one run per seed, in parallel on all cores; results in the order of `seeds`.
pub fn simulate_many(plan: &Plan, seeds: &[u64]) -> Vec<Result<Recording, SimError>> {
    let model = match model::Model::new(plan) {
        Ok(m) => m,
        Err(e) => return seeds.iter().map(|_| Err(e.clone())).collect(),
    };
    let opts = SimOptions::default();
    seeds
        .par_iter()
        .map(|&seed| {
            engine::Sim::new(plan, &model, seed, &opts)
                .run(&mut |_| {})
                .map(|(r, _)| r)
        })
        .collect()
}
