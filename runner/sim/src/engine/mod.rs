//! The simulation state and its event loop. Requests (attempts; a workload's client sends one
//! per request, so its request is that attempt) and fibers (an endpoint body's thread of
//! steps) live in slabs addressed by index; scheduled events carry the index plus a
//! generation or token, so an event about something that has since moved on is recognised
//! and dropped. Work that follows at the same instant goes through a FIFO `ready`
//! list instead of recursion, so no chain of instant answers can grow the stack.

mod clients;
mod faults;
mod flow;
mod health;
mod timers;

use chaos_plan::{ArrivalTimes, Breaker, Ejector, HealthTracker, Plan, WaitQueue};
use chaos_report::{AbortRecord, Cause, Recorder, Recording, ServiceSample};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::{Model, NONE};
use crate::queue::EventQueue;
use crate::slab::Slab;
use crate::{RunStats, SimError, SimOptions};

pub(crate) type Rng = ChaCha8Rng;

/// What a fiber waits for, changed whenever it stops waiting. One run-wide counter, 32 bits so
/// that requests, timers and events stay small; it wraps (skipping 0) after 4G waits, and a
/// stale event would need exactly that many waits to pass before it fires to be mistaken.
pub(crate) type Token = u32;

/// Something scheduled for a future instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// The next open-loop arrival of a workload.
    Arrival {
        wl: u32,
    },
    /// A closed-loop user sends (again).
    UserSend {
        wl: u32,
        user: u32,
    },
    /// A request reaches its target after an injected wire delay.
    ReqArrive {
        req: u32,
        generation: u32,
    },
    WorkDone {
        fiber: u32,
        token: Token,
    },
    /// The work of a leaf execution (no fiber: [`crate::model::EndpointModel::leaf_work`]).
    LeafDone {
        req: u32,
        generation: u32,
    },
    BackoffDone {
        fiber: u32,
        token: Token,
    },
    /// The head of a timeout lane is due.
    Timers {
        lane: u32,
    },
    FaultStart {
        fault: u32,
        occ: u32,
    },
    FaultEnd {
        fault: u32,
        occ: u32,
    },
    ReplicaUp {
        svc: u32,
        replica: u32,
        generation: u32,
    },
    MemoryFull {
        svc: u32,
        replica: u32,
        generation: u32,
    },
    Autoscale {
        svc: u32,
    },
    /// A replica's periodic health check (`health_check`), for the replica's current start.
    HealthCheck {
        svc: u32,
        replica: u32,
        generation: u32,
    },
    /// A check's verdict arrives after its (injected) delay or its timeout. Two variants
    /// rather than a flag: a fourth field would make every event 24 bytes instead of 16.
    HealthPassed {
        svc: u32,
        replica: u32,
        generation: u32,
    },
    HealthFailed {
        svc: u32,
        replica: u32,
        generation: u32,
    },
}

const _: () = assert!(std::mem::size_of::<Event>() <= 16);

/// Work to do at the current instant, in order.
#[derive(Debug, Clone, Copy)]
enum Ready {
    /// A request got a worker: run its endpoint body.
    Start { req: u32, generation: u32 },
    /// Continue a fiber at its pc.
    Run { fiber: u32, token: Token },
    /// All children of a parallel group ended.
    Join { fiber: u32, token: Token },
    /// Send the next attempt of the fiber's current call.
    Attempt { fiber: u32, token: Token },
    /// The fiber's step failed.
    Fail {
        fiber: u32,
        token: Token,
        failure: Failure,
    },
}

/// A failed answer: why, and the HTTP status the caller saw (decides retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub cause: Cause,
    pub status: u16,
}

impl Failure {
    pub const fn new(cause: Cause, status: u16) -> Failure {
        Failure { cause, status }
    }

    /// The plan's rule ([`chaos_plan::retryable_status`]: no answer, 5xx, 429), never on an
    /// open circuit. Timeouts, rejections, sheds and killed replicas carry 504, 503 or 0.
    pub fn retryable(self) -> bool {
        !matches!(self.cause, Cause::CircuitOpen | Cause::Unfinished)
            && chaos_plan::retryable_status(self.status)
    }
}

pub type Outcome = Result<(), Failure>;

/// Who waits for a request's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Fiber {
        fiber: u32,
        token: Token,
    },
    /// A workload's client. A client sends one attempt per request (no retries), so the
    /// attempt is the client's request: its `sent` is when the client sent it, and its
    /// slab generation is what the client's timeout refers to.
    Client {
        wl: u32,
        /// The closed-loop user, or NONE.
        user: u32,
    },
    /// The caller gave up and already recorded the attempt: the answer is thrown away.
    Silent,
    /// A `send`: no one waits; the outcome is recorded at the endpoint only.
    Detached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReqState {
    /// On the wire (injected delay) or not yet placed.
    Wire,
    /// Vanished (loss fault): only the caller's timeout ends it.
    Lost,
    Queued,
    Running,
}

/// [`Caller`]'s variant, stored apart from its two words: as an enum field of [`Req`] its
/// tag and padding would cost 4 bytes and push every request from 40 to 48 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerKind {
    Fiber,
    Client,
    Silent,
    Detached,
}

/// One attempt sent to an endpoint, and on the callee side its execution. A backlog holds
/// one per waiting request (138k at the peak of ms-ref-1 at 1M), so it is kept to 40 bytes:
/// the service is the endpoint's, and the caller is packed (see [`Req::caller`]).
#[derive(Debug, Clone)]
struct Req {
    sent: f64,
    endpoint: u32,
    /// The caller's two fields: fiber and token, or workload and user.
    caller_ids: [u32; 2],
    /// Calling service, or NONE for a workload's client.
    from: u32,
    /// The replica serving or queueing it; picked when sent if a fault `on N of S` on the
    /// way in needs it, else when it arrives; NONE before.
    replica: u32,
    /// Root fiber while running.
    fiber: u32,
    /// The caller's ejector for this callee ([`crate::model::CallModel::ejector`]), or NONE.
    ejector: u32,
    caller_kind: CallerKind,
    state: ReqState,
    /// Queue priority (0..=9), inherited by the calls and sends it makes.
    priority: u8,
}

const _: () = assert!(std::mem::size_of::<Req>() <= 40);

impl Req {
    /// An attempt sent at `sent`, not yet placed.
    fn new(endpoint: u32, caller: Caller, sent: f64, from: u32, priority: u8, ejector: u32) -> Req {
        let mut r = Req {
            sent,
            endpoint,
            caller_ids: [0; 2],
            from,
            replica: NONE,
            fiber: NONE,
            ejector,
            caller_kind: CallerKind::Silent,
            state: ReqState::Wire,
            priority,
        };
        r.set_caller(caller);
        r
    }

    fn caller(&self) -> Caller {
        let [a, b] = self.caller_ids;
        match self.caller_kind {
            CallerKind::Fiber => Caller::Fiber { fiber: a, token: b },
            CallerKind::Client => Caller::Client { wl: a, user: b },
            CallerKind::Silent => Caller::Silent,
            CallerKind::Detached => Caller::Detached,
        }
    }

    fn set_caller(&mut self, caller: Caller) {
        (self.caller_kind, self.caller_ids) = match caller {
            Caller::Fiber { fiber, token } => (CallerKind::Fiber, [fiber, token]),
            Caller::Client { wl, user } => (CallerKind::Client, [wl, user]),
            Caller::Silent => (CallerKind::Silent, [0; 2]),
            Caller::Detached => (CallerKind::Detached, [0; 2]),
        };
    }
}

/// A thread of steps of one execution; parallel groups start child fibers.
#[derive(Debug, Clone)]
struct Fiber {
    /// Changes whenever the fiber stops waiting; events and answers carry the one they expect.
    token: Token,
    req: u32,
    req_gen: u32,
    svc: u32,
    endpoint: u32,
    pc: u32,
    parent: u32,
    pending: u32,
    fail: Option<Failure>,
    call: u32,
    attempt: u32,
    cur_req: u32,
    cur_gen: u32,
    trial: bool,
    /// The request's priority, for the calls and sends this fiber makes.
    priority: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RState {
    Live,
    Starting,
    Down,
    /// Removed by autoscaling: takes no new requests, finishes what it has.
    Draining,
    Gone,
}

#[derive(Debug, Clone)]
struct Replica {
    state: RState,
    busy: u32,
    queue: WaitQueue<u32>,
    generation: u32,
    mem: f64,
    mem_t: f64,
    mem_gen: u32,
    /// Memory growth and limit in force on this replica (all-replica and `on N of S` faults).
    mem_rate: f64,
    mem_limit: f64,
    /// With `health_check`: what the checks say (callers pick only healthy replicas).
    health: HealthTracker,
    /// Changes at each start of the replica: checks of an earlier start are dropped.
    check_gen: u32,
}

impl Replica {
    fn new(state: RState, svc: &crate::model::ServiceModel) -> Replica {
        Replica {
            state,
            busy: 0,
            queue: WaitQueue::new(Some(svc.queue), svc.discipline),
            generation: 0,
            mem: 0.0,
            mem_t: 0.0,
            mem_gen: 0,
            mem_rate: 0.0,
            mem_limit: f64::INFINITY,
            health: HealthTracker::started_healthy(),
            check_gen: 0,
        }
    }

    /// Counted as running: serving, or finishing its work before removal.
    fn running(&self) -> bool {
        matches!(self.state, RState::Live | RState::Draining)
    }
}

#[derive(Debug, Clone)]
struct SvcState {
    replicas: Vec<Replica>,
    rr: usize,
    /// The rate limit, if any.
    bucket: Option<chaos_plan::TokenBucket>,
    busy: u32,
    live_workers: u32,
    queued: u32,
    running_replicas: u32,
    last_t: f64,
    busy_area: f64,
    avail_area: f64,
    queue_area: f64,
    win_busy0: f64,
    win_avail0: f64,
    win_queue0: f64,
    win_max: u32,
    as_busy0: f64,
    as_avail0: f64,
    /// Active memory faults.
    mem_faults: Vec<MemFault>,
}

/// A memory fault in force: growth, limit, and its replica slots (`None`: all).
type MemFault = (f64, f64, Option<Vec<u32>>);

impl SvcState {
    /// The combined memory growth and limit on replica slot `ri`.
    fn mem_of(&self, ri: usize) -> (f64, f64) {
        let mut m = (0.0, f64::INFINITY);
        for (rate, limit, slots) in &self.mem_faults {
            if slots
                .as_ref()
                .is_none_or(|s| s.binary_search(&(ri as u32)).is_ok())
            {
                m.0 += rate;
                m.1 = f64::min(m.1, *limit);
            }
        }
        m
    }
}

/// Active fault effects on one endpoint, recomputed whenever a fault starts or ends.
#[derive(Debug, Clone)]
struct EpFaults {
    cpu: f64,
    latency: Vec<chaos_plan::sample::Sampler>,
    errors: Vec<(f64, u16)>,
    loss: Vec<f64>,
    any_wire: bool,
    /// Faults `on N of S`, only on their picked replica slots.
    sub: Vec<SubFault>,
    /// Some of `sub` act on the way in (latency, loss): the replica is picked when sent.
    sub_wire: bool,
    /// Some of `sub` are errors: the replica is picked before injected errors are drawn.
    sub_errors: bool,
    sub_cpu: bool,
}

/// One fault action `on N of S` on an endpoint.
#[derive(Debug, Clone)]
struct SubFault {
    /// Sorted replica slots.
    slots: Vec<u32>,
    kind: SubKind,
}

#[derive(Debug, Clone)]
enum SubKind {
    Latency(chaos_plan::sample::Sampler),
    Errors(f64, u16),
    Loss(f64),
    Cpu(f64),
}

impl SubFault {
    fn covers(&self, ri: u32) -> bool {
        self.slots.binary_search(&ri).is_ok()
    }
}

/// A fault occurrence in force, with the replicas picked for each of its `on N of S` actions.
#[derive(Debug, Clone)]
struct ActiveFault {
    fault: u32,
    occ: u32,
    picks: Vec<Option<Vec<u32>>>,
}

pub(crate) struct Sim<'a> {
    m: &'a Model,
    opts: &'a SimOptions,
    now: f64,
    q: EventQueue,
    /// FIFO of work at the current instant: items before `ready_head` are done; the list is
    /// cleared once drained, so it never shifts or grows with the run.
    ready: Vec<Ready>,
    ready_head: usize,
    reqs: Slab<Req>,
    fibers: Slab<Fiber>,
    next_token: Token,
    svcs: Vec<SvcState>,
    ep_faults: Vec<EpFaults>,
    /// Active fault occurrences, in the order they started.
    active: Vec<ActiveFault>,
    seed: u64,
    /// One per calling replica and callee service with `eject` (each caller counts on its
    /// own, as each calling agent does in `--local`), made on first use.
    ejectors: Vec<Ejector>,
    /// (pair of [`Model::eject_pairs`], calling replica) -> index into `ejectors`.
    ejector_slots: std::collections::HashMap<(u32, u32), u32>,
    /// Health checks: whether their verdict fails, drawn like a request's wire faults.
    rng_check: Vec<Rng>,
    faults_off: bool,
    /// `cut[a * n + b] > 0`: calls between services a and b fail to connect.
    cut: Vec<u32>,
    breakers: Vec<Breaker>,
    /// Each open workload's arrival instants (`None` for closed ones), from the plan.
    arrivals_of: Vec<Option<ArrivalTimes>>,
    rng_think: Vec<Rng>,
    rng_work: Vec<Rng>,
    rng_route: Vec<Rng>,
    rng_wire: Vec<Rng>,
    rng_jitter: Vec<Rng>,
    rng_fault: Vec<Rng>,
    arrivals: u64,
    lanes: Vec<timers::Lane>,
    rec: Recorder,
    n_endpoints: u32,
    stop_t: f64,
    horizon: f64,
    win_index: u64,
    /// End of window `win_index`: the loop samples windows only when an event reaches it.
    next_window_end: f64,
    n_windows: u64,
    aborted: Option<AbortRecord>,
    stats: RunStats,
}

/// The random stream of one purpose and index. Purpose 1 is the arrivals' stream, which
/// `chaos_plan::arrival_rng` derives the same way for every mode.
fn stream(seed: u64, purpose: u64, index: usize) -> Rng {
    let mut r = Rng::seed_from_u64(seed);
    r.set_stream(purpose * 1_000_000 + index as u64);
    r
}

impl<'a> Sim<'a> {
    pub fn new(plan: &Plan, m: &'a Model, seed: u64, opts: &'a SimOptions) -> Sim<'a> {
        let ns = m.services.len();
        let nw = m.workloads.len();
        let svcs = m
            .services
            .iter()
            .map(|s| {
                let n = s.replicas.initial();
                SvcState {
                    replicas: (0..n).map(|_| Replica::new(RState::Live, s)).collect(),
                    rr: 0,
                    bucket: s.rate_limit.map(|r| chaos_plan::TokenBucket::new(r, 0.0)),
                    busy: 0,
                    live_workers: n * s.workers,
                    queued: 0,
                    running_replicas: n,
                    last_t: 0.0,
                    busy_area: 0.0,
                    avail_area: 0.0,
                    queue_area: 0.0,
                    win_busy0: 0.0,
                    win_avail0: 0.0,
                    win_queue0: 0.0,
                    win_max: n,
                    as_busy0: 0.0,
                    as_avail0: 0.0,
                    mem_faults: Vec::new(),
                }
            })
            .collect();
        let horizon = m.duration + opts.drain_s.unwrap_or(m.drain);
        let stats = RunStats {
            sent: vec![0; m.endpoints.len() + nw],
            ..RunStats::default()
        };
        Sim {
            m,
            opts,
            now: 0.0,
            q: EventQueue::default(),
            ready: Vec::new(),
            ready_head: 0,
            reqs: Slab::default(),
            fibers: Slab::default(),
            next_token: 0,
            svcs,
            ep_faults: vec![
                EpFaults {
                    cpu: 1.0,
                    latency: Vec::new(),
                    errors: Vec::new(),
                    loss: Vec::new(),
                    any_wire: false,
                    sub: Vec::new(),
                    sub_wire: false,
                    sub_errors: false,
                    sub_cpu: false,
                };
                m.endpoints.len()
            ],
            active: Vec::new(),
            seed,
            ejectors: Vec::new(),
            ejector_slots: std::collections::HashMap::new(),
            rng_check: (0..ns).map(|i| stream(seed, 8, i)).collect(),
            faults_off: false,
            cut: vec![0; ns * ns],
            breakers: m.breakers.iter().map(Breaker::new).collect(),
            arrivals_of: m
                .workloads
                .iter()
                .enumerate()
                .map(|(i, w)| match &w.kind {
                    crate::model::WorkloadKind::Open { rate, arrivals } => {
                        Some(ArrivalTimes::new(rate.clone(), *arrivals, seed, i))
                    }
                    crate::model::WorkloadKind::Closed { .. } => None,
                })
                .collect(),
            rng_think: (0..nw).map(|i| stream(seed, 2, i)).collect(),
            rng_work: (0..ns).map(|i| stream(seed, 3, i)).collect(),
            rng_route: (0..ns).map(|i| stream(seed, 4, i)).collect(),
            rng_wire: (0..ns).map(|i| stream(seed, 5, i)).collect(),
            rng_jitter: (0..ns).map(|i| stream(seed, 6, i)).collect(),
            rng_fault: (0..m.faults.len()).map(|i| stream(seed, 7, i)).collect(),
            arrivals: 0,
            lanes: (0..m.calls.len() + nw)
                .map(|_| timers::Lane::default())
                .collect(),
            rec: Recorder::new(plan, "sim", seed),
            n_endpoints: m.endpoints.len() as u32,
            stop_t: m.duration,
            horizon,
            win_index: 0,
            next_window_end: m.window.min(horizon),
            n_windows: (horizon / m.window).ceil().max(1.0) as u64,
            aborted: None,
            stats,
        }
    }

    pub fn run(mut self, progress: &mut dyn FnMut(f64)) -> Result<(Recording, RunStats), SimError> {
        self.schedule_start();
        let mut last_progress = 0.0;
        let mut count: u64 = 0;
        let max_same = self
            .opts
            .max_events_per_instant
            .unwrap_or(crate::MAX_EVENTS_PER_INSTANT);
        // Events popped at `self.now` so far (the watchdog).
        let mut same: u64 = 0;
        while let Some(t) = self.q.peek_time() {
            if t >= self.horizon {
                break;
            }
            if t < self.now {
                return Err(SimError::TimeWentBack {
                    now: self.now,
                    event: t,
                });
            }
            if t >= self.next_window_end {
                self.sample_windows_until(t);
            }
            if t >= self.horizon {
                // An abort while closing windows moved the horizon.
                break;
            }
            let Some((t, ev)) = self.q.pop() else { break };
            if t == self.now {
                same += 1;
                if same > max_same {
                    return Err(SimError::Stalled {
                        at_s: t,
                        events: same,
                    });
                }
            } else {
                same = 1;
            }
            self.now = t;
            self.dispatch(ev);
            self.drain_ready();
            count += 1;
            if count & 0x3fff == 0 {
                let f = (self.now / self.horizon).clamp(0.0, 1.0);
                if f - last_progress >= 0.001 {
                    last_progress = f;
                    progress(f);
                }
            }
        }
        self.stats.events = count;
        self.now = self.now.max(self.horizon.min(self.now.max(0.0)));
        self.sample_windows_until(self.horizon);
        self.now = self.horizon;
        self.sweep_unfinished();
        progress(1.0);
        let ended = self.stop_t;
        let rec = self.rec.finish(ended, self.horizon, self.aborted.clone());
        Ok((rec, self.stats))
    }

    fn dispatch(&mut self, ev: Event) {
        match ev {
            Event::Arrival { wl } => self.open_arrival(wl),
            Event::UserSend { wl, user } => self.user_send(wl, user),
            Event::ReqArrive { req, generation } => {
                if self.reqs.is_current(req, generation) {
                    self.arrive(req);
                }
            }
            Event::WorkDone { fiber, token } => {
                if self.fiber_waiting(fiber, token) {
                    self.run_fiber(fiber);
                }
            }
            Event::LeafDone { req, generation } => {
                if self.reqs.is_current(req, generation) {
                    self.complete_exec(req, Ok(()));
                }
            }
            Event::BackoffDone { fiber, token } => {
                if self.fiber_waiting(fiber, token) {
                    self.issue_attempt(fiber);
                }
            }
            Event::Timers { lane } => self.timers_due(lane),
            Event::FaultStart { fault, occ } => self.fault_start(fault, occ),
            Event::FaultEnd { fault, occ } => self.fault_end(fault, occ),
            Event::ReplicaUp {
                svc,
                replica,
                generation,
            } => self.replica_up(svc, replica, generation),
            Event::MemoryFull {
                svc,
                replica,
                generation,
            } => self.memory_full(svc, replica, generation),
            Event::Autoscale { svc } => self.autoscale(svc),
            Event::HealthCheck {
                svc,
                replica,
                generation,
            } => self.health_check(svc, replica, generation),
            Event::HealthPassed {
                svc,
                replica,
                generation,
            } => self.health_verdict(svc, replica, generation, true),
            Event::HealthFailed {
                svc,
                replica,
                generation,
            } => self.health_verdict(svc, replica, generation, false),
        }
    }

    fn drain_ready(&mut self) {
        while let Some(&r) = self.ready.get(self.ready_head) {
            self.ready_head += 1;
            match r {
                Ready::Start { req, generation } => {
                    if self.reqs.is_current(req, generation) {
                        self.start_exec(req);
                    }
                }
                Ready::Run { fiber, token } => {
                    if self.fiber_waiting(fiber, token) {
                        self.run_fiber(fiber);
                    }
                }
                Ready::Join { fiber, token } => {
                    if self.fiber_waiting(fiber, token) {
                        match self.fibers.get_mut(fiber).fail.take() {
                            Some(f) => self.fiber_fail(fiber, f),
                            None => self.run_fiber(fiber),
                        }
                    }
                }
                Ready::Attempt { fiber, token } => {
                    if self.fiber_waiting(fiber, token) {
                        self.issue_attempt(fiber);
                    }
                }
                Ready::Fail {
                    fiber,
                    token,
                    failure,
                } => {
                    if self.fiber_waiting(fiber, token) {
                        self.fiber_fail(fiber, failure);
                    }
                }
            }
        }
        self.ready.clear();
        self.ready_head = 0;
    }

    fn schedule_start(&mut self) {
        for w in 0..self.m.workloads.len() as u32 {
            self.schedule_workload(w);
        }
        self.schedule_faults();
        for (si, s) in self.m.services.iter().enumerate() {
            if let chaos_plan::Replicas::Autoscale { interval_s, .. } = s.replicas {
                self.q.push(interval_s, Event::Autoscale { svc: si as u32 });
            }
            for ri in 0..self.svcs[si].replicas.len() {
                self.schedule_checks(si as u32, ri);
            }
        }
    }

    /// Brings a service's time integrals (busy, available workers, queue) up to `t`.
    #[inline]
    fn touch(&mut self, s: u32, t: f64) {
        let sv = &mut self.svcs[s as usize];
        let dt = t - sv.last_t;
        if dt > 0.0 {
            sv.busy_area += f64::from(sv.busy) * dt;
            sv.avail_area += f64::from(sv.live_workers) * dt;
            sv.queue_area += f64::from(sv.queued) * dt;
            sv.last_t = t;
        }
    }

    fn window_end(&self, k: u64) -> f64 {
        ((k + 1) as f64 * self.m.window).min(self.horizon)
    }

    /// Samples every service for each window ending at or before `t`, and closes it in the
    /// recorder (which is where an `abort when` is noticed).
    fn sample_windows_until(&mut self, t: f64) {
        while self.win_index < self.n_windows && self.window_end(self.win_index) <= t {
            let k = self.win_index;
            let start = k as f64 * self.m.window;
            let end = self.window_end(k);
            for s in 0..self.svcs.len() {
                self.touch(s as u32, end);
                let sv = &mut self.svcs[s];
                let db = sv.busy_area - sv.win_busy0;
                let da = sv.avail_area - sv.win_avail0;
                let dq = sv.queue_area - sv.win_queue0;
                let sample = ServiceSample {
                    replicas: sv.running_replicas,
                    max_replicas: sv.win_max.max(sv.running_replicas),
                    utilisation: if da > 0.0 {
                        (db / da).clamp(0.0, 1.0)
                    } else {
                        0.0
                    },
                    queue_mean: if end > start { dq / (end - start) } else { 0.0 },
                };
                sv.win_busy0 = sv.busy_area;
                sv.win_avail0 = sv.avail_area;
                sv.win_queue0 = sv.queue_area;
                sv.win_max = sv.running_replicas;
                self.rec.sample_service(s, start, sample);
            }
            self.win_index += 1;
            self.next_window_end = self.window_end(self.win_index);
            if end < self.horizon {
                self.rec.advance_to(end);
            }
            if self.aborted.is_none()
                && let Some(a) = self.rec.abort_fired().cloned()
            {
                self.abort(a);
            }
        }
    }

    /// An abort fired: the workloads stop now, faults are reverted, in-flight work drains.
    fn abort(&mut self, a: AbortRecord) {
        let at = a.at_s.max(self.now);
        self.aborted = Some(a);
        if at < self.stop_t {
            self.stop_t = at;
        }
        self.revert_faults();
        let drain = self.opts.drain_s.unwrap_or(self.m.drain);
        self.horizon = self.horizon.min(self.stop_t + drain);
        self.n_windows = (self.horizon / self.m.window).ceil().max(1.0) as u64;
        self.next_window_end = self.window_end(self.win_index);
    }

    /// Records what is still in flight at the end of the drain as `unfinished`.
    fn sweep_unfinished(&mut self) {
        // Just before the horizon, so it lands in the run's last window.
        let t = if self.horizon > 0.0 {
            f64::from_bits(self.horizon.to_bits() - 1)
        } else {
            0.0
        };
        let un = Err(Cause::Unfinished);
        let reqs: Vec<u32> = self.reqs.live_indices().collect();
        for r in reqs {
            let req = self.reqs.get(r);
            let (caller, e, sent) = (req.caller(), req.endpoint, req.sent);
            if caller != Caller::Silent {
                // Sends too: like a call without a timeout, the attempt never ended.
                self.rec.record(e as usize, t, t - sent, un);
            }
            if let Caller::Client { wl, .. } = caller {
                let subject = self.n_endpoints + wl;
                self.rec.record(subject as usize, t, t - sent, un);
            }
        }
    }

    fn new_token(&mut self) -> Token {
        self.next_token = self.next_token.wrapping_add(1).max(1);
        self.next_token
    }

    /// The service an endpoint belongs to.
    #[inline]
    fn svc_of(&self, endpoint: u32) -> u32 {
        self.m.endpoints[endpoint as usize].service
    }

    /// Whether `fiber` still waits for what `token` stands for. A fiber whose execution was
    /// killed is freed here, the first time anything wakes it.
    fn fiber_waiting(&mut self, fiber: u32, token: Token) -> bool {
        let f = self.fibers.get(fiber);
        if f.token != token {
            return false;
        }
        if !self.reqs.is_current(f.req, f.req_gen) {
            self.free_fiber(fiber);
            return false;
        }
        true
    }

    fn free_fiber(&mut self, fiber: u32) {
        // Tokens are never 0, so no event or answer matches a freed fiber.
        self.fibers.get_mut(fiber).token = 0;
        self.fibers.remove(fiber);
    }

    fn record(&mut self, subject: u32, latency: f64, outcome: Outcome) {
        self.rec.record(
            subject as usize,
            self.now,
            latency,
            outcome.map_err(|f| f.cause),
        );
    }
}

/// True when `x` is [`NONE`].
#[inline]
pub(crate) fn none(x: u32) -> bool {
    x == NONE
}
