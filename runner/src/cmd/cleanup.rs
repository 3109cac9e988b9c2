//! `chaos cleanup [--older-than D]`: deletes the namespaces of `--cluster` runs whose runner is
//! gone (killed with SIGKILL, its machine lost) or whose expiry passed, and nothing else
//! (`chaos_cluster::cleanup` decides). Exit 0, or 3 when the cluster cannot be reached.

use std::path::PathBuf;
use std::time::Duration;

use chaos_cluster::cleanup::CleanupOptions;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only namespaces created longer ago than this (`30m`, `2h`, `1h30m`).
    #[arg(long, value_name = "D", value_parser = parse_age)]
    pub older_than: Option<f64>,
    /// Kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_age(s: &str) -> Result<f64, String> {
    match chaos_grammar::units::duration(s) {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}`: a duration such as 30m, 2h or 1h30m")),
    }
}

pub fn run(args: Args) -> u8 {
    let options = CleanupOptions {
        kubeconfig: args.kubeconfig,
        context: args.context,
        older_than: args.older_than.map(Duration::from_secs_f64),
        dry_run: args.dry_run,
    };
    match chaos_cluster::clean_up(&options) {
        Ok(verdicts) => {
            let verb = if args.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            for v in &verdicts {
                if v.delete {
                    println!("{verb} namespace {}: {}", v.namespace, v.reason);
                } else {
                    println!("kept namespace {}: {}", v.namespace, v.reason);
                }
            }
            let n = verdicts.iter().filter(|v| v.delete).count();
            println!("{n} of {} chaos namespace(s) {verb}", verdicts.len());
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::CANNOT_RUN
        }
    }
}
