//! Scenarios that once hung the simulator or made it report a wrong number (issue 16), each
//! run from its text in `fixtures/regressions/` exactly as `chaos run --sim` would: it must end
//! (on a thread with a deadline, so a regression fails instead of hanging the suite), every
//! request must end exactly once, and the figures must be the ones the rule gives.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use chaos_plan::{MIN_RESTART_S, MIN_ROUND_TRIP_S, Plan};
use chaos_report::{Cause, Recording, Stats, SubjectKey};
use chaos_sim::{RunStats, SimError, SimOptions, simulate_with};
use chaos_test_support::plan_from_file;

/// Far above what these take even in a debug build (well under a second in release).
const DEADLINE: Duration = Duration::from_secs(60);

fn compile(name: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/regressions")
        .join(name);
    plan_from_file(&path)
}

fn simulate(plan: &Plan, opts: SimOptions) -> Result<(Recording, RunStats), SimError> {
    let (tx, rx) = mpsc::channel();
    let plan = plan.clone();
    std::thread::spawn(move || {
        let r = simulate_with(&plan, plan.scenario.seed, &opts, &mut |_| {});
        let _ = tx.send(r);
    });
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("the simulation did not end within {DEADLINE:?}"))
}

/// Runs the fixture; checks that every attempt sent was recorded exactly once.
fn run(name: &str) -> (Plan, Recording, RunStats) {
    let plan = compile(name);
    let (rec, stats) = simulate(&plan, SimOptions::default()).unwrap();
    for (i, key) in rec.subjects.iter().enumerate() {
        let finished: u64 = rec.windows.iter().map(|w| w.subjects[i].requests()).sum();
        assert_eq!(finished, stats.sent[i], "{name}: {key:?}");
    }
    (plan, rec, stats)
}

/// A subject's counts over the whole run.
fn total(rec: &Recording, key: &SubjectKey) -> Stats {
    let i = rec.subject_index(key).unwrap();
    let mut s = Stats::default();
    for w in &rec.windows {
        s.add_counts(&w.subjects[i]);
    }
    s
}

fn caused(s: &Stats, cause: Cause) -> u64 {
    s.errors_by_cause()
        .get(cause.name())
        .copied()
        .unwrap_or_default()
}

fn workload(name: &str) -> SubjectKey {
    SubjectKey::Workload {
        workload: name.into(),
    }
}

fn passes(plan: &Plan, rec: &Recording) -> bool {
    let verdicts = chaos_report::evaluate(plan, rec).unwrap();
    rec.aborted.is_none() && verdicts.iter().all(|v| v.passed)
}

/// 16.1: three `think 0s` users on one worker without a queue. One is served (5 ms), the
/// other two are rejected at the instant they send: they send again one minimum round trip
/// later instead of at the same instant for ever.
#[test]
fn rejected_users_without_think_time_advance_by_a_round_trip() {
    let (plan, rec, _) = run("livelock_queue_full.chaos");
    let w = total(&rec, &workload("w"));
    let duration = plan.scenario.duration_s;
    // The worker is never idle for more than a round trip: ~10 s / 5 ms answers.
    let ok = w.requests() - w.error_count();
    assert!((1900..=2000).contains(&ok), "ok {ok}");
    // Everything else was rejected, and no user cycled faster than the floor.
    assert_eq!(caused(&w, Cause::Rejected), w.error_count());
    let most = (3.0 * duration / MIN_ROUND_TRIP_S) as u64 + 3;
    assert!(w.requests() <= most, "{} > {most}", w.requests());
    assert!(
        w.error_count() as f64 > 0.9 * 2.0 * duration / MIN_ROUND_TRIP_S,
        "the two rejected users send every round trip: {}",
        w.error_count()
    );
    assert!(passes(&plan, &rec));
}

/// 16.1 with answers at the instant of the send: injected errors, instant successes, and a
/// killed replica with `restart 0s` (down for the restart floor).
#[test]
fn instant_answers_advance_by_a_round_trip() {
    let (plan, rec, _) = run("livelock_instant_answers.chaos");
    let per_user = plan.scenario.duration_s / MIN_ROUND_TRIP_S;
    let err = total(&rec, &workload("err"));
    // One user, every answer an instant injected error: exactly one send per round trip.
    assert!(
        (err.requests() as f64 - per_user).abs() <= 2.0,
        "{}",
        err.requests()
    );
    let ok = total(&rec, &workload("ok"));
    assert!(
        (ok.requests() as f64 - 2.0 * per_user).abs()
            <= 4.0 + 2.0 * MIN_RESTART_S / MIN_ROUND_TRIP_S
    );
    // The kill at 5 s: the replica is down for the restart floor, every send meanwhile fails.
    let refused = caused(&ok, Cause::Connection) + caused(&ok, Cause::Killed);
    let floor_sends = 2.0 * MIN_RESTART_S / MIN_ROUND_TRIP_S;
    assert!(
        (refused as f64 - floor_sends).abs() <= 4.0,
        "refused {refused}, expected about {floor_sends}"
    );
    assert_eq!(ok.error_count(), refused);
}

/// The watchdog: more events at one simulated instant than allowed stops the run with an
/// error naming the cause, instead of spinning. 100 users starting together are 100 events
/// at 0 s, more than the 50 this test allows.
#[test]
fn the_watchdog_stops_a_run_stuck_at_one_instant() {
    let mut plan = compile("livelock_queue_full.chaos");
    if let chaos_plan::Load::Closed {
        users_from,
        users_to,
        ..
    } = &mut plan.workloads[0].load
    {
        *users_from = 100;
        *users_to = 100;
    }
    let opts = SimOptions {
        max_events_per_instant: Some(50),
        ..SimOptions::default()
    };
    let err = simulate(&plan, opts).unwrap_err();
    assert!(
        matches!(err, SimError::Stalled { at_s, events: 51 } if at_s == 0.0),
        "{err:?}"
    );
    assert!(err.to_string().contains("think 0s"), "{err}");
    // The default bound is far above such a burst.
    assert!(simulate(&plan, SimOptions::default()).is_ok());
}

/// 16.2: `rate_limit 20/m` with ten requests a second for a minute: the bucket holds one
/// token (not a third of one), so the first request and then one every 3 s pass.
#[test]
fn a_rate_limit_under_one_per_second_lets_requests_through() {
    let (plan, rec, _) = run("rate_limit_per_minute.chaos");
    let w = total(&rec, &workload("w"));
    let ok = w.requests() - w.error_count();
    // Evenly spaced from 0.1 s: 599 before the end.
    assert_eq!(w.requests(), 599);
    // The initial token, then one every 3 s from 3.1 s to 57.1 s.
    assert_eq!(ok, 20);
    assert_eq!(caused(&w, Cause::RateLimited), 579);
    assert!(passes(&plan, &rec));
}

/// 16.3: `autoscale 1..2`: the replica removed when load drops still runs a 30 s request when
/// load returns. It counts toward `max`, so it is taken back instead of a third one started:
/// the timeline, `max_replicas` and the utilisation never see more than 2.
#[test]
fn a_draining_replica_counts_toward_the_autoscale_maximum() {
    let (plan, rec, _) = run("autoscale_draining.chaos");
    let s = rec.service_index("s").unwrap();
    for w in &rec.windows {
        let x = &w.services[s];
        assert!(
            x.replicas <= 2 && x.max_replicas <= 2,
            "{} s: {x:?}",
            w.start_s
        );
    }
    // Scaled up for the first burst; and when load returned, the draining replica took new
    // requests again: the 1500/s (15 busy workers of 20) are served without a growing queue,
    // which one replica of 10 workers could not do.
    let window = |t: f64| {
        rec.windows
            .iter()
            .find(|w| w.start_s <= t && t < w.start_s + plan.scenario.window_s)
            .map(|w| &w.services[s])
            .unwrap()
    };
    assert_eq!(window(3.0).replicas, 2);
    for t in [22.0, 25.0, 28.0, 33.0] {
        let x = window(t);
        assert!(
            x.replicas == 2 && x.queue_mean < 10.0 && x.utilisation < 0.95,
            "{t} s: {x:?}"
        );
    }
    // Both 30 s requests finished: the draining replica was never killed.
    let sleepers = total(&rec, &workload("sleepers"));
    assert_eq!(sleepers.requests(), 2);
    assert_eq!(sleepers.error_count(), 0);
    assert!(passes(&plan, &rec), "max_replicas(s) <= 2 must hold");
}

/// 16.6: `restart 0s` and a memory limit reached as soon as a replica starts: each replica
/// dies at once and is back after the restart floor, so the run ends with the service dead
/// for the whole fault and healthy around it.
#[test]
fn memory_limit_reached_at_once_with_restart_0s_ends() {
    let (plan, rec, stats) = run("memory_restart_0s.chaos");
    let i = rec.subject_index(&workload("w")).unwrap();
    let sum = |from: f64, to: f64| {
        let mut st = Stats::default();
        for w in rec
            .windows
            .iter()
            .filter(|w| w.start_s >= from && w.start_s < to)
        {
            st.add_counts(&w.subjects[i]);
        }
        st
    };
    let before = sum(0.0, 2.0);
    assert!(before.requests() > 300 && before.error_count() == 0);
    let during = sum(2.0, 5.0);
    assert!(during.requests() > 450);
    assert_eq!(
        during.error_count(),
        during.requests(),
        "a replica whose limit is reached at once never serves"
    );
    let after = sum(5.0, 10.0);
    assert!(
        after.requests() > 800 && after.error_count() == 0,
        "{after:?}"
    );
    // Two replicas, each killed at most once per restart floor for 3 s.
    let kills_at_most = 2.0 * 3.0 / MIN_RESTART_S + 2.0;
    assert!((stats.events as f64) < 10_000.0 + 2.0 * kills_at_most);
    assert!(passes(&plan, &rec));
}
