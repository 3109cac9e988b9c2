//! `chaos run --local`: agent processes on loopback, real load, faults through the control API.
//!
//! [`run`] starts one `chaos agent` process per replica on free 127.0.0.1 ports, drives the
//! plan's workloads from an in-process load generator, fires every fault at its time, reads
//! the agents' metrics every window, and returns the same [`Recording`] as `--sim`. Whatever
//! happens (an error, Ctrl-C, SIGTERM, a panic, the runner killed), no agent outlives it.

mod collect;
pub mod exits;
mod fleet;
mod health;
pub mod limits;
mod runner;

use std::path::PathBuf;
use std::sync::Arc;

use chaos_plan::Plan;
use chaos_report::Recording;

pub use limits::{Limits, TooLarge};

#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// The `chaos` binary to start agents from (normally the running executable).
    pub chaos_bin: PathBuf,
    /// Where warnings go the moment they happen (an agent that died on its own).
    pub warn: Warn,
    /// Told time 0 and each window as it is read (live views).
    pub observer: Option<chaos_report::live::Observer>,
}

/// Receives one line per warning during the run; without a callback, `tracing::warn!`.
#[derive(Clone, Default)]
pub struct Warn(Option<Arc<WarnFn>>);

type WarnFn = dyn Fn(&str) + Send + Sync;

impl Warn {
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Warn {
        Warn(Some(Arc::new(f)))
    }

    pub(crate) fn say(&self, line: &str) {
        match &self.0 {
            Some(f) => f(line),
            None => tracing::warn!("{line}"),
        }
    }
}

impl std::fmt::Debug for Warn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Warn(callback)"
        } else {
            "Warn(tracing)"
        })
    }
}

/// Measurements of the run itself (not of the system under test), for benchmarks.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// How late each fault start and end took effect against its schedule, in seconds.
    pub fault_lateness_s: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("agent `{agent}` did not start: {reason}{}", stderr_block(.stderr))]
    AgentStart {
        agent: String,
        reason: String,
        stderr: String,
    },
    #[error(
        "agent `{agent}` could not listen on 127.0.0.1:{port}: the port was taken by another process after it was picked; run again"
    )]
    PortTaken { agent: String, port: u16 },
    #[error("cannot {0}: {1}")]
    Io(String, std::io::Error),
    #[error("interrupted by {0}: faults reverted and every agent stopped")]
    Interrupted(&'static str),
    #[error("{0}")]
    Loadgen(#[from] chaos_agent::loadgen::LoadgenError),
}

fn stderr_block(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(
            "\n  its stderr:\n    {}",
            stderr.trim().replace('\n', "\n    ")
        )
    }
}

/// Runs `plan` for real with agent processes on 127.0.0.1.
pub fn run(plan: &Plan, options: &Options) -> Result<Recording, LocalError> {
    run_with_stats(plan, options).map(|(r, _)| r)
}

/// [`run`], also returning how precisely the run kept its schedule.
pub fn run_with_stats(plan: &Plan, options: &Options) -> Result<(Recording, RunStats), LocalError> {
    limits::check(plan, &Limits::from_env())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LocalError::Io("start the async runtime".into(), e))?;
    rt.block_on(run_async(plan, options))
}

async fn run_async(plan: &Plan, options: &Options) -> Result<(Recording, RunStats), LocalError> {
    let dir = std::env::temp_dir().join(format!(
        "chaos-local-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| LocalError::Io(format!("create {}", dir.display()), e))?;
    let token = format!("{:032x}", rand::random::<u128>());
    let result = match fleet::Fleet::new(plan, &options.chaos_bin, &dir, token) {
        Ok(mut fleet) => {
            let r = tokio::select! {
                r = runner::drive(plan, options, &mut fleet) => r,
                sig = interrupted() => Err(LocalError::Interrupted(sig)),
            };
            runner::revert_all(&fleet).await;
            fleet.kill_all().await;
            r
        }
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "Ctrl-C";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
