//! `chaos agent` and `chaos loadgen`.

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadgenArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(_args: Args) -> u8 {
    super::not_built("`chaos agent`")
}

pub fn run_loadgen(_args: LoadgenArgs) -> u8 {
    super::not_built("`chaos loadgen`")
}
