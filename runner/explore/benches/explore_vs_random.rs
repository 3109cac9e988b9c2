//! How fast explore finds the planted two-fault weakness, against uniform random sampling on
//! the same budget, averaged over seeds; and how many variants of `scenarios/shop.chaos` it
//! evaluates per second.
//!
//!   cargo bench -p chaos-explore --bench explore_vs_random            # 20 seeds, budget 300
//!   SEEDS=5 BUDGET=300 cargo bench -p chaos-explore --bench explore_vs_random
//!
//! Results are written down in runner/explore/BENCH.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chaos_explore::Sources;
use chaos_explore::explore::{
    self, Config, Limits, Space, Strategy, StrategyKind, Target, Uniform,
};
use chaos_test_support::{FsLoader, scenarios_dir};

const PLANTED: &str = include_str!("../tests/fixtures/planted-pair.chaos");

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seeds = env("SEEDS", 20) as u64;
    let budget = env("BUDGET", 300);
    let t = Target::new(
        Sources::single("planted-pair.chaos", PLANTED),
        Vec::new(),
        None,
    )
    .unwrap();
    println!("planted two-fault weakness, budget {budget}, seeds 1..={seeds}");
    println!("| strategy | found | mean runs to find (not found = budget) | median | seconds |");
    println!("|---|---|---|---|---|");
    let kinds = if seeds == 0 {
        vec![]
    } else {
        vec![StrategyKind::Coverage, StrategyKind::Uniform]
    };
    for kind in kinds {
        let started = Instant::now();
        let mut runs: Vec<usize> = Vec::new();
        let mut found = 0;
        for seed in 1..=seeds {
            let config = Config {
                seed,
                strategy: kind,
                shrink: false,
                limits: Limits {
                    budget,
                    ..Limits::default()
                },
                ..Config::default()
            };
            let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
            match ex.searched.failures.first() {
                Some((at_run, _)) => {
                    found += 1;
                    runs.push(*at_run);
                }
                None => runs.push(budget),
            }
        }
        let mean = runs.iter().sum::<usize>() as f64 / runs.len() as f64;
        let mut sorted = runs.clone();
        sorted.sort_unstable();
        println!(
            "| {kind:?} | {found}/{seeds} | {mean:.1} | {} | {:.1} |",
            sorted[sorted.len() / 2],
            started.elapsed().as_secs_f64()
        );
    }

    // Variants per second on the shop scenario (every core).
    let root = scenarios_dir().join("shop.chaos");
    let compiled = chaos_compiler::compile(&root, &FsLoader, &[]);
    let sources = Sources::from_compiled(&root, &compiled).unwrap();
    let shop = Target::new(sources, Vec::new(), None).unwrap();
    let n = env("SHOP_RUNS", 32);
    let space = Space::from_plan(&shop.plan, 2);
    let variants = Uniform::new(space.clone(), 1).propose(n);
    let started = Instant::now();
    shop.run(&space, &explore::Schedule::default()).unwrap();
    let one = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let outcomes = shop.run_all(&space, &variants).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "shop.chaos: one run (compile + simulate + judge) {one:.3}s; {} variants in {secs:.2}s = {:.1} variants/s on {} threads ({} of them fail)",
        variants.len(),
        variants.len() as f64 / secs,
        rayon::current_num_threads(),
        outcomes.iter().filter(|o| !o.passed).count()
    );
}
