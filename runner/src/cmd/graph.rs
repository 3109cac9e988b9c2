//! `chaos graph`: the call graph of a scenario as Mermaid or Graphviz dot, on stdout.

use std::path::PathBuf;

use super::compile::load_plan;
use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
}

pub fn run(args: Args) -> u8 {
    let plan = match load_plan(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let text = match args.format {
        Format::Mermaid => chaos_compiler::graph::mermaid(&plan),
        Format::Dot => chaos_compiler::graph::dot(&plan),
    };
    print!("{text}");
    exit::OK
}
