//! The `chaos` command line: parses arguments and hands each subcommand to its module.
//! Exit codes (the contract CI scripts rely on): 0 ok, 1 an expectation failed or abort fired,
//! 2 invalid scenario or command line, 3 the run could not be carried out.

mod cmd;
mod live;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version with exit 0 and usage errors with 2, as we want.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    cmd::dispatch(cli)
}
