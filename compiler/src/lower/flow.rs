//! Checks on the call graph: cycles between endpoints through calls and sends (an error: a
//! request would never end, or a send would multiply for ever) and
//! what receives traffic from some workload (services that none reach are warned about).

use crate::diagnostic::{Diagnostic, codes};
use crate::source::FileId;

use super::ctx::Ctx;
use super::service::Edge;
use super::symbols::Symbols;

/// Reports each call that closes a cycle, with the whole loop in the message. Iterative DFS,
/// O(nodes + edges), so large graphs cannot overflow the stack.
pub(crate) fn cycles(syms: &Symbols<'_>, edges: &[Vec<Edge>], ctx: &mut Ctx) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut pos_in_path = vec![usize::MAX; edges.len()];
    for root in 0..edges.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, next edge index)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Open;
        pos_in_path[root] = 0;
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            if let Some(edge) = edges[node].get(top.1) {
                top.1 += 1;
                match mark[edge.to] {
                    Mark::New => {
                        mark[edge.to] = Mark::Open;
                        pos_in_path[edge.to] = stack.len();
                        stack.push((edge.to, 0));
                    }
                    Mark::Open => {
                        let from = pos_in_path[edge.to];
                        let path: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                        report_cycle(syms, ctx, &path, edge);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
}

fn node_name(syms: &Symbols<'_>, node: usize) -> String {
    let (s, e) = syms.node_owner[node];
    let svc = &syms.services[s];
    format!("{} \"{}\"", svc.name(), svc.endpoints[e].name.value)
}

fn report_cycle(syms: &Symbols<'_>, ctx: &mut Ctx, path: &[usize], closing: &Edge) {
    let (back_to, file, span) = (closing.to, closing.file, closing.span);
    let word = if closing.send { "send" } else { "call" };
    let mut names: Vec<String> = path.iter().map(|&n| node_name(syms, n)).collect();
    names.push(node_name(syms, back_to));
    let loop_text = names.join(" → ");
    let message = if path.len() == 1 {
        format!(
            "endpoint {} {} itself",
            names[0],
            if closing.send { "sends to" } else { "calls" }
        )
    } else {
        format!("call cycle: {loop_text}")
    };
    let mut d = Diagnostic::error(codes::CALL_CYCLE, message)
        .at(file, span, format!("this {word} closes the cycle"))
        .help(
            "a request in a cycle never finishes; break the loop or route it to another endpoint",
        );
    if path.len() > 1 {
        let (s, e) = syms.node_owner[back_to];
        let svc = &syms.services[s];
        d = d.also(
            svc.file,
            svc.endpoints[e].name.span,
            "the cycle starts at this endpoint",
        );
    }
    ctx.push(d);
}

/// Which nodes some workload's requests can reach, following calls.
pub(crate) fn reached(edges: &[Vec<Edge>], targets: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut todo: Vec<usize> = Vec::new();
    for &t in targets {
        if t < seen.len() && !seen[t] {
            seen[t] = true;
            todo.push(t);
        }
    }
    while let Some(n) = todo.pop() {
        for e in &edges[n] {
            if !seen[e.to] {
                seen[e.to] = true;
                todo.push(e.to);
            }
        }
    }
    seen
}

/// Warns about every service of the root file none of whose endpoints is reached. Services of
/// imported files are shared topology: a scenario using part of it is normal.
pub(crate) fn unused_services(syms: &Symbols<'_>, reached: &[bool], root: FileId, ctx: &mut Ctx) {
    for svc in syms.services.iter().filter(|s| s.file == root) {
        let n = svc.endpoints.len();
        if (svc.first_node..svc.first_node + n).any(|i| reached.get(i).copied().unwrap_or(false)) {
            continue;
        }
        ctx.push(
            Diagnostic::warning(
                codes::UNUSED_SERVICE,
                format!("service `{}` never receives traffic", svc.name()),
            )
            .at(svc.file, svc.ast.name.span, "no workload reaches it")
            .help("target it from a workload or call it from a reached endpoint, or remove it"),
        );
    }
}
