//! `chaos agent` (one replica of one service, see `runner/agent/API.md`) and the hidden
//! `chaos loadgen` (every workload of a plan against given targets, results as JSON).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chaos_plan::Plan;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The compiled plan (plan.json from `chaos compile --target sim`).
    #[arg(long)]
    plan: PathBuf,
    /// The service this process is one replica of.
    #[arg(long)]
    service: String,
    /// Address to serve on, e.g. 127.0.0.1:4001 or 0.0.0.0:8080.
    #[arg(long)]
    listen: SocketAddr,
    /// Name of this replica in metrics (default: SERVICE-0).
    #[arg(long)]
    replica: Option<String>,
    /// Bearer token of the /_chaos/ control API (prefer --token-env: argv is visible to all).
    #[arg(long, conflicts_with = "token_env")]
    token: Option<String>,
    /// Environment variable holding the control API token.
    #[arg(long)]
    token_env: Option<String>,
    /// A callee replica: SERVICE=URL (repeat; several per service are balanced per the plan).
    #[arg(long = "peer", value_parser = parse_pair)]
    peers: Vec<(String, String)>,
}

#[derive(Debug, clap::Args)]
pub struct LoadgenArgs {
    /// The compiled plan (plan.json).
    #[arg(long)]
    plan: PathBuf,
    /// A target service's base URL: SERVICE=URL (repeat).
    #[arg(long = "target", value_parser = parse_pair, required = true)]
    targets: Vec<(String, String)>,
    /// Control API token: when given, the targets must accept it before load starts.
    #[arg(long, conflicts_with = "token_env")]
    token: Option<String>,
    #[arg(long)]
    token_env: Option<String>,
    /// Seed of arrival times (default: the plan's).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the per-window results (a Recording as JSON); `-` is stdout.
    #[arg(long, default_value = "-")]
    out: String,
    /// How long to wait for every target to answer its health check.
    #[arg(long, default_value_t = 60)]
    ready_timeout_s: u64,
    /// Serve the status API `chaos run --cluster` reads (start instant, windows, stop) here.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Send only share I of N of the load: arrival k of every workload's stream when
    /// k mod N = I, closed-loop user u when u mod N = I (one of N load generators, e.g. the
    /// Pods of an Indexed Job: `--share $(JOB_COMPLETION_INDEX)/N`).
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    share: chaos_agent::loadgen::Share,
    /// With --listen: once the targets are ready, wait for `POST /_chaos/loadgen/start`
    /// (`chaos run --cluster` starts several load generators at one instant).
    #[arg(long, requires = "listen")]
    wait_for_start: bool,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok((
            k.trim().to_string(),
            v.trim().trim_end_matches('/').to_string(),
        )),
        _ => Err(format!("expected SERVICE=URL, found `{s}`")),
    }
}

fn grouped(pairs: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k).or_default().push(v);
    }
    m
}

fn read_plan(path: &PathBuf) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read plan {}: {e}", path.display()))?;
    Plan::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn token_of(token: Option<String>, token_env: Option<String>) -> Result<Option<String>, String> {
    match (token, token_env) {
        (Some(t), _) => Ok(Some(t)),
        (None, Some(var)) => std::env::var(&var)
            .map(Some)
            .map_err(|_| format!("--token-env {var}: the variable is not set")),
        (None, None) => Ok(None),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Real-time workers when CHAOS_REALTIME=1 (chaos_agent::clock::set_realtime_workers).
        .on_thread_park(chaos_agent::clock::on_worker_park)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

pub fn run(args: Args) -> u8 {
    let plan = match read_plan(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("chaos agent: {e}");
            return exit::INVALID;
        }
    };
    let token = match token_of(args.token, args.token_env) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("chaos agent: {e}");
            return exit::INVALID;
        }
    };
    let cfg = chaos_agent::AgentConfig {
        plan,
        replica: args
            .replica
            .unwrap_or_else(|| format!("{}-0", args.service)),
        service: args.service,
        listen: args.listen,
        token,
        peers: grouped(args.peers),
    };
    // Started by `chaos run --local` with stdin piped: when the runner dies (even by
    // SIGKILL) the pipe closes and the agent goes with it, so no process is left behind.
    let exit_with_parent = std::env::var_os("CHAOS_AGENT_EXIT_WITH_STDIN").is_some();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chaos agent: {e}");
            return exit::CANNOT_RUN;
        }
    };
    let result = rt.block_on(async move {
        if exit_with_parent {
            tokio::spawn(async {
                use tokio::io::AsyncReadExt;
                let mut stdin = tokio::io::stdin();
                let mut buf = [0u8; 64];
                while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
                std::process::exit(0);
            });
        }
        chaos_agent::serve(cfg).await
    });
    match result {
        Ok(()) => exit::OK,
        Err(
            e @ (chaos_agent::AgentError::UnknownService { .. }
            | chaos_agent::AgentError::UnknownPeer { .. }),
        ) => {
            eprintln!("chaos agent: {e}");
            exit::INVALID
        }
        Err(e) => {
            eprintln!("chaos agent: {e}");
            exit::CANNOT_RUN
        }
    }
}

pub fn run_loadgen(args: LoadgenArgs) -> u8 {
    let plan = match read_plan(&args.plan) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("chaos loadgen: {e}");
            return exit::INVALID;
        }
    };
    let token = match token_of(args.token, args.token_env) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("chaos loadgen: {e}");
            return exit::INVALID;
        }
    };
    let targets = grouped(args.targets);
    let seed = args.seed.unwrap_or(plan.scenario.seed);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chaos loadgen: {e}");
            return exit::CANNOT_RUN;
        }
    };
    let result = rt.block_on(async {
        if let Some(addr) = args.listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let ready = Duration::from_secs(args.ready_timeout_s);
            let say = |line: &str| eprintln!("chaos loadgen: {line}");
            let options = chaos_cluster::pod::LoadgenOptions {
                seed,
                token: token.clone(),
                ready_timeout: ready,
                share: args.share,
                wait_for_start: args.wait_for_start,
            };
            return chaos_cluster::pod::run_loadgen(plan.clone(), &targets, listener, options, say)
                .await;
        }
        chaos_agent::loadgen::wait_ready(&targets, Duration::from_secs(args.ready_timeout_s))
            .await?;
        if let Some(t) = &token {
            chaos_agent::loadgen::check_token(&targets, t).await?;
        }
        chaos_agent::loadgen::run_shared(plan.clone(), &targets, seed, args.share)
            .await
            .map_err(|e| e.to_string())
    });
    let recording = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chaos loadgen: {e}");
            return exit::CANNOT_RUN;
        }
    };
    let json = serde_json::to_string_pretty(&recording).unwrap_or_default();
    let written = if args.out == "-" {
        writeln!(std::io::stdout(), "{json}")
    } else {
        std::fs::write(&args.out, json + "\n")
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("chaos loadgen: cannot write {}: {e}", args.out);
            exit::CANNOT_RUN
        }
    }
}
