//! Helpers shared by the end-to-end tests: the `chaos` binary cargo built for them (only this
//! package's tests know its path); the rest comes from `chaos-test-support`.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub use chaos_test_support::browser;
pub use chaos_test_support::spec_examples_dir as spec_examples;
pub use chaos_test_support::{
    Reap, Scratch, chaos_files, free_port, http, repo_root, scenarios_dir, scratch, wait_until,
};

/// The `chaos` binary cargo built for these tests.
pub fn chaos_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chaos"))
}

/// A command running [`chaos_bin`].
pub fn chaos() -> Command {
    Command::new(chaos_bin())
}

pub fn run(args: &[&str]) -> Output {
    chaos().args(args).output().expect("chaos binary runs")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}
