//! Properties of evaluation on random recordings: the figures agree with counts made by hand,
//! and nothing panics whatever the recording holds.
#![allow(clippy::unwrap_used)]

mod support;

use chaos_plan::{Comparison, Metric};
use chaos_report::{Cause, evaluate};
use proptest::prelude::*;
use support::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn overall_figures_match_the_counts(per_second in prop::collection::vec((0u64..20, 0u64..5, 1u32..500), 60)) {
        let w = || window("overall", vec![interval(10.0, 60.0)]);
        let a = || endpoint("gateway", "GET /a");
        let plan = plan(
            vec![
                expect("er", Metric::ErrorRate, a(), w(), Comparison::Lt, 0.5),
                expect("av", Metric::Availability, a(), w(), Comparison::Gt, 0.5),
                expect("tp", Metric::Throughput, a(), w(), Comparison::Gt, 1.0),
                expect("max", Metric::Max, a(), w(), Comparison::Lt, 1.0),
                expect("p50", Metric::P50, a(), w(), Comparison::Lt, 1.0),
            ],
            vec![],
        );
        let data = per_second.clone();
        let rec = record(&plan, 60.0, move |t| {
            let (ok, errors, ms) = data[t as usize];
            Second { ok, errors, cause: Cause::Rejected, latency_s: f64::from(ms) / 1000.0, replicas: 1 }
        });
        let v = evaluate(&plan, &rec).unwrap();
        let kept = &per_second[10..60];
        let ok: u64 = kept.iter().map(|s| s.0).sum();
        let errors: u64 = kept.iter().map(|s| s.1).sum();
        let max_ms = kept.iter().filter(|s| s.0 + s.1 > 0).map(|s| s.2).max();
        if ok + errors == 0 {
            prop_assert!(v[0].observed.value().is_none());
            prop_assert!(!v[0].passed);
        } else {
            let er = errors as f64 / (ok + errors) as f64;
            prop_assert!((v[0].observed.value().unwrap() - er).abs() < 1e-12);
            prop_assert!((v[1].observed.value().unwrap() - (1.0 - er)).abs() < 1e-12);
            let m = v[3].observed.value().unwrap();
            let expected = f64::from(max_ms.unwrap()) / 1000.0;
            prop_assert!((m - expected).abs() <= expected * 1e-3, "max {m} vs {expected}");
            let p50 = v[4].observed.value().unwrap();
            prop_assert!(p50 <= m);
        }
        prop_assert!((v[2].observed.value().unwrap() - ok as f64 / 50.0).abs() < 1e-9);
        // The report builds, and its JSON reads back.
        let r = chaos_report::report(&plan, &rec).unwrap();
        prop_assert_eq!(chaos_report::Report::from_json(&r.to_json()).unwrap(), r);
    }
}
