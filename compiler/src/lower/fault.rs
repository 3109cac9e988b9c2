//! Faults: the schedule expanded into occurrences, the `during` window (`active`), and the
//! actions with their targets resolved.

use std::collections::HashMap;

use chaos_grammar::ast::{self, Action, KillTarget, Schedule};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity::{self, Unit};
use crate::source::FileId;

use super::ctx::Ctx;
use super::dist;
use super::service::{resolve_endpoint, resolve_service};
use super::symbols::{In, Symbols};

/// More occurrences than this (from `every`) are reported rather than expanded.
const MAX_OCCURRENCES: f64 = 100_000.0;

pub(crate) struct Lowered {
    pub faults: Vec<plan::Fault>,
    /// By fault name, for windows: only faults whose schedule resolved.
    pub by_name: HashMap<String, usize>,
}

/// The lowered services, for checks against their replica counts.
pub(crate) struct Topology<'a> {
    pub services: &'a [plan::Service],
    /// Per service: its replica count is the one written (not a stand-in after an error).
    pub replicas_known: &'a [bool],
}

pub(crate) fn lower(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    duration: Option<f64>,
    topology: &Topology<'_>,
) -> Lowered {
    let mut out = Lowered {
        faults: Vec::new(),
        by_name: HashMap::new(),
    };
    for f in &syms.faults {
        if let Some(fault) = fault(syms, ctx, f, duration, topology) {
            out.by_name.insert(fault.name.clone(), out.faults.len());
            out.faults.push(fault);
        }
    }
    out
}

fn fault(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    f: &In<'_, ast::Fault>,
    duration: Option<f64>,
    topology: &Topology<'_>,
) -> Option<plan::Fault> {
    let all = topology.services;
    let file = f.file;
    let mut actions = Vec::new();
    let mut ok = true;
    let mut kill_restart: Option<f64> = None;
    for a in &f.ast.actions {
        match action(syms, ctx, file, &a.node, topology) {
            Some(act) => {
                if let plan::Action::Kill { services, count } = &act {
                    let longest = services
                        .iter()
                        .filter_map(|s| syms.service_index.get(s.as_str()))
                        .filter_map(|&i| all.get(i).map(|s| s.restart_s))
                        .fold(0.0, f64::max);
                    if let Action::Kill { count: written, .. } = &a.node {
                        kill_too_many(syms, ctx, file, written, *count, services, all);
                    }
                    kill_restart = Some(kill_restart.map_or(longest, |k: f64| k.max(longest)));
                }
                actions.push(act);
            }
            None => ok = false,
        }
    }
    let only_kills = !f.ast.actions.is_empty()
        && f.ast
            .actions
            .iter()
            .all(|a| matches!(a.node, Action::Kill { .. }));
    let occurrences = schedule(ctx, file, &f.ast.schedule, duration, only_kills);
    let (Some(occurrences), Some(d), true) = (occurrences, duration, ok) else {
        return None;
    };
    let mut active: Vec<plan::Interval> = occurrences
        .iter()
        .map(|o| {
            let end = kill_restart.map_or(o.end_s, |k| o.end_s.max(o.start_s + k));
            plan::Interval {
                start_s: o.start_s,
                end_s: end.min(d),
            }
        })
        .filter(|i| i.end_s > i.start_s)
        .collect();
    active.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let active = merge(active);
    Some(plan::Fault {
        name: f.ast.name.name.clone(),
        occurrences,
        active,
        actions,
    })
}

/// Sorted intervals with overlaps and touching neighbours joined.
pub(crate) fn merge(sorted: Vec<plan::Interval>) -> Vec<plan::Interval> {
    let mut out: Vec<plan::Interval> = Vec::with_capacity(sorted.len());
    for i in sorted {
        match out.last_mut() {
            Some(last) if i.start_s <= last.end_s => last.end_s = last.end_s.max(i.end_s),
            _ => out.push(i),
        }
    }
    out
}

fn schedule(
    ctx: &mut Ctx,
    file: FileId,
    s: &Schedule,
    duration: Option<f64>,
    only_kills: bool,
) -> Option<Vec<plan::Occurrence>> {
    let (starts, length, at_value) = match s {
        Schedule::At { at, duration: len } => {
            let start = ctx.duration(file, at, "`at`");
            let len = match len {
                Some(v) => ctx.positive_duration(file, v, "a fault's `for`").map(Some),
                None => Some(None),
            };
            (vec![start?], len?, at)
        }
        Schedule::Every {
            every,
            from,
            until,
            duration: len,
        } => {
            let step = ctx.positive_duration(file, every, "`every`");
            let start = match from {
                Some(v) => ctx.duration(file, v, "`from`"),
                None => Some(0.0),
            };
            let until_s = match until {
                Some(v) => ctx.duration(file, v, "`until`").map(Some),
                None => Some(None),
            };
            let len = match len {
                Some(v) => ctx.positive_duration(file, v, "a fault's `for`").map(Some),
                None => Some(None),
            };
            let (step, start, until_s, len) = (step?, start?, until_s?, len?);
            let d = duration?;
            let stop = until_s.map_or(d, |u| u.min(d));
            if let (Some(u), Some(uv)) = (until_s, until.as_ref())
                && u <= start
            {
                ctx.push(
                    Diagnostic::error(
                        codes::EMPTY_WINDOW,
                        format!(
                            "`until {}` is not after `from {}`: the fault never happens",
                            quantity::fmt_seconds(u),
                            quantity::fmt_seconds(start)
                        ),
                    )
                    .at(file, uv.span, "must be after `from`"),
                );
                return None;
            }
            // A period that divides the span exactly must not gain an occurrence a hair before
            // the end because its decimal value rounds down in binary (`every 100us` over 10s
            // is 100,000 occurrences, not 100,001).
            let count = ((stop - start) / step * (1.0 - 1e-12)).ceil();
            if count > MAX_OCCURRENCES {
                ctx.push(
                    Diagnostic::error(
                        codes::TOO_MANY,
                        format!(
                            "`every {}` repeats the fault {count} times; at most {MAX_OCCURRENCES} are supported",
                            quantity::fmt_seconds(step)
                        ),
                    )
                    .at(file, every.span, "too often"),
                );
                return None;
            }
            let anchor = from.as_ref().unwrap_or(every);
            if start >= d {
                ctx.push(after_end(file, anchor, start, d));
                return None;
            }
            let starts: Vec<f64> = (0..count.max(0.0) as usize)
                .map(|k| start + k as f64 * step)
                .filter(|t| *t < stop)
                .collect();
            if len.is_none() && !only_kills && starts.len() > 1 {
                ctx.push(
                    Diagnostic::warning(
                        codes::PILING_FAULT,
                        format!(
                            "`every {}` without `for`: the {} occurrences never end, so they pile up",
                            quantity::fmt_seconds(step),
                            starts.len()
                        ),
                    )
                    .at(file, every.span, "each one lasts to the end of the run")
                    .help(format!(
                        "add how long each one lasts, e.g. `every {} for 30s`",
                        ctx.text(every)
                    )),
                );
            }
            return Some(occurrences(starts, len, d, only_kills));
        }
    };
    let d = duration?;
    if starts[0] >= d {
        ctx.push(after_end(file, at_value, starts[0], d));
        return None;
    }
    Some(occurrences(starts, length, d, only_kills))
}

fn occurrences(
    starts: Vec<f64>,
    length: Option<f64>,
    d: f64,
    only_kills: bool,
) -> Vec<plan::Occurrence> {
    starts
        .into_iter()
        .map(|start_s| plan::Occurrence {
            start_s,
            end_s: match length {
                Some(l) => (start_s + l).min(d),
                None if only_kills => start_s,
                None => d,
            },
        })
        .collect()
}

/// The most replicas a service can have: its count, or its autoscale maximum.
fn max_replicas(s: &plan::Service) -> u32 {
    match s.replicas {
        plan::Replicas::Fixed { count } => count,
        plan::Replicas::Autoscale { max, .. } => max,
    }
}

/// Warns when `kill N` asks for more replicas than a candidate service can ever have: the
/// kill then takes down what there is, which is likely not what was meant.
fn kill_too_many(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    written: &ast::Value,
    count: u32,
    services: &[String],
    all: &[plan::Service],
) {
    // A service whose `replicas` or `autoscale` failed to check has a stand-in count.
    if ctx.diags.iter().any(Diagnostic::is_error) {
        return;
    }
    let short: Vec<String> = services
        .iter()
        .filter_map(|name| {
            let s = all.get(*syms.service_index.get(name.as_str())?)?;
            let max = max_replicas(s);
            (max < count).then(|| format!("`{name}` has at most {max}"))
        })
        .collect();
    if short.is_empty() {
        return;
    }
    ctx.push(
        Diagnostic::warning(
            codes::KILL_TOO_MANY,
            format!(
                "`kill {count}` asks for more replicas than there can be: {}",
                short.join(", ")
            ),
        )
        .at(file, written.span, "more than the service has")
        .help("the kill takes down every replica there is; lower the count or raise `replicas`"),
    );
}

fn after_end(file: FileId, at: &ast::Value, start: f64, d: f64) -> Diagnostic {
    Diagnostic::error(
        codes::AFTER_END,
        format!(
            "the fault starts at {}, after the scenario ends at {}",
            quantity::fmt_seconds(start),
            quantity::fmt_seconds(d)
        ),
    )
    .at(
        file,
        at.span,
        format!("must be before {}", quantity::fmt_seconds(d)),
    )
    .help("move it earlier or lengthen the scenario's `duration`")
}

fn target(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    t: &ast::TargetRef,
    topology: &Topology<'_>,
) -> Option<plan::Target> {
    let endpoint = match &t.endpoint {
        Some(ep) => {
            resolve_endpoint(syms, ctx, file, &t.service, ep)?;
            Some(ep.value.clone())
        }
        None => {
            resolve_service(syms, ctx, file, &t.service)?;
            None
        }
    };
    let replicas = match &t.replicas {
        Some(v) => Some(subset(syms, ctx, file, v, &t.service, topology)?),
        None => None,
    };
    Some(plan::Target {
        service: t.service.name.clone(),
        endpoint,
        replicas,
    })
}

/// `N` or `N%` of `on N of SERVICE`: at least one replica, and no more than the service can
/// have (its count, or its autoscale maximum). The service is already resolved.
fn subset(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    v: &ast::Value,
    service: &ast::Ident,
    topology: &Topology<'_>,
) -> Option<plan::ReplicaSubset> {
    let (unit, n) = ctx.resolve(file, v)?;
    let shown = ctx.text(v);
    let none = |ctx: &mut Ctx, label: &str| {
        ctx.push(
            Diagnostic::error(
                codes::REPLICA_SUBSET,
                format!("`on {shown} of {}` picks no replica", service.name),
            )
            .at(file, v.span, label.to_string())
            .help(format!(
                "write at least `on 1 of {}`, or `on {}` for every replica",
                service.name, service.name
            )),
        );
    };
    let subset = match unit {
        Unit::Number => {
            if n.fract() != 0.0 || n < 0.0 {
                ctx.out_of_range(
                    file,
                    v.span,
                    format!("`on {shown} of` needs a whole number of replicas"),
                    "not a whole number",
                );
                return None;
            }
            if n < 1.0 {
                none(ctx, "zero replicas");
                return None;
            }
            plan::ReplicaSubset::Count {
                count: n.min(f64::from(u32::MAX)) as u32,
            }
        }
        Unit::Ratio => {
            if n <= 0.0 {
                none(ctx, "0% of the replicas");
                return None;
            }
            if n > 1.0 {
                ctx.push(
                    Diagnostic::error(
                        codes::REPLICA_SUBSET,
                        format!("`on {shown} of {}` is more than all replicas", service.name),
                    )
                    .at(file, v.span, "more than 100%")
                    .help(format!(
                        "write at most `on 100% of {}`, which is `on {}`",
                        service.name, service.name
                    )),
                );
                return None;
            }
            plan::ReplicaSubset::Fraction { fraction: n }
        }
        found => {
            ctx.push(
                Diagnostic::error(
                    codes::WRONG_UNIT,
                    format!(
                        "`on N of` takes a number or a percentage of replicas, found {} `{shown}`",
                        found.describe()
                    ),
                )
                .at(
                    file,
                    v.span,
                    "expected a number such as 1 or a percentage such as 30%",
                )
                .help(format!(
                    "write e.g. `on 1 of {}` or `on 30% of {}`",
                    service.name, service.name
                )),
            );
            return None;
        }
    };
    if let plan::ReplicaSubset::Count { count } = subset
        && let Some(&i) = syms.service_index.get(service.name.as_str())
        && topology.replicas_known.get(i).copied().unwrap_or(false)
        && let Some(s) = topology.services.get(i)
    {
        let most = max_replicas(s);
        if count > most {
            let has = match s.replicas {
                plan::Replicas::Fixed { .. } => format!("has {most} replica{}", plural(most)),
                plan::Replicas::Autoscale { .. } => {
                    format!(
                        "has at most {most} replica{} (its autoscale maximum)",
                        plural(most)
                    )
                }
            };
            ctx.push(
                Diagnostic::error(
                    codes::REPLICA_SUBSET,
                    format!(
                        "`on {count} of {}` picks more replicas than there are: `{}` {has}",
                        service.name, service.name
                    ),
                )
                .at(file, v.span, format!("more than {most}"))
                .help(format!(
                    "pick at most {most}, or write `on {}` for every replica",
                    service.name
                )),
            );
            return None;
        }
    }
    Some(subset)
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn services(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    idents: &[ast::Ident],
) -> Option<Vec<String>> {
    let mut ok = true;
    let mut out: Vec<String> = Vec::with_capacity(idents.len());
    for i in idents {
        if resolve_service(syms, ctx, file, i).is_none() {
            ok = false;
        } else if out.contains(&i.name) {
            ctx.push(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("`{}` is listed twice", i.name),
                )
                .at(file, i.span, "listed again here"),
            );
            ok = false;
        } else {
            out.push(i.name.clone());
        }
    }
    ok.then_some(out)
}

fn action(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    a: &Action,
    topology: &Topology<'_>,
) -> Option<plan::Action> {
    match a {
        Action::Latency { delay, target: t } => {
            let delay = dist::dist(ctx, file, delay, "`latency`");
            let target = target(syms, ctx, file, t, topology);
            Some(plan::Action::Latency {
                target: target?,
                delay: delay?,
            })
        }
        Action::Errors {
            ratio,
            status,
            target: t,
        } => {
            let ratio = ctx.ratio(file, ratio, "`errors`", true);
            let status = match status {
                Some(s) => ctx.status(file, s),
                None => Some(500),
            };
            let target = target(syms, ctx, file, t, topology);
            Some(plan::Action::Errors {
                target: target?,
                ratio: ratio?,
                status: status?,
            })
        }
        Action::Kill { count, of } => {
            let count = ctx.count(file, count, "`kill`", 1);
            let services = match of {
                KillTarget::Service(s) => services(syms, ctx, file, std::slice::from_ref(s)),
                KillTarget::Random {
                    services: list,
                    span,
                } => {
                    if list.is_empty() {
                        ctx.push(
                            Diagnostic::error(
                                codes::MISSING_SETTING,
                                "`random()` needs at least one service",
                            )
                            .at(file, *span, "empty"),
                        );
                        None
                    } else {
                        services(syms, ctx, file, list)
                    }
                }
            };
            Some(plan::Action::Kill {
                count: count?,
                services: services?,
            })
        }
        Action::Partition { a, b } => {
            let left = services(syms, ctx, file, a);
            let right = services(syms, ctx, file, b);
            let (left, right) = (left?, right?);
            if let Some(both) = b.iter().find(|i| left.contains(&i.name)) {
                ctx.push(
                    Diagnostic::error(
                        codes::OUT_OF_RANGE,
                        format!("`{}` is on both sides of the partition", both.name),
                    )
                    .at(file, both.span, "already on the other side")
                    .help("a partition cuts the services on the left from those on the right"),
                );
                return None;
            }
            Some(plan::Action::Partition { a: left, b: right })
        }
        Action::Cpu { factor, target: t } => {
            let f = ctx.want(file, factor, Unit::Multiplier, "`cpu`");
            let target = target(syms, ctx, file, t, topology);
            let f = f?;
            if f <= 0.0 {
                ctx.out_of_range(
                    file,
                    factor.span,
                    "`cpu` must be more than x0".into(),
                    "zero",
                );
                return None;
            }
            Some(plan::Action::Cpu {
                target: target?,
                factor: f,
            })
        }
        Action::Loss { ratio, target: t } => {
            let ratio = ctx.ratio(file, ratio, "`loss`", true);
            let target = target(syms, ctx, file, t, topology);
            Some(plan::Action::Loss {
                target: target?,
                ratio: ratio?,
            })
        }
        Action::Memory {
            rate,
            target: t,
            limit,
        } => {
            let bytes_per_s = ctx.want(file, rate, Unit::SizeRate, "`memory`");
            let limit_bytes = ctx.want(file, limit, Unit::Size, "`limit`");
            if let Some(ep) = &t.endpoint {
                ctx.push(
                    Diagnostic::error(
                        codes::NOT_APPLICABLE,
                        "`memory` grows a whole replica; it cannot target one endpoint",
                    )
                    .at(file, ep.span, "remove the endpoint")
                    .help(format!("write `on {}`", t.service.name)),
                );
                return None;
            }
            let target = target(syms, ctx, file, t, topology)?;
            let (bytes_per_s, limit_bytes) = (bytes_per_s?, limit_bytes?);
            if bytes_per_s <= 0.0 {
                ctx.out_of_range(
                    file,
                    rate.span,
                    "`memory` must grow by more than 0B/s".into(),
                    "zero",
                );
                return None;
            }
            if limit_bytes <= 0.0 {
                ctx.out_of_range(
                    file,
                    limit.span,
                    "`limit` must be more than 0B".into(),
                    "zero",
                );
                return None;
            }
            Some(plan::Action::Memory {
                service: t.service.name.clone(),
                bytes_per_s,
                limit_bytes,
                replicas: target.replicas,
            })
        }
    }
}
