//! `chaos sweep`'s search against queueing theory: M/M/1 with mu = 100/s, `mean(s) < 50ms`
//! holds while 1/(mu - lambda) < 50ms, i.e. up to lambda = 80/s.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use chaos_explore::eval::{Evaluator, Variant};
use chaos_explore::sweep::{self, Config, ExpInfo, Kind, ParamRange, SweepReport};
use chaos_explore::{Outcome, Sources};

const MM1: &str = include_str!("fixtures/mm1-sweep.chaos");

fn sweep_mm1(range: &str, steps: usize, runs: u32) -> (SweepReport, f64) {
    let sources = Sources::single("mm1-sweep.chaos", MM1);
    let plan = sources.compile(&[]).unwrap();
    let declared: Vec<(String, String)> = plan
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    let range = ParamRange::parse(range, &declared).unwrap();
    let config = Config {
        range: range.clone(),
        steps,
        runs,
        seed: 1,
    };
    let exps = ExpInfo::of_plan(&plan);
    let evaluator = Evaluator::new(sources);
    let started = Instant::now();
    let mut eval = |jobs: &[(f64, u64)]| -> Result<Vec<Outcome>, String> {
        let variants: Vec<Variant> = jobs
            .iter()
            .map(|&(v, seed)| Variant {
                root_text: MM1.to_string(),
                sets: vec![(range.name.clone(), range.literal(v))],
                seed,
            })
            .collect();
        evaluator
            .run_all(&variants)
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    };
    let result = sweep::run(&config, exps.len(), &mut eval).unwrap();
    let secs = started.elapsed().as_secs_f64();
    (
        SweepReport::build(&plan.scenario.name, &config, &exps, &result),
        secs,
    )
}

#[test]
fn mm1_mean_boundary_is_80_per_second_within_5_percent() {
    let (report, secs) = sweep_mm1("rate=40/s..95/s", 9, 3);
    let mean = &report.boundaries[0];
    assert_eq!(mean.expectation, "mean(s) < 50ms");
    assert_eq!(mean.kind, Kind::HoldsUpTo);
    let v = mean.value.unwrap();
    eprintln!(
        "M/M/1 boundary {v}/s (interval {:?}), {} simulations in {secs:.2}s",
        mean.interval, report.simulations
    );
    assert!((v - 80.0).abs() <= 4.0, "boundary {v}/s, theory 80/s");
    let [lo, hi] = mean.interval.unwrap();
    assert!(lo <= v && v <= hi && hi - lo < 8.0, "{lo}..{hi}");
    // error_rate == 0% holds at every rate; throughput >= 1000/s at none.
    assert_eq!(report.boundaries[1].kind, Kind::HoldsEverywhere);
    assert_eq!(report.boundaries[2].kind, Kind::HoldsNowhere);
    assert_eq!(report.boundaries[1].value, None);
    // Every point carries every seed of the grid; observed means rise with the rate.
    let grid: Vec<_> = report
        .points
        .iter()
        .filter(|p| p.seeds.len() == 3)
        .collect();
    assert!(grid.len() >= 9);
    let means: Vec<f64> = grid
        .iter()
        .map(|p| p.expectations[0].observed.unwrap())
        .collect();
    assert!(means.windows(2).all(|w| w[0] < w[1] * 1.05), "{means:?}");
}

#[test]
fn sweep_is_deterministic_and_the_html_has_one_plot_per_expectation() {
    let (a, _) = sweep_mm1("rate=50/s..90/s", 5, 1);
    let (b, _) = sweep_mm1("rate=50/s..90/s", 5, 1);
    assert_eq!(a.to_json(), b.to_json());
    let html = sweep::html::render(&a);
    assert_eq!(html.matches("<svg").count(), 3);
    assert_eq!(html.matches(r#"class="threshold""#).count(), 3);
    assert_eq!(html.matches(r#"class="boundary""#).count(), 1);
}

#[test]
fn the_terminal_table_reads_as_expected() {
    let (report, _) = sweep_mm1("rate=50/s..90/s", 5, 2);
    insta::assert_snapshot!("mm1_terminal", report.render_terminal());
}

#[test]
fn the_sweep_is_the_same_on_one_core_and_on_several() {
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| sweep_mm1("rate=60/s..90/s", 4, 2).0.to_json())
    };
    assert_eq!(on(1), on(3));
}
