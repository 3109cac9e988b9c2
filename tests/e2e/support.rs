//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `chaos` binary cargo built for these tests.
pub fn chaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chaos"))
}

/// Repository root (the parent of `runner/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scenarios/spec/`: the spec's examples, copied into the repository.
pub fn spec_examples() -> PathBuf {
    repo_root().join("scenarios/spec")
}

pub fn run(args: &[&str]) -> Output {
    chaos().args(args).output().expect("chaos binary runs")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}
