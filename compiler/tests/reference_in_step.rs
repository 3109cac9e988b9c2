//! Keeps the written language reference (`docs/language.md`) and the shipped scenarios
//! (`scenarios/`) in step with the grammar and the checker.
//!
//! Code blocks in `docs/language.md` are tagged by what they hold:
//! - ```` ```chaos ```` a whole file (top-level items): it must parse;
//! - ```` ```chaos check ```` a complete scenario: it must also pass the checker with no error
//!   and no warning;
//! - ```` ```chaos fragment CONTEXT ```` a piece that only makes sense inside a block. It is
//!   wrapped in a minimal enclosing item chosen by CONTEXT (`scenario`, `service`, `steps`,
//!   `policies`, `workload`, `actions`, `expect`) and must then parse;
//! - ```` ```chaos invalid ```` an example of what is NOT accepted: it must fail to parse.
//!
//! Any other tag starting with `chaos` fails the test, so a typo cannot silently skip a block.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chaos_compiler::{Compiled, compile, render};
use chaos_grammar::{KEYWORDS, parse};
use chaos_test_support::{FsLoader, chaos_files, repo_root, scenario_corpus, scenarios_dir};

fn reference() -> String {
    let path = repo_root().join("docs/language.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A fenced code block of the reference.
#[derive(Debug)]
struct Block {
    /// The info string after the opening fence, e.g. `chaos fragment steps`.
    info: String,
    body: String,
    /// 1-based line of the opening fence, for messages.
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Block {
                        info: info.trim().to_string(),
                        body: String::new(),
                        line: i + 1,
                    });
                }
            }
            Some(block) => {
                if trimmed.starts_with("```") {
                    out.extend(open.take());
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
        }
    }
    assert!(
        open.is_none(),
        "docs/language.md: a code block is never closed"
    );
    out
}

fn chaos_blocks(markdown: &str) -> Vec<Block> {
    blocks(markdown)
        .into_iter()
        .filter(|b| b.info.split_whitespace().next() == Some("chaos"))
        .collect()
}

/// What a block must do, from its tag.
#[derive(Debug, PartialEq)]
enum Kind {
    File,
    Check,
    Fragment(&'static str),
    Invalid,
}

fn kind(block: &Block) -> Result<Kind, String> {
    let words: Vec<&str> = block.info.split_whitespace().collect();
    match words.as_slice() {
        ["chaos"] => Ok(Kind::File),
        ["chaos", "check"] => Ok(Kind::Check),
        ["chaos", "invalid"] => Ok(Kind::Invalid),
        ["chaos", "fragment", ctx] => FRAGMENT_CONTEXTS
            .iter()
            .find(|(name, _, _)| name == ctx)
            .map(|(name, _, _)| Kind::Fragment(name))
            .ok_or_else(|| format!("unknown fragment context `{ctx}`")),
        _ => Err(format!("unknown tag `{}`", block.info)),
    }
}

/// Fragment context: the text put before and after the fragment so that it parses as a file.
const FRAGMENT_CONTEXTS: &[(&str, &str, &str)] = &[
    ("scenario", "scenario \"s\" {\n", "}\n"),
    ("service", "service s {\n", "}\n"),
    ("steps", "service s {\nendpoint \"e\" {\n", "}\n}\n"),
    (
        "policies",
        "service s {\nendpoint \"e\" {\ncall t \"e\" {\n",
        "}\n}\n}\n",
    ),
    ("workload", "workload w {\n", "}\n"),
    ("actions", "fault f at 1s {\n", "}\n"),
    ("expect", "expect {\n", "}\n"),
];

fn wrapped(block: &Block, ctx: &str) -> String {
    let (_, before, after) = FRAGMENT_CONTEXTS
        .iter()
        .find(|(name, _, _)| *name == ctx)
        .expect("known context");
    format!("{before}{}{after}", block.body)
}

/// The text of a block as the parser should see it.
fn parse_text(block: &Block, kind: &Kind) -> String {
    match kind {
        Kind::Fragment(ctx) => wrapped(block, ctx),
        _ => block.body.clone(),
    }
}

fn diagnostics_text(compiled: &Compiled) -> String {
    render::render_all_plain(&compiled.diagnostics, &compiled.sources)
}

#[test]
fn every_chaos_block_in_the_reference_is_tagged_and_parses() {
    let doc = reference();
    let blocks = chaos_blocks(&doc);
    assert!(
        blocks.len() >= 20,
        "the reference should show every construct; found {} blocks",
        blocks.len()
    );
    let mut failures = Vec::new();
    for block in &blocks {
        let kind = match kind(block) {
            Ok(k) => k,
            Err(e) => {
                failures.push(format!("line {}: {e}", block.line));
                continue;
            }
        };
        let text = parse_text(block, &kind);
        match (&kind, parse(&text)) {
            (Kind::Invalid, Ok(_)) => failures.push(format!(
                "line {}: marked `chaos invalid` but parses:\n{}",
                block.line, block.body
            )),
            (Kind::Invalid, Err(_)) => {}
            (_, Err(e)) => failures.push(format!(
                "line {}: does not parse ({kind:?}): {e:?}\n{text}",
                block.line
            )),
            (_, Ok(_)) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "docs/language.md:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn complete_examples_in_the_reference_pass_the_checker() {
    let doc = reference();
    let checked: Vec<Block> = chaos_blocks(&doc)
        .into_iter()
        .filter(|b| kind(b) == Ok(Kind::Check))
        .collect();
    assert!(
        !checked.is_empty(),
        "the reference should hold at least one complete scenario"
    );
    let mut failures = Vec::new();
    for block in &checked {
        let compiled = chaos_compiler::compile_str("reference.chaos", &block.body, &[]);
        if !compiled.diagnostics.is_empty() {
            failures.push(format!(
                "line {}:\n{}",
                block.line,
                diagnostics_text(&compiled)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "docs/language.md:\n{}",
        failures.join("\n")
    );
}

/// Words of `text` in the identifier alphabet of the language.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

#[test]
fn every_keyword_is_documented_and_shown_in_an_example() {
    let doc = reference();
    let examples: String = chaos_blocks(&doc)
        .iter()
        .filter(|b| !matches!(kind(b), Ok(Kind::Invalid) | Err(_)))
        .map(|b| b.body.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // Example code without its comments: a keyword must be used, not mentioned.
    let code: String = examples
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let used: std::collections::BTreeSet<&str> = words(&code).collect();
    let mut missing_prose = Vec::new();
    let mut missing_example = Vec::new();
    for kw in KEYWORDS {
        // Named in the prose as inline code, e.g. `rate_limit`, or leading a code span such as
        // `circuit_breaker RATIO over D ...`.
        let named = doc.contains(&format!("`{kw}`")) || doc.contains(&format!("`{kw} "));
        if !named {
            missing_prose.push(*kw);
        }
        if !used.contains(kw) {
            missing_example.push(*kw);
        }
    }
    assert!(
        missing_prose.is_empty(),
        "keywords not named (as `code`) in docs/language.md: {missing_prose:?}"
    );
    assert!(
        missing_example.is_empty(),
        "keywords not used in any ```chaos example of docs/language.md: {missing_example:?}"
    );
}

#[test]
fn the_keyword_table_lists_exactly_the_grammar_keywords() {
    // The reference has a table of every keyword between these two markers, one per row as the
    // first cell: it must be the grammar's list, no more and no less.
    let doc = reference();
    let start = doc
        .find("<!-- keywords:start -->")
        .expect("docs/language.md has a <!-- keywords:start --> marker");
    let end = doc
        .find("<!-- keywords:end -->")
        .expect("docs/language.md has a <!-- keywords:end --> marker");
    let table = &doc[start..end];
    let mut listed: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    listed.sort_unstable();
    let mut grammar: Vec<&str> = KEYWORDS.to_vec();
    grammar.sort_unstable();
    assert_eq!(
        listed, grammar,
        "the keyword table of docs/language.md differs from chaos_grammar::KEYWORDS"
    );
}

// ---------------------------------------------------------------------------------------------
// scenarios/

/// Every `.chaos` file directly in `scenarios/` (imported topology lives in sub-folders and is
/// checked through the scenarios that import it).
fn scenario_files() -> Vec<PathBuf> {
    chaos_files(&scenarios_dir())
}

fn check_file(path: &Path, sets: &[(String, String)]) -> Compiled {
    compile(path, &FsLoader, sets)
}

#[test]
fn scenarios_pass_the_checker_without_errors_or_warnings() {
    let files = scenario_files();
    assert!(
        files.len() >= 5,
        "scenarios/ should hold at least five scenarios"
    );
    let mut failures = Vec::new();
    for path in &files {
        let compiled = check_file(path, &[]);
        if !compiled.diagnostics.is_empty() {
            failures.push(format!(
                "{}:\n{}",
                path.display(),
                diagnostics_text(&compiled)
            ));
        } else if compiled.plan.is_none() {
            failures.push(format!(
                "{}: no diagnostic but no plan either",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scenarios_start_with_their_expected_exit_code() {
    for path in scenario_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        let code = first
            .strip_prefix("# expect-exit: ")
            .unwrap_or_else(|| panic!("{}: first line must be `# expect-exit: N`", path.display()));
        assert!(
            matches!(code.trim(), "0" | "1"),
            "{}: a scenario should expect exit 0 or 1, not `{code}`",
            path.display()
        );
    }
}

/// `--set NAME=VALUE` pairs of one command line written in a comment.
fn sets_in(line: &str) -> Vec<(String, String)> {
    let mut sets = Vec::new();
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--set"
            && let Some((k, v)) = words.next().and_then(|kv| kv.split_once('='))
        {
            sets.push((k.to_string(), v.to_string()));
        }
    }
    sets
}

#[test]
fn set_overrides_shown_in_scenario_comments_are_valid() {
    // The comments show commands such as `chaos run scenarios/shop.chaos --sim --set peak=450/s`:
    // each must name a declared param with a value of the right unit.
    let mut seen = 0;
    let mut failures = Vec::new();
    for path in scenario_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| l.trim_start().starts_with('#')) {
            let sets = sets_in(line);
            if sets.is_empty() {
                continue;
            }
            seen += 1;
            let compiled = check_file(&path, &sets);
            if compiled.has_errors() {
                failures.push(format!(
                    "{}: `{}`:\n{}",
                    path.display(),
                    line.trim(),
                    diagnostics_text(&compiled)
                ));
            }
        }
    }
    assert!(
        seen >= 3,
        "the scenarios should show a few `--set` commands; found {seen}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_imported_file_is_checked_through_a_scenario() {
    // Files in sub-folders (shared topology) are not run on their own; each must be loaded by
    // at least one scenario, or nothing would check it.
    let mut loaded = std::collections::BTreeMap::<PathBuf, usize>::new();
    for path in scenario_files() {
        let compiled = check_file(&path, &[]);
        for (_, source) in compiled.sources.iter() {
            if let Ok(p) = source.path.canonicalize() {
                *loaded.entry(p).or_default() += 1;
            }
        }
    }
    let files = scenario_corpus();
    // A sub-folder may also hold standalone scenarios (first line `# expect-exit:`, e.g.
    // `scenarios/sim-vs-real/`): nothing imports them, so they are checked here directly.
    let unchecked: Vec<&PathBuf> = files
        .iter()
        .filter(|f| !loaded.contains_key(&f.canonicalize().unwrap()))
        .filter(|f| {
            let standalone = std::fs::read_to_string(f)
                .unwrap()
                .starts_with("# expect-exit:");
            if standalone {
                let compiled = check_file(f, &[]);
                assert!(
                    compiled.diagnostics.is_empty() && compiled.plan.is_some(),
                    "{}:\n{}",
                    f.display(),
                    diagnostics_text(&compiled)
                );
            }
            !standalone
        })
        .collect();
    assert!(
        unchecked.is_empty(),
        "files no scenario imports: {unchecked:?}"
    );
    let shared = repo_root()
        .join("scenarios/topology/shop-services.chaos")
        .canonicalize()
        .unwrap();
    assert!(
        loaded.get(&shared).copied().unwrap_or(0) >= 2,
        "topology/shop-services.chaos should be shared by two scenarios"
    );
}

/// Scenarios whose owner has not run `chaos fmt` on them yet (the simulator's reference model,
/// kept line by line beside its SimPy twin). Remove names from here once they are formatted.
const NOT_YET_FORMATTED: &[&str] = &["ms-ref-1.chaos"];

#[test]
fn scenarios_are_in_the_canonical_layout() {
    // Users copy these files; `chaos fmt --check` on a copy must pass.
    let files = scenario_corpus();
    let mut differ = Vec::new();
    // `scenarios/spec/` holds the spec's examples as the spec wrote them (their trailing
    // comments aligned by hand): grammar/tests/format.rs checks they differ in nothing else.
    let verbatim = repo_root().join("scenarios/spec");
    for path in files {
        if path
            .file_name()
            .is_some_and(|n| NOT_YET_FORMATTED.iter().any(|x| n == *x))
            || path.starts_with(&verbatim)
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let formatted = chaos_grammar::format::format_source(&text)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        if formatted != text {
            differ.push(path);
        }
    }
    assert!(
        differ.is_empty(),
        "not in the canonical layout (run `chaos fmt` on them): {differ:?}"
    );
}
