//! `chaos explore` against a planted weakness that needs two faults together, and a scenario
//! no schedule of the default space breaks.
#![allow(clippy::unwrap_used)]

use chaos_explore::Sources;
use chaos_explore::explore::schedule::FaultSpec;
use chaos_explore::explore::space::FaultKind;
use chaos_explore::explore::{self, Config, Limits, Schedule, Space, Target};

const PLANTED: &str = include_str!("fixtures/planted-pair.chaos");
const ROBUST: &str = include_str!("fixtures/robust.chaos");

fn target(name: &str, text: &str) -> Target {
    Target::new(Sources::single(name, text), Vec::new(), None).unwrap()
}

fn kinds(space: &Space, s: &Schedule) -> Vec<(FaultKind, String)> {
    let mut v: Vec<_> = s
        .faults
        .iter()
        .map(|f| (space.slots[f.slot].kind, space.slots[f.slot].target()))
        .collect();
    v.sort();
    v
}

#[test]
fn neither_fault_alone_breaks_the_planted_scenario_but_both_do() {
    let t = target("planted-pair.chaos", PLANTED);
    let space = Space::from_plan(&t.plan, 2);
    let slot = |k: FaultKind| {
        space
            .slots
            .iter()
            .position(|s| s.kind == k && s.service == "w")
            .unwrap()
    };
    let full = |slot, len_s| FaultSpec {
        slot,
        start_s: 60,
        len_s,
        level: 4,
    };
    let cpu = full(slot(FaultKind::Cpu), 90);
    let kill = full(slot(FaultKind::Kill), 0);
    assert!(t.run(&space, &Schedule::default()).unwrap().passed);
    assert!(
        t.run(&space, &Schedule::new(vec![cpu], &space))
            .unwrap()
            .passed
    );
    assert!(
        t.run(&space, &Schedule::new(vec![kill], &space))
            .unwrap()
            .passed
    );
    assert!(
        !t.run(&space, &Schedule::new(vec![cpu, kill], &space))
            .unwrap()
            .passed
    );
}

#[test]
fn finds_and_shrinks_the_planted_pair_within_300_runs_on_most_seeds() {
    let t = target("planted-pair.chaos", PLANTED);
    let want = vec![
        (FaultKind::Kill, "w".to_string()),
        (FaultKind::Cpu, "w".to_string()),
    ];
    let mut want = want;
    want.sort();
    let seeds = 1..=5u64;
    let mut exact = 0;
    for seed in seeds.clone() {
        let config = Config {
            seed,
            ..Config::default()
        };
        let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
        let Some(found) = &ex.found else {
            eprintln!("seed {seed}: not found in {} runs", ex.searched.runs);
            continue;
        };
        let smallest = found.smallest();
        let got = kinds(&ex.space, &smallest.schedule);
        eprintln!(
            "seed {seed}: found at run {}, shrunk in {} runs to {got:?} {:?}",
            found.at_run,
            found.shrunk.as_ref().map_or(0, |s| s.runs),
            smallest.schedule
        );
        assert!(found.at_run <= 300);
        assert!(!smallest.outcome.passed);
        // Each remaining fault is needed: without it the scenario passes.
        assert!(found.effects.iter().all(|e| e.without.passed));
        if got == want {
            exact += 1;
        }
    }
    assert!(exact >= 4, "exactly the planted pair on {exact} of 5 seeds");
}

#[test]
fn a_robust_scenario_spends_the_budget_without_a_failure() {
    let t = target("robust.chaos", ROBUST);
    let config = Config {
        limits: Limits {
            budget: 40,
            ..Limits::default()
        },
        ..Config::default()
    };
    let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
    assert!(ex.found.is_none());
    assert_eq!(ex.searched.runs, 40);
    assert_eq!(ex.coverage.kinds_targets_total, 6);
    assert_eq!(ex.coverage.kinds_targets_tried, 6);
    assert!(ex.coverage.combinations_tried >= 1);
}

#[test]
fn the_search_is_the_same_on_one_core_and_on_several() {
    let t = target("planted-pair.chaos", PLANTED);
    let config = Config {
        seed: 7,
        limits: Limits {
            budget: 60,
            shrink_budget: 20,
            ..Limits::default()
        },
        ..Config::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
            (
                ex.searched.tried.clone(),
                ex.found.map(|f| (f.at_run, f.smallest().schedule.clone())),
            )
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn the_report_and_the_reproduction_file_read_as_expected() {
    let t = target("planted-pair.chaos", PLANTED);
    let config = Config::default();
    let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
    let report = explore::output::ExploreReport::build(&t, &config, &ex);
    insta::assert_snapshot!("planted_terminal", report.render_terminal());
    let smallest = &ex.found.as_ref().unwrap().smallest().schedule;
    let file = t.reproduction(&ex.space, smallest, "Found by a test.");
    insta::assert_snapshot!("planted_reproduction", file);
    // The reproduction compiles to a plan that fails, as `chaos run --sim` would see it.
    let sources = Sources::single("failing.chaos", &file);
    let plan = sources.compile(&[]).unwrap();
    let outcome = chaos_explore::eval::run_plan(&plan, plan.scenario.seed).unwrap();
    assert!(!outcome.passed);
}
