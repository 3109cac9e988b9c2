//! `chaos debug ast|plan FILE` (hidden): prints one internal stage as JSON, for debugging the
//! compiler and for bug reports.

use std::path::PathBuf;

use super::compile::{MessageFormat, compile_file, print_diagnostics};
use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    /// The syntax tree of every file read (root last).
    Ast,
    /// The resolved plan.
    Plan,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    pub stage: Stage,
    pub file: PathBuf,
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
}

pub fn run(args: Args) -> u8 {
    let compiled = compile_file(&args.file, &args.sets);
    print_diagnostics(&compiled, MessageFormat::Human);
    match args.stage {
        Stage::Ast => {
            let files: Vec<serde_json::Value> = compiled
                .sources
                .iter()
                .filter_map(|(id, f)| {
                    compiled
                        .ast(id)
                        .map(|ast| serde_json::json!({ "file": f.name, "ast": ast }))
                })
                .collect();
            match serde_json::to_string_pretty(&files) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::CANNOT_RUN;
                }
            }
            if compiled
                .ast(compiled.root().unwrap_or(chaos_compiler::FileId(0)))
                .is_none()
            {
                return exit::INVALID;
            }
            exit::OK
        }
        Stage::Plan => match compiled.plan {
            Some(plan) => {
                println!("{}", plan.to_json());
                exit::OK
            }
            None => exit::INVALID,
        },
    }
}
