//! How many requests a plan makes the simulator process, worked out from the plan alone, so
//! that `chaos check` can say before a run that it would take hours, and the progress bar of
//! `chaos run --sim` can advance with the work rather than with simulated time.
//!
//! A "simulated request" is one attempt at one endpoint: a workload's request and every call it
//! fans out to. That is what the simulator's time goes into (each one is an arrival, a place in
//! a queue, work, an answer and a record), so the same unit is used for its speed.

use std::collections::HashMap;

use chaos_plan::{Load, Plan, Step};

/// Above this many simulated requests `chaos check` and `chaos run` warn (`W0007`): about half
/// a minute of simulation at [`SIM_REQUESTS_PER_S`], more for heavier scenarios, where waiting
/// without a word starts to look like a hang.
pub const WARN_ABOVE_REQUESTS: f64 = 100e6;

/// Simulated requests (endpoint attempts) per second of `chaos run --sim`, for the expected
/// time in the warning. Measured with `sim-bench -n 1000000` (release build, the README's 2-vCPU
/// machine, with other builds running): the reference scenario `ms-ref-1`, whose client
/// requests make ~3.1 attempts each (gateway, cart, payments, a few retries), ran 1M client
/// requests in 0.84-1.03 s, ~3.0-3.7M attempts/s (README: 0.79-0.88 s on a quiet machine);
/// a one-endpoint scenario ran 1M requests in 0.24-0.28 s, ~3.6-4.1M/s. Set at the low end,
/// as faults, kills and autoscaling cost more per request: the warning may overstate the time
/// a little, not understate it.
pub const SIM_REQUESTS_PER_S: f64 = 3e6;

/// The shortest cycle counted for a closed-loop user (send, answer, think): a user whose think
/// time and endpoint take no time at all still costs a round trip. The same floor as the
/// simulator's own (`chaos_plan::MIN_ROUND_TRIP_S`, below a loopback hop of `--local`).
pub const MIN_CYCLE_S: f64 = 100e-6;

/// The estimate for one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Requests the workloads send over the run.
    pub client_requests: f64,
    /// Simulated requests: each client request times the attempts it fans out to, every call
    /// made once (choices weighted by their probability). Retries come on top when calls fail.
    pub requests: f64,
    /// The same with every retry of every call taken: what a run where everything fails costs.
    pub requests_with_retries: f64,
    /// `requests` by workload, in plan order.
    pub per_workload: Vec<f64>,
}

impl Estimate {
    /// Whether the run is large enough to warn about.
    pub fn is_huge(&self) -> bool {
        self.requests > WARN_ABOVE_REQUESTS
    }

    /// Expected wall time of `chaos run --sim`, in seconds.
    pub fn sim_seconds(&self) -> f64 {
        self.requests / SIM_REQUESTS_PER_S
    }
}

/// What one endpoint costs per request that reaches it.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    /// Attempts: itself and the calls it makes, each once.
    attempts: f64,
    /// Attempts with every retry taken.
    with_retries: f64,
    /// Mean time to answer when nothing waits in a queue (the shortest a closed loop can cycle).
    latency_s: f64,
}

/// Endpoint costs, by (service, endpoint) name, and the load of each workload.
struct Costs<'p> {
    by_name: HashMap<(&'p str, &'p str), Cost>,
}

impl<'p> Costs<'p> {
    /// Every endpoint's cost, callees before callers (the call graph has no cycle once the plan
    /// is checked; an edge back into an endpoint still being worked out counts as free).
    fn of(plan: &'p Plan) -> Costs<'p> {
        let bodies: HashMap<(&str, &str), &[Step]> = plan
            .services
            .iter()
            .flat_map(|s| {
                s.endpoints
                    .iter()
                    .map(move |e| ((s.name.as_str(), e.name.as_str()), e.steps.as_slice()))
            })
            .collect();
        let mut costs = Costs {
            by_name: HashMap::with_capacity(bodies.len()),
        };
        // Depth-first without recursion: a chain of thousands of calls must not exhaust the
        // stack of the language server's threads.
        let mut entered = std::collections::HashSet::new();
        for &root in bodies.keys() {
            let mut stack = vec![(root, false)];
            while let Some((node, children_done)) = stack.pop() {
                if children_done {
                    let cost = bodies
                        .get(&node)
                        .map_or_else(Cost::default, |steps| costs.steps(steps));
                    costs.by_name.insert(node, cost);
                    continue;
                }
                if !entered.insert(node) {
                    continue;
                }
                stack.push((node, true));
                if let Some(steps) = bodies.get(&node) {
                    let mut callees = Vec::new();
                    callees_of(steps, &mut callees);
                    stack.extend(
                        callees
                            .into_iter()
                            .filter(|c| !entered.contains(c))
                            .map(|c| (c, false)),
                    );
                }
            }
        }
        costs
    }

    fn endpoint(&self, service: &str, endpoint: &str) -> Cost {
        self.by_name
            .get(&(service, endpoint))
            .copied()
            .unwrap_or_default()
    }

    /// The cost of a body: one attempt for the endpoint itself plus what its steps call.
    fn steps(&self, steps: &[Step]) -> Cost {
        let inner = self.sequence(steps);
        Cost {
            attempts: 1.0 + inner.attempts,
            with_retries: 1.0 + inner.with_retries,
            latency_s: inner.latency_s,
        }
    }

    /// Calls made by steps run one after the other (the endpoint's own attempt not counted).
    fn sequence(&self, steps: &[Step]) -> Cost {
        steps.iter().fold(Cost::default(), |acc, s| {
            let c = self.step(s);
            Cost {
                attempts: acc.attempts + c.attempts,
                with_retries: acc.with_retries + c.with_retries,
                latency_s: acc.latency_s + c.latency_s,
            }
        })
    }

    fn step(&self, step: &Step) -> Cost {
        match step {
            Step::Work { dist } => Cost {
                latency_s: dist.mean_s(),
                ..Cost::default()
            },
            Step::Fail { .. } => Cost::default(),
            // The callee does the work; the caller waits for nothing.
            Step::Send { service, endpoint } => {
                let callee = self.endpoint(service, endpoint);
                Cost {
                    attempts: callee.attempts,
                    with_retries: callee.with_retries,
                    latency_s: 0.0,
                }
            }
            Step::Call(call) => {
                let callee = self.endpoint(&call.service, &call.endpoint);
                let tries = 1.0 + f64::from(call.retry.retries);
                Cost {
                    attempts: callee.attempts,
                    with_retries: tries * callee.with_retries,
                    latency_s: call
                        .timeout_s
                        .map_or(callee.latency_s, |t| t.min(callee.latency_s)),
                }
            }
            Step::Parallel { steps } => steps.iter().fold(Cost::default(), |acc, s| {
                let c = self.step(s);
                Cost {
                    attempts: acc.attempts + c.attempts,
                    with_retries: acc.with_retries + c.with_retries,
                    latency_s: acc.latency_s.max(c.latency_s),
                }
            }),
            Step::Choice { branches } => branches.iter().fold(Cost::default(), |acc, b| {
                let c = self.sequence(&b.steps);
                Cost {
                    attempts: acc.attempts + b.probability * c.attempts,
                    with_retries: acc.with_retries.max(c.with_retries),
                    latency_s: acc.latency_s + b.probability * c.latency_s,
                }
            }),
        }
    }
}

/// The endpoints `steps` call, at any depth of `parallel` and `choice`.
fn callees_of<'p>(steps: &'p [Step], out: &mut Vec<(&'p str, &'p str)>) {
    for s in steps {
        match s {
            Step::Call(c) => out.push((c.service.as_str(), c.endpoint.as_str())),
            Step::Send { service, endpoint } => out.push((service.as_str(), endpoint.as_str())),
            Step::Parallel { steps } => callees_of(steps, out),
            Step::Choice { branches } => {
                for b in branches {
                    callees_of(&b.steps, out);
                }
            }
            Step::Work { .. } | Step::Fail { .. } => {}
        }
    }
}

/// Integral of a linear function from `(t0, y0)` to `(t1, y1)` over `[t0, min(t1, t)]`.
fn linear_area(t0: f64, t1: f64, y0: f64, y1: f64, t: f64) -> f64 {
    let end = t.min(t1);
    if end <= t0 || t1 <= t0 {
        return 0.0;
    }
    let y_end = y0 + (y1 - y0) * (end - t0) / (t1 - t0);
    (y0 + y_end) / 2.0 * (end - t0)
}

/// Client requests a workload's load sends in `[0, t)` (`t` at most the run's end), with
/// `cycle_s` the shortest time a closed-loop user takes per request.
fn sent_by(load: &Load, t: f64, cycle_s: f64) -> f64 {
    match load {
        Load::Open { rate, spikes, .. } => {
            let pieces: f64 = rate
                .iter()
                .map(|p| linear_area(p.start_s, p.end_s, p.from_per_s, p.to_per_s, t))
                .sum();
            let extra: f64 = spikes
                .iter()
                .map(|s| linear_area(s.start_s, s.end_s, s.rate_per_s, s.rate_per_s, t))
                .sum();
            pieces + extra
        }
        Load::Closed {
            users_from,
            users_to,
            ramp_start_s,
            ramp_s,
            ..
        } => {
            let (from, to) = (f64::from(*users_from), f64::from(*users_to));
            let ramp_end = ramp_start_s + ramp_s;
            // User-seconds: `from` before the ramp, the ramp, `to` after it.
            let user_s = linear_area(0.0, *ramp_start_s, from, from, t)
                + linear_area(*ramp_start_s, ramp_end, from, to, t)
                + (t - ramp_end).max(0.0) * to;
            user_s / cycle_s
        }
    }
}

/// The estimate of `plan`: see [`Estimate`].
pub fn estimate(plan: &Plan) -> Estimate {
    Curve::new(plan).estimate()
}

/// The estimate as a function of simulated time, for a progress bar that moves with the work.
pub struct Curve<'p> {
    plan: &'p Plan,
    /// Per workload: attempts per client request, with retries, and the closed-loop cycle.
    per_request: Vec<(f64, f64, f64)>,
}

impl<'p> Curve<'p> {
    pub fn new(plan: &'p Plan) -> Curve<'p> {
        let costs = Costs::of(plan);
        let per_request = plan
            .workloads
            .iter()
            .map(|w| {
                let target = costs.endpoint(&w.target.service, &w.target.endpoint);
                let cycle_s = match &w.load {
                    Load::Closed { think, .. } => {
                        let answer_s = w
                            .timeout_s
                            .map_or(target.latency_s, |t| t.min(target.latency_s));
                        let c = think.mean_s() + answer_s;
                        // NaN (an infinite mean against a timeout) falls to the floor too.
                        if c >= MIN_CYCLE_S { c } else { MIN_CYCLE_S }
                    }
                    Load::Open { .. } => MIN_CYCLE_S,
                };
                (target.attempts, target.with_retries, cycle_s)
            })
            .collect();
        Curve { plan, per_request }
    }

    /// Simulated requests whose workload request is sent before simulated time `t`.
    pub fn requests_by(&self, t: f64) -> f64 {
        let t = t.min(self.plan.scenario.duration_s);
        self.plan
            .workloads
            .iter()
            .zip(&self.per_request)
            .map(|(w, (attempts, _, cycle))| sent_by(&w.load, t, *cycle) * attempts)
            .sum()
    }

    fn estimate(&self) -> Estimate {
        let d = self.plan.scenario.duration_s;
        let mut out = Estimate {
            client_requests: 0.0,
            requests: 0.0,
            requests_with_retries: 0.0,
            per_workload: Vec::with_capacity(self.per_request.len()),
        };
        for (w, (attempts, with_retries, cycle)) in
            self.plan.workloads.iter().zip(&self.per_request)
        {
            let sent = sent_by(&w.load, d, *cycle);
            out.client_requests += sent;
            out.requests += sent * attempts;
            out.requests_with_retries += sent * with_retries;
            out.per_workload.push(sent * attempts);
        }
        out
    }
}

/// A count as a person reads it: `8,500`, `52 million`, `1.2 billion`.
pub fn fmt_count(n: f64) -> String {
    if !n.is_finite() {
        return "more than can be counted".to_string();
    }
    let words = [(1e12, "trillion"), (1e9, "billion"), (1e6, "million")];
    for (scale, word) in words {
        if n >= scale {
            let v = n / scale;
            if v >= 1000.0 {
                return format!("{n:.1e}");
            }
            return format!("{} {word}", two_digits(v));
        }
    }
    let whole = n.round() as u64;
    if whole >= 1000 {
        format!("{},{:03}", whole / 1000, whole % 1000)
    } else {
        whole.to_string()
    }
}

/// A wall time as a person reads it, to two significant digits: `45 s`, `12 min`, `2.8 h`.
pub fn fmt_wall(s: f64) -> String {
    if !s.is_finite() {
        return "for ever".to_string();
    }
    let units = [
        (365.0 * 86400.0, "years"),
        (86400.0, "days"),
        (3600.0, "h"),
        (60.0, "min"),
    ];
    for (scale, unit) in units {
        if s >= 1.5 * scale {
            return format!("{} {unit}", two_digits(s / scale));
        }
    }
    format!("{} s", two_digits(s))
}

/// Two significant digits, without a trailing `.0`: `2.8`, `12`, `450`.
fn two_digits(v: f64) -> String {
    if v >= 10.0 {
        format!("{}", v.round())
    } else {
        let r = (v * 10.0).round() / 10.0;
        format!("{r}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_times_read_well() {
        assert_eq!(fmt_count(0.0), "0");
        assert_eq!(fmt_count(8499.6), "8,500");
        assert_eq!(fmt_count(52e6), "52 million");
        assert_eq!(fmt_count(1.24e9), "1.2 billion");
        assert_eq!(fmt_count(3.6e13), "36 trillion");
        assert_eq!(fmt_count(2e18), "2.0e18");
        assert_eq!(fmt_wall(45.0), "45 s");
        assert_eq!(fmt_wall(720.0), "12 min");
        assert_eq!(fmt_wall(10_000.0), "2.8 h");
        assert_eq!(fmt_wall(72e6), "2.3 years");
    }

    #[test]
    fn area_of_a_ramp_cut_at_t() {
        assert_eq!(linear_area(0.0, 10.0, 0.0, 10.0, 10.0), 50.0);
        assert_eq!(linear_area(0.0, 10.0, 0.0, 10.0, 5.0), 12.5);
        assert_eq!(linear_area(5.0, 10.0, 1.0, 1.0, 2.0), 0.0);
        assert_eq!(linear_area(5.0, 5.0, 1.0, 1.0, 20.0), 0.0);
    }
}
