//! The language server's features on fixture files, without the transport: diagnostics (the
//! compiler's own), hover, completion, definition, references, rename, the outline and quick fixes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chaos_lsp::text::LineIndex;
use chaos_lsp::world::World;
use chaos_lsp::{completion, diagnostics, hover, navigate, symbols};
use tower_lsp_server::ls_types::{HoverContents, Position, Uri};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

fn uri(name: &str) -> Uri {
    format!("file:///w/{name}").parse().unwrap()
}

/// A world whose disk is the fixtures folder seen as `/w`.
fn world() -> World {
    World::new(Box::new(|p: &Path| {
        let rel = p
            .strip_prefix("/w")
            .map_err(|_| std::io::Error::other("outside /w"))?;
        std::fs::read_to_string(fixtures().join(rel))
    }))
}

/// Opens `text` with a `|` marking the cursor; returns the position of the cursor.
fn open_at(world: &mut World, name: &str, marked: &str) -> Position {
    let offset = marked.find('|').expect("a | marks the cursor");
    let text = marked.replacen('|', "", 1);
    let pos = LineIndex::new(&text).position(offset);
    world.open(uri(name), text, 1);
    pos
}

/// The position of the `n`th occurrence of `needle` (plus `delta` chars) in an open document.
fn pos_of(world: &World, name: &str, needle: &str, n: usize, delta: usize) -> Position {
    let text = &world.document(&uri(name)).unwrap().text;
    let offset = text
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("`{needle}` #{n} in {name}"))
        .0
        + delta;
    LineIndex::new(text).position(offset)
}

fn open_fixtures(world: &mut World, names: &[&str]) {
    for n in names {
        world.open(uri(n), fixture(n), 1);
    }
}

#[test]
fn diagnostics_are_the_compilers_with_the_same_spans() {
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/spec");
    let mut cases: Vec<(String, String)> = std::fs::read_dir(&spec)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "chaos"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    assert!(cases.len() >= 3, "scenarios/spec/: {cases:?}");
    // A copy of the spec's checkout example, so the broken variants do not depend on shared/.
    let checkout = fixture("checkout.chaos");
    // Errors of each stage: a typo'd name, a wrong unit, a syntax error.
    cases.push((
        "typo.chaos".into(),
        checkout.replace("call payments", "call paymnets"),
    ));
    cases.push((
        "unit.chaos".into(),
        checkout.replace("duration 10m", "duration 10/s"),
    ));
    cases.push((
        "syntax.chaos".into(),
        checkout.replace("workers 64", "workers 64 {"),
    ));
    let mut errors = 0;
    for (name, text) in &cases {
        let mut world = World::in_memory();
        world.open(uri(name), text.clone(), 1);
        let analysis = world.analyze(&uri(name)).unwrap();
        let lsp = diagnostics::for_root(&world, &analysis);
        let compiled = chaos_compiler::compile_str(&format!("/w/{name}"), text, &[]);
        assert_eq!(lsp.len(), compiled.diagnostics.len(), "{name}: {lsp:#?}");
        let lines = LineIndex::new(text);
        for (l, c) in lsp.iter().zip(&compiled.diagnostics) {
            assert!(
                l.message.starts_with(&c.message),
                "{name}: {} vs {}",
                l.message,
                c.message
            );
            assert_eq!(
                l.range,
                lines.range(c.primary.as_ref().unwrap().span),
                "{name}: {}",
                c.message
            );
            assert_eq!(
                l.code,
                Some(tower_lsp_server::ls_types::NumberOrString::String(
                    c.code.to_string()
                ))
            );
            errors += usize::from(c.is_error());
        }
    }
    assert!(errors >= 3, "the three broken variants produce errors");
}

#[test]
fn a_problem_in_an_import_is_shown_on_the_import() {
    let mut world = world();
    open_fixtures(&mut world, &["broken-import.chaos"]);
    let analysis = world.analyze(&uri("broken-import.chaos")).unwrap();
    let diags = diagnostics::for_root(&world, &analysis);
    let error = diags
        .iter()
        .find(|d| d.message.contains("`workers` must be at least 1"))
        .expect("the error of the import");
    assert_eq!(
        error.message.lines().next().unwrap(),
        "in `/w/bad-topology.chaos`: `workers` must be at least 1"
    );
    // On `"bad-topology.chaos"` in line 0, and the related information points into the import.
    assert_eq!(
        (error.range.start, error.range.end),
        (Position::new(0, 7), Position::new(0, 27))
    );
    let related = error.related_information.as_ref().unwrap();
    assert_eq!(related[0].location.uri, uri("bad-topology.chaos"));
    assert_eq!(related[0].location.range.start, Position::new(1, 10));
}

#[test]
fn a_library_file_gets_what_chaos_check_says() {
    let mut world = world();
    open_fixtures(&mut world, &["topology.chaos"]);
    let analysis = world.analyze(&uri("topology.chaos")).unwrap();
    let diags = diagnostics::for_root(&world, &analysis);
    let compiled =
        chaos_compiler::compile_str("/w/topology.chaos", &fixture("topology.chaos"), &[]);
    let codes: Vec<String> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect();
    let lsp_codes: Vec<String> = diags
        .iter()
        .map(|d| match &d.code {
            Some(tower_lsp_server::ls_types::NumberOrString::String(c)) => c.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lsp_codes, codes);
    assert!(
        !codes.contains(&"E0110".to_string()),
        "a file of shared services needs no scenario"
    );
}

#[test]
fn diagnostics_follow_the_open_buffer_of_an_import() {
    let mut world = world();
    open_fixtures(&mut world, &["main.chaos", "topology.chaos"]);
    let before = diagnostics::for_root(&world, &world.analyze(&uri("main.chaos")).unwrap());
    assert!(
        before
            .iter()
            .all(|d| d.severity != Some(tower_lsp_server::ls_types::DiagnosticSeverity::ERROR)),
        "{before:#?}"
    );
    // Renaming the service in the (unsaved) topology buffer breaks main.chaos at once.
    world.change(
        &uri("topology.chaos"),
        fixture("topology.chaos").replace("service payments", "service billing"),
        2,
    );
    let after = diagnostics::for_root(&world, &world.analyze(&uri("main.chaos")).unwrap());
    assert!(
        after
            .iter()
            .any(|d| d.message.contains("unknown service `payments`")),
        "{after:#?}"
    );
}

fn hover_text(world: &World, name: &str, pos: Position) -> String {
    let analysis = world.analyze(&uri(name)).unwrap();
    match hover::hover(&analysis, pos).map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        other => panic!("no markdown hover: {other:?}"),
    }
}

#[test]
fn hover_explains_keywords_with_their_unit() {
    let mut world = world();
    open_fixtures(&mut world, &["main.chaos"]);
    insta::assert_snapshot!(hover_text(&world, "main.chaos", pos_of(&world, "main.chaos", "duration", 0, 2)), @r"
    ```chaos
    duration D
    ```
    Simulated (or wall) time of the run. Required.

    **Unit:** duration (`250us`, `250ms`, `2s`, `10m`, `1h`, `1m30s`)
    ");
    let metric = hover_text(
        &world,
        "main.chaos",
        pos_of(&world, "main.chaos", "error_rate", 0, 0),
    );
    assert!(
        metric.starts_with("```chaos\nerror_rate(SUBJECT) OP RATIO\n```\nFailed attempts"),
        "{metric}"
    );
    let quantity = hover_text(
        &world,
        "main.chaos",
        pos_of(&world, "main.chaos", "30s", 0, 1),
    );
    assert_eq!(quantity, "`30s`: a duration of 30 s");
}

#[test]
fn hover_explains_the_explore_block() {
    let mut world = world();
    let text = "scenario \"s\" { duration 1m }\nservice api { endpoint \"x\" { } }\nworkload w { target api \"x\" rate 1/s }\nexplore {\n  max_faults 2\n  errors up to 20% on *\n}\n";
    world.open(uri("ex.chaos"), text.to_string(), 1);
    let at =
        |needle: &str| hover_text(&world, "ex.chaos", pos_of(&world, "ex.chaos", needle, 0, 1));
    assert!(
        at("explore").contains("search space of `chaos explore`"),
        "{}",
        at("explore")
    );
    assert!(
        at("max_faults").contains("`--max-faults` overrides it"),
        "{}",
        at("max_faults")
    );
    assert!(at(" to ").contains("four levels"), "{}", at(" to "));
}

#[test]
fn hover_explains_the_words_of_issue_14() {
    let mut world = world();
    let text = "scenario \"s\" { duration 1m }\nservice api {\n  replicas 3\n  queue 10 lifo\n  eject after 5 errors for 30s max 50%\n  endpoint \"x\" { send api \"y\" }\n  endpoint \"y\" { }\n}\nworkload w { target api \"x\" rate 1/s priority 2 }\nexpect { max(api) < 1s }\n";
    world.open(uri("i14.chaos"), text.to_string(), 1);
    let at = |needle: &str, n: usize| {
        hover_text(
            &world,
            "i14.chaos",
            pos_of(&world, "i14.chaos", needle, n, 1),
        )
    };
    assert!(
        at("eject", 0)
            .starts_with("```chaos\neject after N errors for D [max RATIO]\n```\nOutlier ejection"),
        "{}",
        at("eject", 0)
    );
    assert!(
        at("lifo", 0).contains("newest waiting request"),
        "{}",
        at("lifo", 0)
    );
    assert!(
        at("send", 0).contains("Fire-and-forget"),
        "{}",
        at("send", 0)
    );
    assert!(
        at("priority", 0).contains("0 (default) to 9"),
        "{}",
        at("priority", 0)
    );
    // `max` is one word for the metric, the backoff cap and eject's bound.
    assert!(
        at("max 50%", 0).contains("ejected at once"),
        "{}",
        at("max 50%", 0)
    );
    assert!(
        at("max(api)", 0).contains("Highest latency"),
        "{}",
        at("max(api)", 0)
    );
}

#[test]
fn hover_resolves_params_through_other_params_and_imports() {
    let mut world = world();
    open_fixtures(&mut world, &["main.chaos"]);
    insta::assert_snapshot!(hover_text(&world, "main.chaos", pos_of(&world, "main.chaos", "$burst", 0, 2)), @r"
    ```chaos
    param burst = $peak
    ```

    resolves to `400/s` (through `$peak`)

    value: a rate of 400 per second

    `--set burst=VALUE` overrides it

    defined in `/w/topology.chaos`

    param referenced once
    ");
}

#[test]
fn hover_on_a_service_shows_its_definition() {
    let mut world = world();
    open_fixtures(&mut world, &["main.chaos"]);
    insta::assert_snapshot!(hover_text(&world, "main.chaos", pos_of(&world, "main.chaos", "payments", 1, 1)), @r#"
    ```chaos
    service payments {
      workers 8
      latency exponential(mean = 12ms)
      endpoint "POST /charge" { }
    }
    ```

    defined in `/w/topology.chaos`

    service referenced 2 times
    "#);
}

fn labels(world: &mut World, marked: &str) -> Vec<String> {
    let pos = open_at(world, "edit.chaos", marked);
    let analysis = world.analyze(&uri("edit.chaos")).unwrap();
    completion::completions(world, &analysis, pos)
        .into_iter()
        .map(|c| c.label)
        .collect()
}

#[test]
fn completion_offers_what_fits_where_the_cursor_is() {
    let mut world = world();
    let head = "import \"topology.chaos\"\nscenario \"s\" { duration 1m }\n";
    let cases: &[(&str, &str)] = &[
        (
            "|",
            "import param scenario service workload fault expect explore",
        ),
        (
            "explore {\n  |\n}",
            "max_faults latency errors kill cpu loss memory partition at for",
        ),
        (
            "explore {\n  errors |\n}",
            "up on max_faults latency errors kill cpu loss memory partition at for",
        ),
        ("explore {\n  errors up |\n}", "to"),
        ("explore {\n  errors up to 20% on |\n}", "gateway payments"),
        (
            "explore {\n  kill up to 2 of payments, |\n}",
            "gateway payments",
        ),
        (
            "service x {\n  |\n}",
            "replicas autoscale workers queue rate_limit restart balance latency endpoint health_check eject",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    |\n  }\n}",
            "work call send parallel choice fail",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    call |\n  }\n}",
            "gateway payments x",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    call payments |\n  }\n}",
            "\"POST /charge\"",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    call payments \"|\"\n  }\n}",
            "\"POST /charge\"",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    call payments \"POST /charge\" timeout 1s |\n  }\n}",
            "retry circuit_breaker on_error priority work call send parallel choice fail timeout",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    call payments \"POST /charge\" {\n      |\n    }\n  }\n}",
            "timeout retry circuit_breaker on_error priority",
        ),
        ("service x {\n  queue 100 |\n}", "fifo lifo"),
        (
            "service x {\n  endpoint \"a\" {\n    send |\n  }\n}",
            "gateway payments x",
        ),
        (
            "service x {\n  endpoint \"a\" {\n    send payments |\n  }\n}",
            "\"POST /charge\"",
        ),
        (
            "service x {\n  eject |\n}",
            "after errors for max replicas autoscale workers queue rate_limit restart balance latency endpoint health_check eject",
        ),
        (
            "workload w {\n  |\n}",
            "target rate spike arrivals timeout users priority",
        ),
        (
            "fault f at 1m {\n  errors 100% on 1 of |\n}",
            "gateway payments",
        ),
        (
            "fault f at 1m {\n  errors 100% on 1 of payments |\n}",
            "\"POST /charge\"",
        ),
        (
            "service x {\n  balance |\n}",
            "round_robin random least_request",
        ),
        (
            "service x {\n  latency |\n}",
            "exponential normal lognormal uniform pareto",
        ),
        ("workload w {\n  target |\n}", "gateway payments"),
        ("workload w {\n  rate $|\n}", "$peak $burst"),
        ("workload w {\n  arrivals |\n}", "poisson uniform"),
        (
            "fault f at 1m {\n  kill 1 of |\n}",
            "gateway payments random",
        ),
        (
            "fault f at 1m {\n  |\n}",
            "latency errors kill partition cpu loss memory",
        ),
        (
            "fault f at 1m { cpu x2 on payments }\nexpect {\n  p99(|)\n}",
            "gateway payments",
        ),
        (
            "fault f at 1m { cpu x2 on payments }\nexpect {\n  p99(gateway) < 1s during |\n}",
            "f",
        ),
        (
            "expect {\n  p99(gateway) < 1s |\n}",
            "overall during before after between p50 p90 p95 p99 p999 mean max error_rate availability recovery throughput max_replicas abort",
        ),
        (
            "expect {\n  |\n}",
            "p50 p90 p95 p99 p999 mean max error_rate availability recovery throughput max_replicas abort",
        ),
        ("# a comment |", ""),
        ("service x {\n  latency exponential(|)\n}", ""),
        ("workload w {\n  rate 50/s -> |\n}", ""),
    ];
    for (marked, expected) in cases {
        let got = labels(&mut world, &format!("{head}{marked}"));
        assert_eq!(got.join(" "), *expected, "completion at | in:\n{marked}");
    }
}

#[test]
fn completion_replaces_the_word_being_typed() {
    let mut world = world();
    let pos = open_at(
        &mut world,
        "edit.chaos",
        "import \"topology.chaos\"\nworkload w {\n  target pay|\n}",
    );
    let analysis = world.analyze(&uri("edit.chaos")).unwrap();
    let items = completion::completions(&world, &analysis, pos);
    let payments = items.iter().find(|c| c.label == "payments").unwrap();
    let Some(tower_lsp_server::ls_types::CompletionTextEdit::Edit(edit)) = &payments.text_edit
    else {
        panic!()
    };
    assert_eq!(
        (edit.range.start, edit.range.end),
        (Position::new(2, 9), Position::new(2, 12))
    );
}

#[test]
fn definition_goes_across_imports() {
    let mut world = world();
    open_fixtures(&mut world, &["main.chaos"]);
    let analysis = world.analyze(&uri("main.chaos")).unwrap();
    let at = |needle: &str, n: usize| {
        navigate::definition(
            &world,
            &analysis,
            pos_of(&world, "main.chaos", needle, n, 1),
        )
        .into_iter()
        .map(|l| {
            format!(
                "{}:{}:{}",
                l.uri.as_str(),
                l.range.start.line,
                l.range.start.character
            )
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(at("gateway", 0), ["file:///w/topology.chaos:4:8"]);
    assert_eq!(
        at("\"GET /checkout\"", 0),
        ["file:///w/topology.chaos:7:11"]
    );
    assert_eq!(at("slow_payments", 1), ["file:///w/main.chaos:11:6"]);
    assert_eq!(at("$burst", 0), ["file:///w/topology.chaos:2:6"]);
    assert_eq!(at("shoppers", 1), ["file:///w/main.chaos:6:9"]);
    assert_eq!(at("topology.chaos", 0), ["file:///w/topology.chaos:0:0"]);
    assert!(at("duration", 0).is_empty());
}

#[test]
fn references_include_the_files_that_import_this_one() {
    let mut world = world();
    open_fixtures(&mut world, &["topology.chaos", "main.chaos"]);
    let pos = pos_of(&world, "topology.chaos", "service payments", 0, 9);
    let refs: Vec<String> = navigate::references(&world, &uri("topology.chaos"), pos, true)
        .into_iter()
        .map(|l| {
            format!(
                "{}:{}:{}",
                l.uri.as_str().trim_start_matches("file:///w/"),
                l.range.start.line,
                l.range.start.character
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            "main.chaos:12:20",
            "topology.chaos:9:9",
            "topology.chaos:13:8"
        ]
    );
    let without_decl = navigate::references(&world, &uri("topology.chaos"), pos, false);
    assert_eq!(without_decl.len(), 2);
}

#[test]
fn rename_changes_every_occurrence_and_checks_the_name() {
    let mut world = world();
    open_fixtures(&mut world, &["topology.chaos", "main.chaos"]);
    let pos = pos_of(&world, "main.chaos", "slow_payments", 1, 0);
    let edit = navigate::rename(&world, &uri("main.chaos"), pos, "slow_billing").unwrap();
    let changes = edit.changes.unwrap();
    let main = &changes[&uri("main.chaos")];
    assert_eq!(main.len(), 2);
    assert!(main.iter().all(|e| e.new_text == "slow_billing"));

    // A service used in both files: one edit per occurrence, in each file.
    let pos = pos_of(&world, "main.chaos", "payments", 1, 0);
    let changes = navigate::rename(&world, &uri("main.chaos"), pos, "billing")
        .unwrap()
        .changes
        .unwrap();
    assert_eq!(changes[&uri("main.chaos")].len(), 1);
    assert_eq!(changes[&uri("topology.chaos")].len(), 2);
    // Applying the edits gives files that still check.
    let mut topo = fixture("topology.chaos");
    let idx = LineIndex::new(&topo);
    let mut spans: Vec<(usize, usize)> = changes[&uri("topology.chaos")]
        .iter()
        .map(|e| (idx.offset(e.range.start), idx.offset(e.range.end)))
        .collect();
    spans.sort_unstable();
    for (s, e) in spans.into_iter().rev() {
        topo.replace_range(s..e, "billing");
    }
    assert!(topo.contains("service billing") && topo.contains("call billing \"POST /charge\""));

    let err = |name: &str| {
        navigate::rename(&world, &uri("main.chaos"), pos, name)
            .unwrap_err()
            .to_string()
    };
    assert!(err("Billing").contains("not a valid name"));
    assert!(err("service").contains("cannot be a name"));
    let on_keyword = pos_of(&world, "main.chaos", "duration", 0, 1);
    assert!(navigate::rename(&world, &uri("main.chaos"), on_keyword, "x").is_err());
}

#[test]
fn outline_lists_items_endpoints_and_expectations() {
    let mut world = world();
    open_fixtures(&mut world, &["main.chaos", "topology.chaos"]);
    let mut out = String::new();
    for name in ["main.chaos", "topology.chaos"] {
        let analysis = world.analyze(&uri(name)).unwrap();
        out.push_str(&format!("{name}\n"));
        fn walk(
            out: &mut String,
            syms: &[tower_lsp_server::ls_types::DocumentSymbol],
            depth: usize,
        ) {
            for s in syms {
                out.push_str(&format!(
                    "{}{:?} {} ({}) {}:{}-{}:{}\n",
                    "  ".repeat(depth + 1),
                    s.kind,
                    s.name,
                    s.detail.as_deref().unwrap_or(""),
                    s.range.start.line,
                    s.range.start.character,
                    s.range.end.line,
                    s.range.end.character
                ));
                walk(out, s.children.as_deref().unwrap_or(&[]), depth + 1);
            }
        }
        walk(&mut out, &symbols::document_symbols(&analysis), 0);
    }
    insta::assert_snapshot!(out);
}

/// Typing a file from its first character to its last: every prefix gets diagnostics, hover
/// and completion at its end without a panic.
#[test]
fn every_prefix_of_an_example_is_handled() {
    let text = fixture("main.chaos") + &fixture("topology.chaos").replace("import", "# import");
    let mut world = world();
    let mut boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    boundaries.push(text.len());
    for end in boundaries.into_iter().step_by(3) {
        let prefix = &text[..end];
        world.open(uri("typing.chaos"), prefix.to_string(), 1);
        let analysis = world.analyze(&uri("typing.chaos")).unwrap();
        let pos = LineIndex::new(prefix).position(end);
        let _ = diagnostics::for_root(&world, &analysis);
        let _ = hover::hover(&analysis, pos);
        let _ = completion::completions(&world, &analysis, pos);
        let _ = symbols::document_symbols(&analysis);
    }
}

/// The quick fixes offered anywhere in `text`, each as the text after applying its edit, with
/// the code of the diagnostic it fixes.
fn fixed_texts(text: &str) -> Vec<(String, String)> {
    use tower_lsp_server::ls_types::{CodeActionKind, CodeActionOrCommand, NumberOrString};
    let mut world = World::in_memory();
    world.open(uri("fix.chaos"), text.to_string(), 1);
    let analysis = world.analyze(&uri("fix.chaos")).unwrap();
    let lines = LineIndex::new(text);
    let everything = lines.full_range();
    let mut out = Vec::new();
    for action in diagnostics::quick_fixes(&world, &analysis, &uri("fix.chaos"), everything) {
        let CodeActionOrCommand::CodeAction(action) = action else {
            panic!("a command: {action:?}")
        };
        assert_eq!(action.kind, Some(CodeActionKind::QUICKFIX));
        let diags = action.diagnostics.clone().unwrap();
        let Some(NumberOrString::String(code)) = &diags[0].code else {
            panic!("no code")
        };
        let changes = action.edit.unwrap().changes.unwrap();
        let edits = &changes[&uri("fix.chaos")];
        assert_eq!(edits.len(), 1, "{}", action.title);
        let (start, end) = (
            lines.offset(edits[0].range.start),
            lines.offset(edits[0].range.end),
        );
        let mut fixed = text.to_string();
        fixed.replace_range(start..end, &edits[0].new_text);
        out.push((code.clone(), fixed));
    }
    out
}

/// The one quick fix for `broken` is an edit that turns it back into `good` (which has no
/// diagnostics of that code left).
fn assert_fixes(broken: &str, good: &str, code: &str) {
    assert_ne!(broken, good);
    let fixes = fixed_texts(broken);
    let fix = fixes
        .iter()
        .find(|(c, _)| c == code)
        .unwrap_or_else(|| panic!("no quick fix for {code}: {fixes:?}"));
    assert_eq!(fix.1, good, "{code}");
    let compiled = chaos_compiler::compile_str("/w/fix.chaos", &fix.1, &[]);
    assert!(
        compiled.diagnostics.iter().all(|d| d.code != code),
        "{code} after the fix: {:#?}",
        compiled.diagnostics
    );
    assert!(fixed_texts(&fix.1).iter().all(|(c, _)| c != code));
}

#[test]
fn quick_fix_replaces_an_unknown_service_with_the_close_name() {
    let good = fixture("checkout.chaos");
    assert_fixes(
        &good.replace("call payments", "call paymnets"),
        &good,
        "E0101",
    );
    // An expectation's subject.
    assert_fixes(&good.replace("p99(gateway", "p99(gatewya"), &good, "E0104");
}

#[test]
fn quick_fix_removes_the_space_inside_a_quantity() {
    let good = fixture("checkout.chaos");
    assert!(good.contains("< 800ms"));
    assert_fixes(&good.replace("< 800ms", "< 800 ms"), &good, "E0001");
}

#[test]
fn quick_fixes_for_each_kind_of_misspelt_name() {
    let good = fixture("checkout.chaos");
    for (from, to, code) in [
        // Endpoint (a string: the fix keeps the quotes).
        (
            "call cart \"GET /items\"",
            "call cart \"GET /itemz\"",
            "E0102",
        ),
        // Param.
        ("-> $peak over", "-> $paek over", "E0106"),
        // Metric.
        (
            "error_rate(shoppers) < 1%",
            "eror_rate(shoppers) < 1%",
            "E0105",
        ),
        // Distribution.
        ("work lognormal(", "work lognormla(", "E0107"),
        // Argument of a distribution.
        ("(median = 2ms", "(meidan = 2ms", "E0307"),
    ] {
        assert!(good.contains(from), "{from}");
        assert_fixes(&good.replacen(from, to, 1), &good, code);
    }
}

#[test]
fn quick_fixes_are_only_offered_near_the_diagnostic() {
    let text = fixture("checkout.chaos").replace("call payments", "call paymnets");
    let mut world = World::in_memory();
    world.open(uri("fix.chaos"), text.clone(), 1);
    let analysis = world.analyze(&uri("fix.chaos")).unwrap();
    let lines = LineIndex::new(&text);
    let at = |offset: usize| {
        let p = lines.position(offset);
        tower_lsp_server::ls_types::Range::new(p, p)
    };
    let typo = text.find("paymnets").unwrap();
    assert_eq!(
        diagnostics::quick_fixes(&world, &analysis, &uri("fix.chaos"), at(typo + 3)).len(),
        1
    );
    assert!(diagnostics::quick_fixes(&world, &analysis, &uri("fix.chaos"), at(0)).is_empty());
    assert!(
        chaos_lsp::server::capabilities()
            .code_action_provider
            .is_some()
    );
}

/// One LSP message with its `Content-Length` header.
async fn send(w: &mut (impl tokio::io::AsyncWrite + Unpin), msg: serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let body = msg.to_string();
    let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    w.write_all(framed.as_bytes()).await.unwrap();
}

/// The next message from the server.
async fn receive(r: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> serde_json::Value {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The response to request `id`, skipping notifications (published diagnostics) on the way.
async fn response(r: &mut (impl tokio::io::AsyncBufRead + Unpin), id: i64) -> serde_json::Value {
    loop {
        let msg = receive(r).await;
        if msg["id"] == id && msg.get("method").is_none() {
            return msg;
        }
    }
}

#[test]
fn quick_fixes_over_json_rpc() {
    use serde_json::json;
    let text = fixture("checkout.chaos").replace("< 800ms", "< 800 ms");
    let typo = LineIndex::new(&text).position(text.find("800 ms").unwrap() + 4);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut to_server, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, from_server) = tokio::io::duplex(1 << 20);
        let mut from_server = tokio::io::BufReader::new(from_server);
        let server = tokio::spawn(chaos_lsp::serve(server_in, server_out));
        let uri = "file:///w/fix.chaos";
        send(
            &mut to_server,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
        )
        .await;
        let init = response(&mut from_server, 1).await;
        assert_eq!(
            init["result"]["capabilities"]["codeActionProvider"]["codeActionKinds"],
            json!(["quickfix"])
        );
        send(
            &mut to_server,
            json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        )
        .await;
        send(
            &mut to_server,
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": uri, "languageId": "chaos", "version": 1, "text": text}}}),
        )
        .await;
        let at = json!({"line": typo.line, "character": typo.character});
        send(
            &mut to_server,
            json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeAction", "params": {
                "textDocument": {"uri": uri},
                "range": {"start": at, "end": at},
                "context": {"diagnostics": []}}}),
        )
        .await;
        let actions = response(&mut from_server, 2).await["result"].clone();
        assert_eq!(actions.as_array().unwrap().len(), 1, "{actions:#}");
        let action = &actions[0];
        assert_eq!(action["kind"], "quickfix");
        assert_eq!(action["diagnostics"][0]["code"], "E0001");
        let edit = &action["edit"]["changes"][uri][0];
        assert_eq!(edit["newText"], "");
        let lines = LineIndex::new(&text);
        let pos = |p: &serde_json::Value| {
            lines.offset(Position::new(
                u32::try_from(p["line"].as_u64().unwrap()).unwrap(),
                u32::try_from(p["character"].as_u64().unwrap()).unwrap(),
            ))
        };
        let (start, end) = (pos(&edit["range"]["start"]), pos(&edit["range"]["end"]));
        let mut fixed = text.clone();
        fixed.replace_range(start..end, "");
        assert_eq!(fixed, fixture("checkout.chaos"));
        drop(to_server);
        server.abort();
    });
}
