//! Every spec example (copied into `scenarios/spec/`) parses.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

#[test]
fn spec_examples_parse() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/spec");
    let mut n = 0;
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "chaos") {
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
    }
    assert!(n >= 3, "found only {n} examples in {}", dir.display());
}
