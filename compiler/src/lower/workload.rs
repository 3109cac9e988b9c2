//! Workloads: the target endpoint, an open-loop rate (pieces covering the whole run, spikes on
//! top) or a closed loop of users, arrivals and the client timeout.

use std::collections::HashMap;

use chaos_grammar::ast::{self, SegmentLength, Spanned, WorkloadSetting};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity::{self, Unit};
use crate::source::FileId;

use super::ctx::Ctx;
use super::dist;
use super::service::{first_time, resolve_endpoint};
use super::symbols::{In, Symbols};

pub(crate) struct Lowered {
    pub workloads: Vec<plan::Workload>,
    /// Graph node each workload sends to, when its target resolved.
    pub targets: Vec<usize>,
    pub longest_timeout_s: Option<f64>,
}

pub(crate) fn lower(syms: &Symbols<'_>, ctx: &mut Ctx, duration: Option<f64>) -> Lowered {
    let mut out = Lowered {
        workloads: Vec::new(),
        targets: Vec::new(),
        longest_timeout_s: None,
    };
    for w in &syms.workloads {
        if let Some(lowered) = workload(syms, ctx, w, duration, &mut out) {
            out.workloads.push(lowered);
        }
    }
    out
}

fn workload(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    w: &In<'_, ast::Workload>,
    duration: Option<f64>,
    out: &mut Lowered,
) -> Option<plan::Workload> {
    let file = w.file;
    let name = &w.ast.name.name;
    let mut seen = HashMap::new();
    let mut target = None;
    let mut target_seen = false;
    let mut rate: Option<Vec<plan::RatePiece>> = None;
    let mut users: Option<plan::Load> = None;
    let mut load_span: Option<(&'static str, ast::Span)> = None;
    let mut spikes = Vec::new();
    let mut arrivals = plan::Arrivals::Poisson;
    let mut arrivals_span = None;
    let mut timeout = None;
    let mut priority = 0;
    let mut ok = true;
    for Spanned { node, span } in &w.ast.settings {
        let span = *span;
        match node {
            WorkloadSetting::Target { service, endpoint } => {
                if first_time(ctx, &mut seen, file, "target", span) {
                    target_seen = true;
                    if let Some(n) = resolve_endpoint(syms, ctx, file, service, endpoint) {
                        out.targets.push(n);
                        target = Some(plan::EndpointRef {
                            service: service.name.clone(),
                            endpoint: endpoint.value.clone(),
                        });
                    }
                }
            }
            WorkloadSetting::Rate(_) | WorkloadSetting::Users { .. } => {
                let key = if matches!(node, WorkloadSetting::Rate(_)) {
                    "rate"
                } else {
                    "users"
                };
                if let Some((other, first)) = load_span
                    && other != key
                {
                    ctx.push(
                        Diagnostic::error(
                            codes::CONFLICTING_SETTINGS,
                            format!("workload `{name}` has both `rate` and `users`"),
                        )
                        .at(file, span, "second one")
                        .also(file, first, "first one")
                        .help("a workload is either open-loop (`rate`) or closed-loop (`users`); split it in two"),
                    );
                    ok = false;
                    continue;
                }
                if !first_time(ctx, &mut seen, file, key, span) {
                    continue;
                }
                load_span = Some((key, span));
                match node {
                    WorkloadSetting::Rate(segments) => {
                        rate = rate_pieces(ctx, file, segments, duration);
                        ok &= rate.is_some();
                    }
                    WorkloadSetting::Users {
                        from,
                        to,
                        over,
                        think,
                    } => {
                        users = closed(ctx, file, from, to.as_ref(), over.as_ref(), think);
                        ok &= users.is_some();
                    }
                    _ => {}
                }
            }
            WorkloadSetting::Spike {
                rate,
                at,
                duration: length,
            } => {
                let r = ctx.want(file, rate, Unit::Rate, "`spike`");
                let start = ctx.duration(file, at, "`at`");
                let len = ctx.positive_duration(file, length, "the spike's `for`");
                let (Some(r), Some(start), Some(len)) = (r, start, len) else {
                    ok = false;
                    continue;
                };
                if let Some(d) = duration
                    && start >= d
                {
                    ctx.push(after_end(file, at, "spike", start, d));
                    ok = false;
                    continue;
                }
                let end = duration.map_or(start + len, |d| (start + len).min(d));
                spikes.push(plan::Spike {
                    start_s: start,
                    end_s: end,
                    rate_per_s: r,
                });
            }
            WorkloadSetting::Arrivals(ident) => {
                if first_time(ctx, &mut seen, file, "arrivals", span) {
                    arrivals_span = Some(span);
                    arrivals = ctx
                        .keyword(
                            file,
                            ident,
                            "arrival process",
                            &[
                                ("poisson", plan::Arrivals::Poisson),
                                ("uniform", plan::Arrivals::Uniform),
                            ],
                        )
                        .unwrap_or(plan::Arrivals::Poisson);
                }
            }
            WorkloadSetting::Priority(v) => {
                if first_time(ctx, &mut seen, file, "priority", span) {
                    match ctx.priority(file, v) {
                        Some(p) => priority = p,
                        None => ok = false,
                    }
                }
            }
            WorkloadSetting::Timeout(v) => {
                if first_time(ctx, &mut seen, file, "timeout", span) {
                    timeout = ctx.positive_duration(file, v, "`timeout`");
                    if let Some(t) = timeout {
                        let longest = out.longest_timeout_s.get_or_insert(t);
                        *longest = longest.max(t);
                    }
                }
            }
        }
    }
    if !target_seen {
        ctx.push(
            Diagnostic::error(
                codes::MISSING_SETTING,
                format!("workload `{name}` has no `target`"),
            )
            .at(file, w.ast.name.span, "sends to nothing")
            .help("add `target SERVICE \"ENDPOINT\"`"),
        );
    }
    if load_span.is_none() {
        ctx.push(
            Diagnostic::error(
                codes::MISSING_SETTING,
                format!("workload `{name}` has neither `rate` nor `users`"),
            )
            .at(file, w.ast.name.span, "sends nothing")
            .help("add `rate 100/s` (open loop) or `users 50 think 1s` (closed loop)"),
        );
    }
    if users.is_some() && !spikes.is_empty() {
        ctx.push(
            Diagnostic::error(
                codes::CONFLICTING_SETTINGS,
                format!("workload `{name}`: `spike` adds a rate, but this workload is closed-loop (`users`)"),
            )
            .at(file, w.ast.name.span, "closed-loop workload")
            .help("put the spike in an open-loop workload with `rate`"),
        );
        ok = false;
    }
    if let (Some(("users", users_span)), Some(span)) = (load_span, arrivals_span) {
        ctx.push(
            Diagnostic::warning(
                codes::NO_EFFECT,
                format!("workload `{name}`: `arrivals` has no effect on a closed-loop workload"),
            )
            .at(file, span, "ignored")
            .also(file, users_span, "closed loop: each user sends when its last answer and think time are over")
            .help("remove `arrivals`, or use `rate` for an open-loop workload whose arrival process it sets"),
        );
    }
    let load = match (rate, users) {
        (Some(rate), None) => plan::Load::Open {
            rate,
            spikes,
            arrivals,
        },
        (None, Some(users)) => users,
        _ => return None,
    };
    if !ok {
        return None;
    }
    Some(plan::Workload {
        name: name.clone(),
        target: target?,
        load,
        timeout_s: timeout,
        priority,
    })
}

fn after_end(file: FileId, at: &ast::Value, what: &str, start: f64, d: f64) -> Diagnostic {
    Diagnostic::error(
        codes::AFTER_END,
        format!(
            "the {what} starts at {}, after the scenario ends at {}",
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

/// `A -> B over D, B for D, C`: pieces from 0, the last rate held to the end of the run.
fn rate_pieces(
    ctx: &mut Ctx,
    file: FileId,
    segments: &[ast::RateSegment],
    duration: Option<f64>,
) -> Option<Vec<plan::RatePiece>> {
    let mut pieces: Vec<plan::RatePiece> = Vec::new();
    let mut t = 0.0;
    let mut ok = true;
    for (i, seg) in segments.iter().enumerate() {
        let from = ctx.want(file, &seg.from, Unit::Rate, "`rate`");
        let to = match &seg.to {
            Some(v) => ctx.want(file, v, Unit::Rate, "`rate`"),
            None => from,
        };
        let length = match &seg.length {
            Some(SegmentLength::Over(v) | SegmentLength::For(v)) => ctx
                .positive_duration(file, v, "a rate piece's length")
                .map(Some),
            None => {
                if seg.to.is_some() {
                    ctx.push(
                        Diagnostic::error(
                            codes::MISSING_SETTING,
                            "a ramp needs a length: `A -> B over D`",
                        )
                        .at(file, seg.span, "no `over D`")
                        .help(format!("write `{} over 1m`", ramp_text(seg))),
                    );
                    ok = false;
                    continue;
                }
                if i + 1 != segments.len() {
                    ctx.push(
                        Diagnostic::error(
                            codes::MISSING_SETTING,
                            "only the last rate piece may omit its length",
                        )
                        .at(file, seg.span, "add `for D`: the next piece needs a start")
                        .help("write `A for D, B` to hold A for D, then B until the end"),
                    );
                    ok = false;
                    continue;
                }
                Some(None)
            }
        };
        let (Some(from), Some(to), Some(length)) = (from, to, length) else {
            ok = false;
            continue;
        };
        let end = match (length, duration) {
            (Some(l), _) => t + l,
            (None, Some(d)) => d.max(t),
            (None, None) => t,
        };
        pieces.push(plan::RatePiece {
            start_s: t,
            end_s: end,
            from_per_s: from,
            to_per_s: to,
        });
        t = end;
    }
    if !ok {
        return None;
    }
    let Some(d) = duration else {
        return Some(pieces);
    };
    // Clip to the run (interpolating a ramp cut short), then hold the last rate to the end.
    let mut clipped: Vec<plan::RatePiece> = Vec::with_capacity(pieces.len() + 1);
    for p in pieces {
        if p.start_s >= d {
            break;
        }
        if p.end_s > d {
            let f = (d - p.start_s) / (p.end_s - p.start_s);
            clipped.push(plan::RatePiece {
                end_s: d,
                to_per_s: p.from_per_s + (p.to_per_s - p.from_per_s) * f,
                ..p
            });
        } else if p.end_s > p.start_s {
            clipped.push(p);
        }
    }
    let end = clipped.last().map_or(0.0, |p| p.end_s);
    if end < d {
        let last = clipped.last().map_or(0.0, |p| p.to_per_s);
        clipped.push(plan::RatePiece {
            start_s: end,
            end_s: d,
            from_per_s: last,
            to_per_s: last,
        });
    }
    Some(clipped)
}

fn ramp_text(seg: &ast::RateSegment) -> String {
    match &seg.to {
        Some(to) => format!("{} -> {}", seg.from.text, to.text),
        None => seg.from.text.clone(),
    }
}

fn closed(
    ctx: &mut Ctx,
    file: FileId,
    from: &ast::Value,
    to: Option<&ast::Value>,
    over: Option<&ast::Value>,
    think: &ast::Dist,
) -> Option<plan::Load> {
    let users_from = ctx.count(file, from, "`users`", 0);
    let users_to = match to {
        Some(v) => ctx.count(file, v, "`users`", 0),
        None => users_from,
    };
    let ramp_s = match (to, over) {
        (Some(_), Some(v)) => ctx.positive_duration(file, v, "`over`"),
        (Some(v), None) => {
            ctx.push(
                Diagnostic::error(
                    codes::MISSING_SETTING,
                    "a ramp of users needs a length: `users A -> B over D`",
                )
                .at(file, v.span, "no `over D` after this")
                .help("add `over 5m`"),
            );
            None
        }
        (None, _) => Some(0.0),
    };
    let think = dist::dist(ctx, file, think, "`think`");
    Some(plan::Load::Closed {
        users_from: users_from?,
        users_to: users_to?,
        ramp_start_s: 0.0,
        ramp_s: ramp_s?,
        think: think?,
    })
}
