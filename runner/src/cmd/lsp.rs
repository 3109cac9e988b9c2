//! `chaos lsp`: the language server over stdin/stdout (see `editors/lsp`).

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accepted and ignored: editors often pass `--stdio`; stdio is the only transport.
    #[arg(long)]
    stdio: bool,
}

pub fn run(_args: Args) -> u8 {
    match chaos_lsp::run_stdio() {
        Ok(()) => super::exit::OK,
        Err(e) => {
            eprintln!("chaos lsp: {e}");
            super::exit::CANNOT_RUN
        }
    }
}
