//! The model of `scenarios/ms-ref-1.chaos`, hard-wired, with chaos-sim's semantics for it:
//! - Poisson arrivals at `rate` during `[0, run)` to a gateway of 16 workers and one unbounded
//!   FIFO queue; the worker is held for the whole request;
//! - the gateway works Exp(5ms), then calls cart (4 workers, Exp(3ms)), then payments
//!   (4 workers, Exp(4ms)); each call: 50ms per attempt, 2 retries after 10ms and 20ms, on
//!   timeout; a call failing 3 times fails the request (payments is then not called);
//! - a timed-out attempt is not cancelled: it stays queued and takes a worker (orphan work);
//! - `cpu x3 on payments` from `fault_at` for `fault_for`: work *starting* then takes 3x;
//! - the client waits `patience` (the workload's timeout), which is also the drain after `run`:
//!   a request not answered by then is a client timeout (its latency: `patience`); the
//!   gateway does not learn of it and goes on serving it, as in chaos.
//!
//! Events (about 6 a request): an arrival, the gateway's work done, and per attempt the
//! callee's work done and the caller's timeout (stale when the answer came first), plus a
//! backoff per retry. One binary heap ordered by (time, sequence), fixed state: requests in a
//! slab, attempts as (request, token) in the callees' queues.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::rng::Rng;

pub const GATEWAY_WORKERS: u32 = 16;
pub const GATEWAY_MEAN_S: f64 = 0.005;
pub const CALLEES: [Callee; 2] = [
    Callee {
        workers: 4,
        mean_s: 0.003,
    },
    Callee {
        workers: 4,
        mean_s: 0.004,
    },
];
const CART: u8 = 0;
const PAYMENTS: u8 = 1;
pub const TIMEOUT_S: f64 = 0.050;
pub const BACKOFF_S: [f64; 2] = [0.010, 0.020];
pub const CPU_FACTOR: f64 = 3.0;

pub struct Callee {
    pub workers: u32,
    pub mean_s: f64,
}

/// The scenario's params (`--set` in chaos).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub rate_per_s: f64,
    pub run_s: f64,
    pub fault_at_s: f64,
    pub fault_for_s: f64,
    pub patience_s: f64,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct Results {
    pub sent: u64,
    pub ok: u64,
    /// Failed calls (all 3 attempts timed out).
    pub failed: u64,
    pub client_timeouts: u64,
    /// End-to-end latency of every request, seconds (f32: 15 µs resolution at 200 s).
    pub latencies: Vec<f32>,
    pub events: u64,
    pub attempts: u64,
}

#[derive(Clone, Copy)]
enum Ev {
    Arrival,
    GatewayDone { req: u32 },
    CalleeDone { callee: u8, req: u32, token: u32 },
    Timeout { req: u32, token: u32 },
    Backoff { req: u32 },
}

struct Entry {
    t: f64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed: the heap's top is the earliest (time, sequence). Times are finite, >= 0.
    fn cmp(&self, o: &Self) -> Ordering {
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}

struct Request {
    arrival: f64,
    /// Which callee the current call goes to.
    stage: u8,
    /// 0-based attempt of the current call.
    attempt: u8,
    /// The attempt being waited for; 0 when none (working, backing off).
    token: u32,
}

struct Sim {
    p: Params,
    now: f64,
    seq: u64,
    heap: BinaryHeap<Entry>,
    reqs: Vec<Request>,
    free: Vec<u32>,
    live: u32,
    gw_busy: u32,
    gw_queue: VecDeque<u32>,
    busy: [u32; 2],
    queue: [VecDeque<(u32, u32)>; 2],
    next_token: u32,
    rng_arrivals: Rng,
    rng_gateway: Rng,
    rng_callee: [Rng; 2],
    out: Results,
}

impl Sim {
    fn push(&mut self, t: f64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            t,
            seq: self.seq,
            ev,
        });
    }

    fn start_gateway(&mut self, req: u32) {
        let d = self.rng_gateway.exp(GATEWAY_MEAN_S);
        self.push(self.now + d, Ev::GatewayDone { req });
    }

    fn arrival(&mut self) {
        let r = Request {
            arrival: self.now,
            stage: CART,
            attempt: 0,
            token: 0,
        };
        let req = match self.free.pop() {
            Some(i) => {
                self.reqs[i as usize] = r;
                i
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        };
        self.live += 1;
        self.out.sent += 1;
        if self.gw_busy < GATEWAY_WORKERS {
            self.gw_busy += 1;
            self.start_gateway(req);
        } else {
            self.gw_queue.push_back(req);
        }
        let next = self.now + self.rng_arrivals.exp(1.0 / self.p.rate_per_s);
        if next < self.p.run_s {
            self.push(next, Ev::Arrival);
        }
    }

    fn issue(&mut self, req: u32) {
        self.next_token += 1;
        let token = self.next_token;
        let r = &mut self.reqs[req as usize];
        r.token = token;
        let callee = r.stage;
        self.out.attempts += 1;
        self.push(self.now + TIMEOUT_S, Ev::Timeout { req, token });
        let c = callee as usize;
        if self.busy[c] < CALLEES[c].workers {
            self.busy[c] += 1;
            self.start_callee(callee, req, token);
        } else {
            self.queue[c].push_back((req, token));
        }
    }

    fn start_callee(&mut self, callee: u8, req: u32, token: u32) {
        let c = callee as usize;
        let mut d = self.rng_callee[c].exp(CALLEES[c].mean_s);
        let fault_end = self.p.fault_at_s + self.p.fault_for_s;
        if callee == PAYMENTS && self.now >= self.p.fault_at_s && self.now < fault_end {
            d *= CPU_FACTOR;
        }
        self.push(self.now + d, Ev::CalleeDone { callee, req, token });
    }

    fn callee_done(&mut self, callee: u8, req: u32, token: u32) {
        let c = callee as usize;
        match self.queue[c].pop_front() {
            Some((r, t)) => self.start_callee(callee, r, t),
            None => self.busy[c] -= 1,
        }
        // An orphan (its caller timed out, or the request is gone): work done, answer dropped.
        if self.reqs[req as usize].token != token {
            return;
        }
        let r = &mut self.reqs[req as usize];
        r.token = 0;
        if r.stage == CART {
            r.stage = PAYMENTS;
            r.attempt = 0;
            self.issue(req);
        } else {
            self.finish(req, true);
        }
    }

    fn timeout(&mut self, req: u32, token: u32) {
        let r = &mut self.reqs[req as usize];
        if r.token != token {
            return; // answered first
        }
        r.token = 0;
        let a = r.attempt as usize;
        if a < BACKOFF_S.len() {
            r.attempt += 1;
            self.push(self.now + BACKOFF_S[a], Ev::Backoff { req });
        } else {
            self.finish(req, false);
        }
    }

    fn record(&mut self, arrival: f64, end: f64, ok: bool) {
        let lat = end - arrival;
        if lat > self.p.patience_s {
            self.out.client_timeouts += 1;
            self.out.latencies.push(self.p.patience_s as f32);
        } else {
            if ok {
                self.out.ok += 1;
            } else {
                self.out.failed += 1;
            }
            self.out.latencies.push(lat as f32);
        }
    }

    fn finish(&mut self, req: u32, ok: bool) {
        let arrival = self.reqs[req as usize].arrival;
        self.record(arrival, self.now, ok);
        self.reqs[req as usize].token = 0;
        self.free.push(req);
        self.live -= 1;
        match self.gw_queue.pop_front() {
            Some(next) => self.start_gateway(next),
            None => self.gw_busy -= 1,
        }
    }
}

pub fn simulate(p: Params) -> Results {
    let mut sim = Sim {
        p,
        now: 0.0,
        seq: 0,
        heap: BinaryHeap::with_capacity(1024),
        reqs: Vec::new(),
        free: Vec::new(),
        live: 0,
        gw_busy: 0,
        gw_queue: VecDeque::new(),
        busy: [0; 2],
        queue: [VecDeque::new(), VecDeque::new()],
        next_token: 0,
        rng_arrivals: Rng::new(p.seed, 1),
        rng_gateway: Rng::new(p.seed, 2),
        rng_callee: [Rng::new(p.seed, 3), Rng::new(p.seed, 4)],
        out: Results {
            latencies: Vec::with_capacity((p.rate_per_s * p.run_s * 1.01) as usize + 1024),
            ..Results::default()
        },
    };
    let first = sim.rng_arrivals.exp(1.0 / p.rate_per_s);
    if first < p.run_s {
        sim.push(first, Ev::Arrival);
    }
    // The client of a request sent before `run` gives up by `run + patience`: nothing after
    // that can change a figure.
    let end = p.run_s + p.patience_s;
    while let Some(e) = sim.heap.pop() {
        if e.t > end {
            break;
        }
        sim.now = e.t;
        sim.out.events += 1;
        match e.ev {
            Ev::Arrival => sim.arrival(),
            Ev::GatewayDone { req } => sim.issue(req),
            Ev::CalleeDone { callee, req, token } => sim.callee_done(callee, req, token),
            Ev::Timeout { req, token } => sim.timeout(req, token),
            Ev::Backoff { req } => sim.issue(req),
        }
    }
    // Requests still in the system: their clients timed out.
    let mut out = std::mem::take(&mut sim.out);
    let unanswered = sim.live as u64;
    out.client_timeouts += unanswered;
    out.latencies.extend(std::iter::repeat_n(
        p.patience_s as f32,
        unanswered as usize,
    ));
    out
}

/// Nearest-rank percentile (the ceil(q N)-th smallest), of a slice it reorders.
pub fn percentile(xs: &mut [f32], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let k = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1;
    let (_, v, _) = xs.select_nth_unstable_by(k, f32::total_cmp);
    f64::from(*v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(run_s: f64, fault_for_s: f64) -> Params {
        Params {
            rate_per_s: 800.0,
            run_s,
            fault_at_s: 0.2 * run_s,
            fault_for_s,
            patience_s: 60.0,
            seed: 3,
        }
    }

    /// Every request sent ends once; no fault: nearly nothing fails and the mean latency is
    /// the ~15.5 ms of work and calls (bench README: healthy phase).
    #[test]
    fn healthy_run_matches_the_model() {
        let r = simulate(params(60.0, 0.0));
        assert_eq!(r.sent, r.ok + r.failed + r.client_timeouts);
        assert_eq!(r.latencies.len() as u64, r.sent);
        assert!((r.sent as f64 - 48_000.0).abs() < 5.0 * 48_000f64.sqrt());
        assert!(r.failed < r.sent / 1000, "{}", r.failed);
        let mean = r.latencies.iter().map(|&x| f64::from(x)).sum::<f64>() / r.sent as f64;
        assert!(mean > 0.012 && mean < 0.030, "{mean}");
    }

    /// The fault builds a backlog: latencies of seconds, and more attempts than requests.
    #[test]
    fn the_fault_builds_a_backlog() {
        let r = simulate(params(60.0, 12.0));
        let mut l = r.latencies.clone();
        assert!(percentile(&mut l, 0.99) > 2.0);
        assert!(r.attempts > 2 * r.sent);
    }

    #[test]
    fn nearest_rank() {
        let mut xs = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut xs, 0.5), 3.0);
        assert_eq!(percentile(&mut xs, 0.99), 5.0);
        assert_eq!(percentile(&mut xs, 0.2), 1.0);
    }
}
