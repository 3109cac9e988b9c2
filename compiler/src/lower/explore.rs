//! The `explore { … }` block: the search space of `chaos explore`, checked like the rest of
//! the file (names with "did you mean", units, ranges inside the run) and resolved into a
//! [`plan::explore::ExploreSpace`]: lists and `*` expanded to one entry per (kind, target),
//! values in base units, times in whole seconds. A run ignores it.

use std::collections::HashMap;

use chaos_grammar::ast::{self, Bounds, ExploreLine, ExploreTargets, Span, Value};
use chaos_plan as plan;
use plan::explore::{ExploreFault, ExploreSpace, FaultKind, Intensity, Seconds};

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity::{Unit, fmt_seconds};
use crate::source::FileId;

use super::ctx::Ctx;
use super::service::{first_time, resolve_service};
use super::symbols::{In, Symbols};

/// `max_faults` at most this (as `--max-faults`): every fault more multiplies the space.
pub(crate) const MAX_FAULTS: u32 = 8;

/// The kinds written `KIND [RANGE] on TARGETS` (a partition has its own form).
const KINDS: &[(&str, FaultKind)] = &[
    ("latency", FaultKind::Latency),
    ("errors", FaultKind::Errors),
    ("kill", FaultKind::Kill),
    ("cpu", FaultKind::Cpu),
    ("loss", FaultKind::Loss),
    ("memory", FaultKind::Memory),
];

pub(crate) fn lower(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    duration: Option<f64>,
    services: &[plan::Service],
) -> Option<ExploreSpace> {
    let (first, rest) = syms.explores.split_first()?;
    for again in rest {
        ctx.push(
            Diagnostic::error(
                codes::DUPLICATE_EXPLORE,
                "a run has at most one `explore` block; found a second one",
            )
            .at(again.file, keyword_span(again.ast), "second `explore`")
            .also(first.file, keyword_span(first.ast), "first `explore`")
            .help("put every line of the search space in one block"),
        );
    }
    Some(block(syms, ctx, first, duration, services))
}

/// The word `explore` of a block.
fn keyword_span(e: &ast::Explore) -> Span {
    Span::new(e.span.start, e.span.start + "explore".len())
}

/// Where a (kind, target) was first written, to point at both when it comes again.
type Seen = HashMap<(FaultKind, String, Option<String>), Span>;

fn block(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    e: &In<'_, ast::Explore>,
    duration: Option<f64>,
    services: &[plan::Service],
) -> ExploreSpace {
    let file = e.file;
    let mut out = ExploreSpace::default();
    let mut settings = HashMap::new();
    let mut seen = Seen::new();
    let edges = plan::explore::call_edges(services);
    for line in &e.ast.lines {
        match &line.node {
            ExploreLine::MaxFaults(v) => {
                if first_time(ctx, &mut settings, file, "max_faults", line.span) {
                    out.max_faults = max_faults(ctx, file, v);
                }
            }
            ExploreLine::At(b) => {
                if first_time(ctx, &mut settings, file, "at", line.span) {
                    out.start_s = duration.and_then(|d| starts(ctx, file, b, d));
                }
            }
            ExploreLine::For(b) => {
                if first_time(ctx, &mut settings, file, "for", line.span) {
                    out.length_s = duration.and_then(|d| lengths(ctx, file, b, d));
                }
            }
            ExploreLine::Partition { sides } => {
                partitions(
                    syms,
                    ctx,
                    file,
                    sides.as_ref(),
                    line.span,
                    &edges,
                    &mut seen,
                    &mut out,
                );
            }
            ExploreLine::Fault {
                kind,
                intensity,
                targets,
                limit,
            } => fault_line(
                syms,
                ctx,
                file,
                (kind, intensity.as_ref(), targets, limit.as_ref()),
                services,
                &mut seen,
                &mut out,
            ),
        }
    }
    out
}

fn max_faults(ctx: &mut Ctx, file: FileId, v: &Value) -> Option<u32> {
    let n = ctx.count(file, v, "`max_faults`", 1)?;
    if n > MAX_FAULTS {
        ctx.out_of_range(
            file,
            v.span,
            format!("`max_faults` must be at most {MAX_FAULTS}"),
            &format!("more than {MAX_FAULTS}"),
        );
        return None;
    }
    Some(n)
}

/// `(low, high)` of a range of durations; `up to H` starts at `zero`.
fn duration_bounds(
    ctx: &mut Ctx,
    file: FileId,
    b: &Bounds,
    what: &str,
    zero: f64,
) -> Option<(f64, f64)> {
    let (low, high) = match b {
        Bounds::UpTo(h) => (Some(zero), ctx.duration(file, h, what)),
        Bounds::Between(l, h) => (ctx.duration(file, l, what), ctx.duration(file, h, what)),
        Bounds::Exactly(v) => {
            let x = ctx.duration(file, v, what);
            (x, x)
        }
    };
    let (low, high) = (low?, high?);
    if let Bounds::Between(l, h) = b
        && low > high
    {
        ctx.push(reversed(file, l, h, ctx.text(l), ctx.text(h)));
        return None;
    }
    Some((low, high))
}

fn reversed(file: FileId, l: &Value, h: &Value, lt: String, ht: String) -> Diagnostic {
    Diagnostic::error(
        codes::RANGE_ORDER,
        format!("the range `{lt}..{ht}` goes down: its low end is above its high end"),
    )
    .at(file, l.span.to(h.span), "low end first, then high end")
    .help(format!("write `{ht}..{lt}`"))
}

/// `at RANGE`: whole seconds inside the run.
fn starts(ctx: &mut Ctx, file: FileId, b: &Bounds, d: f64) -> Option<Seconds> {
    let (low, high) = duration_bounds(ctx, file, b, "`at`", 0.0)?;
    let high_value = match b {
        Bounds::UpTo(v) | Bounds::Exactly(v) | Bounds::Between(_, v) => v,
    };
    if high >= d {
        ctx.push(
            Diagnostic::error(
                codes::AFTER_END,
                format!(
                    "faults may start up to {}, after the scenario ends at {}",
                    fmt_seconds(high),
                    fmt_seconds(d)
                ),
            )
            .at(
                file,
                high_value.span,
                format!("must be before {}", fmt_seconds(d)),
            )
            .help("end the range earlier or lengthen the scenario's `duration`"),
        );
        return None;
    }
    whole_seconds(ctx, file, b, low, high, "`at`", 0)
}

/// `for RANGE`: whole seconds, at least one, no longer than the run.
fn lengths(ctx: &mut Ctx, file: FileId, b: &Bounds, d: f64) -> Option<Seconds> {
    let (low, high) = duration_bounds(ctx, file, b, "`for`", 1.0)?;
    let high_value = match b {
        Bounds::UpTo(v) | Bounds::Exactly(v) | Bounds::Between(_, v) => v,
    };
    if high > d {
        ctx.push(
            Diagnostic::error(
                codes::AFTER_END,
                format!(
                    "faults may last up to {}, longer than the scenario ({})",
                    fmt_seconds(high),
                    fmt_seconds(d)
                ),
            )
            .at(file, high_value.span, format!("at most {}", fmt_seconds(d)))
            .help("shorten the range or lengthen the scenario's `duration`"),
        );
        return None;
    }
    whole_seconds(ctx, file, b, low, high, "`for`", 1)
}

/// The whole seconds in `low..=high` (explore places faults on whole seconds), at least `min`.
fn whole_seconds(
    ctx: &mut Ctx,
    file: FileId,
    b: &Bounds,
    low: f64,
    high: f64,
    what: &str,
    min: u32,
) -> Option<Seconds> {
    let lo = (low.ceil().max(f64::from(min))).min(f64::from(u32::MAX)) as u32;
    let hi = high.floor().min(f64::from(u32::MAX)) as u32;
    if high.floor() < f64::from(min) || lo > hi {
        ctx.push(
            Diagnostic::error(
                codes::EMPTY_WINDOW,
                format!(
                    "{what} {} holds no whole second{}: explore places faults on whole seconds",
                    bounds_text(ctx, b),
                    if min > 0 { " from 1s on" } else { "" }
                ),
            )
            .at(file, b.span(), "no whole second in this range")
            .help(format!("widen it to hold at least {}s", lo.max(min))),
        );
        return None;
    }
    Some(Seconds { min: lo, max: hi })
}

fn bounds_text(ctx: &Ctx, b: &Bounds) -> String {
    match b {
        Bounds::UpTo(v) => format!("up to {}", ctx.text(v)),
        Bounds::Between(l, h) => format!("{}..{}", ctx.text(l), ctx.text(h)),
        Bounds::Exactly(v) => ctx.text(v),
    }
}

/// Registers a (kind, target), or reports it written twice.
fn fresh(
    ctx: &mut Ctx,
    file: FileId,
    seen: &mut Seen,
    key: (FaultKind, String, Option<String>),
    span: Span,
) -> bool {
    if let Some(first) = seen.get(&key) {
        let target = match &key.2 {
            Some(b) => format!("`{} | {b}`", key.1),
            None => format!("`{}`", key.1),
        };
        ctx.push(
            Diagnostic::error(
                codes::DUPLICATE_EXPLORE,
                format!(
                    "`{}` on {target} is in the search space twice",
                    key.0.name()
                ),
            )
            .at(file, span, "again here")
            .also(file, *first, "first here")
            .help("keep one line per kind and service (`*` already names every service)"),
        );
        return false;
    }
    seen.insert(key, span);
    true
}

#[allow(clippy::too_many_arguments)]
fn partitions(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    sides: Option<&(Vec<ast::Ident>, Vec<ast::Ident>)>,
    span: Span,
    edges: &[(String, String)],
    seen: &mut Seen,
    out: &mut ExploreSpace,
) {
    let Some((left, right)) = sides else {
        for (a, b) in edges {
            if fresh(ctx, file, seen, cut(a, b), span) {
                out.faults.push(partition(a, b));
            }
        }
        return;
    };
    let known = |ctx: &mut Ctx, ids: &[ast::Ident]| {
        ids.iter()
            .filter(|i| resolve_service(syms, ctx, file, i).is_some())
            .cloned()
            .collect::<Vec<_>>()
    };
    let (left, right) = (known(ctx, left), known(ctx, right));
    for a in &left {
        for b in &right {
            if a.name == b.name {
                ctx.push(
                    Diagnostic::error(
                        codes::OUT_OF_RANGE,
                        format!("`{}` is on both sides of the partition", b.name),
                    )
                    .at(file, b.span, "already on the other side")
                    .help("a partition cuts the services on the left from those on the right"),
                );
                continue;
            }
            let pair_span = a.span.to(b.span);
            if !fresh(ctx, file, seen, cut(&a.name, &b.name), pair_span) {
                continue;
            }
            let calls = |p: &str, q: &str| edges.iter().any(|(c, d)| c == p && d == q);
            if !calls(&a.name, &b.name) && !calls(&b.name, &a.name) {
                ctx.push(
                    Diagnostic::warning(
                        codes::NO_CALL_TO_CUT,
                        format!(
                            "`partition {} | {}` cuts nothing: neither calls the other",
                            a.name, b.name
                        ),
                    )
                    .at(file, pair_span, "no call between these two")
                    .help("explore partitions between a caller and its callee, or `partition *` for every call edge"),
                );
            }
            out.faults.push(partition(&a.name, &b.name));
        }
    }
}

/// The key of a partition: `a | b` and `b | a` are the same cut.
fn cut(a: &str, b: &str) -> (FaultKind, String, Option<String>) {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    (FaultKind::Partition, x.to_string(), Some(y.to_string()))
}

fn partition(a: &str, b: &str) -> ExploreFault {
    ExploreFault {
        kind: FaultKind::Partition,
        service: a.to_string(),
        other: Some(b.to_string()),
        intensity: None,
        limit_bytes: None,
    }
}

type Line<'l> = (
    &'l ast::Ident,
    Option<&'l Bounds>,
    &'l ExploreTargets,
    Option<&'l Value>,
);

fn fault_line(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    (kind_ident, range, targets, limit): Line<'_>,
    services: &[plan::Service],
    seen: &mut Seen,
    out: &mut ExploreSpace,
) {
    if kind_ident.name == "partition" {
        ctx.push(
            Diagnostic::error(
                codes::UNKNOWN_FAULT_KIND,
                "a partition is explored between services: `partition A | B` or `partition *`",
            )
            .at(file, kind_ident.span, "not `partition on …`")
            .help("write e.g. `partition api | db`"),
        );
        return;
    }
    let Some(kind) = ctx.keyword_coded(
        codes::UNKNOWN_FAULT_KIND,
        file,
        kind_ident,
        "fault kind",
        KINDS,
    ) else {
        return;
    };
    let intensity = match range {
        Some(b) => match intensity(ctx, file, kind, b) {
            Some(i) => Some(i),
            None => return,
        },
        None => None,
    };
    let limit_bytes = match limit {
        Some(v) if kind != FaultKind::Memory => {
            ctx.push(
                Diagnostic::error(
                    codes::NOT_APPLICABLE,
                    format!("`limit` is a memory fault's; `{}` has none", kind.name()),
                )
                .at(file, v.span, "remove it"),
            );
            return;
        }
        Some(v) => {
            let bytes = ctx.want(file, v, Unit::Size, "`limit`");
            match bytes {
                Some(b) if b > 0.0 => Some(b),
                Some(_) => {
                    ctx.out_of_range(file, v.span, "`limit` must be more than 0B".into(), "zero");
                    return;
                }
                None => return,
            }
        }
        None => None,
    };
    let named: Vec<(String, Span)> = match targets {
        ExploreTargets::All { span } => syms
            .service_names()
            .map(|n| (n.to_string(), *span))
            .collect(),
        ExploreTargets::Services(ids) => ids
            .iter()
            .filter(|i| resolve_service(syms, ctx, file, i).is_some())
            .map(|i| (i.name.clone(), i.span))
            .collect(),
    };
    for (service, span) in named {
        if !fresh(ctx, file, seen, (kind, service.clone(), None), span) {
            continue;
        }
        if kind == FaultKind::Kill
            && let Some(i) = intensity
        {
            kill_too_many(syms, ctx, file, &service, span, i.high, services);
        }
        out.faults.push(ExploreFault {
            kind,
            service,
            other: None,
            intensity,
            limit_bytes,
        });
    }
}

/// Warns when a kill's upper bound is above what the service can ever have (explore then
/// kills at most what there is).
fn kill_too_many(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    service: &str,
    span: Span,
    high: f64,
    services: &[plan::Service],
) {
    let Some(s) = syms
        .service_index
        .get(service)
        .and_then(|&i| services.get(i))
    else {
        return;
    };
    let most = match s.replicas {
        plan::Replicas::Fixed { count } => count,
        plan::Replicas::Autoscale { max, .. } => max,
    };
    if high > f64::from(most) {
        ctx.push(
            Diagnostic::warning(
                codes::KILL_TOO_MANY,
                format!(
                    "`kill up to {high}` asks for more replicas than there can be: `{service}` has at most {most}"
                ),
            )
            .at(file, span, "more than the service has")
            .help(format!("explore kills at most {most} of `{service}`")),
        );
    }
}

/// The unit of each kind's intensity and what it may be.
fn intensity(ctx: &mut Ctx, file: FileId, kind: FaultKind, b: &Bounds) -> Option<Intensity> {
    let what = format!("`{}`", kind.name());
    let one = |ctx: &mut Ctx, v: &Value, low_end: bool| -> Option<f64> {
        let x = match kind {
            FaultKind::Latency => ctx.duration(file, v, &what)?,
            FaultKind::Errors | FaultKind::Loss => ctx.ratio(file, v, &what, true)?,
            FaultKind::Kill => f64::from(ctx.count(file, v, &what, 1)?),
            FaultKind::Cpu => ctx.want(file, v, Unit::Multiplier, &what)?,
            FaultKind::Memory => ctx.want(file, v, Unit::SizeRate, &what)?,
            FaultKind::Partition => return None,
        };
        let zero_ok = kind == FaultKind::Latency && low_end;
        if x <= 0.0 && !zero_ok {
            let zero = match kind {
                FaultKind::Latency => "0s",
                FaultKind::Cpu => "x0",
                FaultKind::Memory => "0B/s",
                _ => "0",
            };
            ctx.out_of_range(
                file,
                v.span,
                format!("{what} must be more than {zero}"),
                "zero",
            );
            return None;
        }
        Some(x)
    };
    match b {
        Bounds::UpTo(h) => {
            let high = one(ctx, h, false)?;
            if kind == FaultKind::Cpu && high <= 1.0 {
                ctx.out_of_range(
                    file,
                    h.span,
                    "`cpu up to` must be above x1: `up to` explores from x1 (no slowdown) to it"
                        .into(),
                    "not a slowdown",
                );
                return None;
            }
            Some(Intensity { low: None, high })
        }
        Bounds::Between(l, h) => {
            let (low, high) = (one(ctx, l, true), one(ctx, h, false));
            let (low, high) = (low?, high?);
            if low > high {
                ctx.push(reversed(file, l, h, ctx.text(l), ctx.text(h)));
                return None;
            }
            Some(Intensity {
                low: Some(low),
                high,
            })
        }
        Bounds::Exactly(v) => {
            let x = one(ctx, v, false)?;
            Some(Intensity {
                low: Some(x),
                high: x,
            })
        }
    }
}
