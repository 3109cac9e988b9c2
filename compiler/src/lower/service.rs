//! Services and endpoint bodies: settings with their defaults, steps, call policies, and the
//! call edges between endpoints (for cycle and traffic checks).

use std::collections::HashMap;

use chaos_grammar::ast::{self, Policy, ServiceSetting, Span, Spanned, Step};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity::{self, Unit};
use crate::source::FileId;

use super::ctx::{Ctx, did_you_mean};
use super::dist;
use super::symbols::{ServiceSym, Symbols};

/// Defaults from the language sketch.
pub(crate) const DEFAULT_RESTART_S: f64 = 5.0;
/// Autoscale defaults the sketch leaves open: a new replica takes 10 s to serve (a pod
/// start), and the rule runs every 15 s (the Kubernetes HPA's sync period).
pub(crate) const DEFAULT_AUTOSCALE_DELAY_S: f64 = 10.0;
pub(crate) const DEFAULT_AUTOSCALE_INTERVAL_S: f64 = 15.0;
/// `health_check` parts left out take the defaults of a Kubernetes readiness probe
/// (`timeoutSeconds: 1`, `failureThreshold: 3`, `successThreshold: 1`), which is what it is
/// in `--cluster`.
pub(crate) const DEFAULT_HEALTH_TIMEOUT_S: f64 = 1.0;
pub(crate) const DEFAULT_UNHEALTHY: u32 = 3;
pub(crate) const DEFAULT_HEALTHY: u32 = 1;
/// `eject` without `max`: at most half of the replicas ejected at once (Envoy's
/// `max_ejection_percent` is 10%, but with the 2-3 replicas of a scenario that ejects none).
pub(crate) const DEFAULT_EJECT_MAX: f64 = 0.5;
/// Steps nested deeper than this are reported instead of lowered (guards the stack).
const MAX_NESTING: usize = 64;

/// A call (or send) from one endpoint (graph node) to another, where it is written.
pub(crate) struct Edge {
    pub to: usize,
    pub file: FileId,
    pub span: Span,
    /// A `send` (fire-and-forget), not a `call`.
    pub send: bool,
}

pub(crate) struct Lowered {
    pub services: Vec<plan::Service>,
    /// Outgoing calls of each node (endpoint), indexed like `Symbols::node_owner`.
    pub edges: Vec<Vec<Edge>>,
    /// Every call timeout in the plan, for the end-of-run drain.
    pub longest_call_timeout_s: Option<f64>,
    /// Per service: its `replicas`/`autoscale` checked (else its count is a stand-in and
    /// checks against it, such as `on N of S`, would only echo that error).
    pub replicas_known: Vec<bool>,
}

pub(crate) fn lower(syms: &Symbols<'_>, ctx: &mut Ctx) -> Lowered {
    let mut out = Lowered {
        services: Vec::with_capacity(syms.services.len()),
        edges: (0..syms.nodes).map(|_| Vec::new()).collect(),
        longest_call_timeout_s: None,
        replicas_known: Vec::with_capacity(syms.services.len()),
    };
    for sym in &syms.services {
        let (svc, known) = service(syms, sym, ctx, &mut out);
        out.services.push(svc);
        out.replicas_known.push(known);
    }
    out
}

/// Reports a setting written twice in one block; returns whether this is the first.
pub(crate) fn first_time(
    ctx: &mut Ctx,
    seen: &mut HashMap<&'static str, Span>,
    file: FileId,
    key: &'static str,
    span: Span,
) -> bool {
    if let Some(first) = seen.get(key) {
        ctx.push(
            Diagnostic::error(codes::DUPLICATE_SETTING, format!("`{key}` is set twice"))
                .at(file, span, "set again here")
                .also(file, *first, "first set here")
                .help("keep one of them"),
        );
        false
    } else {
        seen.insert(key, span);
        true
    }
}

fn service(
    syms: &Symbols<'_>,
    sym: &ServiceSym<'_>,
    ctx: &mut Ctx,
    out: &mut Lowered,
) -> (plan::Service, bool) {
    let file = sym.file;
    let mut seen = HashMap::new();
    let mut replicas = None;
    let mut replicas_ok = true;
    let mut discipline = plan::Discipline::Fifo;
    let mut health_check = None;
    let mut eject = None;
    // Where `health_check` and `eject` are written, for the one-replica warning.
    let mut per_replica: Vec<(&'static str, Span)> = Vec::new();
    let mut replicas_span: Option<(&'static str, Span)> = None;
    let mut workers = 1;
    let mut queue = None;
    let mut rate_limit = None;
    let mut restart = DEFAULT_RESTART_S;
    let mut balance = plan::Balance::RoundRobin;
    let mut latency = plan::Dist::ZERO;
    for Spanned { node, span } in &sym.ast.settings {
        let span = match node {
            // The setting's span may run over the whitespace after it; end at its last value.
            ServiceSetting::Autoscale {
                rule,
                delay,
                interval,
                ..
            } => {
                let last = interval.as_ref().or(delay.as_ref()).unwrap_or(rule.last());
                ast::Span::new(span.start, last.span.end)
            }
            ServiceSetting::HealthCheck {
                every,
                timeout,
                unhealthy,
                healthy,
            } => {
                let last = healthy
                    .as_ref()
                    .or(unhealthy.as_ref())
                    .or(timeout.as_ref())
                    .unwrap_or(every);
                ast::Span::new(span.start, last.span.end)
            }
            ServiceSetting::Eject { duration, max, .. } => {
                let last = max.as_ref().unwrap_or(duration);
                ast::Span::new(span.start, last.span.end)
            }
            _ => *span,
        };
        match node {
            ServiceSetting::Replicas(v) | ServiceSetting::Autoscale { min: v, .. } => {
                let key = if matches!(node, ServiceSetting::Replicas(_)) {
                    "replicas"
                } else {
                    "autoscale"
                };
                if let Some((other, first)) = replicas_span
                    && other != key
                {
                    ctx.push(
                            Diagnostic::error(
                                codes::CONFLICTING_SETTINGS,
                                format!(
                                    "service `{}` has both `replicas` and `autoscale`",
                                    sym.name()
                                ),
                            )
                            .at(file, span, "second one")
                            .also(file, first, "first one")
                            .help("`autoscale MIN..MAX` sets the starting replicas to MIN; keep one of them"),
                        );
                    continue;
                }
                if !first_time(ctx, &mut seen, file, key, span) {
                    continue;
                }
                replicas_span = Some((key, span));
                replicas = match node {
                    ServiceSetting::Replicas(_) => ctx
                        .count(file, v, "`replicas`", 1)
                        .map(|count| plan::Replicas::Fixed { count }),
                    ServiceSetting::Autoscale {
                        min,
                        max,
                        rule,
                        delay,
                        interval,
                    } => autoscale(ctx, file, min, max, rule, delay.as_ref(), interval.as_ref()),
                    _ => None,
                };
                replicas_ok = replicas.is_some();
            }
            ServiceSetting::Workers(v) => {
                if first_time(ctx, &mut seen, file, "workers", span) {
                    workers = ctx.count(file, v, "`workers`", 1).unwrap_or(1);
                }
            }
            ServiceSetting::Queue {
                size,
                discipline: d,
            } => {
                if first_time(ctx, &mut seen, file, "queue", span) {
                    queue = ctx.count(file, size, "`queue`", 0);
                    if let Some(d) = d {
                        discipline = ctx
                            .keyword_coded(
                                codes::UNKNOWN_DISCIPLINE,
                                file,
                                d,
                                "queue discipline",
                                &[
                                    ("fifo", plan::Discipline::Fifo),
                                    ("lifo", plan::Discipline::Lifo),
                                ],
                            )
                            .unwrap_or(plan::Discipline::Fifo);
                    }
                }
            }
            ServiceSetting::HealthCheck {
                every,
                timeout,
                unhealthy,
                healthy,
            } => {
                if first_time(ctx, &mut seen, file, "health_check", span) {
                    per_replica.push(("health_check", span));
                    health_check = self::health_check(
                        ctx,
                        file,
                        every,
                        timeout.as_ref(),
                        unhealthy.as_ref(),
                        healthy.as_ref(),
                    );
                }
            }
            ServiceSetting::Eject {
                after,
                duration,
                max,
            } => {
                if first_time(ctx, &mut seen, file, "eject", span) {
                    per_replica.push(("eject", span));
                    eject = self::eject(ctx, file, after, duration, max.as_ref());
                }
            }
            ServiceSetting::RateLimit(v) => {
                if first_time(ctx, &mut seen, file, "rate_limit", span)
                    && let Some(r) = ctx.want(file, v, Unit::Rate, "`rate_limit`")
                {
                    if r > 0.0 {
                        rate_limit = Some(r);
                    } else {
                        ctx.out_of_range(
                            file,
                            v.span,
                            "`rate_limit` must be more than 0/s".into(),
                            "zero: nothing would get through",
                        );
                    }
                }
            }
            ServiceSetting::Restart(v) => {
                if first_time(ctx, &mut seen, file, "restart", span) {
                    restart = ctx
                        .duration(file, v, "`restart`")
                        .unwrap_or(DEFAULT_RESTART_S);
                }
            }
            ServiceSetting::Balance(ident) => {
                if first_time(ctx, &mut seen, file, "balance", span) {
                    balance = ctx
                        .keyword(
                            file,
                            ident,
                            "balance",
                            &[
                                ("round_robin", plan::Balance::RoundRobin),
                                ("random", plan::Balance::Random),
                                ("least_request", plan::Balance::LeastRequest),
                            ],
                        )
                        .unwrap_or(plan::Balance::RoundRobin);
                }
            }
            ServiceSetting::Latency(d) => {
                if first_time(ctx, &mut seen, file, "latency", span) {
                    latency = dist::dist(ctx, file, d, "`latency`").unwrap_or(plan::Dist::ZERO);
                }
            }
            ServiceSetting::Endpoint(_) => {}
        }
    }
    let mut endpoints = Vec::with_capacity(sym.endpoints.len());
    let mut breakers = HashMap::new();
    for (i, ep) in sym.endpoints.iter().enumerate() {
        let node = sym.first_node + i;
        let mut lowering = Steps {
            syms,
            ctx,
            file,
            node,
            out,
            breakers: &mut breakers,
        };
        let mut steps = lowering.steps(&ep.steps, 0);
        if ep.steps.is_empty() {
            steps.push(plan::Step::Work {
                dist: latency.clone(),
            });
        }
        endpoints.push(plan::Endpoint {
            name: ep.name.value.clone(),
            steps,
        });
    }
    if replicas_ok {
        let most = match &replicas {
            Some(plan::Replicas::Autoscale { max, .. }) => *max,
            Some(plan::Replicas::Fixed { count }) => *count,
            None => 1,
        };
        if most == 1 {
            for (what, span) in per_replica {
                single_replica(ctx, file, sym.name(), what, span);
            }
        } else if let Some(e) = &eject
            && let Some((_, span)) = per_replica.iter().find(|(w, _)| *w == "eject")
        {
            eject_rounds_to_none(ctx, file, sym.name(), e, most, *span);
        }
    }
    let service = plan::Service {
        name: sym.name().to_string(),
        replicas: replicas.unwrap_or(plan::Replicas::Fixed { count: 1 }),
        workers,
        queue,
        discipline,
        health_check,
        eject,
        rate_limit_per_s: rate_limit,
        restart_s: restart,
        balance,
        latency,
        endpoints,
    };
    (service, replicas_ok)
}

/// `health_check` or `eject` where there is never a second replica to send to instead.
fn single_replica(ctx: &mut Ctx, file: FileId, service: &str, what: &str, span: Span) {
    let effect = if what == "eject" {
        "ejecting its only replica is not allowed, so nothing is ever ejected"
    } else {
        "when its only replica fails its checks, callers have nowhere else to send"
    };
    ctx.push(
        Diagnostic::warning(
            codes::SINGLE_REPLICA,
            format!("`{what}` on `{service}`, which has one replica, cannot help"),
        )
        .at(file, span, effect)
        .help(format!(
            "give `{service}` more replicas (`replicas 3`), or remove `{what}`"
        )),
    );
}

/// `eject ... max R` where R of the most replicas the service can have rounds down to none
/// (the bound of `chaos_plan::Ejector`): nothing is ever ejected.
fn eject_rounds_to_none(
    ctx: &mut Ctx,
    file: FileId,
    service: &str,
    eject: &plan::Eject,
    most: u32,
    span: Span,
) {
    let allowed = (eject.max_fraction * f64::from(most) + 1e-9).floor();
    if allowed >= 1.0 {
        return;
    }
    let share = quantity::trim(eject.max_fraction * 100.0);
    let least = quantity::trim((100.0 / f64::from(most) * 100.0).ceil() / 100.0);
    ctx.push(
        Diagnostic::warning(
            codes::SINGLE_REPLICA,
            format!(
                "`eject` on `{service}` cannot help: {share}% of its {most} replicas rounds down to none ejected at once"
            ),
        )
        .at(file, span, "never ejects a replica")
        .help(format!(
            "raise `max` to at least {least}% (one of {most} replicas), or give `{service}` more replicas"
        )),
    );
}

/// A count of at least 1 for `unhealthy`/`healthy`, reported under its own code when 0.
fn threshold(ctx: &mut Ctx, file: FileId, v: &ast::Value, what: &str) -> Option<u32> {
    let n = ctx.count(file, v, what, 0)?;
    if n == 0 {
        ctx.push(
            Diagnostic::error(
                codes::HEALTH_THRESHOLD,
                format!("{what} must be at least 1"),
            )
            .at(file, v.span, "zero consecutive checks")
            .help(format!(
                "{what} counts consecutive checks before the replica's state flips; write 1 to flip at the first one"
            )),
        );
        return None;
    }
    Some(n)
}

fn health_check(
    ctx: &mut Ctx,
    file: FileId,
    every: &ast::Value,
    timeout: Option<&ast::Value>,
    unhealthy: Option<&ast::Value>,
    healthy: Option<&ast::Value>,
) -> Option<plan::HealthCheck> {
    let every_s = ctx.positive_duration(file, every, "`every`");
    let timeout_s = match timeout {
        Some(v) => ctx.positive_duration(file, v, "the health check's `timeout`"),
        None => Some(DEFAULT_HEALTH_TIMEOUT_S),
    };
    let unhealthy = match unhealthy {
        Some(v) => threshold(ctx, file, v, "`unhealthy`"),
        None => Some(DEFAULT_UNHEALTHY),
    };
    let healthy = match healthy {
        Some(v) => threshold(ctx, file, v, "`healthy`"),
        None => Some(DEFAULT_HEALTHY),
    };
    Some(plan::HealthCheck {
        every_s: every_s?,
        timeout_s: timeout_s?,
        unhealthy: unhealthy?,
        healthy: healthy?,
    })
}

fn eject(
    ctx: &mut Ctx,
    file: FileId,
    after: &ast::Value,
    duration: &ast::Value,
    max: Option<&ast::Value>,
) -> Option<plan::Eject> {
    let after = ctx.count(file, after, "`eject after`", 1);
    let for_s = ctx.positive_duration(file, duration, "the ejection's `for`");
    let max_fraction = match max {
        Some(v) => match ctx.want(file, v, Unit::Ratio, "`max`") {
            Some(r) if r > 0.0 && r <= 1.0 => Some(r),
            Some(_) => {
                ctx.push(
                    Diagnostic::error(
                        codes::EJECT_MAX,
                        format!(
                            "`max {}` is outside (0%, 100%]: it is the most of the replicas ejected at once",
                            ctx.text(v)
                        ),
                    )
                    .at(file, v.span, "expected more than 0% and at most 100%")
                    .help("write a share such as `max 50%` (the default), or leave `max` out"),
                );
                None
            }
            None => None,
        },
        None => Some(DEFAULT_EJECT_MAX),
    };
    Some(plan::Eject {
        after: after?,
        for_s: for_s?,
        max_fraction: max_fraction?,
    })
}

fn autoscale(
    ctx: &mut Ctx,
    file: FileId,
    min: &ast::Value,
    max: &ast::Value,
    rule: &ast::AutoscaleRule,
    delay: Option<&ast::Value>,
    interval: Option<&ast::Value>,
) -> Option<plan::Replicas> {
    let lo = ctx.count(file, min, "the autoscale minimum", 1);
    let hi = ctx.count(file, max, "the autoscale maximum", 1);
    let rule = match rule {
        ast::AutoscaleRule::Target(target) => ctx
            .ratio(file, target, "`target`", true)
            .map(|utilisation| plan::ScaleRule::Target { utilisation }),
        ast::AutoscaleRule::Watermarks { up, down } => watermarks(ctx, file, up, down),
    };
    let delay_s = match delay {
        Some(v) => ctx.duration(file, v, "`delay`"),
        None => Some(DEFAULT_AUTOSCALE_DELAY_S),
    };
    let interval_s = match interval {
        Some(v) => ctx.positive_duration(file, v, "`interval`"),
        None => Some(DEFAULT_AUTOSCALE_INTERVAL_S),
    };
    let (lo, hi) = (lo?, hi?);
    if lo > hi {
        ctx.push(
            Diagnostic::error(
                codes::AUTOSCALE_BOUNDS,
                format!("autoscale minimum {lo} is above its maximum {hi}"),
            )
            .at(file, min.span.to(max.span), "MIN..MAX with MIN > MAX")
            .help(format!("write `autoscale {hi}..{lo}`")),
        );
        return None;
    }
    Some(plan::Replicas::Autoscale {
        min: lo,
        max: hi,
        rule: rule?,
        delay_s: delay_s?,
        interval_s: interval_s?,
    })
}

/// `up above UP down below DOWN`: fractions with `UP > DOWN`.
fn watermarks(
    ctx: &mut Ctx,
    file: FileId,
    up: &ast::Value,
    down: &ast::Value,
) -> Option<plan::ScaleRule> {
    let up_r = ctx.ratio(file, up, "`up above`", false);
    let down_r = ctx.ratio(file, down, "`down below`", false);
    let (up_r, down_r) = (up_r?, down_r?);
    if up_r <= down_r {
        ctx.push(
            Diagnostic::error(
                codes::WATERMARKS,
                format!(
                    "`up above {}` is not above `down below {}`",
                    ctx.text(up),
                    ctx.text(down)
                ),
            )
            .at(file, up.span, "must be above the `down` watermark")
            .also(file, down.span, "the `down` watermark")
            .help("a replica is added above `up` and removed below `down`; between them the count stays, so `up` must be higher, e.g. `up above 80% down below 30%`"),
        );
        return None;
    }
    Some(plan::ScaleRule::Watermarks {
        up: up_r,
        down: down_r,
    })
}

/// Lowers the steps of one endpoint, recording its calls as graph edges.
struct Steps<'s, 'a> {
    syms: &'s Symbols<'a>,
    ctx: &'s mut Ctx,
    file: FileId,
    node: usize,
    out: &'s mut Lowered,
    /// The first breaker of this service towards each callee service, and where it is written:
    /// the breaker is per (caller, callee), so a later, different one never applies.
    breakers: &'s mut HashMap<String, (plan::CircuitBreaker, Span)>,
}

impl Steps<'_, '_> {
    fn steps(&mut self, steps: &[Spanned<Step>], depth: usize) -> Vec<plan::Step> {
        if depth > MAX_NESTING {
            if let Some(first) = steps.first() {
                self.ctx.out_of_range(
                    self.file,
                    first.span,
                    format!("steps are nested more than {MAX_NESTING} deep"),
                    "too deep",
                );
            }
            return Vec::new();
        }
        steps.iter().filter_map(|s| self.step(s, depth)).collect()
    }

    fn step(&mut self, step: &Spanned<Step>, depth: usize) -> Option<plan::Step> {
        let file = self.file;
        match &step.node {
            Step::Work(d) => Some(plan::Step::Work {
                dist: dist::dist(self.ctx, file, d, "`work`")?,
            }),
            Step::Call(c) => self.call(c, step.span).map(plan::Step::Call),
            Step::Send(c) => self.send(c, step.span),
            Step::Parallel(inner) => Some(plan::Step::Parallel {
                steps: self.steps(inner, depth + 1),
            }),
            Step::Choice(branches) => {
                let mut out = Vec::with_capacity(branches.len());
                let mut sum = 0.0;
                let mut all_known = true;
                for b in branches {
                    let p = self
                        .ctx
                        .ratio(file, &b.weight, "a branch's percentage", false);
                    all_known &= p.is_some();
                    let p = p.unwrap_or(0.0);
                    sum += p;
                    out.push(plan::Branch {
                        probability: p,
                        steps: self.steps(&b.steps, depth + 1),
                    });
                }
                if all_known && (sum - 1.0).abs() > 1e-9 {
                    let shown = quantity::trim(sum * 100.0);
                    let mut d = Diagnostic::error(
                        codes::CHOICE_SUM,
                        format!("the branches of a `choice` sum to {shown}%, not 100%"),
                    )
                    .at(file, step.span, format!("{shown}% in total"));
                    for b in branches {
                        d = d.also(file, b.weight.span, "");
                    }
                    self.ctx.push(d.help(if sum < 1.0 {
                        format!(
                            "add a branch of {}% or raise the percentages",
                            quantity::trim((1.0 - sum) * 100.0)
                        )
                    } else {
                        "lower the percentages so they add up to 100%".to_string()
                    }));
                    return None;
                }
                Some(plan::Step::Choice { branches: out })
            }
            Step::Fail { ratio, status } => {
                let probability = self.ctx.ratio(file, ratio, "`fail`", false);
                let status = match status {
                    Some(s) => self.ctx.status(file, s),
                    None => Some(500),
                };
                Some(plan::Step::Fail {
                    probability: probability?,
                    status: status?,
                })
            }
        }
    }

    /// Warns when this service already has a different breaker towards `callee`.
    fn one_breaker_per_callee(&mut self, callee: &str, breaker: &plan::CircuitBreaker, span: Span) {
        match self.breakers.get(callee) {
            None => {
                self.breakers
                    .insert(callee.to_string(), (breaker.clone(), span));
            }
            Some((first, _)) if first == breaker => {}
            Some((_, first_span)) => {
                let caller = self.syms.services[self.syms.node_owner[self.node].0].name();
                self.ctx.push(
                    Diagnostic::warning(
                        codes::BREAKER_CONFLICT,
                        format!(
                            "`{caller}` has two different circuit breakers towards `{callee}`; only the first applies"
                        ),
                    )
                    .at(self.file, span, "ignored: the breaker towards this service is already set")
                    .also(self.file, *first_span, "this one applies to every call to the service")
                    .help(format!(
                        "a breaker is shared by all calls from `{caller}` to `{callee}`: give them the same settings"
                    )),
                );
            }
        }
    }

    fn call(&mut self, c: &ast::CallStep, span: Span) -> Option<plan::Call> {
        let file = self.file;
        let target = resolve_endpoint(self.syms, self.ctx, file, &c.service, &c.endpoint);
        if let Some(to) = target {
            self.out.edges[self.node].push(Edge {
                to,
                file,
                span,
                send: false,
            });
        }
        let mut seen = HashMap::new();
        let mut call = plan::Call {
            service: c.service.name.clone(),
            endpoint: c.endpoint.value.clone(),
            timeout_s: None,
            retry: plan::Retry::NONE,
            circuit_breaker: None,
            continue_on_error: false,
            priority: None,
        };
        let mut ok = true;
        for p in &c.policies {
            match &p.node {
                Policy::Timeout(v) => {
                    if first_time(self.ctx, &mut seen, file, "timeout", p.span) {
                        call.timeout_s = self.ctx.positive_duration(file, v, "`timeout`");
                        ok &= call.timeout_s.is_some();
                        if let Some(t) = call.timeout_s {
                            let longest = self.out.longest_call_timeout_s.get_or_insert(t);
                            *longest = longest.max(t);
                        }
                    }
                }
                Policy::Retry {
                    count,
                    backoff,
                    jitter,
                } => {
                    if !first_time(self.ctx, &mut seen, file, "retry", p.span) {
                        continue;
                    }
                    let retries = self.ctx.count(file, count, "`retry`", 0);
                    let backoff = match backoff {
                        Some(b) => dist::backoff(self.ctx, file, b),
                        None => Some(plan::Backoff::Constant { delay_s: 0.0 }),
                    };
                    let jitter = match jitter {
                        Some(j) => self.ctx.keyword(
                            file,
                            j,
                            "jitter",
                            &[
                                ("none", plan::Jitter::None),
                                ("full", plan::Jitter::Full),
                                ("equal", plan::Jitter::Equal),
                            ],
                        ),
                        None => Some(plan::Jitter::None),
                    };
                    match (retries, backoff, jitter) {
                        (Some(retries), Some(backoff), Some(jitter)) => {
                            call.retry = plan::Retry {
                                retries,
                                backoff,
                                jitter,
                            }
                        }
                        _ => ok = false,
                    }
                }
                Policy::CircuitBreaker {
                    ratio,
                    over,
                    min,
                    open,
                } => {
                    if !first_time(self.ctx, &mut seen, file, "circuit_breaker", p.span) {
                        continue;
                    }
                    let failure_ratio =
                        self.ctx
                            .ratio(file, ratio, "the breaker's failure ratio", true);
                    let window_s = self.ctx.positive_duration(file, over, "`over`");
                    let min_requests = self.ctx.count(file, min, "`min`", 1);
                    let open_s = self.ctx.positive_duration(file, open, "`open`");
                    match (failure_ratio, window_s, min_requests, open_s) {
                        (Some(failure_ratio), Some(window_s), Some(min_requests), Some(open_s)) => {
                            let breaker = plan::CircuitBreaker {
                                failure_ratio,
                                window_s,
                                min_requests,
                                open_s,
                            };
                            self.one_breaker_per_callee(&c.service.name, &breaker, p.span);
                            call.circuit_breaker = Some(breaker);
                        }
                        _ => ok = false,
                    }
                }
                Policy::Priority(v) => {
                    if first_time(self.ctx, &mut seen, file, "priority", p.span) {
                        call.priority = self.ctx.priority(file, v);
                        ok &= call.priority.is_some();
                    }
                }
                Policy::OnError(ident) => {
                    if first_time(self.ctx, &mut seen, file, "on_error", p.span) {
                        match self.ctx.keyword(
                            file,
                            ident,
                            "`on_error` action",
                            &[("continue", true), ("fail", false)],
                        ) {
                            Some(c) => call.continue_on_error = c,
                            None => ok = false,
                        }
                    }
                }
            }
        }
        (ok && target.is_some()).then_some(call)
    }
}

impl Steps<'_, '_> {
    /// `send SERVICE "ENDPOINT"`: resolved like a call; policies are an error, since a send
    /// waits for nothing (no timeout, retry, breaker, `on_error`; it carries the request's
    /// priority).
    fn send(&mut self, c: &ast::CallStep, span: Span) -> Option<plan::Step> {
        let file = self.file;
        let target = resolve_endpoint(self.syms, self.ctx, file, &c.service, &c.endpoint);
        if let Some(to) = target {
            self.out.edges[self.node].push(Edge {
                to,
                file,
                span,
                send: true,
            });
        }
        if c.block || !c.policies.is_empty() {
            let at = match (c.policies.first(), c.policies.last()) {
                (Some(first), Some(last)) => first.span.to(last.span),
                _ => span,
            };
            let call = format!(
                "call {} \"{}\"",
                c.service.name,
                c.endpoint.value.replace('\\', "\\\\").replace('"', "\\\"")
            );
            self.ctx.push(
                Diagnostic::error(
                    codes::SEND_POLICY,
                    format!(
                        "`send {}` has call policies, but a send is fire-and-forget",
                        c.service.name
                    ),
                )
                .at(file, at, "a send takes no policies")
                .help(format!(
                    "a send has no timeout, retry, circuit breaker, on_error or priority of its own: its step ends at once and the answer is ignored; remove the policies, or write `{call}` to wait for the answer"
                )),
            );
            return None;
        }
        target?;
        Some(plan::Step::Send {
            service: c.service.name.clone(),
            endpoint: c.endpoint.value.clone(),
        })
    }
}

/// The graph node of `SERVICE "ENDPOINT"`, or a diagnostic with the closest names.
pub(crate) fn resolve_endpoint(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    service: &ast::Ident,
    endpoint: &ast::StrLit,
) -> Option<usize> {
    let sym = resolve_service(syms, ctx, file, service)?;
    match sym.endpoint_index.get(endpoint.value.as_str()) {
        Some(i) => Some(sym.first_node + i),
        None => {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_ENDPOINT,
                format!(
                    "service `{}` has no endpoint \"{}\"",
                    sym.name(),
                    endpoint.value
                ),
            )
            .at(file, endpoint.span, "unknown endpoint")
            .also(
                sym.file,
                sym.ast.name.span,
                format!("`{}` is defined here", sym.name()),
            );
            let names = sym.endpoints.iter().map(|e| e.name.value.as_str());
            d = match did_you_mean(&endpoint.value, names) {
                Some(h) => d.suggest(endpoint.span, format!("\"{h}\""), |h| {
                    format!("did you mean {h}?")
                }),
                None if sym.endpoints.is_empty() => d.help(format!(
                    "`{}` has no endpoints; add `endpoint \"{}\" {{ }}`",
                    sym.name(),
                    endpoint.value
                )),
                None => d.help(format!(
                    "its endpoints: {}",
                    sym.endpoints
                        .iter()
                        .take(8)
                        .map(|e| format!("\"{}\"", e.name.value))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            ctx.push(d);
            None
        }
    }
}

/// The service of this name, or an "unknown service" diagnostic with the closest name.
pub(crate) fn resolve_service<'s, 'a>(
    syms: &'s Symbols<'a>,
    ctx: &mut Ctx,
    file: FileId,
    service: &ast::Ident,
) -> Option<&'s ServiceSym<'a>> {
    if let Some(s) = syms.service(&service.name) {
        return Some(s);
    }
    let mut d = Diagnostic::error(
        codes::UNKNOWN_SERVICE,
        format!("unknown service `{}`", service.name),
    )
    .at(file, service.span, "no service of this name");
    if let Some(h) = did_you_mean(&service.name, syms.service_names()) {
        d.message = format!("unknown service `{}`; did you mean `{h}`?", service.name);
        d = d.suggest(service.span, h, |h| format!("replace it with `{h}`"));
    } else {
        d = d.help(format!("define it: `service {} {{ ... }}`", service.name));
    }
    ctx.push(d);
    None
}
