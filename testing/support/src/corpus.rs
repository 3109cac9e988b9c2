//! The scenarios the repository ships, found from its root whichever crate's test asks. A
//! missing folder is a failure, never an empty list: a test must not pass by reading nothing.

use std::path::{Path, PathBuf};

use crate::repo_root;

/// `scenarios/`.
pub fn scenarios_dir() -> PathBuf {
    repo_root().join("scenarios")
}

/// `scenarios/spec/`: the spec's examples, copied into the repository.
pub fn spec_examples_dir() -> PathBuf {
    scenarios_dir().join("spec")
}

/// Every `.chaos` file directly in `dir`, sorted; panics when `dir` cannot be read.
pub fn chaos_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "chaos"))
        .collect();
    files.sort();
    files
}

/// Every `.chaos` file of `scenarios/` and of its sub-folders one level down
/// (`scenarios/*.chaos`, `scenarios/*/*.chaos`), sorted: runnable scenarios and the libraries
/// of shared services they import alike.
pub fn scenario_corpus() -> Vec<PathBuf> {
    let root = scenarios_dir();
    let mut files = chaos_files(&root);
    let entries =
        std::fs::read_dir(&root).unwrap_or_else(|e| panic!("read {}: {e}", root.display()));
    for e in entries {
        let path = e
            .unwrap_or_else(|e| panic!("read {}: {e}", root.display()))
            .path();
        if path.is_dir() {
            files.extend(chaos_files(&path));
        }
    }
    files.sort();
    files
}
