//! Test support, not the product: what the workspace's tests share instead of copying it —
//! plans from source text or built in Rust (`plans`), the scenario corpus, scratch folders,
//! ports and HTTP for servers a test starts, child processes reaped on drop, headless
//! Chromium. A dev-dependency only; the `chaos` binary never links it.
//!
//! Its helpers panic with a readable message where a test cannot go on: a panic is how a test
//! fails, and the message is what its reader gets.

pub mod browser;
pub mod corpus;
pub mod net;
pub mod plans;
pub mod process;
pub mod scratch;
pub mod source;

use std::path::{Path, PathBuf};

pub use corpus::{chaos_files, scenario_corpus, scenarios_dir, spec_examples_dir};
pub use net::{free_port, http, wait_until};
pub use process::Reap;
pub use scratch::{Scratch, scratch};
pub use source::{
    DirLoader, FsLoader, compile_source, plan_from_file, plan_from_source, plan_or_library,
};

/// The repository's root folder, whichever crate's test asks.
pub fn repo_root() -> PathBuf {
    // This crate lives at `testing/support/`.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.join("../.."))
}
