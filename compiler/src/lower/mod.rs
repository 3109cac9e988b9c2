//! Checking and lowering in one walk: names resolved, units checked, defaults filled, and the
//! plan built when nothing is wrong. Every problem is collected; none stops the walk.

mod ctx;
mod dist;
mod expect;
mod explore;
mod fault;
mod flow;
mod params;
mod service;
mod size;
mod symbols;
mod workload;

use std::collections::HashMap;

use chaos_grammar::ast::{self, ScenarioSetting, Spanned};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::source::FileId;

pub(crate) use params::command_line;

/// When no timeout bounds a request (none written, or a workload without a client timeout),
/// in-flight requests get this long after the run.
pub const DEFAULT_DRAIN_S: f64 = 30.0;
pub const DEFAULT_WINDOW_S: f64 = 1.0;
pub const DEFAULT_SEED: u64 = 1;

pub(crate) struct Input<'a> {
    /// Parsed files, imports first; the root file last.
    pub files: Vec<(FileId, &'a ast::File)>,
    pub root: FileId,
    pub sets: &'a [(String, String)],
    /// The `<command line>` source and the spans of each `--set`.
    pub cmdline: Option<(FileId, &'a [(ast::Span, ast::Span)])>,
}

/// What a file set lowers to when it has no error.
// Made once per compile and moved once: boxing the plan would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Output {
    /// A run: a scenario with its services, workloads, faults and expectations; and the
    /// search space of its `explore` block, if it has one.
    Run(plan::Plan, Option<plan::explore::ExploreSpace>),
    /// A library: only services (and params), fully resolved, for drawing.
    Library(Vec<plan::Service>),
}

pub(crate) fn lower(input: &Input<'_>) -> (Option<Output>, Vec<Diagnostic>) {
    let mut cx = ctx::Ctx::default();
    let syms = symbols::Symbols::collect(&input.files, &mut cx);
    let params = params::resolve(&syms, &mut cx, input.sets, input.cmdline);
    // A file of shared services and params (no scenario, workload, fault or expect) is a
    // library: checked, importable, but not a run, so no "missing scenario" or traffic
    // diagnostics and no plan.
    let library = syms.scenario.is_none()
        && syms.workloads.is_empty()
        && syms.faults.is_empty()
        && syms.expects.is_empty();
    let scenario = if library {
        None
    } else {
        scenario(&syms, &mut cx, input.root)
    };
    let duration = scenario.as_ref().map(|s| s.duration_s);

    let services = service::lower(&syms, &mut cx);
    flow::cycles(&syms, &services.edges, &mut cx);
    let workloads = workload::lower(&syms, &mut cx, duration);
    let reached = flow::reached(&services.edges, &workloads.targets);
    // With a call or target unresolved, "never receives traffic" would only echo that error.
    let unresolved = cx
        .diags
        .iter()
        .any(|d| d.code == codes::UNKNOWN_SERVICE || d.code == codes::UNKNOWN_ENDPOINT);
    let reached = (!unresolved && !library).then_some(reached);
    if let Some(reached) = &reached {
        flow::unused_services(&syms, reached, input.root, &mut cx);
    }
    let topology = fault::Topology {
        services: &services.services,
        replicas_known: &services.replicas_known,
    };
    let faults = fault::lower(&syms, &mut cx, duration, &topology);
    let timing = scenario.as_ref().map(|s| expect::Timing {
        warmup_s: s.warmup_s,
        duration_s: s.duration_s,
        faults: &faults,
    });
    let expects = expect::lower(&syms, &mut cx, timing.as_ref(), reached.as_deref());
    let explore = explore::lower(&syms, &mut cx, duration, &services.services);

    let mut diags = cx.diags;
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let Some(mut scenario) = scenario else {
        // Without a scenario there is no error only when this is a library.
        return (library.then_some(Output::Library(services.services)), diags);
    };
    // The longest client or call timeout bounds how long a request can still be in flight;
    // a workload without a client timeout has no such bound, so it gets the default.
    let untimed_client = workloads.workloads.iter().any(|w| w.timeout_s.is_none());
    scenario.drain_s = match (services.longest_call_timeout_s, workloads.longest_timeout_s) {
        (None, None) => DEFAULT_DRAIN_S,
        (a, b) => a.unwrap_or(0.0).max(b.unwrap_or(0.0)),
    };
    if untimed_client {
        scenario.drain_s = scenario.drain_s.max(DEFAULT_DRAIN_S);
    }
    let plan = plan::Plan {
        version: plan::PLAN_VERSION,
        scenario,
        params,
        services: services.services,
        workloads: workloads.workloads,
        faults: faults.faults,
        expectations: expects.expectations,
        aborts: expects.aborts,
    };
    diags.extend(size::huge_run(&syms, &plan));
    (Some(Output::Run(plan, explore)), diags)
}

fn scenario(
    syms: &symbols::Symbols<'_>,
    cx: &mut ctx::Ctx,
    root: FileId,
) -> Option<plan::Scenario> {
    let Some(sc) = &syms.scenario else {
        cx.push(
            Diagnostic::error(
                codes::MISSING_SCENARIO,
                "no `scenario` block: a run needs exactly one",
            )
            .at(
                root,
                ast::Span::new(0, 0),
                "expected a scenario in this file or its imports",
            )
            .help("add `scenario \"NAME\" { duration 10m }`"),
        );
        return None;
    };
    let file = sc.file;
    let mut seen = HashMap::new();
    let mut duration = None;
    let mut duration_seen = false;
    let mut warmup = Some(0.0);
    let mut warmup_value = None;
    let mut seed = Some(DEFAULT_SEED);
    let mut window = Some(DEFAULT_WINDOW_S);
    let mut hop = Some(plan::HOP_DEFAULT_S);
    for Spanned { node, span } in &sc.ast.settings {
        match node {
            ScenarioSetting::Duration(v) => {
                if service::first_time(cx, &mut seen, file, "duration", *span) {
                    duration_seen = true;
                    duration = cx.positive_duration(file, v, "`duration`");
                }
            }
            ScenarioSetting::Warmup(v) => {
                if service::first_time(cx, &mut seen, file, "warmup", *span) {
                    warmup = cx.duration(file, v, "`warmup`");
                    warmup_value = Some(v);
                }
            }
            ScenarioSetting::Seed(v) => {
                if service::first_time(cx, &mut seen, file, "seed", *span) {
                    let n = cx.want(file, v, crate::quantity::Unit::Number, "`seed`");
                    seed = match n {
                        Some(n) if n.fract() == 0.0 && n >= 0.0 && n <= u64::MAX as f64 => {
                            Some(n as u64)
                        }
                        Some(_) => {
                            cx.out_of_range(
                                file,
                                v.span,
                                "`seed` must be a whole number".into(),
                                "not a whole number",
                            );
                            None
                        }
                        None => None,
                    };
                }
            }
            ScenarioSetting::Window(v) => {
                if service::first_time(cx, &mut seen, file, "window", *span) {
                    window = cx.positive_duration(file, v, "`window`");
                }
            }
            ScenarioSetting::Hop(v) => {
                if service::first_time(cx, &mut seen, file, "hop", *span) {
                    hop = cx.duration(file, v, "`hop`");
                }
            }
        }
    }
    if !duration_seen {
        cx.push(
            Diagnostic::error(
                codes::MISSING_SETTING,
                format!("scenario \"{}\" has no `duration`", sc.ast.name.value),
            )
            .at(file, sc.ast.name.span, "how long does the run last?")
            .help("add `duration 10m`"),
        );
    }
    let (duration_s, warmup_s) = (duration?, warmup?);
    if warmup_s >= duration_s {
        if let Some(v) = warmup_value {
            cx.out_of_range(
                file,
                v.span,
                format!(
                    "`warmup` ({}) must end before the scenario does ({})",
                    crate::quantity::fmt_seconds(warmup_s),
                    crate::quantity::fmt_seconds(duration_s)
                ),
                "nothing would be measured",
            );
        }
        return None;
    }
    Some(plan::Scenario {
        name: sc.ast.name.value.clone(),
        duration_s,
        warmup_s,
        seed: seed?,
        window_s: window?,
        drain_s: DEFAULT_DRAIN_S,
        hop_s: hop?,
    })
}
