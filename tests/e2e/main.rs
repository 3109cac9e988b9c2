//! End-to-end tests: run the `chaos` binary as a user would. One module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cli_check;
mod cli_compile;
mod cli_fmt;
mod cluster;
mod color;
mod dashboard;
mod editors_lsp;
mod fidelity;
mod image;
mod live;
mod local;
mod prometheus;
mod readme;
mod reference;
mod reports;
mod resilience_local;
mod run_sim;
mod run_size;
mod scenarios;
mod sweep_explore;
