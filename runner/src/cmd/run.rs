//! `chaos run`: compile a scenario, run it (simulated by default, as local processes, or on
//! Kubernetes), judge its expectations and write the reports.
//! Exit: 0 every expectation held, 1 one failed or an abort fired, 2 invalid, 3 could not run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos_plan::Plan;
use chaos_report::{
    Recording, Report, html, junit, markdown, multi, terminal, write::atomic_write,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exit;
use crate::live::Hub;
use crate::live::server::Dashboard;
use crate::live::terminal::{Style, View};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario to run.
    pub file: PathBuf,
    /// Simulate (the default): deterministic, nothing to install.
    #[arg(long, conflicts_with_all = ["local", "cluster"])]
    pub sim: bool,
    /// Run agents as processes on 127.0.0.1, with real load.
    #[arg(long, conflicts_with = "cluster")]
    pub local: bool,
    /// Run on the Kubernetes cluster of your kubeconfig.
    #[arg(long)]
    pub cluster: bool,
    /// Seed of the run (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
    /// Simulate N seeds (seed, seed+1, …) in parallel and report each expectation's distribution.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs: u32,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH.json")]
    pub report: Option<PathBuf>,
    /// Write JUnit XML here (one test case per expectation).
    #[arg(long, value_name = "PATH.xml")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "PATH.html")]
    pub html: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. "$GITHUB_STEP_SUMMARY").
    #[arg(long = "summary-md", value_name = "PATH.md")]
    pub summary_md: Option<PathBuf>,
    /// --cluster: kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
    /// --cluster: namespace to create for the run.
    #[arg(long)]
    pub namespace: Option<String>,
    /// --cluster: keep the namespace after the run (faults are still reverted).
    #[arg(long)]
    pub keep: bool,
    /// --cluster: the agent and load generator image (default: the one matching this version).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// --cluster: load generator Pods, each sending an equal share of every workload
    /// (default: the peak offered rate over 50,000/s per Pod, at least 1).
    #[arg(long, value_name = "N", value_parser = super::loadgen_pods)]
    pub loadgen_pods: Option<u32>,
    /// --cluster: refuse to run unless --context names the cluster. Also on when the
    /// environment sets CHAOS_REQUIRE_CONTEXT=1, so a shared CI config can demand it.
    #[arg(long)]
    pub require_context: bool,
    /// Print nothing while the run goes (no live view, no progress bar); the verdict still prints.
    #[arg(short, long)]
    pub quiet: bool,
    /// Serve a live dashboard of the run at ADDR (default 127.0.0.1:5665): `/` the page,
    /// `/events` its pushed updates, `/metrics` the run in Prometheus format, `/report` at the end.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DASHBOARD_ADDR)]
    pub dashboard: Option<String>,
    /// Keep serving the dashboard after the run, until Ctrl-C.
    #[arg(long, requires = "dashboard")]
    pub dashboard_keep: bool,
    /// When stderr is not a terminal, print the live view as one line every this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_every)]
    pub live_every: f64,
}

const DASHBOARD_ADDR: &str = "127.0.0.1:5665";

fn parse_every(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.1 => Ok(v),
        _ => Err(format!("`{s}`: a number of seconds, at least 0.1")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sim,
    Local,
    Cluster,
}

pub fn run(args: Args) -> u8 {
    let mode = if args.local {
        Mode::Local
    } else if args.cluster {
        Mode::Cluster
    } else {
        Mode::Sim
    };
    if mode != Mode::Sim && args.runs > 1 {
        eprintln!(
            "error: --runs needs --sim (each seed of a real run takes the scenario's full duration)"
        );
        return exit::INVALID;
    }
    if mode != Mode::Cluster
        && (args.context.is_some()
            || args.namespace.is_some()
            || args.keep
            || args.image.is_some()
            || args.loadgen_pods.is_some()
            || args.require_context)
    {
        eprintln!(
            "error: --context, --namespace, --keep, --image, --loadgen-pods and --require-context apply to --cluster only"
        );
        return exit::INVALID;
    }
    if args.dashboard.is_some() && args.runs > 1 {
        eprintln!("error: --dashboard shows one run; it does not combine with --runs");
        return exit::INVALID;
    }
    let plan = match super::compile::load_plan(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(plan.scenario.seed);

    let mode_name = match mode {
        Mode::Sim => "sim",
        Mode::Local => "local",
        Mode::Cluster => "cluster",
    };
    let hub = Hub::new(&plan, mode_name, seed);
    let dashboard = match &args.dashboard {
        Some(addr) => match Dashboard::start(hub.clone(), addr) {
            Ok(d) => {
                if !args.quiet {
                    eprintln!("dashboard: http://{}/", d.addr);
                }
                Some(d)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        },
        None => None,
    };
    // The live view of a real run; the simulator has its progress bar.
    let view = (mode != Mode::Sim && !args.quiet).then(|| {
        let style = if std::io::stderr().is_terminal() {
            Style::Tty
        } else {
            Style::Plain {
                every: Duration::from_secs_f64(args.live_every),
            }
        };
        View::start(hub.clone(), style)
    });
    let say: Arc<dyn Fn(&str) + Send + Sync> = match &view {
        Some(v) => Arc::new(v.printer()),
        None => Arc::new(|line: &str| eprintln!("{line}")),
    };

    let recordings = match mode {
        Mode::Sim if args.runs > 1 => simulate_many(&plan, seed, args.runs, args.quiet),
        Mode::Sim => simulate_one(&plan, seed, args.quiet).map(|r| vec![r]),
        Mode::Local => run_local_watched(&plan, seed, Some(&hub), say).map(|r| vec![r]),
        Mode::Cluster => run_cluster(&plan, seed, &args, &hub, say).map(|r| vec![r]),
    };
    if let Some(v) = view {
        v.stop();
    }
    let recordings = match recordings {
        Ok(r) => r,
        Err(code) => return code,
    };
    if mode == Mode::Sim
        && dashboard.is_some()
        && let Some(rec) = recordings.first()
    {
        // A simulated run has no clock to watch: the dashboard gets its windows at once.
        let observer = hub.observer();
        for (i, w) in rec.windows.iter().enumerate() {
            observer.window(i, w);
        }
    }

    let mut reports = Vec::with_capacity(recordings.len());
    for rec in &recordings {
        match chaos_report::report(&plan, rec) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("error: cannot evaluate the run: {e}");
                return exit::CANNOT_RUN;
            }
        }
    }
    let Some(report) = multi::combine(reports) else {
        eprintln!("error: the run produced no recording");
        return exit::CANNOT_RUN;
    };

    print!("{}", terminal::render(&report, super::color::stdout()));

    if let Err(code) = write_outputs(&plan, &report, &args) {
        return code;
    }
    if let Some(d) = dashboard {
        hub.finish(report.passed, html::render(&report));
        d.let_pages_finish();
        if args.dashboard_keep {
            eprintln!(
                "dashboard: http://{}/ shows the report until Ctrl-C (--dashboard-keep)",
                d.addr
            );
            d.serve_until_interrupted();
        }
    }
    if report.passed {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// A progress bar on stderr that appears only once a run has taken over a second, and only
/// on a terminal.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    /// Off the terminal every update is skipped, so the callback costs nothing.
    tty: bool,
    last: u64,
}

impl Progress {
    fn new(len: u64, message: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:40}] {percent:>3}% {elapsed}, ~{eta} left")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        Progress {
            bar,
            started: Instant::now(),
            shown: false,
            tty: std::io::stderr().is_terminal(),
            last: 0,
        }
    }

    fn set(&mut self, pos: u64) {
        if !self.tty || pos == self.last {
            return;
        }
        self.last = pos;
        if !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        self.bar.set_position(pos);
    }

    fn done(self) {
        self.bar.finish_and_clear();
    }
}

fn simulate_one(plan: &Plan, seed: u64, quiet: bool) -> Result<Recording, u8> {
    // The bar follows the expected share of the requests sent, not of simulated time, so that
    // its time left holds when the load ramps up or spikes late in the run.
    let curve = chaos_compiler::estimate::Curve::new(plan);
    let total = curve.requests_by(plan.scenario.duration_s);
    let horizon = plan.scenario.duration_s + plan.scenario.drain_s;
    let mut progress = Progress::new(1000, "simulating");
    let result = chaos_sim::simulate_with_progress(plan, seed, &mut |f| {
        let done = if total > 0.0 {
            curve.requests_by(f * horizon) / total
        } else {
            f
        };
        if !quiet {
            progress.set((done.clamp(0.0, 1.0) * 1000.0) as u64)
        }
    });
    progress.done();
    result.map_err(|e| {
        eprintln!("error: {e}");
        exit::CANNOT_RUN
    })
}

fn simulate_many(plan: &Plan, seed: u64, runs: u32, quiet: bool) -> Result<Vec<Recording>, u8> {
    let seeds: Vec<u64> = (0..u64::from(runs)).map(|k| seed.wrapping_add(k)).collect();
    // simulate_many reports no progress; a spinner on a terminal says the tool is working.
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() && !quiet {
        spinner.set_draw_target(ProgressDrawTarget::stderr());
        spinner.set_message(format!("simulating {runs} seeds on every core"));
        spinner.enable_steady_tick(Duration::from_millis(120));
    }
    let results = chaos_sim::simulate_many(plan, &seeds);
    spinner.finish_and_clear();
    results
        .into_iter()
        .zip(&seeds)
        .map(|(r, s)| {
            r.map_err(|e| {
                eprintln!("error: seed {s}: {e}");
                exit::CANNOT_RUN
            })
        })
        .collect()
}

pub(super) type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// A local run without a live view (warnings straight to stderr).
pub(super) fn run_local(plan: &Plan, seed: u64) -> Result<Recording, u8> {
    run_local_watched(plan, seed, None, Arc::new(|line: &str| eprintln!("{line}")))
}

fn run_local_watched(
    plan: &Plan,
    seed: u64,
    hub: Option<&Arc<Hub>>,
    say: Say,
) -> Result<Recording, u8> {
    let chaos_bin = std::env::current_exe().map_err(|e| {
        eprintln!("error: cannot find the chaos executable to start agents from: {e}");
        exit::CANNOT_RUN
    })?;
    let options = chaos_local::Options {
        seed,
        chaos_bin,
        warn: chaos_local::Warn::new(move |line| say(&format!("warning: {line}"))),
        observer: hub.map(|h| h.observer()),
    };
    chaos_local::run(plan, &options).map_err(|e| {
        eprintln!("error: {e}");
        exit::CANNOT_RUN
    })
}

fn run_cluster(
    plan: &Plan,
    seed: u64,
    args: &Args,
    hub: &Arc<Hub>,
    say: Say,
) -> Result<Recording, u8> {
    let options = chaos_cluster::Options {
        seed,
        context: args.context.clone(),
        namespace: args.namespace.clone(),
        keep: args.keep,
        image: args.image.clone(),
        require_context: args.require_context
            || std::env::var("CHAOS_REQUIRE_CONTEXT").is_ok_and(|v| v == "1"),
        progress: chaos_cluster::Progress::new(move |line| say(line)),
        observer: Some(hub.observer()),
        loadgen_pods: args.loadgen_pods,
        ..Default::default()
    };
    chaos_cluster::run(plan, &options).map_err(|e| {
        eprintln!("error: {e}");
        exit::CANNOT_RUN
    })
}

fn write_outputs(plan: &Plan, report: &Report, args: &Args) -> Result<(), u8> {
    let save = |path: &Path, what: &str, contents: &str| {
        atomic_write(path, contents.as_bytes()).map_err(|e| {
            eprintln!("error: cannot write the {what} to {}: {e}", path.display());
            exit::CANNOT_RUN
        })
    };
    if let Some(p) = &args.report {
        save(p, "JSON report", &report.to_json())?;
    }
    if let Some(p) = &args.junit {
        let aborts: Vec<String> = plan.aborts.iter().map(|a| a.text.clone()).collect();
        let xml = junit::render(report, &aborts).map_err(|e| {
            eprintln!("error: {e}");
            exit::CANNOT_RUN
        })?;
        save(p, "JUnit report", &xml)?;
    }
    if let Some(p) = &args.summary_md {
        save(p, "Markdown summary", &markdown::render(report))?;
    }
    if let Some(p) = &args.html {
        save(p, "HTML report", &html::render(report))?;
    }
    Ok(())
}
