//! Every scenario in the shared spec's `examples/` folder parses.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

#[test]
fn spec_examples_parse() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
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
