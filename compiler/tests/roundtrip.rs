//! The formatter changes layout, never meaning: every fixture, spec example and bundled
//! scenario compiles to the same plan before and after `format_source` (imports included:
//! the loader formats every file it reads).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chaos_compiler::{Loader, compile};
use chaos_test_support::{chaos_files, scenarios_dir, spec_examples_dir};

struct Fs {
    format: bool,
}

impl Loader for Fs {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        let text = std::fs::read_to_string(path)?;
        if !self.format {
            return Ok(text);
        }
        chaos_grammar::format::format_source(&text)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
    }
}

#[test]
fn formatting_keeps_the_plan() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = chaos_files(&root.join("tests/fixtures/ok"));
    files.extend(chaos_files(&scenarios_dir()));
    files.extend(chaos_files(&spec_examples_dir()));
    let mut compared = 0;
    for file in &files {
        let before = compile(file, &Fs { format: false }, &[]);
        let Some(plan) = before.plan else {
            // Not a whole run (e.g. a shared topology); nothing to compare.
            continue;
        };
        let after = compile(file, &Fs { format: true }, &[]);
        assert!(
            !after.has_errors(),
            "{}: {:?}",
            file.display(),
            after.diagnostics
        );
        assert_eq!(after.plan.unwrap(), plan, "{}", file.display());
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} files compared");
}
