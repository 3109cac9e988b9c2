//! Params: declared values, `$name` references between them, and `--set NAME=VALUE` overrides
//! (checked against the declared unit). Diagnostics about `--set` point into a
//! `<command line>` source so they render like every other diagnostic.

use chaos_grammar::ast::{Span, ValueKind};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity;
use crate::source::FileId;

use super::ctx::{Ctx, ParamValue, did_you_mean};
use super::symbols::Symbols;

/// The text of the `<command line>` source and the spans of each `--set`'s name and value.
pub(crate) fn command_line(sets: &[(String, String)]) -> (String, Vec<(Span, Span)>) {
    let mut text = String::new();
    let mut spans = Vec::new();
    for (name, value) in sets {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str("--set ");
        let n0 = text.len();
        text.push_str(name);
        let n1 = text.len();
        text.push('=');
        let v0 = text.len();
        text.push_str(value);
        spans.push((Span::new(n0, n1), Span::new(v0, text.len())));
    }
    (text, spans)
}

pub(crate) fn resolve(
    syms: &Symbols<'_>,
    ctx: &mut Ctx,
    sets: &[(String, String)],
    cmdline: Option<(FileId, &[(Span, Span)])>,
) -> Vec<plan::Param> {
    for (i, p) in syms.params.iter().enumerate() {
        if let Some(v) = follow(syms, ctx, i) {
            ctx.params.insert(p.ast.name.name.clone(), v);
        } else {
            ctx.broken_params.insert(p.ast.name.name.clone());
        }
    }
    let mut overridden = std::collections::HashSet::new();
    for (k, (name, value)) in sets.iter().enumerate() {
        let (name_span, value_span, file) = match cmdline {
            Some((file, spans)) => match spans.get(k) {
                Some((n, v)) => (*n, *v, file),
                None => continue,
            },
            None => continue,
        };
        let Some(&pi) = syms.param_index.get(name.as_str()) else {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_PARAM,
                format!("`--set {name}=...`: the scenario declares no param `{name}`"),
            )
            .at(file, name_span, "unknown param");
            d = match did_you_mean(name, syms.params.iter().map(|p| p.ast.name.name.as_str())) {
                Some(h) => d.suggest(name_span, h, |h| format!("did you mean `{h}`?")),
                None if syms.params.is_empty() => d.help("the scenario declares no params"),
                None => d.help(format!(
                    "declared params: {}",
                    syms.params
                        .iter()
                        .map(|p| format!("`{}`", p.ast.name.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            ctx.push(d);
            continue;
        };
        let decl = &syms.params[pi];
        let Some((unit, v)) = quantity::parse(value) else {
            ctx.push(
                Diagnostic::error(
                    codes::BAD_SET_VALUE,
                    format!("`--set {name}={value}`: `{value}` is not a value"),
                )
                .at(
                    file,
                    value_span,
                    "expected a value such as `400/s`, `2s`, `20%` or `3`",
                )
                .help(format!(
                    "the same units as in a file: {}",
                    chaos_grammar::units::UNIT_HELP
                )),
            );
            continue;
        };
        let declared = ctx.params.get(name).map(|p| p.unit);
        if let Some(want) = declared
            && want != unit
        {
            let hint = match unit {
                quantity::Unit::Number => want.with_unit(value.trim()).map(|fixed| {
                    format!("quantities need a unit: write `--set {name}={fixed}`, not `{value}`")
                }),
                _ => None,
            };
            let mut d = Diagnostic::error(
                codes::WRONG_UNIT,
                format!(
                    "`--set {name}={value}`: `{name}` is {}, found {}",
                    want.describe(),
                    unit.describe()
                ),
            )
            .at(
                file,
                value_span,
                format!("expected {} such as {}", want.describe(), want.example()),
            )
            .also(
                decl.file,
                decl.ast.value.span,
                format!("`{name}` is declared here"),
            );
            if let Some(h) = hint {
                d = d.help(h);
            }
            ctx.push(d);
            continue;
        }
        ctx.broken_params.remove(name);
        ctx.params.insert(
            name.clone(),
            ParamValue {
                unit,
                value: v,
                text: value.clone(),
            },
        );
        overridden.insert(name.clone());
    }
    syms.params
        .iter()
        .filter_map(|p| {
            let name = &p.ast.name.name;
            ctx.params.get(name).map(|v| plan::Param {
                name: name.clone(),
                value: v.text.clone(),
                overridden: overridden.contains(name),
            })
        })
        .collect()
}

/// The value of param `i`, following `$other` references; reports unknown names and cycles.
fn follow(syms: &Symbols<'_>, ctx: &mut Ctx, i: usize) -> Option<ParamValue> {
    let mut seen = vec![i];
    let mut cur = i;
    loop {
        let p = &syms.params[cur];
        match &p.ast.value.kind {
            ValueKind::Param(name) => {
                let Some(&next) = syms.param_index.get(name.as_str()) else {
                    // Reported once, at the declaration that names it.
                    if cur == i {
                        ctx.resolve(p.file, &p.ast.value);
                    }
                    return None;
                };
                if let Some(pos) = seen.iter().position(|&k| k == next) {
                    // Reported once per cycle, at its first declared param.
                    let cycle = &seen[pos..];
                    if cycle.iter().min() == Some(&i) {
                        let first = &syms.params[i];
                        let names: Vec<String> = cycle
                            .iter()
                            .map(|&k| format!("`{}`", syms.params[k].ast.name.name))
                            .collect();
                        let message = if cycle.len() == 1 {
                            format!("param {} refers to itself", names[0])
                        } else {
                            format!("params {} refer to each other in a cycle", names.join(", "))
                        };
                        ctx.push(
                            Diagnostic::error(codes::PARAM_CYCLE, message)
                                .at(
                                    first.file,
                                    first.ast.value.span,
                                    "this value never resolves",
                                )
                                .help("give one of the params a literal value"),
                        );
                    }
                    return None;
                }
                seen.push(next);
                cur = next;
            }
            kind => {
                let (unit, value) = quantity::literal(kind)?;
                return Some(ParamValue {
                    unit,
                    value,
                    text: p.ast.value.text.clone(),
                });
            }
        }
    }
}
