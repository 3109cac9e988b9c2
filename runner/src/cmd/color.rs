//! Whether to colour an output stream, decided one way for every command: the global
//! `--color` flag, then the environment (`NO_COLOR` when set and non-empty, `CLICOLOR_FORCE`,
//! `CLICOLOR=0`, `TERM=dumb`), then whether the stream is a terminal. anstream implements the
//! conventions; we only hand it the flag and ask per stream, so diagnostics (miette) and the
//! run report cannot disagree.

use anstream::ColorChoice;
use anstream::stream::RawStream;

/// `--color WHEN`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// Colour on a terminal, unless `NO_COLOR` is set (non-empty); `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    /// Always colour, whatever the environment and the stream.
    Always,
    /// Never colour.
    Never,
}

/// Records the flag for the whole process (before any output).
pub fn init(when: When) {
    match when {
        When::Auto => ColorChoice::Auto,
        When::Always => ColorChoice::Always,
        When::Never => ColorChoice::Never,
    }
    .write_global();
}

fn wants<S: RawStream>(stream: &S) -> bool {
    matches!(
        anstream::AutoStream::choice(stream),
        ColorChoice::Always | ColorChoice::AlwaysAnsi
    )
}

/// Colour for what goes to stderr (diagnostics).
pub fn stderr() -> bool {
    wants(&std::io::stderr())
}

/// Colour for what goes to stdout (the run report).
pub fn stdout() -> bool {
    wants(&std::io::stdout())
}
