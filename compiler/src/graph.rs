//! The call graph of a plan (or of a library's services) as Mermaid or Graphviz dot: services as boxes holding their
//! endpoints, workloads as entry points, calls as arrows labelled with their policies, sends
//! (fire-and-forget) as dashed arrows.

use std::collections::HashMap;
use std::fmt::Write;

use chaos_plan::{Backoff, Call, Jitter, Load, Plan, Replicas, Service, Step, Workload};

use crate::quantity::{fmt_seconds, trim};

/// What is drawn: a plan's services and workloads, or a library's services alone.
struct Topology<'p> {
    services: &'p [Service],
    workloads: &'p [Workload],
}

impl<'p> Topology<'p> {
    fn of_plan(plan: &'p Plan) -> Topology<'p> {
        Topology {
            services: &plan.services,
            workloads: &plan.workloads,
        }
    }

    fn of_library(services: &'p [Service]) -> Topology<'p> {
        Topology {
            services,
            workloads: &[],
        }
    }
}

/// One arrow: from a node id to a node id, with a label.
struct Arrow {
    from: String,
    to: String,
    label: String,
    /// A `send`: nothing waits for it, so it is drawn dashed.
    dashed: bool,
}

/// A step that sends a request to another endpoint.
enum Edge<'p> {
    Call(&'p Call),
    Send { service: &'p str, endpoint: &'p str },
}

/// Node ids of endpoints (`s{service}e{endpoint}`), looked up once per arrow.
struct Ids<'p>(HashMap<(&'p str, &'p str), String>);

impl<'p> Ids<'p> {
    fn new(plan: &Topology<'p>) -> Ids<'p> {
        let mut ids = HashMap::new();
        for (si, s) in plan.services.iter().enumerate() {
            for (ei, e) in s.endpoints.iter().enumerate() {
                ids.insert((s.name.as_str(), e.name.as_str()), format!("s{si}e{ei}"));
            }
        }
        Ids(ids)
    }

    fn get(&self, service: &str, endpoint: &str) -> Option<String> {
        self.0.get(&(service, endpoint)).cloned()
    }
}

/// `timeout 300ms, retry 2 (exp 50ms..1s, full jitter), breaker 50%/10s, continue`
pub fn policy_label(call: &Call) -> String {
    let mut parts = Vec::new();
    if let Some(t) = call.timeout_s {
        parts.push(format!("timeout {}", fmt_seconds(t)));
    }
    if call.retry.retries > 0 {
        let mut r = format!("retry {}", call.retry.retries);
        match call.retry.backoff {
            Backoff::Constant { delay_s } if delay_s > 0.0 => {
                r.push_str(&format!(" backoff {}", fmt_seconds(delay_s)));
            }
            Backoff::Constant { .. } => {}
            Backoff::Exponential { base_s, max_s } => {
                r.push_str(&format!(" backoff exp {}", fmt_seconds(base_s)));
                if let Some(m) = max_s {
                    r.push_str(&format!(" max {}", fmt_seconds(m)));
                }
            }
        }
        match call.retry.jitter {
            Jitter::None => {}
            Jitter::Full => r.push_str(" jitter full"),
            Jitter::Equal => r.push_str(" jitter equal"),
        }
        parts.push(r);
    }
    if let Some(cb) = &call.circuit_breaker {
        parts.push(format!(
            "breaker {}% over {} min {} open {}",
            trim(cb.failure_ratio * 100.0),
            fmt_seconds(cb.window_s),
            cb.min_requests,
            fmt_seconds(cb.open_s)
        ));
    }
    if call.continue_on_error {
        parts.push("on_error continue".to_string());
    }
    if let Some(p) = call.priority {
        parts.push(format!("priority {p}"));
    }
    parts.join(", ")
}

fn collect_calls<'p>(steps: &'p [Step], prefix: &str, out: &mut Vec<(Edge<'p>, String)>) {
    for s in steps {
        match s {
            Step::Call(c) => out.push((Edge::Call(c), prefix.to_string())),
            Step::Send { service, endpoint } => out.push((
                Edge::Send {
                    service: service.as_str(),
                    endpoint: endpoint.as_str(),
                },
                prefix.to_string(),
            )),
            Step::Parallel { steps } => collect_calls(steps, "parallel", out),
            Step::Choice { branches } => {
                for b in branches {
                    collect_calls(&b.steps, &format!("{}%", trim(b.probability * 100.0)), out);
                }
            }
            Step::Work { .. } | Step::Fail { .. } => {}
        }
    }
}

fn arrows(plan: &Topology<'_>) -> Vec<Arrow> {
    let ids = Ids::new(plan);
    let mut out = Vec::new();
    for (wi, w) in plan.workloads.iter().enumerate() {
        if let Some(to) = ids.get(&w.target.service, &w.target.endpoint) {
            out.push(Arrow {
                from: format!("w{wi}"),
                to,
                label: String::new(),
                dashed: false,
            });
        }
    }
    for (si, s) in plan.services.iter().enumerate() {
        for (ei, e) in s.endpoints.iter().enumerate() {
            let mut calls = Vec::new();
            collect_calls(&e.steps, "", &mut calls);
            for (edge, prefix) in calls {
                let (service, endpoint, policy, dashed) = match edge {
                    Edge::Call(c) => (
                        c.service.as_str(),
                        c.endpoint.as_str(),
                        policy_label(c),
                        false,
                    ),
                    Edge::Send { service, endpoint } => {
                        (service, endpoint, "send".to_string(), true)
                    }
                };
                let Some(to) = ids.get(service, endpoint) else {
                    continue;
                };
                let label = match (prefix.is_empty(), policy.is_empty()) {
                    (true, _) => policy,
                    (false, true) => prefix,
                    (false, false) => format!("{prefix}: {policy}"),
                };
                out.push(Arrow {
                    from: format!("s{si}e{ei}"),
                    to,
                    label,
                    dashed,
                });
            }
        }
    }
    out
}

fn replicas_text(r: &Replicas) -> String {
    match r {
        Replicas::Fixed { count: 1 } => "1 replica".to_string(),
        Replicas::Fixed { count } => format!("{count} replicas"),
        Replicas::Autoscale { min, max, .. } => format!("autoscale {min}..{max}"),
    }
}

fn workers_text(workers: u32) -> String {
    match workers {
        1 => "1 worker".to_string(),
        n => format!("{n} workers"),
    }
}

/// The load of a workload, and its priority when it has one.
fn workload_text(w: &Workload) -> String {
    let load = workload_load(&w.load);
    match w.priority {
        0 => load,
        p => format!("{load}, priority {p}"),
    }
}

fn workload_load(load: &Load) -> String {
    match load {
        Load::Open { rate, .. } => {
            let peak = rate
                .iter()
                .map(|p| p.from_per_s.max(p.to_per_s))
                .fold(0.0, f64::max);
            format!("up to {}/s", trim(peak))
        }
        Load::Closed { users_to, .. } => format!("{users_to} users"),
    }
}

/// Mermaid `flowchart LR` of a plan.
pub fn mermaid(plan: &Plan) -> String {
    mermaid_of(&Topology::of_plan(plan))
}

/// Mermaid `flowchart LR` of a library's services (no workloads: no entry points).
pub fn library_mermaid(services: &[Service]) -> String {
    mermaid_of(&Topology::of_library(services))
}

/// Graphviz `digraph` of a plan.
pub fn dot(plan: &Plan) -> String {
    dot_of(&Topology::of_plan(plan))
}

/// Graphviz `digraph` of a library's services.
pub fn library_dot(services: &[Service]) -> String {
    dot_of(&Topology::of_library(services))
}

/// Labels escaped for Mermaid's quoted strings.
fn mermaid_of(plan: &Topology<'_>) -> String {
    let esc = |s: &str| s.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (wi, w) in plan.workloads.iter().enumerate() {
        let _ = writeln!(
            out,
            "  w{wi}([\"{}<br/>{}\"])",
            esc(&w.name),
            esc(&workload_text(w))
        );
    }
    for (si, s) in plan.services.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph s{si}[\"{} ({}, {})\"]",
            esc(&s.name),
            replicas_text(&s.replicas),
            workers_text(s.workers)
        );
        for (ei, e) in s.endpoints.iter().enumerate() {
            let _ = writeln!(out, "    s{si}e{ei}[\"{}\"]", esc(&e.name));
        }
        out.push_str("  end\n");
    }
    for a in arrows(plan) {
        let arrow = if a.dashed { "-.->" } else { "-->" };
        if a.label.is_empty() {
            let _ = writeln!(out, "  {} {arrow} {}", a.from, a.to);
        } else {
            let _ = writeln!(out, "  {} {arrow}|\"{}\"| {}", a.from, esc(&a.label), a.to);
        }
    }
    out
}

/// One cluster per service.
fn dot_of(plan: &Topology<'_>) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from(
        "digraph chaos {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (wi, w) in plan.workloads.iter().enumerate() {
        let _ = writeln!(
            out,
            "  w{wi} [shape=ellipse, label=\"{}\\n{}\"];",
            esc(&w.name),
            esc(&workload_text(w))
        );
    }
    for (si, s) in plan.services.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_s{si} {{");
        let _ = writeln!(
            out,
            "    label=\"{} ({}, {})\";",
            esc(&s.name),
            replicas_text(&s.replicas),
            workers_text(s.workers)
        );
        for (ei, e) in s.endpoints.iter().enumerate() {
            let _ = writeln!(out, "    s{si}e{ei} [label=\"{}\"];", esc(&e.name));
        }
        out.push_str("  }\n");
    }
    for a in arrows(plan) {
        let mut attrs = Vec::new();
        if !a.label.is_empty() {
            attrs.push(format!("label=\"{}\"", esc(&a.label)));
        }
        if a.dashed {
            attrs.push("style=dashed".to_string());
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "  {} -> {};", a.from, a.to);
        } else {
            let _ = writeln!(out, "  {} -> {} [{}];", a.from, a.to, attrs.join(", "));
        }
    }
    out.push_str("}\n");
    out
}
