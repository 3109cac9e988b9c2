//! The load generator: every workload of the plan against live agents, recorded into a
//! [`Recorder`]. Open-loop workloads send at the planned times whatever happens to earlier
//! requests and measure latency from the intended send time (no coordinated omission);
//! closed-loop users send, wait for the answer (or their timeout), think, and send again.
//!
//! An open-loop workload runs a pool of workers on one event loop per core; each worker owns
//! its connections (`conn`) and its list of results (`batch`), takes the next planned
//! arrival, sends it at its time and records the answer: nothing is spawned per request, and
//! all a request touches in common is the schedule's lock and a few atomic counters. The
//! pool grows when arrivals fall due while every worker waits on a slow answer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos_plan::{
    ArrivalTimes, Arrivals, Load, Plan, RateFn, RatePiece, Spike, UsersRamp, Workload,
};
use chaos_report::{Cause, Latency, Recorder, Recording, SparseLatency, SubjectKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::balance::PeerSet;
use crate::dist;
use crate::exec;

mod batch;
mod conn;
mod share;

use batch::Batch;
use conn::{Conns, Target};
pub use share::{Share, ShareError};

/// Most connections one open-loop workload opens: past it, a send due while every worker
/// waits on an answer waits for the first free one (its lateness counts in its latency).
pub const MAX_CONNECTIONS: usize = 4096;

/// An arrival not picked up this long after its time while every worker is busy gets a new
/// worker (and connection) of its own. Not less: the timer wakes sleepers on the millisecond,
/// so each millisecond's arrivals fall due together, and on a shared machine a thread often
/// waits several milliseconds for a core; neither is a slow target that more connections
/// would help. The lateness still counts in the latency (measured from the planned time).
const OVERDUE_S: f64 = 0.02;

#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    #[error(
        "workload `{workload}` targets service `{service}`, but no --target {service}=URL was given"
    )]
    NoTarget { workload: String, service: String },
    #[error("--target names service `{0}`, which is not in the plan")]
    UnknownTarget(String),
}

/// How the load generator's workers went, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadgenStats {
    /// TCP connections opened (initial workers, new workers, reconnections).
    pub connections: u64,
    /// Open-loop workers started beyond the initial pool because a send was due while every
    /// worker waited on an answer.
    pub overflow_workers: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    overflow_workers: AtomicU64,
    /// What each answered request's hop to the entry replica cost (`conn::Open::send`).
    hop: Mutex<Latency>,
}

/// The load generator of one run.
pub struct Loadgen {
    plan: Arc<Plan>,
    targets: BTreeMap<String, Arc<PeerSet>>,
    seed: u64,
    counters: Arc<Counters>,
    share: Share,
    connection_lifetime: Option<Duration>,
}

/// Where each workload's results go in the recorder.
#[derive(Clone, Copy)]
struct Slots {
    workload: usize,
    endpoint: usize,
}

impl Loadgen {
    /// `targets`: base URLs of the live replicas of each service a workload targets.
    pub fn new(
        plan: Arc<Plan>,
        targets: &BTreeMap<String, Vec<String>>,
        seed: u64,
    ) -> Result<Loadgen, LoadgenError> {
        if let Some(s) = targets.keys().find(|s| plan.service(s).is_none()) {
            return Err(LoadgenError::UnknownTarget(s.clone()));
        }
        let mut sets = BTreeMap::new();
        for w in &plan.workloads {
            let service = &w.target.service;
            let Some(urls) = targets.get(service) else {
                return Err(LoadgenError::NoTarget {
                    workload: w.name.clone(),
                    service: service.clone(),
                });
            };
            let balance = plan
                .service(service)
                .map_or(chaos_plan::Balance::RoundRobin, |s| s.balance);
            sets.entry(service.clone())
                .or_insert_with(|| Arc::new(PeerSet::new(balance, urls)));
        }
        Ok(Loadgen {
            plan,
            targets: sets,
            seed,
            counters: Arc::new(Counters::default()),
            share: Share::WHOLE,
            connection_lifetime: None,
        })
    }

    /// Closes each connection once it is `lifetime` old and opens a new one for the next
    /// request (by default connections are kept): what a load balancer that spreads
    /// connections, not requests, needs for replicas added during the run to get their share.
    pub fn with_connection_lifetime(mut self, lifetime: Duration) -> Loadgen {
        self.connection_lifetime = Some(lifetime);
        self
    }

    /// Sends only `share` of every workload (see [`Share`]); by default all of it.
    pub fn with_share(mut self, share: Share) -> Loadgen {
        self.share = share;
        self
    }

    /// The planned send instants of workload number `workload` of the plan (`None` for a
    /// closed one): the plan's, from the workload's own stream of the run seed, the instants
    /// the simulator sends at.
    pub fn schedule(&self, workload: usize) -> Option<Schedule> {
        match &self.plan.workloads.get(workload)?.load {
            Load::Open {
                rate,
                spikes,
                arrivals,
            } => Some(Schedule::of_workload(
                rate,
                spikes,
                *arrivals,
                self.plan.scenario.duration_s,
                self.seed,
                workload,
            )),
            Load::Closed { .. } => None,
        }
    }

    /// The live replicas of a target service, to update when replicas die or come back.
    pub fn target(&self, service: &str) -> Option<&Arc<PeerSet>> {
        self.targets.get(service)
    }

    /// Connections and workers so far.
    pub fn stats(&self) -> LoadgenStats {
        LoadgenStats {
            connections: self.counters.connections.load(Ordering::Relaxed),
            overflow_workers: self.counters.overflow_workers.load(Ordering::Relaxed),
        }
    }

    /// What the hop to the entry replicas cost each answered request so far, beyond the
    /// replica's own time: the network as the load generator meets it.
    pub fn hop(&self) -> SparseLatency {
        self.counters
            .hop
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .to_sparse()
    }

    /// Runs every workload from `t0` until the plan's duration (or until `stop` turns true),
    /// then lets requests in flight finish until the end of the drain.
    pub async fn run(
        &self,
        t0: Instant,
        recorder: Arc<Mutex<Recorder>>,
        mut stop: watch::Receiver<bool>,
    ) {
        // Workers read an atomic flag: cheaper than the watch channel's lock on every send.
        let stopped = Arc::new(AtomicBool::new(*stop.borrow()));
        let flag = stopped.clone();
        let watcher = tokio::spawn(async move {
            while stop.changed().await.is_ok() {
                if *stop.borrow() {
                    break;
                }
            }
            // Stopped, or the sender is gone with the run that held it.
            flag.store(true, Ordering::Relaxed);
        });
        // Workers live on threads of their own: if this future is dropped (the run was
        // aborted) they must still stop at their next send.
        let _stop_on_drop = StopOnDrop(stopped.clone());
        let mut tasks = JoinSet::new();
        for (i, w) in self.plan.workloads.iter().enumerate() {
            let Some(slots) = slots(&recorder, w) else {
                continue;
            };
            let Some(peers) = self.targets.get(&w.target.service).cloned() else {
                continue;
            };
            let ctx = Arc::new(Ctx {
                target: Target::new(&w.target.endpoint, w.priority),
                timeout_s: w.timeout_s,
                peers,
                recorder: recorder.clone(),
                slots,
                t0,
                duration_s: self.plan.scenario.duration_s,
                horizon_s: self.plan.horizon_s(),
                stopped: stopped.clone(),
                counters: self.counters.clone(),
                connection_lifetime: self.connection_lifetime,
            });
            match &w.load {
                Load::Open { .. } => {
                    let Some(schedule) = self.schedule(i) else {
                        continue;
                    };
                    tasks.spawn(open_loop(ctx, schedule, self.share));
                }
                Load::Closed {
                    users_from,
                    users_to,
                    ramp_start_s,
                    ramp_s,
                    think,
                } => {
                    let users = UsersRamp {
                        from: *users_from,
                        to: *users_to,
                        start_s: *ramp_start_s,
                        ramp_s: *ramp_s,
                    };
                    let ours =
                        (0..users.from.max(users.to)).filter(|&u| self.share.takes(u.into()));
                    for u in ours {
                        tasks.spawn(closed_user(ctx.clone(), users, u, think.clone()));
                    }
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        watcher.abort();
    }
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn slots(recorder: &Mutex<Recorder>, w: &Workload) -> Option<Slots> {
    let r = recorder.lock().ok()?;
    let find = |k: &SubjectKey| r.subjects().iter().position(|s| s == k);
    Some(Slots {
        workload: find(&SubjectKey::Workload {
            workload: w.name.clone(),
        })?,
        endpoint: find(&SubjectKey::Endpoint {
            service: w.target.service.clone(),
            endpoint: w.target.endpoint.clone(),
        })?,
    })
}

/// What every worker of one workload shares.
struct Ctx {
    target: Target,
    timeout_s: Option<f64>,
    peers: Arc<PeerSet>,
    recorder: Arc<Mutex<Recorder>>,
    slots: Slots,
    t0: Instant,
    duration_s: f64,
    horizon_s: f64,
    stopped: Arc<AtomicBool>,
    counters: Arc<Counters>,
    connection_lifetime: Option<Duration>,
}

impl Ctx {
    fn at(&self, t_s: f64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.t0 + Duration::from_secs_f64(t_s.max(0.0)))
    }
    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// One request intended at `intended_s`, sent on one of the worker's own connections;
    /// recorded for the workload (from the intended time) and the endpoint (from the send).
    /// Returns how long the target took (from the send to the answer).
    async fn request(&self, conns: &mut Conns, batch: &mut Batch, intended_s: f64) -> f64 {
        let sent_s = self.now_s();
        let outcome = match self.peers.pick() {
            None => Err(Cause::Connection),
            Some(peer) => {
                // The user gives up at its timeout; without one the run's drain bounds the wait.
                let drain_left = (self.horizon_s - sent_s).max(0.0);
                let (limit, cause) = match self.timeout_s {
                    Some(t) if intended_s + t - sent_s <= drain_left => {
                        ((intended_s + t - sent_s).max(0.0), Cause::Timeout)
                    }
                    _ => (drain_left, Cause::Unfinished),
                };
                let exchange = conns.exchange(&peer.peer().url, &self.target, &self.counters);
                match tokio::time::timeout(Duration::from_secs_f64(limit), exchange).await {
                    Ok(Ok(answer)) => exec::classify(Ok(answer)).map_err(|(_, c)| c),
                    Ok(Err(c)) => Err(c),
                    Err(_) => Err(cause),
                }
            }
        };
        let done_s = self.now_s();
        batch.record(self.slots.workload, done_s, done_s - intended_s, outcome);
        batch.record(self.slots.endpoint, done_s, done_s - sent_s, outcome);
        done_s - sent_s
    }
}

/// The planned arrivals not yet taken by a worker: this generator's share of them.
struct Pending {
    schedule: Schedule,
    next: Option<f64>,
    share: Share,
    /// Arrivals drawn from the whole stream so far, every generator's.
    drawn: u64,
}

impl Pending {
    fn new(schedule: Schedule, share: Share) -> Pending {
        let mut p = Pending {
            schedule,
            next: None,
            share,
            drawn: 0,
        };
        p.next = p.draw();
        p
    }

    fn draw(&mut self) -> Option<f64> {
        let schedule = &mut self.schedule;
        self.share
            .next_of(&mut self.drawn, || schedule.next_arrival())
    }

    fn claim(&mut self) -> Option<f64> {
        let t = self.next?;
        self.next = self.draw();
        Some(t)
    }
}

/// An open-loop workload's pool of workers: each takes the next planned arrival, waits for
/// its time, sends it on its own connection and records the answer, then takes the next.
struct Pool {
    pending: Mutex<Pending>,
    /// Workers not waiting on an answer (about to take an arrival, or waiting for its time).
    idle: AtomicUsize,
    workers: AtomicUsize,
    /// The target's answer time (send to answer, seconds, as f64 bits): the last one seen and
    /// a moving average. Workers only help while answers are slow: the pool needs about
    /// rate x answer time of them (Little's law); beyond that the limit is the CPU, and more
    /// connections only make the target slower.
    last_answer_s: AtomicU64,
    mean_answer_s: AtomicU64,
}

impl Pool {
    fn answered(&self, took_s: f64) {
        self.last_answer_s
            .store(took_s.to_bits(), Ordering::Relaxed);
        // Racy between workers, which only blurs an average.
        let mean = f64::from_bits(self.mean_answer_s.load(Ordering::Relaxed));
        let mean = mean + (took_s - mean) * 0.05;
        self.mean_answer_s.store(mean.to_bits(), Ordering::Relaxed);
    }

    /// Workers the current rate needs while answers take what they take now.
    fn needed(&self, rate_per_s: f64) -> usize {
        let last = f64::from_bits(self.last_answer_s.load(Ordering::Relaxed));
        let mean = f64::from_bits(self.mean_answer_s.load(Ordering::Relaxed));
        (2.0 * rate_per_s * last.max(mean)).ceil() as usize + 8
    }

    fn claim(&self) -> Option<f64> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .claim()
    }
}

/// Workers started before the first send: the arrivals of 2 ms at the peak rate, so the pool
/// rarely needs to grow against an agent answering in under a millisecond; and at least 8, so
/// that at a few hundred per second a few slow answers at once (a tail of tens of ms) do not
/// hold every worker: a send then waits up to `OVERDUE_S` for the pool to grow, and that
/// lateness counts in the workload's latency (it made `--local`'s p99 ~10 ms worse than the
/// simulator's at 80-200/s in docs/sim-vs-real.md).
fn initial_workers(peak_per_s: f64) -> usize {
    ((peak_per_s * 0.002).ceil() as usize).clamp(8, 128)
}

/// Threads the open-loop workers run on: one event loop per core, as `wrk` does, each with its
/// own share of the workers (and their connections). A worker and the connections it drives
/// never leave their thread, so an answer wakes no other thread (no futex, no cross-thread
/// queue), which on a small machine costs about as much as the HTTP exchange itself.
fn loop_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

async fn open_loop(ctx: Arc<Ctx>, schedule: Schedule, share: Share) {
    let n = initial_workers(schedule.peak_rate() / f64::from(share.of()));
    let pool = Arc::new(Pool {
        pending: Mutex::new(Pending::new(schedule, share)),
        idle: AtomicUsize::new(n),
        workers: AtomicUsize::new(n),
        last_answer_s: AtomicU64::new(0.0f64.to_bits()),
        mean_answer_s: AtomicU64::new(0.0f64.to_bits()),
    });
    let threads = loop_threads().min(n);
    let handle = tokio::runtime::Handle::current();
    let mut loops = JoinSet::new();
    for k in 0..threads {
        let (ctx, pool, handle) = (ctx.clone(), pool.clone(), handle.clone());
        // This thread's share of the initial workers.
        let share = n / threads + usize::from(k < n % threads);
        loops.spawn_blocking(move || {
            let event_loop = pool_loop(ctx, pool, share, threads);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                // Real-time when CHAOS_REALTIME=1 (clock::set_realtime_workers).
                .on_thread_park(crate::clock::on_worker_park)
                .build()
            {
                Ok(rt) => rt.block_on(event_loop),
                // Without a thread of its own the share runs on the caller's runtime.
                Err(_) => handle.block_on(event_loop),
            }
        });
    }
    while loops.join_next().await.is_some() {}
}

/// One thread's workers; `threads` threads share the pool and its growth.
async fn pool_loop(ctx: Arc<Ctx>, pool: Arc<Pool>, share: usize, threads: usize) {
    let mut workers = JoinSet::new();
    for _ in 0..share {
        workers.spawn(open_worker(ctx.clone(), pool.clone(), None));
    }
    // The open loop's promise: an arrival due while every worker waits on an answer is not
    // held back by them; it gets a worker (and a connection) of its own, which then stays.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if ctx.stopped() {
            break;
        }
        let now = ctx.now_s();
        let mut due = Vec::new();
        {
            let mut p = pool.pending.lock().unwrap_or_else(|p| p.into_inner());
            let Some(next) = p.next else { break };
            let workers = pool.workers.load(Ordering::Relaxed);
            if next + OVERDUE_S < now
                && pool.idle.load(Ordering::Relaxed) == 0
                && workers < pool.needed(p.schedule.rate_at(now))
            {
                // Growth by at most 1/16 of the pool per millisecond (8 to 1,000 workers in
                // about 80 ms), shared between the threads: when the whole machine stalls for
                // a moment every answer is late, and opening hundreds of connections then
                // (each a connect, an accept and a task on the target) turns a 20 ms hiccup
                // into an overload the target does not recover from within the run.
                let room = ((1 + workers / 16) / threads)
                    .max(1)
                    .min(MAX_CONNECTIONS.saturating_sub(workers));
                while due.len() < room && p.next.is_some_and(|t| t + OVERDUE_S < now) {
                    due.extend(p.claim());
                }
            }
        }
        for t in due {
            pool.workers.fetch_add(1, Ordering::Relaxed);
            ctx.counters
                .overflow_workers
                .fetch_add(1, Ordering::Relaxed);
            workers.spawn(open_worker(ctx.clone(), pool.clone(), Some(t)));
        }
        while workers.try_join_next().is_some() {}
    }
    while workers.join_next().await.is_some() {}
}

/// `first`: an overdue arrival handed over at the worker's start (it starts busy).
async fn open_worker(ctx: Arc<Ctx>, pool: Arc<Pool>, mut first: Option<f64>) {
    let mut conns = Conns::with_lifetime(ctx.connection_lifetime);
    let mut batch = Batch::new(ctx.recorder.clone());
    loop {
        let (t, was_idle) = match first.take() {
            Some(t) => (t, false),
            None => match pool.claim() {
                Some(t) => (t, true),
                None => break,
            },
        };
        // Only sleep when the send is in the future: the timer has a 1ms resolution, and at
        // high rates most sends are already due when the previous answer is in.
        let at = ctx.at(t);
        if at > tokio::time::Instant::now() {
            batch.flush();
            crate::clock::sleep_until(at.into_std()).await;
        }
        if ctx.stopped() {
            break;
        }
        if was_idle {
            pool.idle.fetch_sub(1, Ordering::Relaxed);
        }
        let took_s = ctx.request(&mut conns, &mut batch, t).await;
        pool.answered(took_s);
        pool.idle.fetch_add(1, Ordering::Relaxed);
    }
}

async fn closed_user(ctx: Arc<Ctx>, users: UsersRamp, i: u32, think: chaos_plan::Dist) {
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut conns = Conns::with_lifetime(ctx.connection_lifetime);
    let mut batch = Batch::new(ctx.recorder.clone());
    loop {
        let now = ctx.now_s();
        if now >= ctx.duration_s || ctx.stopped() {
            return;
        }
        if !users.active(i, now) {
            let on = users.joins_s(i);
            if users.to <= users.from || on <= now || on >= ctx.duration_s {
                return;
            }
            batch.flush();
            tokio::time::sleep_until(ctx.at(on)).await;
            continue;
        }
        let sent_s = ctx.now_s();
        ctx.request(&mut conns, &mut batch, sent_s).await;
        let pause = dist::sample(&think, &mut rng);
        // The plan's floor on a user's cycle: an answer that comes back at once (no peer, a
        // refused connection) must not make a `think 0s` user spin faster than the simulator's.
        let next_s = chaos_plan::next_user_send_s(sent_s, ctx.now_s(), pause);
        if pause > 0.0 {
            batch.flush();
        }
        wait_until(ctx.at(next_s)).await;
    }
}

/// Waits until `at` on the precise clock (`crate::clock`): the round-trip floor and short
/// think times are below tokio's millisecond timer.
async fn wait_until(at: tokio::time::Instant) {
    // Yields at least once: a user whose answers never await must not hold the thread.
    tokio::task::yield_now().await;
    crate::clock::sleep_until(at.into_std()).await;
}

/// Planned arrival instants of an open-loop workload: the plan's [`ArrivalTimes`], the
/// instants the simulator sends at for the same run seed.
pub struct Schedule {
    times: ArrivalTimes,
}

impl Schedule {
    /// The instants of workload number `workload` of the plan (its rate, spikes and arrival
    /// process) over `[0, duration_s)`, in a run with `run_seed`.
    pub fn of_workload(
        rate: &[RatePiece],
        spikes: &[Spike],
        arrivals: Arrivals,
        duration_s: f64,
        run_seed: u64,
        workload: usize,
    ) -> Schedule {
        let rate = RateFn::new(rate, spikes, duration_s);
        Schedule {
            times: ArrivalTimes::new(rate, arrivals, run_seed, workload),
        }
    }

    /// The instants of a plan's first workload with this load.
    pub fn new(
        rate: Vec<RatePiece>,
        spikes: Vec<Spike>,
        arrivals: Arrivals,
        duration_s: f64,
        run_seed: u64,
    ) -> Schedule {
        Schedule::of_workload(&rate, &spikes, arrivals, duration_s, run_seed, 0)
    }

    /// The highest rate of the run.
    pub fn peak_rate(&self) -> f64 {
        self.times.rate().peak()
    }

    /// Requests per second at `t`.
    pub fn rate_at(&self, t: f64) -> f64 {
        self.times.rate().at(t)
    }

    /// The next planned send time, or `None` at the end of the run.
    pub fn next_arrival(&mut self) -> Option<f64> {
        self.times.next()
    }
}

/// Waits until every target answers its health check (up to `wait`), for `chaos loadgen` in
/// a cluster where the Job may start before the Pods are ready.
pub async fn wait_ready(
    targets: &BTreeMap<String, Vec<String>>,
    wait: Duration,
) -> Result<(), String> {
    let client = crate::server::http_client();
    let deadline = Instant::now() + wait;
    for urls in targets.values() {
        for url in urls {
            loop {
                let ok = client
                    .get(format!("{url}/_chaos/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "{url} did not answer /_chaos/health within {}s",
                        wait.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}

/// Checks that every target accepts `token` on its control API (fails fast on a wrong one).
pub async fn check_token(
    targets: &BTreeMap<String, Vec<String>>,
    token: &str,
) -> Result<(), String> {
    let client = crate::server::http_client();
    for url in targets.values().flatten() {
        let r = client
            .get(format!("{url}/_chaos/metrics"))
            .bearer_auth(token)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => return Err(format!("{url} refused the control token ({})", r.status())),
            Err(e) => return Err(format!("{url}: {e}")),
        }
    }
    Ok(())
}

/// Runs every workload once and returns what the clients saw: the workload subjects and the
/// targeted endpoints (as the load generator, their caller, saw them).
pub async fn run_to_recording(
    plan: Arc<Plan>,
    targets: &BTreeMap<String, Vec<String>>,
    seed: u64,
) -> Result<Recording, LoadgenError> {
    run_with_stats(plan, targets, seed).await.map(|(r, _)| r)
}

/// [`run_to_recording`] sending only `share` of the load.
pub async fn run_shared(
    plan: Arc<Plan>,
    targets: &BTreeMap<String, Vec<String>>,
    seed: u64,
    share: Share,
) -> Result<Recording, LoadgenError> {
    run_with_stats_shared(plan, targets, seed, share)
        .await
        .map(|(r, _)| r)
}

/// [`run_to_recording`], with how many connections and workers it took.
pub async fn run_with_stats(
    plan: Arc<Plan>,
    targets: &BTreeMap<String, Vec<String>>,
    seed: u64,
) -> Result<(Recording, LoadgenStats), LoadgenError> {
    run_with_stats_shared(plan, targets, seed, Share::WHOLE).await
}

async fn run_with_stats_shared(
    plan: Arc<Plan>,
    targets: &BTreeMap<String, Vec<String>>,
    seed: u64,
    share: Share,
) -> Result<(Recording, LoadgenStats), LoadgenError> {
    let lg = Loadgen::new(plan.clone(), targets, seed)?.with_share(share);
    let recorder = Arc::new(Mutex::new(Recorder::new(&plan, "loadgen", seed)));
    let (_tx, rx) = watch::channel(false);
    lg.run(Instant::now(), recorder.clone(), rx).await;
    // Every worker has ended (and handed over its records); take the recorder out of its lock.
    let rec = {
        let mut guard = recorder.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *guard, Recorder::new(&plan, "loadgen", seed))
    };
    let mut recording = rec.finish(plan.scenario.duration_s, plan.horizon_s(), None);
    // The hop to the entry replicas as this load generator met it (no service calls here).
    recording.hop = Some(chaos_report::MeasuredHop {
        entry: lg.hop(),
        calls: SparseLatency::default(),
    });
    Ok((recording, lg.stats()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(a: f64, b: f64, from: f64, to: f64) -> RatePiece {
        RatePiece {
            start_s: a,
            end_s: b,
            from_per_s: from,
            to_per_s: to,
        }
    }

    fn count(s: &mut Schedule, a: f64, b: f64) -> usize {
        let mut n = 0;
        let mut all = Vec::new();
        while let Some(t) = s.next_arrival() {
            all.push(t);
        }
        for t in all {
            if a <= t && t < b {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn uniform_arrivals_hit_the_rate_exactly() {
        let mut s = Schedule::new(
            vec![piece(0.0, 10.0, 100.0, 100.0)],
            vec![],
            Arrivals::Uniform,
            10.0,
            1,
        );
        let n = count(&mut s, 0.0, 10.0);
        assert!((999..=1000).contains(&n), "{n}");
    }

    #[test]
    fn poisson_follows_ramps_and_spikes() {
        let rate = vec![
            piece(0.0, 100.0, 0.0, 200.0),
            piece(100.0, 200.0, 200.0, 200.0),
        ];
        let spikes = vec![Spike {
            start_s: 150.0,
            end_s: 160.0,
            rate_per_s: 1000.0,
        }];
        let mut s = Schedule::new(rate.clone(), spikes.clone(), Arrivals::Poisson, 200.0, 7);
        // Ramp 0 -> 200/s over 100 s: 10,000 expected.
        let ramp = count(&mut s, 0.0, 100.0) as f64;
        assert!((ramp - 10_000.0).abs() < 400.0, "{ramp}");
        let mut s = Schedule::new(rate, spikes, Arrivals::Poisson, 200.0, 7);
        let spike = count(&mut s, 150.0, 160.0) as f64;
        assert!((spike - 12_000.0).abs() < 500.0, "{spike}");
    }

    #[test]
    fn zero_rate_stretches_send_nothing() {
        let rate = vec![piece(0.0, 5.0, 0.0, 0.0), piece(5.0, 6.0, 10.0, 10.0)];
        let mut s = Schedule::new(rate, vec![], Arrivals::Poisson, 6.0, 3);
        let first = s.next_arrival().unwrap();
        assert!(first >= 5.0);
    }

    fn pool(rate: f64) -> Pool {
        let schedule = Schedule::new(
            vec![piece(0.0, 10.0, rate, rate)],
            vec![],
            Arrivals::Uniform,
            10.0,
            1,
        );
        Pool {
            pending: Mutex::new(Pending::new(schedule, Share::WHOLE)),
            idle: AtomicUsize::new(0),
            workers: AtomicUsize::new(0),
            last_answer_s: AtomicU64::new(0.0f64.to_bits()),
            mean_answer_s: AtomicU64::new(0.0f64.to_bits()),
        }
    }

    #[test]
    fn workers_claim_each_arrival_once_in_order() {
        let p = pool(100.0);
        let mut all = Vec::new();
        while let Some(t) = p.claim() {
            all.push(t);
        }
        assert!((999..=1000).contains(&all.len()), "{}", all.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn shares_of_a_seeded_stream_partition_it() {
        let stream = |share: Share| {
            let rate = vec![piece(0.0, 10.0, 50.0, 300.0)];
            let schedule = Schedule::new(rate, vec![], Arrivals::Poisson, 10.0, 42);
            let mut p = Pending::new(schedule, share);
            std::iter::from_fn(move || p.claim()).collect::<Vec<f64>>()
        };
        let whole = stream(Share::WHOLE);
        let mut merged: Vec<f64> = (0..3)
            .flat_map(|i| stream(Share::new(i, 3).unwrap()))
            .collect();
        merged.sort_by(f64::total_cmp);
        assert!(whole.len() > 1000);
        assert_eq!(merged, whole);
    }

    #[test]
    fn the_pool_needs_workers_only_for_slow_answers() {
        let p = pool(1000.0);
        // Fast answers: the floor of 8 workers is enough.
        for _ in 0..200 {
            p.answered(0.0001);
        }
        assert_eq!(p.needed(1000.0), 9);
        // A 500 ms latency fault: about rate x answer time, twice over, from the first slow answer.
        p.answered(0.5);
        assert_eq!(p.needed(1000.0), 1008);
        assert_eq!(initial_workers(30_000.0), 60);
        assert_eq!(initial_workers(10.0), 8);
    }
}
