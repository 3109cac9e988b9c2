//! Subcommands, one module each.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod check;
mod cleanup;
mod color;
mod compare;
mod compile;
mod debug;
mod explore;
mod fidelity;
mod fmt;
mod graph;
mod lsp;
mod run;
mod sweep;

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const CANNOT_RUN: u8 = 3;
}

#[derive(Debug, Parser)]
#[command(
    name = "chaos",
    version,
    about = "Declarative chaos engineering: check, compile and run .chaos scenarios"
)]
pub struct Cli {
    /// Colour: `auto` (on a terminal; `NO_COLOR` turns it off, `CLICOLOR_FORCE` on),
    /// `always` or `never`; wins over the environment.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub color: color::When,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check scenarios; diagnostics go to stderr.
    Check(check::Args),
    /// Print the canonical layout of scenarios (or check it with --check).
    Fmt(fmt::Args),
    /// Compile a scenario to a simulation plan or Kubernetes manifests.
    Compile(compile::Args),
    /// Run a scenario: simulated, as local processes, or on Kubernetes.
    Run(run::Args),
    /// Sweep a param over a range in the simulator and find where each expectation breaks.
    Sweep(sweep::Args),
    /// Search fault schedules in the simulator for one that breaks an expectation, and shrink it.
    Explore(explore::Args),
    /// Draw the call graph of a scenario.
    Graph(graph::Args),
    /// Compare two JSON reports of the same scenario.
    Compare(compare::Args),
    /// Run a scenario in --sim and --local and check that the two modes agree.
    Fidelity(fidelity::Args),
    /// Delete the namespaces of --cluster runs whose runner is gone or whose expiry passed.
    Cleanup(cleanup::Args),
    /// The mock service that --local and --cluster start (one replica of one service).
    Agent(agent::Args),
    /// The load generator that --cluster runs as a Job inside the cluster.
    #[command(hide = true)]
    Loadgen(agent::LoadgenArgs),
    /// Language server over stdio.
    Lsp(lsp::Args),
    /// Print an internal stage (ast, plan) for debugging the compiler.
    #[command(hide = true)]
    Debug(debug::Args),
}

pub fn dispatch(cli: Cli) -> ExitCode {
    color::init(cli.color);
    let code = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Fmt(a) => fmt::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Run(a) => run::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Fidelity(a) => fidelity::run(a),
        Command::Cleanup(a) => cleanup::run(a),
        Command::Agent(a) => agent::run(a),
        Command::Loadgen(a) => agent::run_loadgen(a),
        Command::Lsp(a) => lsp::run(a),
        Command::Debug(a) => debug::run(a),
    };
    ExitCode::from(code)
}

/// `--set NAME=VALUE`, repeated.
pub fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected NAME=VALUE, found `{s}`")),
    }
}

/// `--loadgen-pods N`: 1 to `chaos_k8s::sizing::MAX_PODS`.
pub fn loadgen_pods(s: &str) -> Result<u32, String> {
    let max = chaos_k8s::sizing::MAX_PODS;
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of Pods from 1 to {max}, found `{s}`"
        )),
    }
}

/// Says plainly that a command is not built yet, instead of pretending.
#[allow(dead_code)] // every command is built now; kept for the next one
pub fn not_built(what: &str) -> u8 {
    eprintln!("chaos: {what} is not built yet");
    exit::CANNOT_RUN
}

#[allow(dead_code)]
pub type Files = Vec<PathBuf>;
