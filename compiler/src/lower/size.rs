//! The warning for a valid run too large to simulate in reasonable time (`W0007`): it names the
//! number of simulated requests and how long `chaos run --sim` would take, at the workload that
//! sends the most and the scenario's `duration`.

use chaos_grammar::ast::{ScenarioSetting, WorkloadSetting};
use chaos_plan as plan;

use crate::diagnostic::{Diagnostic, codes};
use crate::estimate::{self, SIM_REQUESTS_PER_S, WARN_ABOVE_REQUESTS};

use super::symbols::Symbols;

pub(crate) fn huge_run(syms: &Symbols<'_>, plan: &plan::Plan) -> Option<Diagnostic> {
    let est = estimate::estimate(plan);
    if !est.is_huge() {
        return None;
    }
    let mut d = Diagnostic::warning(
        codes::HUGE_RUN,
        format!(
            "this run makes about {} simulated requests: `chaos run --sim` would take about {}",
            estimate::fmt_count(est.requests),
            estimate::fmt_wall(est.sim_seconds())
        ),
    );
    // With no error every workload lowered, so plan and syntax tree list them in one order.
    let biggest = est
        .per_workload
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    if let Some((w, n)) = biggest.and_then(|i| Some((syms.workloads.get(i)?, est.per_workload[i])))
    {
        let load = w.ast.settings.iter().find(|s| {
            matches!(
                s.node,
                WorkloadSetting::Rate(_) | WorkloadSetting::Users { .. }
            )
        });
        let span = load.map_or(w.ast.name.span, |s| s.span);
        d = d.at(
            w.file,
            span,
            format!(
                "about {} requests, with the calls each one makes",
                estimate::fmt_count(n)
            ),
        );
    }
    if let Some(sc) = &syms.scenario {
        let duration = sc.ast.settings.iter().find_map(|s| match &s.node {
            ScenarioSetting::Duration(v) => Some(v.span),
            _ => None,
        });
        if let Some(span) = duration {
            d = d.also(sc.file, span, "for this long");
        }
    }
    Some(d.help(format!(
        "the simulator does about {} requests a second; warned above {}. Shorten `duration` or lower the load, or scale the figures down (`--set`) and check the verdict is the same",
        estimate::fmt_count(SIM_REQUESTS_PER_S),
        estimate::fmt_count(WARN_ABOVE_REQUESTS)
    )))
}
