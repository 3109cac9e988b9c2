//! An `explore { … }` block narrows what `chaos explore` tries: only its (kind, target) pairs,
//! at its intensities, starting and lasting within its ranges, as many at once as it says
//! (unless `--max-faults` overrides it); and the file explore writes keeps the block and fails.
#![allow(clippy::unwrap_used)]

use chaos_explore::Sources;
use chaos_explore::explore::output::ExploreReport;
use chaos_explore::explore::space::FaultKind;
use chaos_explore::explore::{self, Config, Limits, Target};

const NARROWED: &str = include_str!("fixtures/narrowed.chaos");

fn target(text: &str) -> Target {
    Target::new(Sources::single("narrowed.chaos", text), Vec::new(), None).unwrap()
}

fn config(budget: usize, max_faults: Option<usize>) -> Config {
    Config {
        seed: 2,
        max_faults,
        limits: Limits {
            budget,
            batch: 8,
            shrink_budget: 40,
        },
        ..Config::default()
    }
}

#[test]
fn only_the_declared_pairs_times_and_intensities_are_tried() {
    let t = target(NARROWED);
    let ex = explore::explore(&t, &config(40, None), &mut |_| {}).unwrap();
    let space = &ex.space;
    assert_eq!(space.slots.len(), 1);
    assert_eq!(
        (space.slots[0].kind, space.slots[0].service.as_str()),
        (FaultKind::Errors, "db")
    );
    assert_eq!(space.max_faults, 1);
    assert!(!ex.searched.tried.is_empty());
    for s in &ex.searched.tried {
        assert_eq!(s.len(), 1, "{s:?}");
        let f = s.faults[0];
        assert!((20..=60).contains(&f.start_s), "{f:?}");
        assert!((5..=10).contains(&f.len_s), "{f:?}");
    }
    // The coverage is of the declared space: one pair, no combinations.
    assert_eq!(ex.coverage.kinds_targets_total, 1);
    assert_eq!(ex.coverage.kinds_targets_tried, 1);
    assert_eq!(ex.coverage.combinations_total, 0);
    let report = ExploreReport::build(&t, &config(40, None), &ex);
    assert!(report.space.declared);
    assert_eq!(report.space.slots[0].lowest, "errors 50% on db");
    assert_eq!(report.space.slots[0].highest, "errors 100% on db");
    assert_eq!(report.space.start_s, [20, 60]);
    assert_eq!(report.space.length_s, [5, 10]);
    // 10 s of 100% errors on db in a 110 s measured run is ~9% of requests failing.
    let found = ex.found.as_ref().expect("a failing schedule");
    let smallest = &found.smallest().schedule;
    for f in &smallest.faults {
        assert!((5..=10).contains(&f.len_s) && (20..=60).contains(&f.start_s));
    }
    // The reproduction keeps the block, and still compiles and fails.
    let text = t.reproduction(space, smallest, "found");
    assert!(text.contains("explore {"), "{text}");
    let again = target(&text);
    assert!(again.explore.is_some());
    assert!(
        !chaos_explore::eval::run_plan(&again.plan, again.sim_seed)
            .unwrap()
            .passed
    );
}

#[test]
fn max_faults_from_the_command_line_overrides_the_block() {
    let t = target(NARROWED);
    assert_eq!(t.space(None).max_faults, 1);
    assert_eq!(t.space(Some(3)).max_faults, 3);
}

#[test]
fn without_a_block_the_space_is_the_default() {
    let start = NARROWED.find("explore {").unwrap();
    let t = target(&NARROWED[..start]);
    assert!(t.explore.is_none());
    let space = t.space(None);
    assert_eq!(space.max_faults, 2);
    // Six kinds on each of two services, and the one call edge.
    assert_eq!(space.slots.len(), 13);
    assert_eq!((space.first_start_s, space.last_start_s()), (0, 119));
    assert_eq!((space.min_len_s, space.max_len_s), (1, 30));
}
