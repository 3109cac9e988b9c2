//! `chaos fmt`: print, check or rewrite scenarios in the canonical layout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chaos_compiler::SourceMap;
use chaos_grammar::ParseError;
use chaos_grammar::format::format_source;

use super::compile::{MessageFormat, print_diagnostic};
use super::exit;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Output: with one file, its canonical layout is printed as is. With several files, each is \
preceded by a `==> PATH <==` line and separated from the next by a blank line.

--check prints nothing but the paths of the files that are not in the canonical layout, one \
per line on stdout, and exits 1 if there is any.
--write rewrites each file that changes (through a temporary file and a rename, so a file is \
never left half written) and prints the paths it rewrote.

`-` as a FILE reads standard input (not with --write).

Exit codes: 0 done (or every file already canonical with --check), 1 --check found a file to \
reformat, 2 a file does not parse or can not be read or written.")]
pub struct Args {
    /// Do not print or write: list the files whose layout would change, and exit 1 if any.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Rewrite the files in place instead of printing them.
    #[arg(long)]
    pub write: bool,
    /// Scenario files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// What happened to one file.
enum Outcome {
    Unchanged,
    Changed,
    Failed,
}

pub fn run(args: Args) -> u8 {
    if args.write && args.files.iter().any(|f| f.as_os_str() == "-") {
        eprintln!("error: `--write` can not rewrite standard input (`-`)");
        return exit::INVALID;
    }
    let several = args.files.len() > 1;
    let mut changed = 0;
    let mut failed = 0;
    for (i, path) in args.files.iter().enumerate() {
        let outcome = one_file(&args, path, several && i > 0, several);
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Changed => changed += 1,
            Outcome::Failed => failed += 1,
        }
    }
    if failed > 0 {
        exit::INVALID
    } else if args.check && changed > 0 {
        eprintln!(
            "{changed} file{} would be reformatted (run `chaos fmt --write`)",
            if changed == 1 { "" } else { "s" }
        );
        exit::FAILED
    } else {
        exit::OK
    }
}

fn read(path: &Path) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}

fn one_file(args: &Args, path: &Path, blank_before: bool, header: bool) -> Outcome {
    let source = match read(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: can not read `{}`: {e}", path.display());
            return Outcome::Failed;
        }
    };
    let formatted = match format_source(&source) {
        Ok(f) => f,
        Err(e) => {
            print_parse_error(path, &source, &e);
            return Outcome::Failed;
        }
    };
    let changed = formatted != source;
    if args.check {
        if changed {
            println!("{}", path.display());
            return Outcome::Changed;
        }
        return Outcome::Unchanged;
    }
    if args.write {
        if !changed {
            return Outcome::Unchanged;
        }
        return match write_atomically(path, &formatted) {
            Ok(()) => {
                println!("formatted {}", path.display());
                Outcome::Changed
            }
            Err(e) => {
                eprintln!("error: can not write `{}`: {e}", path.display());
                Outcome::Failed
            }
        };
    }
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    if blank_before {
        text.push('\n');
    }
    if header {
        text.push_str(&format!("==> {} <==\n", path.display()));
    }
    text.push_str(&formatted);
    if out.write_all(text.as_bytes()).is_err() {
        // A closed pipe (`chaos fmt a.chaos | head`) is not an error of the file.
        return Outcome::Unchanged;
    }
    if changed {
        Outcome::Changed
    } else {
        Outcome::Unchanged
    }
}

/// Writes `text` next to `path` and renames it over `path`: readers see the old or the new
/// file, never a partial one. Keeps the file's permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.fmt-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The parse error drawn like every other diagnostic (source excerpt, `file:line:col`).
fn print_parse_error(path: &Path, source: &str, e: &ParseError) {
    let mut sources = SourceMap::new();
    let id = sources.add(
        path.to_path_buf(),
        path.display().to_string(),
        source.to_string(),
    );
    print_diagnostic(
        &chaos_compiler::parse_diagnostic(id, e),
        &sources,
        MessageFormat::Human,
    );
}
