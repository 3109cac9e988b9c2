//! Every spec example (copied into `scenarios/spec/`) parses.
#![allow(clippy::unwrap_used)]

use chaos_test_support::{chaos_files, spec_examples_dir};

#[test]
fn spec_examples_parse() {
    let dir = spec_examples_dir();
    let mut n = 0;
    for path in chaos_files(&dir) {
        let src = std::fs::read_to_string(&path).unwrap();
        match chaos_grammar::parse(&src) {
            Ok(file) => assert!(!file.items.is_empty(), "{}", path.display()),
            Err(e) => {
                let (l, c) = chaos_grammar::line_col(&src, e.span.start);
                panic!(
                    "{}:{l}:{c}: {} (hint: {:?})",
                    path.display(),
                    e.message,
                    e.hint
                );
            }
        }
        n += 1;
    }
    assert!(n >= 3, "found only {n} examples in {}", dir.display());
}
