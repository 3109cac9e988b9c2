//! `chaos explore` reports every failure it finds, not just the first: a scenario with two
//! independent weaknesses (tests/fixtures/two-weaknesses.chaos) gets both, each shrunk, the
//! report and the terminal list each, and the smallest is the one `-o` writes.
#![allow(clippy::unwrap_used)]

use chaos_explore::Sources;
use chaos_explore::explore::output::ExploreReport;
use chaos_explore::explore::shrink::size;
use chaos_explore::explore::{self, Config, Explored, Limits, Target};

const TWO: &str = include_str!("fixtures/two-weaknesses.chaos");

fn target() -> Target {
    Target::new(
        Sources::single("two-weaknesses.chaos", TWO),
        Vec::new(),
        None,
    )
    .unwrap()
}

fn config(seed: u64) -> Config {
    Config {
        seed,
        limits: Limits {
            budget: 48,
            ..Limits::default()
        },
        ..Config::default()
    }
}

/// The services the faults of a failure's smallest schedule are on.
fn services(ex: &Explored, f: &explore::Found) -> Vec<String> {
    let mut v: Vec<String> = f
        .smallest()
        .schedule
        .faults
        .iter()
        .map(|x| ex.space.slots[x.slot].service.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn both_independent_weaknesses_are_found_shrunk_and_reported() {
    let t = target();
    let config = config(1);
    let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
    assert!(ex.baseline.passed);
    // The search went on to the budget after the first failure.
    assert_eq!(ex.searched.runs, 48);
    let broken = |f: &explore::Found| f.smallest().outcome.failed(&t.plan);
    for f in &ex.failures {
        eprintln!(
            "found at run {} (+{} later), {:?} on {:?}: {:?}",
            f.at_run,
            f.also.len(),
            broken(f),
            services(&ex, f),
            f.smallest().schedule
        );
    }
    let on_a = ex.failures.iter().find(|f| services(&ex, f) == ["a"]);
    let on_b = ex.failures.iter().find(|f| services(&ex, f) == ["b"]);
    let (on_a, on_b) = (on_a.unwrap(), on_b.unwrap());
    assert_eq!(broken(on_a), ["error_rate(readers) < 2%"]);
    assert_eq!(broken(on_b), ["p95(writers) < 250ms"]);
    // Each is shrunk to one fault, and each is needed.
    for f in [on_a, on_b] {
        assert!(f.shrunk.is_some());
        assert_eq!(
            f.smallest().schedule.len(),
            1,
            "{:?}",
            f.smallest().schedule
        );
        assert!(f.effects.iter().all(|e| e.without.passed));
    }
    // Distinct by the shrunk schedule, and every failing schedule of the search is accounted
    // for once: as the first of a failure or as one that shrank to it.
    for (i, f) in ex.failures.iter().enumerate() {
        for g in &ex.failures[i + 1..] {
            assert_ne!(f.smallest().schedule, g.smallest().schedule);
        }
    }
    let listed: usize = ex.failures.iter().map(|f| 1 + f.also.len()).sum();
    assert_eq!(listed, ex.searched.failures.len());
    assert!(ex.searched.failures.len() >= 2);
    // The one `-o` writes is the smallest.
    let found = ex.found.as_ref().unwrap();
    assert!(
        ex.failures
            .iter()
            .all(|f| size(&found.smallest().schedule) <= size(&f.smallest().schedule))
    );

    let report = ExploreReport::build(&t, &config, &ex);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let failures = json["failures"].as_array().unwrap();
    assert_eq!(failures.len(), ex.failures.len());
    assert_eq!(json["failing_schedules"], ex.searched.failures.len());
    let failed: Vec<&str> = failures
        .iter()
        .flat_map(|f| f["shrunk"]["failed"].as_array().unwrap())
        .filter_map(|x| x.as_str())
        .collect();
    assert!(failed.contains(&"error_rate(readers) < 2%"), "{failed:?}");
    assert!(failed.contains(&"p95(writers) < 250ms"), "{failed:?}");
    let smallest = json["smallest"].as_u64().unwrap() as usize;
    assert_eq!(
        ex.failures[smallest].smallest().schedule,
        found.smallest().schedule
    );

    // Grouped by (kind, target) pairs: no group mixes the two services.
    let weaknesses = json["weaknesses"].as_array().unwrap();
    assert!(weaknesses.len() >= 2);
    let mut grouped = 0;
    for w in weaknesses {
        let faults: Vec<&str> = w["faults"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        assert!(
            faults.iter().all(|f| f.ends_with(" on a"))
                || faults.iter().all(|f| f.ends_with(" on b")),
            "{faults:?}"
        );
        grouped += w["failures"].as_array().unwrap().len();
    }
    assert_eq!(grouped, ex.failures.len());

    let text = report.render_terminal();
    assert!(text.starts_with("FAILURE FOUND"), "{text}");
    for i in 1..=ex.failures.len() {
        assert!(text.contains(&format!("\n  #{i} run ")), "{text}");
    }
    assert!(
        text.contains("-> breaks error_rate(readers) < 2%"),
        "{text}"
    );
    assert!(text.contains("-> breaks p95(writers) < 250ms"), "{text}");
    assert_eq!(text.matches("(written by -o)").count(), 1, "{text}");
}

#[test]
fn every_failure_is_the_same_on_one_core_and_on_several() {
    let t = target();
    let config = config(4);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let ex = explore::explore(&t, &config, &mut |_| {}).unwrap();
            let failures: Vec<_> = ex
                .failures
                .iter()
                .map(|f| {
                    (
                        f.at_run,
                        f.smallest().schedule.clone(),
                        f.also.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
                    )
                })
                .collect();
            (ex.searched.tried.clone(), failures, ex.shrink_runs)
        })
    };
    let one = run(1);
    assert!(one.1.len() >= 2);
    assert_eq!(one, run(3));
}
