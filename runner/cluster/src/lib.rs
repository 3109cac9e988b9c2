//! `chaos run --cluster`: deploy, inject on schedule, collect, always clean up. The only module that talks to Kubernetes.
//!
//! It only ever touches the namespace it created and objects carrying its run id, and every
//! exit path (success, error, Ctrl-C) reverts the faults it installed and deletes that
//! namespace unless `keep` is set.

pub mod cleanup;
mod collect;
mod connect;
mod error;
mod events;
mod outside;
pub mod pod;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chaos_plan::Plan;
use chaos_report::Recording;

pub use error::ClusterError;
pub use session::TOKEN_HEADER;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub seed: u64,
    /// Kubeconfig context; `None` uses the kubeconfig's current context (unless `require_context`).
    pub context: Option<String>,
    /// Namespace to create (it must not exist); default `chaos-<scenario>-<run id>`.
    pub namespace: Option<String>,
    /// Agent and load generator image; default [`chaos_k8s::DEFAULT_IMAGE`].
    pub image: Option<String>,
    /// Keep the namespace and what runs in it after the run (faults are still reverted).
    pub keep: bool,
    /// Kubeconfig file; default `KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Set when the scenario or a config file says the context must be named: then a missing
    /// `context` is an error instead of the kubeconfig's current context.
    pub require_context: bool,
    /// How long Deployments and the load generator get to become ready; default 5 minutes.
    pub rollout_timeout: Option<Duration>,
    /// Run id labelled on every object; default a random one.
    pub run_id: Option<String>,
    /// Where progress lines go; default `tracing::info!`.
    pub progress: Progress,
    /// Told time 0 and each window as it is read (live views).
    pub observer: Option<chaos_report::live::Observer>,
    /// Load generator Pods; default from the plan's peak offered rate
    /// ([`chaos_k8s::sizing::default_pods`]).
    pub loadgen_pods: Option<u32>,
}

/// Receives one line per step of the run (applied, rollout counts, faults, cleanup).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<ProgressFn>>);

type ProgressFn = dyn Fn(&str) + Send + Sync;

impl Progress {
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Progress {
        Progress(Some(Arc::new(f)))
    }

    pub(crate) fn say(&self, line: &str) {
        match &self.0 {
            Some(f) => f(line),
            None => tracing::info!("{line}"),
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(callback)"
        } else {
            "Progress(tracing)"
        })
    }
}

/// Runs `plan` on the Kubernetes cluster of the user's kubeconfig; Ctrl-C stops it cleanly.
pub fn run(plan: &Plan, options: &Options) -> Result<Recording, ClusterError> {
    // A runtime of our own on a thread of our own works whether or not the caller is async.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        ClusterError::Internal(format!("cannot start the async runtime: {e}"))
                    })?;
                // A second Ctrl-C during cleanup gives up on it: the user may need the terminal back.
                runtime.block_on(run_inner(plan, options, ctrl_c(), ctrl_c()))
            })
            .join()
            .map_err(|_| ClusterError::Internal("the cluster run panicked".to_string()))?
    })
}

/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and CI runners send): both stop the run
/// cleanly, faults reverted and the namespace deleted.
async fn ctrl_c() {
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let int = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: never interrupt.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = int => {}
        () = term => {}
    }
}

/// `chaos cleanup`: deletes the namespaces of runs whose runner is gone or whose expiry passed
/// (see [`cleanup`]); one verdict per chaos namespace found.
pub fn clean_up(options: &cleanup::CleanupOptions) -> Result<Vec<cleanup::Verdict>, ClusterError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClusterError::Internal(format!("cannot start the async runtime: {e}")))?
        .block_on(cleanup::cleanup(options))
}

/// Runs `plan` until it ends or `interrupt` resolves; cleans up either way.
pub async fn run_until(
    plan: &Plan,
    options: &Options,
    interrupt: impl Future<Output = ()>,
) -> Result<Recording, ClusterError> {
    run_inner(plan, options, interrupt, std::future::pending()).await
}

/// Like [`run_until`]; `abandon_cleanup` resolving while cleaning up gives up on the cleanup
/// (what a second Ctrl-C does) and says what may be left behind.
pub async fn run_inner(
    plan: &Plan,
    options: &Options,
    interrupt: impl Future<Output = ()>,
    abandon_cleanup: impl Future<Output = ()>,
) -> Result<Recording, ClusterError> {
    let connection = connect::connect(
        options.kubeconfig.as_deref(),
        options.context.as_deref(),
        options.require_context,
    )
    .await?;
    let run_id = options.run_id.clone().unwrap_or_else(random_run_id);
    let mut plan = plan.clone();
    plan.scenario.seed = options.seed;
    let k8s_options = chaos_k8s::Options {
        image: options
            .image
            .clone()
            .unwrap_or_else(|| chaos_k8s::DEFAULT_IMAGE.to_string()),
        namespace: options.namespace.clone(),
        run_id,
        loadgen_pods: options.loadgen_pods,
    };
    let bundle = chaos_k8s::build(&plan, &k8s_options, &random_token())?;
    let mut session = session::Session::new(connection, &bundle, &plan, options);
    let outcome = tokio::select! {
        r = session.execute() => r,
        () = interrupt => Err(if options.keep {
            ClusterError::InterruptedKept(bundle.namespace.clone())
        } else {
            ClusterError::Interrupted
        }),
    };
    let cleanup = tokio::select! {
        r = session.cleanup(outcome.is_ok()) => r,
        () = abandon_cleanup => Err("interrupted again during cleanup; faults may still be installed".to_string()),
    };
    match (outcome, cleanup) {
        (outcome, Ok(())) => outcome,
        (Ok(_), Err(message)) => Err(ClusterError::Cleanup {
            namespace: bundle.namespace.clone(),
            message,
            cause: None,
        }),
        (Err(e), Err(message)) => Err(ClusterError::Cleanup {
            namespace: bundle.namespace.clone(),
            message,
            cause: Some(e.to_string()),
        }),
    }
}

fn random_run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}
