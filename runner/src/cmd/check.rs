//! `chaos check`: parse and check scenarios; diagnostics on stderr, a summary on stdout.
//! Warnings keep the exit code at 0; any error gives 2.

use std::path::PathBuf;

use super::compile::{MessageFormat, compile_file, print_diagnostics};
use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files to check (each with its imports).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
    /// `short` prints one `file:line:col: error[CODE]: message` line per diagnostic.
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

pub fn run(args: Args) -> u8 {
    let mut failed = 0;
    let mut errors = 0;
    let mut warnings = 0;
    for file in &args.files {
        let compiled = compile_file(file, &args.sets);
        print_diagnostics(&compiled, args.message_format);
        errors += compiled.errors();
        warnings += compiled.warnings();
        if compiled.has_errors() {
            failed += 1;
        } else if compiled.plan.is_none() {
            println!("ok {} (library: no scenario)", file.display());
        } else if compiled.warnings() > 0 {
            println!(
                "ok {} ({})",
                file.display(),
                plural(compiled.warnings(), "warning")
            );
        } else {
            println!("ok {}", file.display());
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {} of {} invalid ({}, {})",
            plural(failed, "file"),
            args.files.len(),
            plural(errors, "error"),
            plural(warnings, "warning")
        );
        exit::INVALID
    } else {
        exit::OK
    }
}
