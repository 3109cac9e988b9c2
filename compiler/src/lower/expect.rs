//! Expectations and aborts: metric, subject, threshold in base units, and the window resolved
//! to time intervals by the "precise meanings" of the language sketch.

use chaos_grammar::ast::{self, CmpOp, ExpectStmt, Spanned, WindowSpec};
use chaos_plan::{self as plan, Interval, Metric};

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity::{self, Unit};
use crate::source::FileId;

use super::ctx::{Ctx, did_you_mean};
use super::fault;
use super::service::resolve_endpoint;
use super::symbols::Symbols;

const METRICS: &[(&str, Metric)] = &[
    ("p50", Metric::P50),
    ("p90", Metric::P90),
    ("p95", Metric::P95),
    ("p99", Metric::P99),
    ("p999", Metric::P999),
    ("mean", Metric::Mean),
    ("max", Metric::Max),
    ("error_rate", Metric::ErrorRate),
    ("availability", Metric::Availability),
    ("throughput", Metric::Throughput),
    ("recovery", Metric::Recovery),
    ("max_replicas", Metric::MaxReplicas),
];

/// What windows are resolved against.
pub(crate) struct Timing<'f> {
    pub warmup_s: f64,
    pub duration_s: f64,
    pub faults: &'f fault::Lowered,
}

pub(crate) struct Lowered {
    pub expectations: Vec<plan::Expectation>,
    pub aborts: Vec<plan::Abort>,
}

pub(crate) fn lower(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    timing: Option<&Timing<'_>>,
    reached: Option<&[bool]>,
) -> Lowered {
    let mut out = Lowered {
        expectations: Vec::new(),
        aborts: Vec::new(),
    };
    for block in &syms.expects {
        let file = block.file;
        for Spanned { node, .. } in &block.ast.statements {
            match node {
                ExpectStmt::Check { condition, window } => {
                    let cond = condition_of(syms, ctx, file, condition, reached);
                    let win = match window {
                        Some(w) => {
                            timing.and_then(|t| window_of(syms, ctx, file, w, t, cond.as_ref()))
                        }
                        None => {
                            if let Some(c) = &cond
                                && c.metric == Metric::Recovery
                            {
                                ctx.push(
                                    Diagnostic::error(
                                        codes::NOT_APPLICABLE,
                                        "`recovery` needs the fault it recovers from: `recovery(X) < D after F`",
                                    )
                                    .at(file, condition.span, "no `after F`")
                                    .help("add `after FAULT` to the expectation"),
                                );
                                continue;
                            }
                            timing.map(|t| plan::Window {
                                label: "overall".to_string(),
                                intervals: vec![Interval {
                                    start_s: t.warmup_s,
                                    end_s: t.duration_s,
                                }],
                                recovery_from_s: None,
                                baseline: Vec::new(),
                            })
                        }
                    };
                    let (Some(c), Some(win)) = (cond, win) else {
                        continue;
                    };
                    // The window is part of the text only when written.
                    let text = match window {
                        Some(_) => format!("{} {}", c.text, win.label),
                        None => c.text,
                    };
                    let window = win;
                    out.expectations.push(plan::Expectation {
                        text,
                        metric: c.metric,
                        subject: c.subject,
                        window,
                        op: c.op,
                        threshold: c.threshold,
                    });
                }
                ExpectStmt::Abort {
                    condition,
                    duration,
                } => {
                    let cond = condition_of(syms, ctx, file, condition, reached);
                    let for_s = ctx.positive_duration(file, duration, "`abort when ... for`");
                    let (Some(c), Some(for_s)) = (cond, for_s) else {
                        continue;
                    };
                    if matches!(c.metric, Metric::Recovery) {
                        ctx.push(
                            Diagnostic::error(
                                codes::NOT_APPLICABLE,
                                "`recovery` is measured after a fault, so it cannot abort a run",
                            )
                            .at(
                                file,
                                condition.metric.span,
                                "not available while the run goes on",
                            )
                            .help(
                                "abort on `error_rate`, `availability`, a latency or `throughput`",
                            ),
                        );
                        continue;
                    }
                    out.aborts.push(plan::Abort {
                        text: format!("abort when {} for {}", c.text, ctx.text(duration)),
                        metric: c.metric,
                        subject: c.subject,
                        op: c.op,
                        threshold: c.threshold,
                        for_s,
                    });
                }
            }
        }
    }
    out
}

struct Cond {
    metric: Metric,
    subject: plan::Subject,
    op: plan::Comparison,
    threshold: f64,
    /// `p99(gateway "GET /x") < 800ms`
    text: String,
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn condition_of(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    c: &ast::Condition,
    reached: Option<&[bool]>,
) -> Option<Cond> {
    let metric = match METRICS.iter().find(|(n, _)| *n == c.metric.name) {
        Some((_, m)) => Some(*m),
        None => {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_METRIC,
                format!("unknown metric `{}`", c.metric.name),
            )
            .at(file, c.metric.span, "not a metric");
            d = match did_you_mean(&c.metric.name, METRICS.iter().map(|m| m.0)) {
                Some(h) => d.suggest(c.metric.span, h, |h| format!("did you mean `{h}`?")),
                None => d.help(
                    "metrics: p50 p90 p95 p99 p999 mean max error_rate availability throughput recovery max_replicas",
                ),
            };
            ctx.push(d);
            None
        }
    };
    let subject = subject_of(syms, ctx, file, &c.subject, metric, reached);
    let metric = metric?;
    let unit = match metric.display_unit() {
        plan::DisplayUnit::Milliseconds | plan::DisplayUnit::Seconds => Unit::Duration,
        plan::DisplayUnit::Percent => Unit::Ratio,
        plan::DisplayUnit::PerSecond => Unit::Rate,
        plan::DisplayUnit::Count => Unit::Number,
    };
    let what = format!("`{}`", c.metric.name);
    let threshold = if unit == Unit::Ratio {
        ctx.ratio(file, &c.threshold, &what, false)
    } else {
        ctx.want(file, &c.threshold, unit, &what)
    };
    let (subject, threshold) = (subject?, threshold?);
    let subject_text = match &c.subject.endpoint {
        Some(ep) => format!("{} {}", c.subject.name.name, quote(&ep.value)),
        None => c.subject.name.name.clone(),
    };
    let op = match c.op.node {
        CmpOp::Lt => plan::Comparison::Lt,
        CmpOp::Le => plan::Comparison::Le,
        CmpOp::Gt => plan::Comparison::Gt,
        CmpOp::Ge => plan::Comparison::Ge,
        CmpOp::Eq => plan::Comparison::Eq,
        CmpOp::Ne => plan::Comparison::Ne,
    };
    Some(Cond {
        metric,
        subject,
        op,
        threshold,
        text: format!(
            "{}({subject_text}) {} {}",
            c.metric.name,
            op.symbol(),
            ctx.text(&c.threshold)
        ),
    })
}

fn subject_of(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    s: &ast::SubjectRef,
    metric: Option<Metric>,
    reached: Option<&[bool]>,
) -> Option<plan::Subject> {
    let name = &s.name.name;
    if let Some(svc) = syms.service(name) {
        let (subject, gets_traffic) = match &s.endpoint {
            Some(ep) => {
                let node = resolve_endpoint(syms, ctx, file, &s.name, ep)?;
                if metric == Some(Metric::MaxReplicas) {
                    ctx.push(
                        Diagnostic::error(
                            codes::NOT_APPLICABLE,
                            "`max_replicas` counts a service's replicas, not an endpoint's",
                        )
                        .at(file, ep.span, "remove the endpoint")
                        .help(format!("write `max_replicas({name})`")),
                    );
                    return None;
                }
                (
                    plan::Subject::Endpoint {
                        service: name.clone(),
                        endpoint: ep.value.clone(),
                    },
                    reached.is_none_or(|r| r.get(node).copied().unwrap_or(false)),
                )
            }
            None => (
                plan::Subject::Service {
                    service: name.clone(),
                },
                (svc.first_node..svc.first_node + svc.endpoints.len())
                    .any(|n| reached.is_none_or(|r| r.get(n).copied().unwrap_or(false))),
            ),
        };
        if !gets_traffic && metric != Some(Metric::MaxReplicas) {
            ctx.push(
                Diagnostic::warning(
                    codes::NO_TRAFFIC,
                    format!("this expectation measures `{name}`, which never receives traffic"),
                )
                .at(file, s.span, "no workload reaches it")
                .help("target it from a workload, or call it from an endpoint a workload reaches"),
            );
        }
        return Some(subject);
    }
    if syms.workload_index.contains_key(name.as_str()) {
        if let Some(ep) = &s.endpoint {
            ctx.push(
                Diagnostic::error(
                    codes::NOT_APPLICABLE,
                    format!("`{name}` is a workload; only a service is followed by an endpoint"),
                )
                .at(file, ep.span, "remove the endpoint")
                .help(format!("write `{name}` to measure what its clients saw")),
            );
            return None;
        }
        if metric == Some(Metric::MaxReplicas) {
            ctx.push(
                Diagnostic::error(
                    codes::NOT_APPLICABLE,
                    format!("`max_replicas` counts a service's replicas; `{name}` is a workload"),
                )
                .at(file, s.name.span, "a workload"),
            );
            return None;
        }
        return Some(plan::Subject::Workload {
            workload: name.clone(),
        });
    }
    let candidates = syms
        .service_names()
        .chain(syms.workloads.iter().map(|w| w.ast.name.name.as_str()));
    let mut d = Diagnostic::error(
        codes::UNKNOWN_SUBJECT,
        format!("unknown service or workload `{name}`"),
    )
    .at(file, s.name.span, "neither a service nor a workload");
    if let Some(h) = did_you_mean(name, candidates) {
        d.message = format!("unknown service or workload `{name}`; did you mean `{h}`?");
        d = d.suggest(s.name.span, h, |h| format!("replace it with `{h}`"));
    }
    ctx.push(d);
    None
}

fn fault_of<'t>(
    ctx: &mut Ctx,
    syms: &Symbols<'_>,
    file: FileId,
    t: &'t Timing<'_>,
    ident: &ast::Ident,
) -> Option<&'t plan::Fault> {
    if let Some(&i) = t.faults.by_name.get(&ident.name) {
        return t.faults.faults.get(i);
    }
    if syms.fault_index.contains_key(ident.name.as_str()) {
        // Declared, but its own errors were reported already.
        return None;
    }
    let mut d = Diagnostic::error(
        codes::UNKNOWN_FAULT,
        format!("unknown fault `{}`", ident.name),
    )
    .at(file, ident.span, "no fault of this name");
    let names = syms.faults.iter().map(|f| f.ast.name.name.as_str());
    d = match did_you_mean(&ident.name, names) {
        Some(h) => {
            d.message = format!("unknown fault `{}`; did you mean `{h}`?", ident.name);
            d.suggest(ident.span, h, |h| format!("replace it with `{h}`"))
        }
        None if syms.faults.is_empty() => d.help("the scenario declares no faults"),
        None => d.help("windows name a fault declared with `fault NAME at ...`"),
    };
    ctx.push(d);
    None
}

fn window_of(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    file: FileId,
    w: &Spanned<WindowSpec>,
    t: &Timing<'_>,
    cond: Option<&Cond>,
) -> Option<plan::Window> {
    let recovery = cond.is_some_and(|c| c.metric == Metric::Recovery);
    let (w0, d) = (t.warmup_s, t.duration_s);
    let window = |label: String, intervals: Vec<Interval>| plan::Window {
        label,
        intervals,
        recovery_from_s: None,
        baseline: Vec::new(),
    };
    if recovery && !matches!(w.node, WindowSpec::After { .. }) {
        ctx.push(
            Diagnostic::error(
                codes::NOT_APPLICABLE,
                "`recovery` is measured from a fault's end: its window is `after F`",
            )
            .at(file, w.span, "expected `after FAULT`")
            .help("write `recovery(X) < 30s after FAULT`"),
        );
        return None;
    }
    match &w.node {
        WindowSpec::Overall => Some(window(
            "overall".into(),
            vec![Interval {
                start_s: w0,
                end_s: d,
            }],
        )),
        WindowSpec::During(f) => {
            let fault = fault_of(ctx, syms, file, t, f)?;
            if fault.active.is_empty() {
                ctx.push(
                    Diagnostic::error(
                        codes::EMPTY_WINDOW,
                        format!("`during {}` covers no time: the fault is instant", f.name),
                    )
                    .at(file, w.span, "empty window")
                    .help("a kill lasts until the replica serves again; give the service a `restart` longer than 0s, or use `after`"),
                );
                return None;
            }
            Some(window(format!("during {}", f.name), fault.active.clone()))
        }
        WindowSpec::Before(f) => {
            let fault = fault_of(ctx, syms, file, t, f)?;
            let before = before(fault, w0);
            if before.is_empty() {
                ctx.push(empty_before(file, w.span, &f.name, fault, w0));
                return None;
            }
            Some(window(format!("before {}", f.name), before))
        }
        WindowSpec::After {
            fault: f,
            plus,
            duration,
        } => {
            let fault = fault_of(ctx, syms, file, t, f)?;
            let plus_s = match plus {
                Some(v) => Some(ctx.duration(file, v, "the `+` after a fault")?),
                None => None,
            };
            let for_s = match duration {
                Some(v) => Some(ctx.positive_duration(file, v, "the window's `for`")?),
                None => None,
            };
            let fault_end = fault
                .active
                .last()
                .map(|i| i.end_s)
                .into_iter()
                .chain(fault.occurrences.iter().map(|o| o.end_s))
                .fold(0.0, f64::max);
            let start = fault_end + plus_s.unwrap_or(0.0);
            let end = for_s.map_or(d, |e| (start + e).min(d));
            let mut label = format!("after {}", f.name);
            if let Some(v) = plus {
                label.push_str(&format!(" + {}", ctx.text(v)));
            }
            if let Some(v) = duration {
                label.push_str(&format!(" for {}", ctx.text(v)));
            }
            if start >= d {
                ctx.push(
                    Diagnostic::error(
                        codes::EMPTY_WINDOW,
                        format!(
                            "`{label}` starts at {}, when the scenario has ended ({})",
                            quantity::fmt_seconds(start),
                            quantity::fmt_seconds(d)
                        ),
                    )
                    .at(file, w.span, "covers no time")
                    .help("shorten the `+ D`, move the fault earlier, or lengthen the scenario"),
                );
                return None;
            }
            let mut out = window(
                label,
                vec![Interval {
                    start_s: start,
                    end_s: end,
                }],
            );
            if recovery {
                let baseline = before(fault, w0);
                if baseline.is_empty() {
                    ctx.push(
                        empty_before(file, w.span, &f.name, fault, w0).help(
                            "recovery compares against the time before the fault; start the fault after the warmup",
                        ),
                    );
                    return None;
                }
                out.recovery_from_s = Some(start);
                out.baseline = baseline;
            }
            Some(out)
        }
        WindowSpec::Between { from, to } => {
            let a = ctx.duration(file, from, "`between`");
            let b = ctx.duration(file, to, "`and`");
            let (a, b) = (a?, b?);
            if b <= a {
                ctx.push(
                    Diagnostic::error(
                        codes::EMPTY_WINDOW,
                        format!(
                            "`between {} and {}` covers no time",
                            ctx.text(from),
                            ctx.text(to)
                        ),
                    )
                    .at(file, w.span, "the end must come after the start"),
                );
                return None;
            }
            if a >= d || b > d {
                let v = if a >= d { from } else { to };
                ctx.push(
                    Diagnostic::error(
                        codes::AFTER_END,
                        format!(
                            "the window ends after the scenario ends at {}",
                            quantity::fmt_seconds(d)
                        ),
                    )
                    .at(
                        file,
                        v.span,
                        format!("must be at most {}", quantity::fmt_seconds(d)),
                    ),
                );
                return None;
            }
            Some(window(
                format!("between {} and {}", ctx.text(from), ctx.text(to)),
                vec![Interval {
                    start_s: a,
                    end_s: b,
                }],
            ))
        }
    }
}

/// From the end of warmup to the fault's first start (empty if the fault starts first).
fn before(fault: &plan::Fault, warmup_s: f64) -> Vec<Interval> {
    let first = fault.occurrences.first().map_or(warmup_s, |o| o.start_s);
    if first > warmup_s {
        vec![Interval {
            start_s: warmup_s,
            end_s: first,
        }]
    } else {
        Vec::new()
    }
}

fn empty_before(
    file: FileId,
    span: ast::Span,
    name: &str,
    fault: &plan::Fault,
    warmup_s: f64,
) -> Diagnostic {
    let first = fault.occurrences.first().map_or(0.0, |o| o.start_s);
    Diagnostic::error(
        codes::EMPTY_WINDOW,
        format!(
            "`before {name}` covers no time: `{name}` starts at {}, before the warmup ends at {}",
            quantity::fmt_seconds(first),
            quantity::fmt_seconds(warmup_s)
        ),
    )
    .at(file, span, "empty window")
}
