//! Random *valid* `.chaos` scenarios for the simulator's property tests and its fuzz target.
//!
//! Structure-aware: a scenario is built as a small model (services, endpoint steps, workloads,
//! faults, expectations) from a stream of choices, then rendered to source text, which the
//! tests compile with the real compiler (so every checker rule holds) and simulate. The choices
//! come from a [`Source`]: a proptest vector of numbers in `cargo test` (shrinking a choice
//! towards 0 makes the scenario simpler: 0 is always the simplest option), libFuzzer's bytes
//! through `arbitrary::Unstructured` in `fuzz/fuzz_targets/sim.rs`. This file uses only `std`,
//! so both can include it.
//!
//! Every construct of `docs/language.md` appears, with extreme legal values (rates from `3/h`
//! to `1000000/s`, `queue 0`, `restart 0s`, `think 0s`, `users 0`, zero and huge work, Pareto
//! tails without a mean), while each case's simulated requests stay within [`BUDGET`]: rates and
//! users are scaled to it from an upper bound of the attempts one request can cause.
//!
//! Known simulator bugs can be kept away from with [`Known`] while their fixes are not in;
//! [`KNOWN`] is what the tests and the fuzz target use (nothing avoided today).
#![allow(dead_code)]

use std::fmt::Write as _;

/// Upper bound on the attempts (workload requests times their fan-out) of one case.
pub const BUDGET: f64 = 20_000.0;

/// A closed-loop user's shortest cycle (`chaos_plan::MIN_ROUND_TRIP_S`; this file uses only
/// `std`): what a `think 0s` user's requests are counted with.
const MIN_CYCLE_S: f64 = 100e-6;

/// Triggers of known simulator bugs to stay away from.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Issue 16.1 (fixed): a closed-loop user with `think 0s` whose answer came at once
    /// livelocked; kept off, the generator writes no `think` under 1 ms.
    pub avoid_think_zero: bool,
    /// Issue 16.6 (fixed): `restart 0s` with a `memory` fault whose limit is reached at once
    /// never ended; kept off, no memory fault targets a `restart 0s` service.
    pub avoid_restart_zero_memory: bool,
}

/// What the generator avoids: nothing since the fixes of issue 16 items 1-6 (9ff039f, d111217).
pub const KNOWN: Known = Known {
    avoid_think_zero: false,
    avoid_restart_zero_memory: false,
};

/// Where choices come from.
pub trait Source {
    /// A number in `0..n` (`n >= 1`); 0 is the simplest choice.
    fn below(&mut self, n: u64) -> u64;
}

/// Choices from a list of numbers (proptest); 0 once the list is used up.
pub struct Choices<'a> {
    pub values: &'a [u64],
    pub next: usize,
}

impl Source for Choices<'_> {
    fn below(&mut self, n: u64) -> u64 {
        let v = self.values.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        if n <= 1 { 0 } else { v % n }
    }
}

struct G<'a> {
    s: &'a mut dyn Source,
}

impl G<'_> {
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.s.below(hi - lo + 1)
    }
    /// True with `pct`% probability (for a uniform source); false is the simplest.
    fn chance(&mut self, pct: u64) -> bool {
        self.s.below(100) >= 100 - pct
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.s.below(xs.len() as u64) as usize]
    }
    /// A duration in microseconds, spread over orders of magnitude up to `max_us`.
    fn dur(&mut self, max_us: u64) -> u64 {
        let tier = self.pick(&[1_000u64, 10_000, 100_000, 1_000_000, 10_000_000, 1, 100]);
        let hi = (tier * 10).min(max_us.max(1));
        let lo = (tier / 10).min(hi);
        // Round numbers mostly, so the text reads like a person wrote it.
        let v = self.int(lo, hi);
        if v >= 1000 && self.chance(70) {
            (v / 1000).max(1) * 1000
        } else {
            v
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The model

/// Durations are microseconds.
#[derive(Debug, Clone)]
pub enum Dist {
    Const(u64),
    Exp(u64),
    Normal(u64, u64),
    Lognormal(u64, u64),
    Uniform(u64, u64),
    /// Scale, shape in hundredths.
    Pareto(u64, u64),
}

impl Dist {
    /// The mean in seconds, or for a Pareto tail without a mean its scale (the least sample):
    /// what the budget divides by.
    fn mean_s(&self) -> f64 {
        let s = |us: u64| us as f64 / 1e6;
        match *self {
            Dist::Const(v) | Dist::Exp(v) | Dist::Normal(v, _) => s(v),
            Dist::Lognormal(m, p) => {
                let sigma = ((p as f64) / (m as f64)).ln() / 2.326;
                s(m) * (sigma * sigma / 2.0).exp()
            }
            Dist::Uniform(a, b) => s(a + b) / 2.0,
            Dist::Pareto(sc, k) if k > 100 => s(sc) * (k as f64 / 100.0) / (k as f64 / 100.0 - 1.0),
            Dist::Pareto(sc, _) => s(sc),
        }
    }
}

/// A rate as written: `n` per second, minute or hour.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub n: f64,
    pub per: char,
}

impl Rate {
    fn per_s(self) -> f64 {
        self.n
            / match self.per {
                'h' => 3600.0,
                'm' => 60.0,
                _ => 1.0,
            }
    }
    fn scaled(self, f: f64) -> Rate {
        if f >= 1.0 || self.n == 0.0 {
            return self;
        }
        // Written with at most three decimals; never rounded up past the scaled value.
        let n = (self.n * f * 1000.0).floor() / 1000.0;
        Rate { n, per: self.per }
    }
}

#[derive(Debug, Clone)]
pub enum Replicas {
    Default,
    Fixed(u64),
    /// min, max, target %, delay, interval
    Autoscale(u64, u64, u64, Option<u64>, Option<u64>),
}

#[derive(Debug, Clone)]
pub struct Service {
    pub replicas: Replicas,
    pub workers: Option<u64>,
    pub queue: Option<u64>,
    pub rate_limit: Option<Rate>,
    pub restart: Option<u64>,
    pub balance: Option<&'static str>,
    pub latency: Option<Dist>,
    pub endpoints: Vec<Vec<Step>>,
}

impl Service {
    pub fn max_replicas(&self) -> u64 {
        match self.replicas {
            Replicas::Default => 1,
            Replicas::Fixed(n) => n,
            Replicas::Autoscale(_, max, ..) => max,
        }
    }
    fn restart_zero(&self) -> bool {
        self.restart == Some(0)
    }
}

#[derive(Debug, Clone)]
pub enum Step {
    Work(Dist),
    Call(Call),
    Parallel(Vec<Step>),
    /// Branches in tenths of a percent (summing to 1000).
    Choice(Vec<(u64, Vec<Step>)>),
    /// Tenths of a percent, status.
    Fail(u64, Option<u64>),
}

#[derive(Debug, Clone)]
pub struct Call {
    pub svc: usize,
    pub ep: usize,
    pub timeout: Option<u64>,
    /// retries, backoff, jitter
    pub retry: Option<(u64, Option<Backoff>, Option<&'static str>)>,
    /// failure %, over, min, open
    pub breaker: Option<(u64, u64, u64, u64)>,
    pub on_error: Option<&'static str>,
    pub block: bool,
}

#[derive(Debug, Clone)]
pub enum Backoff {
    Const(u64),
    Exp(u64, Option<u64>, bool),
}

#[derive(Debug, Clone)]
pub enum Piece {
    Hold(Rate),
    For(Rate, u64),
    Ramp(Rate, Rate, u64),
}

#[derive(Debug, Clone)]
pub enum Load {
    Open {
        pieces: Vec<Piece>,
        /// rate, at, for
        spikes: Vec<(Rate, u64, u64)>,
        arrivals: Option<&'static str>,
    },
    Closed {
        users: u64,
        ramp: Option<(u64, u64)>,
        think: Dist,
    },
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub svc: usize,
    pub ep: usize,
    pub load: Load,
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum Schedule {
    At(u64, Option<u64>),
    /// period, from, until, for
    Every(u64, Option<u64>, Option<u64>, Option<u64>),
}

#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub svc: usize,
    pub ep: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Latency(Dist, Target, bool),
    Errors(u64, Option<u64>, Target),
    Kill(u64, Vec<usize>, bool),
    Partition(Vec<usize>, Vec<usize>),
    /// Factor in tenths, written `x3` or `3x`.
    Cpu(u64, Target, bool),
    Loss(u64, Target),
    /// MiB/s in tenths, limit in MiB.
    Memory(u64, usize, u64),
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub schedule: Schedule,
    pub actions: Vec<Action>,
}

impl Fault {
    fn only_kills(&self) -> bool {
        self.actions.iter().all(|a| matches!(a, Action::Kill(..)))
    }
    /// Occurrences `(start, end)` in µs, as the compiler computes them (end = start for an
    /// instant kill).
    fn occurrences(&self, d: u64) -> Vec<(u64, u64)> {
        let len = |start: u64, f: Option<u64>| match f {
            Some(f) => (start + f).min(d),
            None if self.only_kills() => start,
            None => d,
        };
        match self.schedule {
            Schedule::At(t, f) => vec![(t, len(t, f))],
            Schedule::Every(p, from, until, f) => {
                let until = until.unwrap_or(d).min(d);
                let mut t = from.unwrap_or(0);
                let mut out = Vec::new();
                while t < until {
                    out.push((t, len(t, f)));
                    t += p;
                }
                out
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum Subject {
    Service(usize),
    Endpoint(usize, usize),
    Workload(usize),
}

#[derive(Debug, Clone)]
pub enum Window {
    Overall(bool),
    During(usize),
    Before(usize),
    /// fault, + D, for E
    After(usize, Option<u64>, Option<u64>),
    Between(u64, u64),
}

#[derive(Debug, Clone)]
pub struct Expect {
    pub metric: &'static str,
    pub subject: Subject,
    pub op: &'static str,
    pub threshold: u64,
    pub window: Option<Window>,
    /// `abort when … for D` instead of an expectation.
    pub abort_for: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub duration: u64,
    pub warmup: Option<u64>,
    pub seed: Option<u64>,
    pub window: Option<u64>,
    pub services: Vec<Service>,
    pub workloads: Vec<Workload>,
    pub faults: Vec<Fault>,
    pub expects: Vec<Expect>,
}

const ENDPOINTS: [&str; 3] = ["GET /", "POST /x", "query"];
const SECOND: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Generation

/// A random valid scenario.
pub fn scenario(s: &mut dyn Source, known: Known) -> Scenario {
    let mut g = G { s };
    let g = &mut g;
    let duration = match g.s.below(6) {
        0 => g.int(1, 20) * SECOND,
        1 => g.int(1, 120) * SECOND,
        2 => g.int(1, 1000) * 1000,
        3 => g.pick(&[60, 300, 600, 3600]) * SECOND,
        4 => g.int(1, 999),
        _ => g.int(1, 10) * SECOND + g.int(0, 999) * 1000,
    };
    let warmup = match g.s.below(3) {
        0 => None,
        1 => Some(0),
        _ => Some(g.int(0, duration - 1)),
    };
    let seed = g.chance(30).then(|| g.pick(&[0, 1, 7, u64::MAX >> 11]));
    // At most ~2000 timeline windows (the drain can be 30 s).
    let min_window = ((duration + 30 * SECOND) / 2000).max(1);
    let window = g.chance(50).then(|| {
        let w = match g.s.below(3) {
            0 => g.pick(&[SECOND, 2 * SECOND, 5 * SECOND, 100_000, 250_000]),
            1 => g.int(1, 10_000) * 1000,
            _ => g.int(1, duration.max(2)),
        };
        w.max(min_window)
    });

    let n_services = g.int(1, 4) as usize;
    let mut services: Vec<Service> = Vec::new();
    for i in 0..n_services {
        services.push(service(g, i, n_services));
    }
    let n_workloads = g.int(1, 3) as usize;
    let mut workloads = Vec::new();
    for _ in 0..n_workloads {
        workloads.push(workload(g, &services, duration, known));
    }

    let n_faults = g.s.below(4) as usize;
    let mut faults = Vec::new();
    for _ in 0..n_faults {
        faults.push(fault(g, &services, duration, known));
    }

    let mut sc = Scenario {
        duration,
        warmup,
        seed,
        window,
        services,
        workloads,
        faults,
        expects: Vec::new(),
    };
    let n_expects = g.s.below(6) as usize;
    for _ in 0..n_expects {
        if let Some(e) = expect(g, &sc) {
            sc.expects.push(e);
        }
    }
    fit_budget(&mut sc);
    sc
}

fn dist(g: &mut G, max_us: u64) -> Dist {
    match g.s.below(7) {
        0 => Dist::Const(g.dur(max_us)),
        1 => Dist::Const(0),
        2 => Dist::Exp(g.dur(max_us).max(1)),
        3 => Dist::Normal(g.dur(max_us), g.dur(max_us)),
        4 => {
            let m = g.dur(max_us).max(1);
            Dist::Lognormal(m, m * g.int(1, 20))
        }
        5 => {
            let a = g.dur(max_us);
            Dist::Uniform(a, a + g.dur(max_us))
        }
        _ => Dist::Pareto(g.dur(max_us).max(1), g.pick(&[150, 300, 110, 100, 50, 10])),
    }
}

fn rate(g: &mut G) -> Rate {
    match g.s.below(6) {
        0 => Rate {
            n: g.int(1, 200) as f64,
            per: 's',
        },
        1 => Rate {
            n: g.int(1, 59) as f64,
            per: 'm',
        },
        2 => Rate {
            n: g.int(1, 10) as f64,
            per: 'h',
        },
        3 => Rate {
            n: g.int(1, 999) as f64 / 1000.0,
            per: 's',
        },
        4 => Rate {
            n: g.pick(&[1000.0, 100_000.0, 1_000_000.0]),
            per: 's',
        },
        _ => Rate {
            n: g.int(1, 5000) as f64,
            per: 's',
        },
    }
}

fn service(g: &mut G, i: usize, n: usize) -> Service {
    let replicas = match g.s.below(4) {
        0 => Replicas::Default,
        1 => Replicas::Fixed(g.int(1, 3)),
        2 => Replicas::Fixed(g.int(1, 8)),
        _ => {
            let min = g.int(1, 3);
            Replicas::Autoscale(
                min,
                min + g.s.below(4),
                g.int(1, 100),
                g.chance(60)
                    .then(|| g.pick(&[0, SECOND, 100_000, 5 * SECOND])),
                g.chance(60)
                    .then(|| g.pick(&[SECOND, 250_000, 3 * SECOND, 10 * SECOND])),
            )
        }
    };
    let n_ep = g.int(1, 3) as usize;
    let mut endpoints = Vec::new();
    for _ in 0..n_ep {
        let n_steps = g.s.below(4);
        let steps = (0..n_steps).map(|_| step(g, i, n, 0)).collect();
        endpoints.push(steps);
    }
    Service {
        replicas,
        workers: g.chance(70).then(|| g.pick(&[1, 4, 2, 8, 64])),
        queue: g.chance(50).then(|| g.pick(&[0, 10, 1, 100])),
        rate_limit: g.chance(25).then(|| rate(g)),
        restart: g
            .chance(50)
            .then(|| g.pick(&[0, SECOND, 5 * SECOND, 100_000, 30 * SECOND])),
        balance: g
            .chance(50)
            .then(|| g.pick(&["round_robin", "random", "least_request"])),
        latency: g.chance(60).then(|| dist(g, SECOND)),
        endpoints,
    }
}

/// A step of service `i` of `n` (calls go only to later services: no cycles).
fn step(g: &mut G, i: usize, n: usize, depth: u32) -> Step {
    let kinds = if depth >= 2 { 2 } else { 5 };
    match g.s.below(kinds) {
        0 => Step::Work(dist(g, SECOND)),
        1 if i + 1 < n => Step::Call(call(g, i, n)),
        1 => Step::Fail(
            g.int(0, 1000),
            g.chance(50).then(|| g.pick(&[503, 429, 404, 100, 599])),
        ),
        2 => Step::Parallel((0..g.int(1, 3)).map(|_| step(g, i, n, depth + 1)).collect()),
        3 => {
            let k = g.int(1, 3);
            let mut left = 1000;
            let mut branches = Vec::new();
            for b in 0..k {
                let p = if b + 1 == k { left } else { g.int(0, left) };
                left -= p;
                let steps = if g.chance(50) {
                    vec![step(g, i, n, depth + 1)]
                } else {
                    (0..g.s.below(3))
                        .map(|_| step(g, i, n, depth + 1))
                        .collect()
                };
                branches.push((p, steps));
            }
            Step::Choice(branches)
        }
        _ => Step::Fail(
            g.int(0, 1000),
            g.chance(50).then(|| g.pick(&[503, 429, 404, 100, 599])),
        ),
    }
}

fn call(g: &mut G, i: usize, n: usize) -> Call {
    let svc = i + 1 + g.s.below((n - i - 1) as u64) as usize;
    Call {
        svc,
        ep: g.s.below(3) as usize,
        timeout: g.chance(50).then(|| g.dur(5 * SECOND).max(1)),
        retry: g.chance(40).then(|| {
            let backoff = g.chance(60).then(|| {
                if g.chance(50) {
                    Backoff::Const(g.dur(SECOND))
                } else {
                    let base = g.dur(SECOND).max(1);
                    Backoff::Exp(
                        base,
                        g.chance(50).then(|| base * g.int(1, 20)),
                        g.chance(50),
                    )
                }
            });
            (
                g.int(0, 3),
                backoff,
                g.chance(50).then(|| g.pick(&["none", "full", "equal"])),
            )
        }),
        breaker: g.chance(25).then(|| {
            (
                g.int(1, 100),
                g.dur(10 * SECOND).max(1),
                g.int(1, 20),
                g.dur(10 * SECOND).max(1),
            )
        }),
        on_error: g.chance(30).then(|| g.pick(&["continue", "fail"])),
        block: g.chance(50),
    }
}

fn workload(g: &mut G, services: &[Service], d: u64, known: Known) -> Workload {
    let svc = g.s.below(services.len() as u64) as usize;
    let ep = g.s.below(services[svc].endpoints.len() as u64) as usize;
    let load = if g.chance(70) {
        let n = g.int(1, 3);
        let mut pieces = Vec::new();
        for k in 0..n {
            let last = k + 1 == n;
            pieces.push(match g.s.below(3) {
                0 if last => Piece::Hold(rate(g)),
                2 => Piece::Ramp(rate(g), rate(g), g.dur(d).max(1)),
                _ => Piece::For(rate(g), g.dur(d).max(1)),
            });
        }
        let spikes = (0..g.s.below(3))
            .map(|_| (rate(g), g.int(0, d - 1), g.dur(d).max(1)))
            .collect();
        Load::Open {
            pieces,
            spikes,
            arrivals: g.chance(50).then(|| g.pick(&["poisson", "uniform"])),
        }
    } else {
        let users = g.pick(&[1, 3, 0, 10, 50]);
        let ramp = g
            .chance(40)
            .then(|| (g.pick(&[5, 0, 20, 100]), g.dur(d).max(1)));
        let mut think = if g.chance(20) {
            Dist::Const(0)
        } else {
            dist(g, 2 * SECOND)
        };
        if known.avoid_think_zero && think.mean_s() < 1e-3 {
            think = Dist::Const(1000);
        }
        Load::Closed { users, ramp, think }
    };
    Workload {
        svc,
        ep,
        load,
        timeout: g.chance(40).then(|| g.dur(10 * SECOND).max(1)),
    }
}

fn target(g: &mut G, services: &[Service]) -> Target {
    let svc = g.s.below(services.len() as u64) as usize;
    let ep = g
        .chance(40)
        .then(|| g.s.below(services[svc].endpoints.len() as u64) as usize);
    Target { svc, ep }
}

fn fault(g: &mut G, services: &[Service], d: u64, known: Known) -> Fault {
    let schedule = if g.chance(70) {
        Schedule::At(g.int(0, d - 1), g.chance(70).then(|| g.dur(d).max(1)))
    } else {
        // At most ~200 occurrences.
        let period = g.dur(d).max(d / 200).max(1);
        let from = g.chance(50).then(|| g.int(0, d - 1));
        let until = g
            .chance(40)
            .then(|| from.unwrap_or(0) + 1 + g.s.below(d - from.unwrap_or(0)));
        Schedule::Every(period, from, until, g.chance(70).then(|| g.dur(d).max(1)))
    };
    let n = g.int(1, 2);
    let mut actions = Vec::new();
    for _ in 0..n {
        let ns = services.len() as u64;
        let a = match g.s.below(7) {
            0 => Action::Latency(dist(g, SECOND), target(g, services), g.chance(50)),
            1 => Action::Errors(
                g.int(1, 1000),
                g.chance(50).then(|| g.pick(&[503, 404, 429, 500])),
                target(g, services),
            ),
            2 => {
                let k = g.int(1, ns);
                let mut svcs: Vec<usize> = (0..ns as usize).collect();
                // A few distinct services, in a random order.
                for j in 0..svcs.len() {
                    let o = j + g.s.below((svcs.len() - j) as u64) as usize;
                    svcs.swap(j, o);
                }
                svcs.truncate(k as usize);
                Action::Kill(g.int(1, 3), svcs, g.chance(50))
            }
            3 if ns >= 2 => {
                let mut a = Vec::new();
                let mut b = Vec::new();
                for s in 0..ns as usize {
                    match g.s.below(3) {
                        0 => a.push(s),
                        1 => b.push(s),
                        _ => {}
                    }
                }
                if a.is_empty() {
                    a.push(b.pop().unwrap_or(0));
                }
                if b.is_empty() {
                    b.push(if a.len() > 1 {
                        a.pop().unwrap_or(1)
                    } else {
                        1 - a[0].min(1)
                    });
                }
                Action::Partition(a, b)
            }
            4 => Action::Cpu(
                g.pick(&[30, 15, 5, 1, 1000]),
                target(g, services),
                g.chance(50),
            ),
            5 => Action::Loss(g.int(1, 1000), target(g, services)),
            _ => {
                let svc = g.s.below(ns) as usize;
                if known.avoid_restart_zero_memory && services[svc].restart_zero() {
                    Action::Loss(g.int(1, 1000), Target { svc, ep: None })
                } else {
                    Action::Memory(g.pick(&[200, 10, 100_000]), svc, g.pick(&[512, 1, 64]))
                }
            }
        };
        actions.push(a);
    }
    Fault { schedule, actions }
}

/// When fault `f` ends (µs): its last occurrence's end, or for a kill when the killed
/// replicas serve again (the longest `restart` among the candidates), within the run.
fn fault_end(sc: &Scenario, f: usize) -> u64 {
    let d = sc.duration;
    let fault = &sc.faults[f];
    let restart = fault
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Kill(_, svcs, _) => svcs
                .iter()
                .map(|&s| sc.services[s].restart.unwrap_or(5 * SECOND))
                .max(),
            _ => None,
        })
        .max();
    fault
        .occurrences(d)
        .iter()
        .map(|o| o.1.max(restart.map_or(0, |r| (o.0 + r).min(d))))
        .max()
        .unwrap_or(0)
}

fn expect(g: &mut G, sc: &Scenario) -> Option<Expect> {
    let abort = g.chance(25);
    let metrics: &[&'static str] = &[
        "p99",
        "error_rate",
        "p50",
        "p90",
        "p95",
        "p999",
        "mean",
        "max",
        "availability",
        "throughput",
        "max_replicas",
        "recovery",
    ];
    let mut metric = g.pick(metrics);
    if abort && metric == "recovery" {
        metric = "error_rate";
    }
    let ns = sc.services.len() as u64;
    let subject = match g.s.below(3) {
        _ if metric == "max_replicas" => Subject::Service(g.s.below(ns) as usize),
        0 => Subject::Service(g.s.below(ns) as usize),
        1 => {
            let s = g.s.below(ns) as usize;
            Subject::Endpoint(s, g.s.below(sc.services[s].endpoints.len() as u64) as usize)
        }
        _ => Subject::Workload(g.s.below(sc.workloads.len() as u64) as usize),
    };
    let op = g.pick(&["<", "<=", ">", ">=", "==", "!="]);
    let threshold = match metric {
        "error_rate" | "availability" => g.int(0, 1000),
        "max_replicas" => g.int(0, 10),
        "throughput" => g.int(0, 1000),
        _ => g.dur(10 * SECOND),
    };
    let d = sc.duration;
    let w0 = sc.warmup.unwrap_or(0);
    if abort {
        return Some(Expect {
            metric,
            subject,
            op,
            threshold,
            window: None,
            abort_for: Some(g.dur(d).max(1)),
        });
    }
    let nf = sc.faults.len() as u64;
    let window = if metric == "recovery" {
        // `recovery(X) < D after F`, with F starting after the warmup.
        let f = (nf > 0).then(|| g.s.below(nf) as usize)?;
        let occ = sc.faults[f].occurrences(d);
        if occ.first().is_none_or(|o| o.0 <= w0) {
            return None;
        }
        let end = fault_end(sc, f);
        let plus = g.chance(30).then(|| g.dur(d)).filter(|p| end + p < d);
        if end + plus.unwrap_or(0) >= d {
            return None;
        }
        Some(Window::After(
            f,
            plus,
            g.chance(30).then(|| g.dur(d).max(1)),
        ))
    } else {
        match g.s.below(6) {
            0 => None,
            1 => Some(Window::Overall(true)),
            2 if nf > 0 => {
                let f = g.s.below(nf) as usize;
                let restart = |s: usize| sc.services[s].restart.unwrap_or(5 * SECOND);
                let fault = &sc.faults[f];
                let instant = fault.occurrences(d).iter().all(|o| o.1 <= o.0)
                    && fault.actions.iter().all(|a| match a {
                        Action::Kill(_, svcs, _) => svcs.iter().all(|&s| restart(s) == 0),
                        _ => true,
                    });
                (!instant).then_some(Window::During(f))
            }
            3 if nf > 0 => {
                let f = g.s.below(nf) as usize;
                let first = sc.faults[f].occurrences(d).first().map_or(0, |o| o.0);
                (first > w0).then_some(Window::Before(f))
            }
            4 if nf > 0 => {
                let f = g.s.below(nf) as usize;
                let end = fault_end(sc, f);
                if end >= d {
                    None
                } else {
                    let plus = g.chance(40).then(|| g.dur(d)).filter(|p| end + p < d);
                    Some(Window::After(
                        f,
                        plus,
                        g.chance(40).then(|| g.dur(d).max(1)),
                    ))
                }
            }
            _ => {
                let a = g.int(0, d - 1);
                Some(Window::Between(a, g.int(a + 1, d)))
            }
        }
    };
    Some(Expect {
        metric,
        subject,
        op,
        threshold,
        window,
        abort_for: None,
    })
}

// ---------------------------------------------------------------------------------------------
// The budget

/// Upper bound of the attempts one request to `(svc, ep)` causes, itself included.
fn fan_out(sc: &Scenario, svc: usize, ep: usize) -> f64 {
    fn steps(sc: &Scenario, steps: &[Step]) -> f64 {
        steps.iter().map(|s| step(sc, s)).sum()
    }
    fn step(sc: &Scenario, s: &Step) -> f64 {
        match s {
            Step::Work(_) | Step::Fail(..) => 0.0,
            Step::Call(c) => {
                let tries = 1 + c.retry.as_ref().map_or(0, |r| r.0);
                tries as f64 * fan_out(sc, c.svc, c.ep)
            }
            Step::Parallel(ss) => steps(sc, ss),
            Step::Choice(bs) => bs.iter().map(|b| steps(sc, &b.1)).fold(0.0, f64::max),
        }
    }
    let eps = &sc.services[svc].endpoints;
    1.0 + steps(sc, &eps[ep % eps.len()])
}

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Workload requests over the run: the integral of the rate (open loop), or users over the
/// think time (closed loop; a cycle lasts at least [`MIN_CYCLE_S`]).
fn requests(w: &Workload, d: u64) -> f64 {
    let end = seconds(d);
    match &w.load {
        Load::Open { pieces, spikes, .. } => {
            let mut t = 0.0;
            let mut total = 0.0;
            let mut last = 0.0;
            for p in pieces {
                let (a, b, len) = match *p {
                    Piece::Hold(r) => (r.per_s(), r.per_s(), f64::INFINITY),
                    Piece::For(r, l) => (r.per_s(), r.per_s(), seconds(l)),
                    Piece::Ramp(a, b, l) => (a.per_s(), b.per_s(), seconds(l)),
                };
                let len_in = (end - t).clamp(0.0, len);
                total += len_in * a.max(b);
                t += len;
                last = b;
            }
            if t < end {
                total += (end - t) * last;
            }
            for &(r, at, l) in spikes {
                total += r.per_s() * seconds(l).min((end - seconds(at)).max(0.0));
            }
            total
        }
        Load::Closed { users, ramp, think } => {
            let u = (*users).max(ramp.map_or(0, |r| r.0)) as f64;
            u * end / think.mean_s().max(MIN_CYCLE_S)
        }
    }
}

/// Scales rates and users so the attempts stay within [`BUDGET`].
fn fit_budget(sc: &mut Scenario) {
    let d = sc.duration;
    let share = BUDGET / sc.workloads.len() as f64;
    for i in 0..sc.workloads.len() {
        let amp = fan_out(sc, sc.workloads[i].svc, sc.workloads[i].ep);
        let w = &mut sc.workloads[i];
        let n = requests(w, d) * amp;
        if n <= share {
            continue;
        }
        let f = share / n;
        match &mut w.load {
            Load::Open { pieces, spikes, .. } => {
                for p in pieces {
                    match p {
                        Piece::Hold(r) | Piece::For(r, _) => *r = r.scaled(f),
                        Piece::Ramp(a, b, _) => {
                            *a = a.scaled(f);
                            *b = b.scaled(f);
                        }
                    }
                }
                for s in spikes {
                    s.0 = s.0.scaled(f);
                }
            }
            Load::Closed { users, ramp, .. } => {
                *users = (*users as f64 * f).floor() as u64;
                if let Some(r) = ramp {
                    r.0 = (r.0 as f64 * f).floor() as u64;
                }
            }
        }
        let still = requests(w, d) * amp;
        if still > share
            && let Load::Closed { think, .. } = &mut w.load
        {
            // Even one user is too many: think longer.
            let need = still / share * think.mean_s().max(MIN_CYCLE_S);
            *think = Dist::Const((need * 1e6).ceil() as u64);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn dur_text(us: u64) -> String {
    if us == 0 {
        return "0s".into();
    }
    if us.is_multiple_of(SECOND) {
        let s = us / SECOND;
        return match (s / 3600, s % 3600 / 60, s % 60) {
            (h, 0, 0) if h > 0 => format!("{h}h"),
            (0, m, 0) if m > 0 => format!("{m}m"),
            (0, m, s) if m > 0 => format!("{m}m{s}s"),
            _ => format!("{s}s"),
        };
    }
    if us.is_multiple_of(1000) {
        return format!("{}ms", us / 1000);
    }
    format!("{us}us")
}

fn num(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    format!("{r}")
}

fn rate_text(r: Rate) -> String {
    format!("{}/{}", num(r.n), r.per)
}

fn pct(tenths: u64) -> String {
    if tenths.is_multiple_of(10) {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

fn dist_text(d: &Dist, named: bool) -> String {
    let t = dur_text;
    match (d, named) {
        (Dist::Const(v), _) => t(*v),
        (Dist::Exp(m), true) => format!("exponential(mean = {})", t(*m)),
        (Dist::Exp(m), false) => format!("exponential({})", t(*m)),
        (Dist::Normal(m, s), true) => format!("normal(mean = {}, stddev = {})", t(*m), t(*s)),
        (Dist::Normal(m, s), false) => format!("normal({}, {})", t(*m), t(*s)),
        (Dist::Lognormal(m, p), true) => format!("lognormal(median = {}, p99 = {})", t(*m), t(*p)),
        (Dist::Lognormal(m, p), false) => format!("lognormal({}, {})", t(*m), t(*p)),
        (Dist::Uniform(a, b), true) => format!("uniform(low = {}, high = {})", t(*a), t(*b)),
        (Dist::Uniform(a, b), false) => format!("uniform({}, {})", t(*a), t(*b)),
        (Dist::Pareto(s, k), true) => {
            format!(
                "pareto(scale = {}, shape = {})",
                t(*s),
                num(*k as f64 / 100.0)
            )
        }
        (Dist::Pareto(s, k), false) => format!("pareto({}, {})", t(*s), num(*k as f64 / 100.0)),
    }
}

fn svc_name(i: usize) -> String {
    format!("s{i}")
}

fn target_text(t: Target, sc: &Scenario) -> String {
    match t.ep {
        Some(e) => format!(
            "{} \"{}\"",
            svc_name(t.svc),
            ENDPOINTS[e % sc.services[t.svc].endpoints.len()]
        ),
        None => svc_name(t.svc),
    }
}

fn steps_text(out: &mut String, steps: &[Step], sc: &Scenario, indent: usize, salt: &mut u64) {
    for s in steps {
        step_text(out, s, sc, indent, salt);
    }
}

fn step_text(out: &mut String, s: &Step, sc: &Scenario, indent: usize, salt: &mut u64) {
    let pad = "  ".repeat(indent);
    *salt = salt
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let named = (*salt >> 33) & 1 == 1;
    match s {
        Step::Work(d) => {
            let _ = writeln!(out, "{pad}work {}", dist_text(d, named));
        }
        Step::Fail(p, st) => {
            let _ = write!(out, "{pad}fail {}", pct(*p));
            if let Some(st) = st {
                let _ = write!(out, " status {st}");
            }
            out.push('\n');
        }
        Step::Call(c) => {
            let eps = sc.services[c.svc].endpoints.len();
            let mut pol: Vec<String> = Vec::new();
            if let Some(t) = c.timeout {
                pol.push(format!("timeout {}", dur_text(t)));
            }
            if let Some((n, b, j)) = &c.retry {
                let mut r = format!("retry {n}");
                match b {
                    Some(Backoff::Const(v)) => r.push_str(&format!(" backoff {}", dur_text(*v))),
                    Some(Backoff::Exp(base, max, named)) => {
                        let base = if *named {
                            format!("base = {}", dur_text(*base))
                        } else {
                            dur_text(*base)
                        };
                        match max {
                            Some(m) => r.push_str(&format!(
                                " backoff exponential({base}, max = {})",
                                dur_text(*m)
                            )),
                            None => r.push_str(&format!(" backoff exponential({base})")),
                        }
                    }
                    None => {}
                }
                if let Some(j) = j {
                    r.push_str(&format!(" jitter {j}"));
                }
                pol.push(r);
            }
            if let Some((p, over, min, open)) = c.breaker {
                pol.push(format!(
                    "circuit_breaker {}% over {} min {min} open {}",
                    p,
                    dur_text(over),
                    dur_text(open)
                ));
            }
            if let Some(e) = c.on_error {
                pol.push(format!("on_error {e}"));
            }
            let head = format!(
                "{pad}call {} \"{}\"",
                svc_name(c.svc),
                ENDPOINTS[c.ep % eps]
            );
            if c.block {
                let _ = writeln!(out, "{head} {{");
                for p in pol {
                    let _ = writeln!(out, "{pad}  {p}");
                }
                let _ = writeln!(out, "{pad}}}");
            } else {
                let _ = writeln!(out, "{head} {}", pol.join(" "));
            }
        }
        Step::Parallel(ss) => {
            let _ = writeln!(out, "{pad}parallel {{");
            steps_text(out, ss, sc, indent + 1, salt);
            let _ = writeln!(out, "{pad}}}");
        }
        Step::Choice(bs) => {
            let _ = writeln!(out, "{pad}choice {{");
            for (p, ss) in bs {
                if ss.len() == 1 && named {
                    let _ = write!(out, "{pad}  {} => ", pct(*p));
                    let mut one = String::new();
                    step_text(&mut one, &ss[0], sc, indent + 1, salt);
                    out.push_str(one.trim_start());
                } else {
                    let _ = writeln!(out, "{pad}  {} => {{", pct(*p));
                    steps_text(out, ss, sc, indent + 2, salt);
                    let _ = writeln!(out, "{pad}  }}");
                }
            }
            let _ = writeln!(out, "{pad}}}");
        }
    }
}

fn action_text(a: &Action, sc: &Scenario) -> String {
    let svcs = |v: &[usize]| {
        v.iter()
            .map(|&s| svc_name(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match a {
        Action::Latency(d, t, plus) => format!(
            "latency {}{} on {}",
            if *plus { "+" } else { "" },
            dist_text(d, *plus),
            target_text(*t, sc)
        ),
        Action::Errors(p, st, t) => match st {
            Some(st) => format!("errors {} status {st} on {}", pct(*p), target_text(*t, sc)),
            None => format!("errors {} on {}", pct(*p), target_text(*t, sc)),
        },
        Action::Kill(n, s, random) => {
            if s.len() > 1 || *random {
                format!("kill {n} of random({})", svcs(s))
            } else {
                format!("kill {n} of {}", svcs(s))
            }
        }
        Action::Partition(a, b) => format!("partition {} | {}", svcs(a), svcs(b)),
        Action::Cpu(f, t, prefix) => {
            let f = num(*f as f64 / 10.0);
            if *prefix {
                format!("cpu x{f} on {}", target_text(*t, sc))
            } else {
                format!("cpu {f}x on {}", target_text(*t, sc))
            }
        }
        Action::Loss(p, t) => format!("loss {} on {}", pct(*p), target_text(*t, sc)),
        Action::Memory(r, s, l) => format!(
            "memory {}MiB/s on {} limit {l}MiB",
            num(*r as f64 / 10.0),
            svc_name(*s)
        ),
    }
}

fn subject_text(s: &Subject, sc: &Scenario) -> String {
    match *s {
        Subject::Service(i) => svc_name(i),
        Subject::Endpoint(i, e) => format!(
            "{} \"{}\"",
            svc_name(i),
            ENDPOINTS[e % sc.services[i].endpoints.len()]
        ),
        Subject::Workload(w) => format!("w{w}"),
    }
}

fn threshold_text(metric: &str, v: u64) -> String {
    match metric {
        "error_rate" | "availability" => pct(v),
        "max_replicas" => v.to_string(),
        "throughput" => format!("{v}/s"),
        _ => dur_text(v),
    }
}

/// The scenario as `.chaos` source.
pub fn render(sc: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario \"generated\" {{");
    let _ = writeln!(out, "  duration {}", dur_text(sc.duration));
    if let Some(w) = sc.warmup {
        let _ = writeln!(out, "  warmup {}", dur_text(w));
    }
    if let Some(s) = sc.seed {
        let _ = writeln!(out, "  seed {s}");
    }
    if let Some(w) = sc.window {
        let _ = writeln!(out, "  window {}", dur_text(w));
    }
    out.push_str("}\n");
    let mut salt = sc.duration;
    for (i, s) in sc.services.iter().enumerate() {
        let _ = writeln!(out, "service {} {{", svc_name(i));
        match s.replicas {
            Replicas::Default => {}
            Replicas::Fixed(n) => {
                let _ = writeln!(out, "  replicas {n}");
            }
            Replicas::Autoscale(min, max, t, delay, interval) => {
                let _ = write!(out, "  autoscale {min}..{max} target {t}%");
                if let Some(d) = delay {
                    let _ = write!(out, " delay {}", dur_text(d));
                }
                if let Some(d) = interval {
                    let _ = write!(out, " interval {}", dur_text(d));
                }
                out.push('\n');
            }
        }
        if let Some(w) = s.workers {
            let _ = writeln!(out, "  workers {w}");
        }
        if let Some(q) = s.queue {
            let _ = writeln!(out, "  queue {q}");
        }
        if let Some(r) = s.rate_limit {
            let _ = writeln!(out, "  rate_limit {}", rate_text(r));
        }
        if let Some(r) = s.restart {
            let _ = writeln!(out, "  restart {}", dur_text(r));
        }
        if let Some(b) = s.balance {
            let _ = writeln!(out, "  balance {b}");
        }
        if let Some(l) = &s.latency {
            let _ = writeln!(out, "  latency {}", dist_text(l, true));
        }
        for (e, steps) in s.endpoints.iter().enumerate() {
            if steps.is_empty() {
                let _ = writeln!(out, "  endpoint \"{}\" {{ }}", ENDPOINTS[e]);
            } else {
                let _ = writeln!(out, "  endpoint \"{}\" {{", ENDPOINTS[e]);
                steps_text(&mut out, steps, sc, 2, &mut salt);
                let _ = writeln!(out, "  }}");
            }
        }
        out.push_str("}\n");
    }
    for (i, w) in sc.workloads.iter().enumerate() {
        let _ = writeln!(out, "workload w{i} {{");
        let _ = writeln!(
            out,
            "  target {}",
            target_text(
                Target {
                    svc: w.svc,
                    ep: Some(w.ep)
                },
                sc
            )
        );
        match &w.load {
            Load::Open {
                pieces,
                spikes,
                arrivals,
            } => {
                let ps: Vec<String> = pieces
                    .iter()
                    .map(|p| match *p {
                        Piece::Hold(r) => rate_text(r),
                        Piece::For(r, l) => format!("{} for {}", rate_text(r), dur_text(l)),
                        Piece::Ramp(a, b, l) => {
                            format!("{} -> {} over {}", rate_text(a), rate_text(b), dur_text(l))
                        }
                    })
                    .collect();
                let _ = writeln!(out, "  rate {}", ps.join(", "));
                for &(r, at, l) in spikes {
                    let _ = writeln!(
                        out,
                        "  spike {} at {} for {}",
                        rate_text(r),
                        dur_text(at),
                        dur_text(l)
                    );
                }
                if let Some(a) = arrivals {
                    let _ = writeln!(out, "  arrivals {a}");
                }
            }
            Load::Closed { users, ramp, think } => {
                let _ = write!(out, "  users {users}");
                if let Some((to, over)) = ramp {
                    let _ = write!(out, " -> {to} over {}", dur_text(*over));
                }
                let _ = writeln!(out, " think {}", dist_text(think, users % 2 == 0));
            }
        }
        if let Some(t) = w.timeout {
            let _ = writeln!(out, "  timeout {}", dur_text(t));
        }
        out.push_str("}\n");
    }
    for (i, f) in sc.faults.iter().enumerate() {
        let _ = write!(out, "fault f{i} ");
        match f.schedule {
            Schedule::At(t, len) => {
                let _ = write!(out, "at {}", dur_text(t));
                if let Some(l) = len {
                    let _ = write!(out, " for {}", dur_text(l));
                }
            }
            Schedule::Every(p, from, until, len) => {
                let _ = write!(out, "every {}", dur_text(p));
                if let Some(t) = from {
                    let _ = write!(out, " from {}", dur_text(t));
                }
                if let Some(t) = until {
                    let _ = write!(out, " until {}", dur_text(t));
                }
                if let Some(l) = len {
                    let _ = write!(out, " for {}", dur_text(l));
                }
            }
        }
        out.push_str(" {\n");
        for a in &f.actions {
            let _ = writeln!(out, "  {}", action_text(a, sc));
        }
        out.push_str("}\n");
    }
    if !sc.expects.is_empty() {
        out.push_str("expect {\n");
        for e in &sc.expects {
            let cond = format!(
                "{}({}) {} {}",
                e.metric,
                subject_text(&e.subject, sc),
                e.op,
                threshold_text(e.metric, e.threshold)
            );
            if let Some(f) = e.abort_for {
                let _ = writeln!(out, "  abort when {cond} for {}", dur_text(f));
                continue;
            }
            let w = match &e.window {
                None => String::new(),
                Some(Window::Overall(_)) => " overall".into(),
                Some(Window::During(f)) => format!(" during f{f}"),
                Some(Window::Before(f)) => format!(" before f{f}"),
                Some(Window::After(f, plus, len)) => {
                    let mut s = format!(" after f{f}");
                    if let Some(p) = plus {
                        s.push_str(&format!(" + {}", dur_text(*p)));
                    }
                    if let Some(l) = len {
                        s.push_str(&format!(" for {}", dur_text(*l)));
                    }
                    s
                }
                Some(Window::Between(a, b)) => {
                    format!(" between {} and {}", dur_text(*a), dur_text(*b))
                }
            };
            let _ = writeln!(out, "  {cond}{w}");
        }
        out.push_str("}\n");
    }
    out
}
