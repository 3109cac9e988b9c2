//! The formatter: snapshots of `fixtures/fmt/*.chaos`, and on every fixture and spec example:
//! formatting is idempotent, keeps every comment, and the result parses to the same tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use chaos_grammar::format::format_source;
use chaos_test_support::{chaos_files, scenario_corpus, spec_examples_dir};

#[test]
fn fmt_fixtures() {
    insta::glob!("fixtures/fmt/*.chaos", |path| {
        let src = fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(format_source(&src).unwrap());
    });
}

/// The parser's and formatter's fixtures and every scenario of the repository.
fn all_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = chaos_files(&root.join("tests/fixtures/parse/ok"));
    files.extend(chaos_files(&root.join("tests/fixtures/fmt")));
    files.extend(scenario_corpus());
    files.sort();
    assert!(files.len() > 20);
    files
}

#[test]
fn fmt_is_idempotent_and_keeps_the_tree() {
    let mut failures = Vec::new();
    for path in all_sources() {
        let src = fs::read_to_string(&path).unwrap();
        if let Err(e) = chaos_grammar::parse(&src) {
            failures.push(format!("{}: does not parse: {e}", path.display()));
        }
        if let Err(e) = support::check_roundtrip(&src) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn spec_examples_are_already_canonical_modulo_blank_lines() {
    // The spec examples are the house style: formatting changes at most their alignment of
    // trailing comments.
    for p in chaos_files(&spec_examples_dir()) {
        let src = fs::read_to_string(&p).unwrap();
        let out = format_source(&src).unwrap();
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(squash(&src), squash(&out), "{}", p.display());
    }
}

/// The parser sees tabs, `\r` and comments as spaces (`comments.rs` blanks them first): a file
/// indented with tabs and saved with CRLF line ends formats exactly like the original.
#[test]
fn tabs_and_crlf_read_like_spaces_and_newlines() {
    for path in all_sources() {
        let src = fs::read_to_string(&path).unwrap();
        let tabbed: String = src
            .lines()
            .map(|l| {
                let indent = l.len() - l.trim_start_matches(' ').len();
                format!("{}{}\r\n", "\t".repeat(indent.div_ceil(2)), &l[indent..])
            })
            .collect();
        assert_eq!(
            format_source(&tabbed).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            format_source(&src).unwrap(),
            "{}",
            path.display()
        );
    }
}
