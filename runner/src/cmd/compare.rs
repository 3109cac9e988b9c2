//! `chaos compare A.json B.json`: two reports of the same scenario side by side, per
//! expectation and per endpoint, with their difference. Exit 0, or 2 when a file is not a report.

use std::path::{Path, PathBuf};

use chaos_report::{Report, compare};

use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Md,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first report (`chaos run --report`).
    pub a: PathBuf,
    /// The second report.
    pub b: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn read(path: &Path) -> Result<Report, u8> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        exit::INVALID
    })?;
    Report::from_json(&text).map_err(|e| {
        eprintln!("error: {} is not a chaos JSON report: {e}", path.display());
        exit::INVALID
    })
}

pub fn run(args: Args) -> u8 {
    let (a, b) = match (read(&args.a), read(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let c = compare::compare(&a, &b);
    match args.format {
        Format::Text => print!("{}", compare::render_text(&c)),
        Format::Md => print!("{}", compare::render_markdown(&c)),
    }
    exit::OK
}
