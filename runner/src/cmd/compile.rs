//! `chaos compile`: a scenario to `plan.json` (sim) or manifests and a fault schedule (k8s).
//! Also home of what every command that reads scenarios shares: the file-system loader,
//! diagnostic printing, and [`load_plan`].

use std::path::{Path, PathBuf};

use chaos_compiler::{Compiled, Diagnostic, Loader, SourceMap, render};

use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// `DIR/plan.json`, the simulator's input.
    Sim,
    /// `DIR/manifests.yaml` and `DIR/schedule.json`.
    K8s,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file.
    pub file: PathBuf,
    /// What to produce.
    #[arg(long, value_enum, default_value = "sim")]
    pub target: Target,
    /// Folder to write into (created if missing).
    #[arg(short = 'o', long = "out", default_value = ".")]
    pub out: PathBuf,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
    /// k8s: the agent image the manifests run.
    #[arg(long, default_value = concat!("ghcr.io/chaos/agent:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// k8s: the namespace to create (default: derived from the scenario and run id).
    #[arg(long)]
    pub namespace: Option<String>,
    /// k8s: also write a prometheus-operator ServiceMonitor (monitoring.coreos.com/v1) that
    /// scrapes every agent's /metrics; needs the operator's CRDs in the cluster.
    #[arg(long)]
    pub service_monitor: bool,
    /// k8s: load generator Pods, each sending an equal share of every workload (default: the
    /// peak offered rate over 50,000/s per Pod, at least 1).
    #[arg(long, value_name = "N", value_parser = super::loadgen_pods)]
    pub loadgen_pods: Option<u32>,
}

/// Reads scenario files from disk for the compiler (which does no IO itself).
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Compiles `file` with the `--set` overrides, reading from disk.
pub fn compile_file(file: &Path, sets: &[(String, String)]) -> Compiled {
    chaos_compiler::compile(file, &FsLoader, sets)
}

/// How diagnostics are printed on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageFormat {
    /// The source excerpt with labels and help, as rustc draws it.
    #[default]
    Human,
    /// One `file:line:col: error[CODE]: message` line each, for grep and CI problem matchers.
    Short,
}

/// Colour as `--color` and the environment decide (see `color`); the width from `COLUMNS`.
fn stderr_style() -> render::Style {
    render::Style {
        color: super::color::stderr(),
        unicode: true,
        width: std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100),
    }
}

/// Prints one diagnostic to stderr in the chosen format.
pub fn print_diagnostic(d: &Diagnostic, sources: &SourceMap, format: MessageFormat) {
    match format {
        MessageFormat::Human => eprintln!("{}", render::render(d, sources, stderr_style())),
        MessageFormat::Short => eprintln!("{}", render::short(d, sources)),
    }
}

/// Prints every diagnostic of a compilation to stderr.
pub fn print_diagnostics(compiled: &Compiled, format: MessageFormat) {
    for d in &compiled.diagnostics {
        print_diagnostic(d, &compiled.sources, format);
    }
}

/// Compiles a scenario for a runner: prints its diagnostics (warnings too) and returns the
/// plan, or the exit code to stop with (2: the scenario or a `--set` is invalid).
pub fn load_plan(file: &Path, sets: &[(String, String)]) -> Result<chaos_plan::Plan, u8> {
    plan_or_exit(file, compile_file(file, sets))
}

fn plan_or_exit(file: &Path, compiled: Compiled) -> Result<chaos_plan::Plan, u8> {
    print_diagnostics(&compiled, MessageFormat::Human);
    match compiled.plan {
        Some(plan) if !compiled.has_errors() => Ok(plan),
        None if !compiled.has_errors() => {
            eprintln!(
                "error: `{}` has no scenario: it is a library of services to import, not a run",
                file.display()
            );
            eprintln!(
                "help: import it from a file with a `scenario` block, workloads and faults; `chaos graph` draws a library as it is"
            );
            Err(exit::INVALID)
        }
        _ => {
            eprintln!(
                "error: `{}` is invalid ({} error{})",
                file.display(),
                compiled.errors(),
                if compiled.errors() == 1 { "" } else { "s" }
            );
            Err(exit::INVALID)
        }
    }
}

/// What `chaos graph` draws: a run's plan, or the services of a library file.
pub enum Topology {
    Plan(chaos_plan::Plan),
    Library(Vec<chaos_plan::Service>),
}

/// Like [`load_plan`], but a library file (services without a scenario) is accepted too.
pub fn load_topology(file: &Path, sets: &[(String, String)]) -> Result<Topology, u8> {
    let mut compiled = compile_file(file, sets);
    if !compiled.has_errors()
        && let Some(services) = compiled.library.take()
    {
        print_diagnostics(&compiled, MessageFormat::Human);
        return Ok(Topology::Library(services));
    }
    plan_or_exit(file, compiled).map(Topology::Plan)
}

/// Writes `path` whole or not at all: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// A run id that depends only on the plan, so compiling twice gives identical manifests.
pub fn plan_run_id(plan: &chaos_plan::Plan) -> String {
    // FNV-1a 64: stable across platforms and releases, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in plan.to_json().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("c{:012x}", h & 0xffff_ffff_ffff)
}

pub fn run(args: Args) -> u8 {
    let plan = match load_plan(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: cannot create `{}`: {e}", args.out.display());
        return exit::CANNOT_RUN;
    }
    let files: Vec<(PathBuf, String)> = match args.target {
        Target::Sim => vec![(args.out.join("plan.json"), plan.to_json() + "\n")],
        Target::K8s => {
            let options = chaos_k8s::Options {
                image: args.image.clone(),
                namespace: args.namespace.clone(),
                run_id: plan_run_id(&plan),
                loadgen_pods: args.loadgen_pods,
            };
            let monitor = if args.service_monitor {
                chaos_k8s::service_monitor(&plan, &options).map(Some)
            } else {
                Ok(None)
            };
            match chaos_k8s::compile(&plan, &options).and_then(|o| Ok((o, monitor?))) {
                Ok((mut out, monitor)) => {
                    if let Some(m) = monitor {
                        out.manifests_yaml.push_str("---\n");
                        out.manifests_yaml.push_str(&m);
                    }
                    vec![
                        (args.out.join("manifests.yaml"), out.manifests_yaml),
                        (args.out.join("schedule.json"), out.schedule_json),
                    ]
                }
                Err(e) => {
                    eprintln!("error: the Kubernetes back end failed: {e}");
                    return exit::CANNOT_RUN;
                }
            }
        }
    };
    for (path, contents) in &files {
        if let Err(e) = write_atomic(path, contents) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return exit::CANNOT_RUN;
        }
        println!("wrote {}", path.display());
    }
    exit::OK
}
