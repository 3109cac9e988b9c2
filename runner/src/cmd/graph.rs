//! `chaos graph`: the call graph of a scenario (or of a library's services) as Mermaid or
//! Graphviz dot, on stdout.

use std::path::PathBuf;

use super::compile::{Topology, load_topology};
use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (or a library of services).
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
}

pub fn run(args: Args) -> u8 {
    let topology = match load_topology(&args.file, &args.sets) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let text = match (args.format, &topology) {
        (Format::Mermaid, Topology::Plan(plan)) => chaos_compiler::graph::mermaid(plan),
        (Format::Dot, Topology::Plan(plan)) => chaos_compiler::graph::dot(plan),
        (Format::Mermaid, Topology::Library(services)) => {
            chaos_compiler::graph::library_mermaid(services)
        }
        (Format::Dot, Topology::Library(services)) => chaos_compiler::graph::library_dot(services),
    };
    print!("{text}");
    exit::OK
}
