//! `chaos explore`: search fault schedules in the simulator for one that breaks an expectation
//! of FILE, shrink it, and write it as a `.chaos` file that `chaos run --sim` reproduces. The
//! search is `chaos_explore::explore` (pure strategies); this module reads, prints and writes.
//! Exit: 1 a failing schedule was found, 0 the budget ran out without one, 2 invalid input,
//! 3 a run could not be made.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use chaos_explore::Sources;
use chaos_explore::explore::output::ExploreReport;
use chaos_explore::explore::{self, Config, Limits, Stage, StrategyKind, Target};
use chaos_report::write::atomic_write;

use super::compile::{MessageFormat, compile_file, load_plan, print_diagnostics};
use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// Every (fault kind, target) alone, then pairs of those that moved a metric, then the
    /// scenario's hot times, then local search.
    Coverage,
    /// Uniform random schedules (the baseline to compare against).
    Uniform,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The search space: the file's `explore { ... }` block (docs/language.md), and what it leaves out \
(or all of it, without a block) is the default: every fault kind on every service (partitions on \
every caller-callee edge), starting anywhere in the run, lasting up to a quarter of it, at most 2 \
at once, with the intensities of docs/language.md's examples as upper bounds (latency +300ms, \
errors 20%, kill 2, cpu x3, loss 10%, memory 20MiB/s limit 512MiB). --max-faults overrides the \
block's `max_faults`. Every variant runs in --sim with the scenario's seed. A failure is shrunk (fewer faults, shorter, later, gentler) while it still fails.

Exit codes: 1 a failing schedule was found (written with -o), 0 the budget ran out without one, \
2 the scenario or an argument is invalid, 3 a run could not be made.")]
pub struct Args {
    /// The scenario to explore.
    pub file: PathBuf,
    /// Simulations to spend searching (shrinking has its own --shrink-budget).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub budget: u32,
    /// Seed of the search (the simulation uses the scenario's seed, or --sim-seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The most faults added at once (overrides the `explore` block's `max_faults`; default 2).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub max_faults: Option<u32>,
    /// Simulations to spend shrinking a failure.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub shrink_budget: u32,
    /// Seed of every simulation (default: the scenario's `seed`).
    #[arg(long)]
    pub sim_seed: Option<u64>,
    /// How to search.
    #[arg(long, value_enum, default_value = "coverage")]
    pub strategy: StrategyArg,
    /// Override a param: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::parse_set)]
    pub sets: Vec<(String, String)>,
    /// Write the scenario plus the smallest failing schedule here (a `.chaos` file).
    #[arg(short = 'o', long = "out", value_name = "FAILING.chaos")]
    pub out: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH.json")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let started = Instant::now();
    if let Err(code) = load_plan(&args.file, &args.sets) {
        return code;
    }
    let compiled = compile_file(&args.file, &args.sets);
    let Some(sources) = Sources::from_compiled(&args.file, &compiled) else {
        eprintln!("error: cannot read `{}`", args.file.display());
        return exit::INVALID;
    };
    let target = match Target::new(sources, args.sets.clone(), args.sim_seed) {
        Ok(t) => t,
        Err(e) => {
            print_diagnostics(&e.compiled, MessageFormat::Human);
            return exit::INVALID;
        }
    };
    let config = Config {
        seed: args.seed,
        max_faults: args.max_faults.map(|k| k as usize),
        limits: Limits {
            budget: args.budget as usize,
            batch: 8,
            shrink_budget: args.shrink_budget as usize,
        },
        strategy: match args.strategy {
            StrategyArg::Coverage => StrategyKind::Coverage,
            StrategyArg::Uniform => StrategyKind::Uniform,
        },
        shrink: args.shrink_budget > 0,
    };
    let tty = std::io::stderr().is_terminal();
    let mut last_tenth = usize::MAX;
    let mut progress = |p: explore::Progress| {
        let what = match p.stage {
            Stage::Search => "searching",
            Stage::Shrink => "shrinking",
        };
        let line = format!(
            "explore: {what} {}/{} runs, {:.1}s",
            p.runs,
            p.of,
            started.elapsed().as_secs_f64()
        );
        if tty {
            eprint!("\r{line}\x1b[K");
        } else {
            let tenth = p.runs * 10 / p.of.max(1) + if p.stage == Stage::Shrink { 100 } else { 0 };
            if tenth != last_tenth {
                last_tenth = tenth;
                eprintln!("{line}");
            }
        }
    };
    let explored = match explore::explore(&target, &config, &mut progress) {
        Ok(e) => e,
        Err(e) => {
            if tty {
                eprintln!();
            }
            eprintln!("error: {e}");
            return exit::CANNOT_RUN;
        }
    };
    if tty {
        eprintln!();
    }
    if !explored.baseline.passed {
        eprintln!(
            "error: `{}` already fails as written (run `chaos run --sim {}`): there is nothing to explore",
            args.file.display(),
            args.file.display()
        );
        return exit::FAILED;
    }
    let report = ExploreReport::build(&target, &config, &explored);
    print!("{}", report.render_terminal());
    let total = explored.searched.runs + report.shrink_runs;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "explore: {total} simulations in {secs:.1}s ({:.1} variants/s)",
        total as f64 / secs.max(1e-9)
    );
    if let Some(p) = &args.report
        && let Err(e) = atomic_write(p, report.to_json().as_bytes())
    {
        eprintln!(
            "error: cannot write the JSON report to {}: {e}",
            p.display()
        );
        return exit::CANNOT_RUN;
    }
    let Some(found) = &explored.found else {
        return exit::OK;
    };
    if let Some(out) = &args.out {
        let smallest = found.smallest();
        let mut rerun = format!("chaos run --sim {}", out.display());
        if target.sim_seed != target.plan.scenario.seed {
            rerun.push_str(&format!(" --seed {}", target.sim_seed));
        }
        for (k, v) in &args.sets {
            rerun.push_str(&format!(" --set {k}={v}"));
        }
        let comment = format!(
            "Found by `chaos explore --seed {} --max-faults {}` at run {} and shrunk: these faults\nbreak the scenario (`{rerun}` exits 1).",
            config.seed, explored.space.max_faults, found.at_run
        );
        let text = target.reproduction(&explored.space, &smallest.schedule, &comment);
        if let Err(e) = atomic_write(out, text.as_bytes()) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return exit::CANNOT_RUN;
        }
        // The file must reproduce the failure from disk, imports and all.
        match load_plan(out, &args.sets)
            .ok()
            .map(|plan| chaos_explore::eval::run_plan(&plan, target.sim_seed))
        {
            Some(Ok(o)) if !o.passed => eprintln!(
                "wrote {} (reproduces: `chaos run --sim` exits 1)",
                out.display()
            ),
            Some(Ok(_)) => eprintln!(
                "warning: {} does not fail when run from disk",
                out.display()
            ),
            _ => eprintln!(
                "warning: {} does not compile from where it is; write it next to {} so its imports resolve",
                out.display(),
                args.file.display()
            ),
        }
    }
    exit::FAILED
}
