//! Distributions and backoffs: argument binding (named or positional), units, and the
//! constraints between parameters (a p99 below its median is not a distribution).

use chaos_grammar::ast::{self, Value};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::source::FileId;

use super::ctx::{Ctx, did_you_mean, list_code};

const DISTRIBUTIONS: &[&str] = &["exponential", "normal", "lognormal", "uniform", "pareto"];

/// A distribution of durations, e.g. for `work`, `latency`, `think`, a latency fault.
pub(crate) fn dist(ctx: &mut Ctx, file: FileId, d: &ast::Dist, what: &str) -> Option<plan::Dist> {
    let call = match d {
        ast::Dist::Constant(v) => {
            return ctx
                .duration(file, v, what)
                .map(|value_s| plan::Dist::Constant { value_s });
        }
        ast::Dist::Call(c) => c,
    };
    let name = call.name.name.as_str();
    match name {
        "exponential" => {
            let [mean] = bind(ctx, file, call, &[("mean", true)])?;
            let mean_s = positive(ctx, file, mean?, "`mean`")?;
            Some(plan::Dist::Exponential { mean_s })
        }
        "normal" => {
            let [mean, stddev] = bind(ctx, file, call, &[("mean", true), ("stddev", true)])?;
            let mean_s = ctx.duration(file, mean?, "`mean`");
            let stddev_s = ctx.duration(file, stddev?, "`stddev`");
            Some(plan::Dist::Normal {
                mean_s: mean_s?,
                stddev_s: stddev_s?,
            })
        }
        "lognormal" => {
            let [median, p99] = bind(ctx, file, call, &[("median", true), ("p99", true)])?;
            let (median_v, p99_v) = (median?, p99?);
            let median_s = positive(ctx, file, median_v, "`median`");
            let p99_s = positive(ctx, file, p99_v, "`p99`");
            let (median_s, p99_s) = (median_s?, p99_s?);
            if p99_s < median_s {
                ctx.push(
                    Diagnostic::error(
                        codes::BAD_DISTRIBUTION,
                        format!(
                            "lognormal p99 `{}` is below its median `{}`",
                            ctx.text(p99_v),
                            ctx.text(median_v)
                        ),
                    )
                    .at(file, p99_v.span, "must be at least the median")
                    .also(file, median_v.span, "median")
                    .help("the 99th percentile of a latency is never below its median; swap or fix the values"),
                );
                return None;
            }
            Some(plan::Dist::Lognormal { median_s, p99_s })
        }
        "uniform" => {
            let [low, high] = bind(ctx, file, call, &[("low", true), ("high", true)])?;
            let (low_v, high_v) = (low?, high?);
            let low_s = ctx.duration(file, low_v, "`low`");
            let high_s = ctx.duration(file, high_v, "`high`");
            let (low_s, high_s) = (low_s?, high_s?);
            if high_s < low_s {
                ctx.push(
                    Diagnostic::error(
                        codes::BAD_DISTRIBUTION,
                        format!(
                            "uniform upper bound `{}` is below its lower bound `{}`",
                            ctx.text(high_v),
                            ctx.text(low_v)
                        ),
                    )
                    .at(file, high_v.span, "must be at least the lower bound")
                    .also(file, low_v.span, "lower bound"),
                );
                return None;
            }
            Some(plan::Dist::Uniform { low_s, high_s })
        }
        "pareto" => {
            let [scale, shape] = bind(ctx, file, call, &[("scale", true), ("shape", true)])?;
            let shape_v = shape?;
            let scale_s = positive(ctx, file, scale?, "`scale`");
            let shape = ctx.want(file, shape_v, crate::quantity::Unit::Number, "`shape`");
            let (scale_s, shape) = (scale_s?, shape?);
            if shape <= 0.0 {
                ctx.out_of_range(
                    file,
                    shape_v.span,
                    "`shape` must be more than 0".to_string(),
                    "zero",
                );
                return None;
            }
            Some(plan::Dist::Pareto { scale_s, shape })
        }
        _ => {
            unknown_dist(ctx, file, &call.name, DISTRIBUTIONS);
            None
        }
    }
}

/// `retry N backoff B`: a constant delay, or `exponential(base, max = D)`.
pub(crate) fn backoff(ctx: &mut Ctx, file: FileId, d: &ast::Dist) -> Option<plan::Backoff> {
    let call = match d {
        ast::Dist::Constant(v) => {
            return ctx
                .duration(file, v, "`backoff`")
                .map(|delay_s| plan::Backoff::Constant { delay_s });
        }
        ast::Dist::Call(c) => c,
    };
    if call.name.name != "exponential" {
        unknown_dist(ctx, file, &call.name, &["exponential"]);
        return None;
    }
    let [base, max] = bind(ctx, file, call, &[("base", true), ("max", false)])?;
    let base_s = positive(ctx, file, base?, "`base`");
    let max_s = match max {
        Some(v) => Some(ctx.duration(file, v, "`max`")?),
        None => None,
    };
    Some(plan::Backoff::Exponential {
        base_s: base_s?,
        max_s,
    })
}

fn positive(ctx: &mut Ctx, file: FileId, v: &Value, what: &str) -> Option<f64> {
    ctx.positive_duration(file, v, what)
}

fn unknown_dist(ctx: &mut Ctx, file: FileId, name: &ast::Ident, known: &[&str]) {
    let mut d = Diagnostic::error(
        codes::UNKNOWN_KEYWORD,
        format!("unknown distribution `{}`", name.name),
    )
    .at(file, name.span, format!("expected {}", list_code(known)));
    if let Some(h) = did_you_mean(&name.name, known.iter().copied()) {
        d = d.suggest(name.span, h, |h| format!("did you mean `{h}`?"));
    }
    ctx.push(d);
}

/// Matches arguments to parameters: positional ones in order, then named ones by name.
/// Returns `None` (after reporting) when an argument is unknown, repeated or extra; a missing
/// required argument is reported and comes back as `None` in its slot.
fn bind<'v, const N: usize>(
    ctx: &mut Ctx,
    file: FileId,
    call: &'v ast::DistCall,
    params: &[(&str, bool); N],
) -> Option<[Option<&'v Value>; N]> {
    let mut slots: [Option<&'v Value>; N] = [None; N];
    let mut ok = true;
    let signature = format!(
        "{}({})",
        call.name.name,
        params
            .iter()
            .map(|(n, req)| if *req {
                format!("{n} = ...")
            } else {
                format!("[{n} = ...]")
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut next_positional = 0;
    for arg in &call.args {
        let slot = match &arg.name {
            None => {
                let i = next_positional;
                next_positional += 1;
                if i >= N {
                    ctx.push(
                        Diagnostic::error(
                            codes::BAD_ARGUMENTS,
                            format!("`{}` takes at most {N} arguments", call.name.name),
                        )
                        .at(file, arg.span, "extra argument")
                        .help(format!("write it as `{signature}`")),
                    );
                    ok = false;
                    continue;
                }
                i
            }
            Some(n) => match params.iter().position(|(p, _)| *p == n.name) {
                Some(i) => i,
                None => {
                    let mut d = Diagnostic::error(
                        codes::BAD_ARGUMENTS,
                        format!("`{}` has no argument `{}`", call.name.name, n.name),
                    )
                    .at(
                        file,
                        n.span,
                        format!("expected {}", list_code(&params.map(|p| p.0))),
                    );
                    if let Some(h) = did_you_mean(&n.name, params.iter().map(|p| p.0)) {
                        d = d.suggest(n.span, h, |h| format!("did you mean `{h}`?"));
                    }
                    ctx.push(d);
                    ok = false;
                    continue;
                }
            },
        };
        if slots[slot].is_some() {
            ctx.push(
                Diagnostic::error(
                    codes::BAD_ARGUMENTS,
                    format!("argument `{}` is given twice", params[slot].0),
                )
                .at(file, arg.span, "given again here")
                .help(format!("write it as `{signature}`")),
            );
            ok = false;
            continue;
        }
        slots[slot] = Some(&arg.value);
    }
    for (i, (name, required)) in params.iter().enumerate() {
        if *required && slots[i].is_none() && ok {
            ctx.push(
                Diagnostic::error(
                    codes::BAD_ARGUMENTS,
                    format!("`{}` needs `{name}`", call.name.name),
                )
                .at(file, call.span, format!("`{name}` is missing"))
                .help(format!("write it as `{signature}`")),
            );
        }
    }
    ok.then_some(slots)
}
