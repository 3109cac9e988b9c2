//! `chaos sweep`: run a scenario in the simulator over a range of one param and report, for
//! every expectation, the value at which it stops holding. The search itself is
//! `chaos_explore::sweep` (pure); this module reads the file, prints and writes.
//! Exit: 0 the sweep ran (whatever the boundaries), 2 invalid input, 3 a run failed.

use std::path::PathBuf;
use std::time::Instant;

use chaos_explore::Sources;
use chaos_explore::eval::{Evaluator, Variant};
use chaos_explore::sweep::{self, Config, ExpInfo, ParamRange, SweepReport};
use chaos_report::write::atomic_write;

use super::compile::{MessageFormat, compile_file, load_plan, print_diagnostics};
use super::exit;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The param must be declared in the file (`param rate = 80/s`); each value is applied as \
`--set NAME=VALUE` would. A bare number takes the param's unit (`--param rate=40..120`).

For every expectation the sweep runs a grid of --steps values × --runs seeds, then bisects, per \
seed, between the last value at which the expectation held and the first at which it did not. \
The boundary is the median over seeds, the interval their lowest and highest.

Exit codes: 0 the sweep ran, 2 the scenario or an argument is invalid, 3 a run failed.")]
pub struct Args {
    /// The scenario to sweep.
    pub file: PathBuf,
    /// The param and its range: `NAME=FROM..TO`, e.g. `rate=40/s..120/s`.
    #[arg(long, value_name = "NAME=FROM..TO")]
    pub param: String,
    /// Grid points over the range, ends included.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub steps: u32,
    /// Seeds per point (seed, seed+1, …): the boundary becomes an interval.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// First seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override another param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH.json")]
    pub report: Option<PathBuf>,
    /// Write an HTML page with one plot per expectation here.
    #[arg(long, value_name = "PATH.html")]
    pub html: Option<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let started = Instant::now();
    let plan = match load_plan(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let declared: Vec<(String, String)> = plan
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    let range = match ParamRange::parse(&args.param, &declared) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: --param {}: {e}", args.param);
            eprintln!("help: {}", e.hint());
            return exit::INVALID;
        }
    };
    if args.sets.iter().any(|(n, _)| *n == range.name) {
        eprintln!(
            "error: `{}` is both swept (--param) and set (--set)",
            range.name
        );
        eprintln!("help: drop the --set of `{}`", range.name);
        return exit::INVALID;
    }
    // Both ends must compile: the unit and the range checks of the param's uses.
    let compiled = compile_file(&args.file, &args.sets);
    let Some(sources) = Sources::from_compiled(&args.file, &compiled) else {
        eprintln!("error: cannot read `{}`", args.file.display());
        return exit::INVALID;
    };
    let with = |v: f64| {
        let mut sets = args.sets.clone();
        sets.push((range.name.clone(), range.literal(v)));
        sets
    };
    for end in [range.from, range.to] {
        if let Err(e) = sources.compile(&with(end)) {
            print_diagnostics(&e.compiled, MessageFormat::Human);
            eprintln!(
                "error: `{}` does not compile with {}={}",
                args.file.display(),
                range.name,
                range.literal(end)
            );
            return exit::INVALID;
        }
    }
    let config = Config {
        range: range.clone(),
        steps: args.steps as usize,
        runs: args.runs,
        seed: args.seed.unwrap_or(plan.scenario.seed),
    };
    let exps = ExpInfo::of_plan(&plan);
    let evaluator = Evaluator::new(sources);
    let root_text = evaluator.sources.root_text().to_string();
    let mut failed = None;
    let mut eval = |jobs: &[(f64, u64)]| {
        let variants: Vec<Variant> = jobs
            .iter()
            .map(|&(v, seed)| Variant {
                root_text: root_text.clone(),
                sets: with(v),
                seed,
            })
            .collect();
        eprintln!(
            "sweep: {} run{} at {}",
            jobs.len(),
            if jobs.len() == 1 { "" } else { "s" },
            summary_of(&range, jobs)
        );
        let results = evaluator.run_all(&variants);
        let mut out = Vec::with_capacity(results.len());
        for (r, (v, seed)) in results.into_iter().zip(jobs) {
            match r {
                Ok(o) => out.push(o),
                Err(e) => {
                    failed = Some(format!(
                        "{}={} seed {seed}: {e}",
                        range.name,
                        range.literal(*v)
                    ));
                    return Err(());
                }
            }
        }
        Ok(out)
    };
    let result = sweep::run(&config, exps.len(), &mut eval);
    let Ok(result) = result else {
        eprintln!("error: {}", failed.unwrap_or_else(|| "a run failed".into()));
        return exit::CANNOT_RUN;
    };
    let report = SweepReport::build(&plan.scenario.name, &config, &exps, &result);
    print!("{}", report.render_terminal());
    eprintln!(
        "sweep: {} simulations in {:.2}s",
        report.simulations,
        started.elapsed().as_secs_f64()
    );
    let save = |path: &PathBuf, what: &str, text: &str| {
        atomic_write(path, text.as_bytes()).map_err(|e| {
            eprintln!("error: cannot write the {what} to {}: {e}", path.display());
            exit::CANNOT_RUN
        })
    };
    if let Some(p) = &args.report
        && let Err(code) = save(p, "JSON report", &report.to_json())
    {
        return code;
    }
    if let Some(p) = &args.html
        && let Err(code) = save(p, "HTML page", &sweep::html::render(&report))
    {
        return code;
    }
    exit::OK
}

/// `40/s … 120/s` for a progress line.
fn summary_of(range: &ParamRange, jobs: &[(f64, u64)]) -> String {
    let lo = jobs.iter().map(|j| j.0).fold(f64::INFINITY, f64::min);
    let hi = jobs.iter().map(|j| j.0).fold(f64::NEG_INFINITY, f64::max);
    if lo == hi {
        range.literal(lo)
    } else {
        format!("{} … {}", range.literal(lo), range.literal(hi))
    }
}
