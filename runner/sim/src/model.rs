//! The plan compiled once for simulation: names resolved to indices, endpoint bodies
//! flattened into one instruction array, distributions turned into samplers.

use chaos_plan::sample::Sampler;
use chaos_plan::{
    Action, Backoff, Balance, CircuitBreaker, Discipline, Eject, HealthCheck, Jitter, Load, Plan,
    RateFn, ReplicaSubset, Replicas, Step, UsersRamp,
};

use crate::SimError;

pub const NONE: u32 = u32::MAX;

/// One instruction of an endpoint body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instr {
    /// Hold the worker for a sample of `dists[dist]`, scaled by cpu faults.
    Work {
        dist: u32,
    },
    Call {
        call: u32,
    },
    /// Fire-and-forget: start a request to `endpoint` with no one waiting, go on at once.
    Send {
        endpoint: u32,
    },
    Fail {
        p: f64,
        status: u16,
    },
    /// Pick one of `choices[first..first + n]` (cumulative probability, target pc).
    Choice {
        first: u32,
        n: u32,
    },
    /// Start a child fiber at each of `forks[first..first + n]`; resume at `cont` when all end.
    Fork {
        first: u32,
        n: u32,
        cont: u32,
    },
    Jump {
        pc: u32,
    },
    /// The fiber's body is done.
    End,
}

#[derive(Debug, Clone)]
pub struct CallModel {
    pub endpoint: u32,
    pub timeout: Option<f64>,
    pub retries: u32,
    pub backoff: Backoff,
    pub jitter: Jitter,
    /// Index into [`Model::breakers`], or [`NONE`].
    pub breaker: u32,
    pub continue_on_error: bool,
    /// The call's own priority; `None` inherits the calling request's.
    pub priority: Option<u8>,
    /// Index into [`Model::eject_pairs`] when the callee has `eject`, or [`NONE`].
    pub ejector: u32,
}

#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub replicas: Replicas,
    pub workers: u32,
    /// `u32::MAX` when unbounded.
    pub queue: u32,
    pub rate_limit: Option<f64>,
    pub restart_s: f64,
    pub balance: Balance,
    pub discipline: Discipline,
    pub health_check: Option<HealthCheck>,
    pub eject: Option<Eject>,
}

#[derive(Debug, Clone)]
pub struct EndpointModel {
    pub service: u32,
    pub entry: u32,
    /// A body that is one `work` step and nothing else (a leaf that only works): the index
    /// into `dists`. Such an execution needs no fiber: its work ends in a `LeafDone`.
    pub leaf_work: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum WorkloadKind {
    Open {
        rate: RateFn,
        arrivals: chaos_plan::Arrivals,
    },
    Closed {
        users: UsersRamp,
        think: Sampler,
    },
}

#[derive(Debug, Clone)]
pub struct WorkloadModel {
    pub endpoint: u32,
    pub timeout: Option<f64>,
    pub kind: WorkloadKind,
    pub priority: u8,
}

/// Which endpoints a fault target covers, and on which replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    pub endpoints: Vec<u32>,
    pub service: u32,
    /// The target is the whole service (health checks see its inbound faults).
    pub whole_service: bool,
    /// `on N of S`: only the replicas picked per occurrence; `None`: every replica.
    pub replicas: Option<ReplicaSubset>,
}

#[derive(Debug, Clone)]
pub enum ActionModel {
    Latency {
        targets: Targets,
        delay: Sampler,
    },
    Errors {
        targets: Targets,
        ratio: f64,
        status: u16,
    },
    Kill {
        count: u32,
        services: Vec<u32>,
    },
    Partition {
        a: Vec<u32>,
        b: Vec<u32>,
    },
    Cpu {
        targets: Targets,
        factor: f64,
    },
    Loss {
        targets: Targets,
        ratio: f64,
    },
    Memory {
        service: u32,
        rate: f64,
        limit: f64,
        replicas: Option<ReplicaSubset>,
    },
}

impl ActionModel {
    /// The service and subset of an `on N of S` action, picked at each occurrence's start.
    pub fn subset(&self) -> Option<(u32, ReplicaSubset)> {
        match self {
            ActionModel::Latency { targets, .. }
            | ActionModel::Errors { targets, .. }
            | ActionModel::Cpu { targets, .. }
            | ActionModel::Loss { targets, .. } => targets.replicas.map(|r| (targets.service, r)),
            ActionModel::Memory {
                service, replicas, ..
            } => replicas.map(|r| (*service, r)),
            ActionModel::Kill { .. } | ActionModel::Partition { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FaultModel {
    /// For [`chaos_plan::pick_replicas`], which every mode seeds with the fault's name.
    pub name: String,
    pub occurrences: Vec<(f64, f64)>,
    pub actions: Vec<ActionModel>,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub duration: f64,
    pub drain: f64,
    pub window: f64,
    /// The plan's `hop_s`: added to every attempt on its way to a replica.
    pub hop: f64,
    pub services: Vec<ServiceModel>,
    pub endpoints: Vec<EndpointModel>,
    pub code: Vec<Instr>,
    pub choices: Vec<(f64, u32)>,
    pub forks: Vec<u32>,
    pub calls: Vec<CallModel>,
    /// Each breaker's settings, checked.
    pub breakers: Vec<CircuitBreaker>,
    /// For each breaker, the (caller, callee) services it guards.
    pub breaker_pairs: Vec<(u32, u32)>,
    /// One outlier ejector per (caller, callee) service pair whose callee has `eject`.
    pub eject_pairs: Vec<(u32, u32)>,
    pub dists: Vec<Sampler>,
    pub workloads: Vec<WorkloadModel>,
    pub faults: Vec<FaultModel>,
}

fn scale_rule_is_valid(rule: chaos_plan::ScaleRule) -> bool {
    match rule {
        chaos_plan::ScaleRule::Target { utilisation } => utilisation > 0.0,
        chaos_plan::ScaleRule::Watermarks { up, down } => up > down && down >= 0.0,
    }
}

fn finite_nonneg(what: &str, x: f64) -> Result<f64, SimError> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(SimError::Invalid(format!(
            "{what} must be a finite, non-negative number, not {x}"
        )))
    }
}

fn ratio(what: &str, x: f64) -> Result<f64, SimError> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(SimError::Invalid(format!(
            "{what} must be a fraction in 0..=1, not {x}"
        )))
    }
}

fn priority(p: u8) -> Result<u8, SimError> {
    if p <= chaos_plan::MAX_PRIORITY {
        Ok(p)
    } else {
        Err(SimError::Invalid(format!(
            "priority must be 0..={}, not {p}",
            chaos_plan::MAX_PRIORITY
        )))
    }
}

fn subset(r: ReplicaSubset) -> Result<ReplicaSubset, SimError> {
    match r {
        ReplicaSubset::Count { count: 0 } => Err(SimError::Invalid(
            "`on N of S` needs N of at least 1".into(),
        )),
        ReplicaSubset::Fraction { fraction } if !(fraction > 0.0 && fraction <= 1.0) => {
            Err(SimError::Invalid(format!(
                "`on N% of S` needs N in (0%, 100%], not {fraction}"
            )))
        }
        r => Ok(r),
    }
}

fn check_health(service: &str, h: HealthCheck) -> Result<HealthCheck, SimError> {
    if !(h.every_s.is_finite() && h.every_s > 0.0 && h.timeout_s.is_finite() && h.timeout_s >= 0.0)
    {
        return Err(SimError::Invalid(format!(
            "service `{service}`: health_check needs every > 0 and a finite timeout >= 0"
        )));
    }
    Ok(h)
}

fn check_eject(service: &str, e: Eject) -> Result<Eject, SimError> {
    if !(e.for_s.is_finite() && e.for_s >= 0.0 && e.max_fraction > 0.0 && e.max_fraction <= 1.0) {
        return Err(SimError::Invalid(format!(
            "service `{service}`: eject needs a finite duration and max in (0%, 100%]"
        )));
    }
    Ok(e)
}

impl Model {
    pub fn new(plan: &Plan) -> Result<Model, SimError> {
        let sc = &plan.scenario;
        let duration = finite_nonneg("duration", sc.duration_s)?;
        let drain = finite_nonneg("drain", sc.drain_s)?;
        let window = finite_nonneg("window", sc.window_s)?;
        let hop = finite_nonneg("hop", sc.hop_s)?;
        if window <= 0.0 {
            return Err(SimError::Invalid("window must be longer than 0s".into()));
        }
        let mut m = Model {
            duration,
            drain,
            window,
            hop,
            services: Vec::new(),
            endpoints: Vec::new(),
            code: Vec::new(),
            choices: Vec::new(),
            forks: Vec::new(),
            calls: Vec::new(),
            breakers: Vec::new(),
            breaker_pairs: Vec::new(),
            eject_pairs: Vec::new(),
            dists: Vec::new(),
            workloads: Vec::new(),
            faults: Vec::new(),
        };
        // Endpoint indices first, so calls can be resolved while compiling bodies.
        for (si, s) in plan.services.iter().enumerate() {
            if s.workers == 0 {
                return Err(SimError::Invalid(format!(
                    "service `{}` has 0 workers",
                    s.name
                )));
            }
            if let Replicas::Autoscale {
                min,
                max,
                rule,
                interval_s,
                delay_s,
            } = s.replicas
                && (min > max
                    || !scale_rule_is_valid(rule)
                    || interval_s.is_nan()
                    || interval_s <= 0.0
                    || delay_s.is_nan()
                    || delay_s < 0.0)
            {
                return Err(SimError::Invalid(format!(
                    "service `{}`: autoscale needs min <= max, target > 0, interval > 0, delay >= 0",
                    s.name
                )));
            }
            if let Some(r) = s.rate_limit_per_s
                && (r.is_nan() || r <= 0.0 || r.is_infinite())
            {
                return Err(SimError::Invalid(format!(
                    "service `{}`: rate limit must be above 0",
                    s.name
                )));
            }
            m.services.push(ServiceModel {
                replicas: s.replicas.clone(),
                workers: s.workers,
                queue: s.queue.unwrap_or(u32::MAX),
                rate_limit: s.rate_limit_per_s,
                restart_s: finite_nonneg("restart", s.restart_s)?,
                balance: s.balance,
                discipline: s.discipline,
                health_check: s
                    .health_check
                    .map(|h| check_health(&s.name, h))
                    .transpose()?,
                eject: s.eject.map(|e| check_eject(&s.name, e)).transpose()?,
            });
            for _ in &s.endpoints {
                m.endpoints.push(EndpointModel {
                    service: si as u32,
                    entry: 0,
                    leaf_work: None,
                });
            }
        }
        let mut ei = 0usize;
        for (si, s) in plan.services.iter().enumerate() {
            for e in &s.endpoints {
                let entry = m.code.len() as u32;
                m.endpoints[ei].entry = entry;
                m.emit_seq(plan, si as u32, &e.steps)?;
                m.code.push(Instr::End);
                if let [Instr::Work { dist }, Instr::End] = m.code[entry as usize..] {
                    m.endpoints[ei].leaf_work = Some(dist);
                }
                ei += 1;
            }
        }
        m.check_acyclic(plan)?;
        for w in &plan.workloads {
            let endpoint = m.endpoint_index(plan, &w.target.service, &w.target.endpoint)?;
            let kind = match &w.load {
                Load::Open {
                    rate,
                    spikes,
                    arrivals,
                } => {
                    for p in rate {
                        finite_nonneg("rate", p.from_per_s)?;
                        finite_nonneg("rate", p.to_per_s)?;
                    }
                    for s in spikes {
                        finite_nonneg("spike rate", s.rate_per_s)?;
                    }
                    WorkloadKind::Open {
                        rate: RateFn::new(rate, spikes, duration),
                        arrivals: *arrivals,
                    }
                }
                Load::Closed {
                    users_from,
                    users_to,
                    ramp_start_s,
                    ramp_s,
                    think,
                } => WorkloadKind::Closed {
                    users: UsersRamp {
                        from: *users_from,
                        to: *users_to,
                        start_s: finite_nonneg("ramp start", *ramp_start_s)?,
                        ramp_s: finite_nonneg("ramp", *ramp_s)?,
                    },
                    think: Sampler::new(think).map_err(|e| SimError::Invalid(e.to_string()))?,
                },
            };
            m.workloads.push(WorkloadModel {
                endpoint,
                timeout: w
                    .timeout_s
                    .map(|t| finite_nonneg("timeout", t))
                    .transpose()?,
                kind,
                priority: priority(w.priority)?,
            });
        }
        for f in &plan.faults {
            let occurrences = f
                .occurrences
                .iter()
                .map(|o| {
                    Ok((
                        finite_nonneg("fault start", o.start_s)?,
                        finite_nonneg("fault end", o.end_s)?,
                    ))
                })
                .collect::<Result<Vec<_>, SimError>>()?;
            let actions = f
                .actions
                .iter()
                .map(|a| m.action(plan, a))
                .collect::<Result<Vec<_>, SimError>>()?;
            m.faults.push(FaultModel {
                name: f.name.clone(),
                occurrences,
                actions,
            });
        }
        Ok(m)
    }

    fn service_index(plan: &Plan, name: &str) -> Result<u32, SimError> {
        plan.services
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as u32)
            .ok_or_else(|| SimError::Invalid(format!("unknown service `{name}`")))
    }

    fn endpoint_index(&self, plan: &Plan, service: &str, endpoint: &str) -> Result<u32, SimError> {
        let mut i = 0u32;
        for s in &plan.services {
            for e in &s.endpoints {
                if s.name == service && e.name == endpoint {
                    return Ok(i);
                }
                i += 1;
            }
        }
        Err(SimError::Invalid(format!(
            "unknown endpoint {service} \"{endpoint}\""
        )))
    }

    fn targets(&self, plan: &Plan, t: &chaos_plan::Target) -> Result<Targets, SimError> {
        let service = Self::service_index(plan, &t.service)?;
        let endpoints = match &t.endpoint {
            Some(e) => vec![self.endpoint_index(plan, &t.service, e)?],
            None => (0..self.endpoints.len() as u32)
                .filter(|&e| self.endpoints[e as usize].service == service)
                .collect(),
        };
        Ok(Targets {
            endpoints,
            service,
            whole_service: t.endpoint.is_none(),
            replicas: t.replicas.map(subset).transpose()?,
        })
    }

    fn action(&self, plan: &Plan, a: &Action) -> Result<ActionModel, SimError> {
        let dist = |d| Sampler::new(d).map_err(|e| SimError::Invalid(e.to_string()));
        let services = |names: &[String]| {
            names
                .iter()
                .map(|n| Self::service_index(plan, n))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match a {
            Action::Latency { target, delay } => ActionModel::Latency {
                targets: self.targets(plan, target)?,
                delay: dist(delay)?,
            },
            Action::Errors {
                target,
                ratio: r,
                status,
            } => ActionModel::Errors {
                targets: self.targets(plan, target)?,
                ratio: ratio("errors ratio", *r)?,
                status: *status,
            },
            Action::Kill { count, services: s } => {
                let services = services(s)?;
                if services.is_empty() {
                    return Err(SimError::Invalid("kill without a service".into()));
                }
                ActionModel::Kill {
                    count: *count,
                    services,
                }
            }
            Action::Partition { a, b } => ActionModel::Partition {
                a: services(a)?,
                b: services(b)?,
            },
            Action::Cpu { target, factor } => {
                if !(factor.is_finite() && *factor > 0.0) {
                    return Err(SimError::Invalid(format!(
                        "cpu factor must be above 0, not {factor}"
                    )));
                }
                ActionModel::Cpu {
                    targets: self.targets(plan, target)?,
                    factor: *factor,
                }
            }
            Action::Loss { target, ratio: r } => ActionModel::Loss {
                targets: self.targets(plan, target)?,
                ratio: ratio("loss ratio", *r)?,
            },
            Action::Memory {
                service,
                bytes_per_s,
                limit_bytes,
                replicas,
            } => ActionModel::Memory {
                service: Self::service_index(plan, service)?,
                rate: finite_nonneg("memory growth", *bytes_per_s)?,
                limit: finite_nonneg("memory limit", *limit_bytes)?,
                replicas: replicas.map(subset).transpose()?,
            },
        })
    }

    fn emit_seq(&mut self, plan: &Plan, service: u32, steps: &[Step]) -> Result<(), SimError> {
        for s in steps {
            self.emit_step(plan, service, s)?;
        }
        Ok(())
    }

    fn emit_step(&mut self, plan: &Plan, service: u32, step: &Step) -> Result<(), SimError> {
        match step {
            Step::Work { dist } => {
                let s = Sampler::new(dist).map_err(|e| SimError::Invalid(e.to_string()))?;
                if !s.is_zero() {
                    self.dists.push(s);
                    self.code.push(Instr::Work {
                        dist: (self.dists.len() - 1) as u32,
                    });
                }
            }
            Step::Fail {
                probability,
                status,
            } => {
                self.code.push(Instr::Fail {
                    p: ratio("fail probability", *probability)?,
                    status: *status,
                });
            }
            Step::Send {
                service: callee,
                endpoint,
            } => {
                let endpoint = self.endpoint_index(plan, callee, endpoint)?;
                self.code.push(Instr::Send { endpoint });
            }
            Step::Call(c) => {
                let endpoint = self.endpoint_index(plan, &c.service, &c.endpoint)?;
                let callee = self.endpoints[endpoint as usize].service;
                let breaker = match &c.circuit_breaker {
                    None => NONE,
                    Some(b) => {
                        // One breaker per (caller, callee) pair; the first call site's settings win.
                        match self
                            .breaker_pairs
                            .iter()
                            .position(|&p| p == (service, callee))
                        {
                            Some(i) => i as u32,
                            None => {
                                self.breakers.push(CircuitBreaker {
                                    failure_ratio: ratio("breaker failure ratio", b.failure_ratio)?,
                                    window_s: finite_nonneg("breaker window", b.window_s)?,
                                    min_requests: b.min_requests,
                                    open_s: finite_nonneg("breaker open time", b.open_s)?,
                                });
                                self.breaker_pairs.push((service, callee));
                                (self.breakers.len() - 1) as u32
                            }
                        }
                    }
                };
                match c.retry.backoff {
                    Backoff::Constant { delay_s } => {
                        finite_nonneg("backoff", delay_s)?;
                    }
                    Backoff::Exponential { base_s, max_s } => {
                        finite_nonneg("backoff", base_s)?;
                        if let Some(m) = max_s {
                            finite_nonneg("backoff max", m)?;
                        }
                    }
                }
                let ejector = if self.services[callee as usize].eject.is_none() {
                    NONE
                } else {
                    // One ejector per (caller, callee) pair, shared by every call site.
                    match self
                        .eject_pairs
                        .iter()
                        .position(|&p| p == (service, callee))
                    {
                        Some(i) => i as u32,
                        None => {
                            self.eject_pairs.push((service, callee));
                            (self.eject_pairs.len() - 1) as u32
                        }
                    }
                };
                self.calls.push(CallModel {
                    endpoint,
                    timeout: c
                        .timeout_s
                        .map(|t| finite_nonneg("timeout", t))
                        .transpose()?,
                    retries: c.retry.retries,
                    backoff: c.retry.backoff.clone(),
                    jitter: c.retry.jitter,
                    breaker,
                    continue_on_error: c.continue_on_error,
                    priority: c.priority.map(priority).transpose()?,
                    ejector,
                });
                self.code.push(Instr::Call {
                    call: (self.calls.len() - 1) as u32,
                });
            }
            Step::Choice { branches } => {
                let at = self.code.len();
                self.code.push(Instr::End); // patched below
                let first = self.choices.len() as u32;
                let mut cum = 0.0;
                let mut ends = Vec::new();
                let mut table = Vec::new();
                for b in branches {
                    cum += ratio("branch probability", b.probability)?;
                    table.push((cum, self.code.len() as u32));
                    self.emit_seq(plan, service, &b.steps)?;
                    ends.push(self.code.len());
                    self.code.push(Instr::Jump { pc: 0 });
                }
                let end = self.code.len() as u32;
                for e in ends {
                    self.code[e] = Instr::Jump { pc: end };
                }
                if let Some(last) = table.last_mut() {
                    // Rounding in the sum must not leave a gap at the top.
                    last.0 = f64::INFINITY;
                }
                let n = table.len() as u32;
                self.choices.extend(table);
                self.code[at] = if n == 0 {
                    Instr::Jump { pc: end }
                } else {
                    Instr::Choice { first, n }
                };
            }
            Step::Parallel { steps } => {
                let at = self.code.len();
                self.code.push(Instr::End); // patched below
                let mut starts = Vec::new();
                for s in steps {
                    starts.push(self.code.len() as u32);
                    self.emit_step(plan, service, s)?;
                    self.code.push(Instr::End);
                }
                let cont = self.code.len() as u32;
                let first = self.forks.len() as u32;
                let n = starts.len() as u32;
                self.forks.extend(starts);
                self.code[at] = if n == 0 {
                    Instr::Jump { pc: cont }
                } else {
                    Instr::Fork { first, n, cont }
                };
            }
        }
        Ok(())
    }

    /// A call cycle would make one request spawn requests without end: refuse it.
    fn check_acyclic(&self, plan: &Plan) -> Result<(), SimError> {
        let n = self.endpoints.len();
        let mut edges = vec![Vec::new(); n];
        for (e, ep) in self.endpoints.iter().enumerate() {
            let mut pc = ep.entry as usize;
            let end = self
                .endpoints
                .get(e + 1)
                .map_or(self.code.len(), |next| next.entry as usize);
            while pc < end {
                // A cycle of sends spawns requests without end just as calls do.
                match self.code[pc] {
                    Instr::Call { call } => {
                        edges[e].push(self.calls[call as usize].endpoint as usize);
                    }
                    Instr::Send { endpoint } => edges[e].push(endpoint as usize),
                    _ => {}
                }
                pc += 1;
            }
        }
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; n];
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (v, ref mut i)) = stack.last_mut() {
                if let Some(&w) = edges[v].get(*i) {
                    *i += 1;
                    match state[w] {
                        0 => {
                            state[w] = 1;
                            stack.push((w, 0));
                        }
                        1 => {
                            let name = plan
                                .services
                                .iter()
                                .flat_map(|s| {
                                    s.endpoints
                                        .iter()
                                        .map(move |e| format!("{} \"{}\"", s.name, e.name))
                                })
                                .nth(w)
                                .unwrap_or_default();
                            return Err(SimError::Invalid(format!(
                                "endpoint {name} calls itself through a cycle of calls"
                            )));
                        }
                        _ => {}
                    }
                } else {
                    state[v] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}
