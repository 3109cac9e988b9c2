//! The spec's examples (copied into `scenarios/spec/`) and the
//! repo's `scenarios/`, compiled and simulated with their own seed: the verdicts give the
//! exit code written on each file's first line (`# expect-exit: N`), and every request ends
//! exactly once. `mm1.chaos` is also compared with M/M/1 theory.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chaos_sim::{SimOptions, simulate_with};
use chaos_test_support::{chaos_files, plan_from_file, scenarios_dir, spec_examples_dir};

fn spec_examples() -> Vec<PathBuf> {
    let examples = chaos_files(&spec_examples_dir());
    assert!(examples.len() >= 3, "scenarios/spec/: {examples:?}");
    examples
}

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let expected: Option<u8> = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect-exit:"))
        .and_then(|v| v.trim().parse().ok());
    let plan = plan_from_file(path);
    let (rec, stats) = simulate_with(
        &plan,
        plan.scenario.seed,
        &SimOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    for (i, key) in rec.subjects.iter().enumerate() {
        let finished: u64 = rec.windows.iter().map(|w| w.subjects[i].requests()).sum();
        assert_eq!(finished, stats.sent[i], "{}: {key:?}", path.display());
    }
    let verdicts = chaos_report::evaluate(&plan, &rec).unwrap();
    let code = if rec.aborted.is_none() && verdicts.iter().all(|v| v.passed) {
        0
    } else {
        1
    };
    if let Some(expected) = expected {
        assert_eq!(
            code,
            expected,
            "{}: aborted {:?}\n{}",
            path.display(),
            rec.aborted,
            verdicts
                .iter()
                .map(|v| format!("{} -> {:?} {}", v.text, v.observed, v.passed))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn spec_examples_end_with_their_exit_codes() {
    for p in spec_examples() {
        check(&p);
    }
}

#[test]
fn repo_scenarios_simulate() {
    let scenarios = chaos_files(&scenarios_dir());
    assert!(scenarios.iter().any(|p| p.ends_with("ms-ref-1.chaos")));
    for p in scenarios {
        check(&p);
    }
}

#[test]
fn mm1_example_matches_theory() {
    let path = spec_examples()
        .into_iter()
        .find(|p| p.ends_with("mm1.chaos"))
        .expect("scenarios/spec/mm1.chaos");
    let plan = plan_from_file(&path);
    let verdicts = chaos_report::evaluate(&plan, &chaos_sim::simulate(&plan, 1).unwrap()).unwrap();
    let mean = verdicts[0].observed.value().unwrap();
    let p99 = verdicts[1].observed.value().unwrap();
    // 30 minutes at 80/s: ~139 000 requests after warmup.
    assert!((mean - 0.050).abs() < 0.004, "mean {mean}");
    assert!((p99 - 0.2303).abs() < 0.02, "p99 {p99}");
}
