//! The "Legal values" table of `docs/language.md` against the checker: every accepted example,
//! put in a small scenario, compiles without error; every rejected one gives the row's code,
//! and the first rejected one's message contains the row's words. A bound changed in the code
//! and not in the table (or the other way round) fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chaos_compiler::{Compiled, compile_str};

struct Row {
    line: usize,
    value: String,
    context: String,
    accepted: Vec<String>,
    rejected: Vec<String>,
    code: Option<String>,
    words: String,
}

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md");
    std::fs::read_to_string(path).expect("docs/language.md")
}

/// Cells of a Markdown table row; `\|` is a `|` inside a cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The `code spans` of a cell, in order.
fn spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn table() -> Vec<Row> {
    let text = reference();
    let start = text
        .find("\n## Legal values\n")
        .expect("a `## Legal values` section");
    let section_end = text[start + 1..]
        .find("\n## ")
        .map_or(text.len(), |e| start + 1 + e);
    let first_line = text[..start].lines().count() + 1;
    let mut rows = Vec::new();
    let mut in_table = false;
    for (i, line) in text[start..section_end].lines().enumerate() {
        if line.starts_with("| value | in |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            if !rows.is_empty() {
                break;
            }
            continue;
        }
        let c = cells(line);
        assert_eq!(
            c.len(),
            6,
            "line {}: six cells wanted: {line}",
            first_line + i
        );
        let said = spans(&c[5]);
        let words = match c[5].rfind('`') {
            Some(p) => c[5][p + 1..].trim().to_string(),
            None => c[5].clone(),
        };
        rows.push(Row {
            line: first_line + i,
            value: c[0].clone(),
            context: c[1].clone(),
            accepted: spans(&c[3]),
            rejected: spans(&c[4]),
            code: said.first().cloned(),
            words,
        });
    }
    rows
}

/// A scenario with `fragment` where the row's "in" column says.
fn scenario(context: &str, fragment: &str) -> String {
    let mut scenario = "duration 10s".to_string();
    let mut service_s = String::new();
    let mut body = String::new();
    let mut policies = String::new();
    let mut workload = "rate 1/s".to_string();
    let mut fault = String::new();
    let mut expect = String::new();
    match context {
        "scenario" if fragment.starts_with("duration") => scenario = fragment.to_string(),
        "scenario" => scenario = format!("duration 10s {fragment}"),
        "service" => service_s = fragment.to_string(),
        "endpoint" => body = fragment.to_string(),
        "call" => policies = fragment.to_string(),
        "workload" if fragment.starts_with("rate") || fragment.starts_with("users") => {
            workload = fragment.to_string()
        }
        "workload" => workload = format!("rate 1/s {fragment}"),
        "fault schedule" => fault = format!("fault f {fragment} {{ errors 1% on s }}"),
        "fault action" => fault = format!("fault f at 1s for 1s {{ {fragment} }}"),
        "expect" => {
            fault = "fault crash at 2s for 1s { errors 1% on t }".to_string();
            expect = format!("expect {{ {fragment} }}");
        }
        other => panic!("unknown context `{other}` in the legal values table"),
    }
    format!(
        "scenario \"legal\" {{ {scenario} }}\n\
         service s {{ {service_s}\n endpoint \"e\" {{ {body}\n call t \"x\" {policies}\n }} }}\n\
         service t {{ replicas 2 endpoint \"x\" {{ work 1ms }} }}\n\
         workload w {{ target s \"e\" {workload} }}\n\
         {fault}\n{expect}\n"
    )
}

fn errors(c: &Compiled) -> Vec<String> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

#[test]
fn the_legal_values_table_is_what_the_checker_enforces() {
    let rows = table();
    assert!(rows.len() >= 40, "only {} rows found", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let at = format!("docs/language.md:{} ({})", row.line, row.value);
        if row.accepted.is_empty() {
            failures.push(format!("{at}: no accepted example"));
        }
        for ok in &row.accepted {
            let text = scenario(&row.context, ok);
            let c = compile_str("legal.chaos", &text, &[]);
            if c.has_errors() || c.plan.is_none() {
                failures.push(format!("{at}: `{ok}` is rejected: {:?}", errors(&c)));
            }
        }
        if row.rejected.is_empty() {
            // Nothing below 0 can be written: such rows must say nothing is rejected.
            if row.code.is_some() {
                failures.push(format!("{at}: a code without a rejected example"));
            }
            continue;
        }
        let Some(code) = &row.code else {
            failures.push(format!("{at}: rejected examples without a code"));
            continue;
        };
        for (k, bad) in row.rejected.iter().enumerate() {
            let text = scenario(&row.context, bad);
            let c = compile_str("legal.chaos", &text, &[]);
            let found: Vec<_> = c.diagnostics.iter().filter(|d| d.code == code).collect();
            if found.is_empty() {
                failures.push(format!(
                    "{at}: `{bad}` does not give {code}: {:?}",
                    errors(&c)
                ));
            } else if k == 0 && !found.iter().any(|d| d.message.contains(&row.words)) {
                failures.push(format!(
                    "{at}: `{bad}` says {:?}, not {:?}",
                    found[0].message, row.words
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The nesting limit the section's prose states: the parser's 64 levels of braces, two of
/// them taken by `service` and `endpoint`, leave 62 for `parallel`.
#[test]
fn steps_nest_62_deep_in_an_endpoint() {
    assert_eq!(chaos_grammar::MAX_NESTING, 64);
    let nested = |depth: usize| {
        let body = format!(
            "{}work 1ms{}",
            "parallel { ".repeat(depth),
            " }".repeat(depth)
        );
        scenario("endpoint", &body)
    };
    let ok = compile_str("deep.chaos", &nested(62), &[]);
    assert!(!ok.has_errors(), "{:?}", errors(&ok));
    let deep = compile_str("deep.chaos", &nested(63), &[]);
    assert!(
        deep.diagnostics
            .iter()
            .any(|d| d.code == "E0002" && d.message.contains("nested more than 64 levels deep")),
        "{:?}",
        errors(&deep)
    );
    assert!(
        reference().contains("an endpoint's `parallel` blocks nest at most\n62 deep"),
        "the limit is documented"
    );
}

/// `every P` over a run that P divides exactly: as many occurrences as P fits, however the
/// decimal P rounds in binary (100us is a hair under 1e-4 s, which once made 100,001 of them,
/// the last at 9.999999999999999s).
#[test]
fn every_counts_whole_periods() {
    for (every, want) in [
        ("100us", 100_000usize),
        ("1s", 10),
        ("3s", 4),
        ("100ms", 100),
    ] {
        let text = scenario("fault schedule", &format!("every {every} for 50us"));
        let c = compile_str("every.chaos", &text, &[]);
        let n = match &c.plan {
            Some(plan) => plan.faults[0].occurrences.len(),
            None => panic!("{every}: {:?}", errors(&c)),
        };
        assert_eq!(n, want, "every {every} over 10s");
    }
}
