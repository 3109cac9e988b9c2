//! Benchmark: simulate N requests of the reference scenario `ms-ref-1` (bench/README.md)
//! and print the figures the SimPy baseline prints, as one JSON object.
//!
//! `cargo run --release -p chaos-sim --example sim-bench -- -n 1000000 [--seed 1] [--scenario FILE]`

use std::path::PathBuf;
use std::time::Instant;

use chaos_report::{Cause, Latency, Recording, Stats, SubjectKey};
use chaos_sim::{SimOptions, simulate_with};

const RATE_PER_S: f64 = 800.0;

struct Args {
    n: u64,
    seed: u64,
    scenario: PathBuf,
    fault_multiplier: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        n: 100_000,
        seed: 1,
        scenario: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/ms-ref-1.chaos"
        )),
        fault_multiplier: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-n" | "--requests" => a.n = value()?.parse().map_err(|e| format!("-n: {e}"))?,
            "-s" | "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--scenario" => a.scenario = PathBuf::from(value()?),
            "--fault-multiplier" => {
                a.fault_multiplier = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--fault-multiplier: {e}"))?,
                )
            }
            "-h" | "--help" => {
                return Err(
                    "usage: sim-bench [-n N] [--seed S] [--scenario FILE] [--fault-multiplier X]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.n == 0 {
        return Err("-n must be at least 1".into());
    }
    Ok(a)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn total(rec: &Recording, key: &SubjectKey) -> (Stats, Latency) {
    let mut stats = Stats::default();
    let mut lat = Latency::new();
    if let Some(i) = rec.subject_index(key) {
        for w in &rec.windows {
            stats.add_counts(&w.subjects[i]);
            lat.add_sparse(&w.subjects[i].latency);
        }
    }
    (stats, lat)
}

fn endpoint(service: &str, endpoint: &str) -> SubjectKey {
    SubjectKey::Endpoint {
        service: service.into(),
        endpoint: endpoint.into(),
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let text = match std::fs::read_to_string(&args.scenario) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.scenario.display());
            std::process::exit(2);
        }
    };
    // T = N / rate; the fault covers [0.2 T, 0.4 T). Sending may run past T (Poisson) until
    // N arrivals: the duration leaves room and arrivals stop at N.
    let t_nominal = args.n as f64 / RATE_PER_S;
    let ms = |s: f64| format!("{}ms", (s * 1000.0).round() as u64);
    let sets = vec![
        ("run".to_string(), ms(1.05 * t_nominal + 10.0)),
        ("fault_at".to_string(), ms(0.2 * t_nominal)),
        ("fault_for".to_string(), ms(0.2 * t_nominal)),
    ];
    let compiled = chaos_compiler::compile_str(&args.scenario.to_string_lossy(), &text, &sets);
    let Some(mut plan) = compiled.plan else {
        for d in &compiled.diagnostics {
            eprintln!("{d:?}");
        }
        std::process::exit(2);
    };
    // SimPy's clients never give up.
    for w in &mut plan.workloads {
        w.timeout_s = None;
    }
    if let Some(x) = args.fault_multiplier {
        for f in &mut plan.faults {
            for a in &mut f.actions {
                if let chaos_plan::Action::Cpu { factor, .. } = a {
                    *factor = x;
                }
            }
        }
    }
    let opts = SimOptions {
        max_arrivals: Some(args.n),
        // Let the backlog drain completely, as the SimPy model does.
        // (the backlog is gone by about 1.02 T; the duration already runs to 1.05 T + 10 s).
        drain_s: Some(0.05 * t_nominal + 30.0),
        ..SimOptions::default()
    };
    let t0 = Instant::now();
    let (rec, stats) = match simulate_with(&plan, args.seed, &opts, &mut |_| {}) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3);
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    let (w, lat) = total(
        &rec,
        &SubjectKey::Workload {
            workload: "shoppers".into(),
        },
    );
    let (cart, _) = total(&rec, &endpoint("cart", "GET /items"));
    let (pay, _) = total(&rec, &endpoint("payments", "POST /charge"));
    let ms_of = |s: Option<f64>| s.unwrap_or(f64::NAN) * 1e3;
    let out = format!(
        concat!(
            "{{\"simulator\": \"chaos-sim\", \"scenario\": \"ms-ref-1\", \"seed\": {}, \"requests\": {}, ",
            "\"errors\": {}, \"unfinished\": {}, \"mean_ms\": {:.1}, \"p50_ms\": {:.1}, \"p99_ms\": {:.1}, \"max_ms\": {:.1}, ",
            "\"sim_seconds\": {:.2}, \"wall_seconds\": {:.4}, \"requests_per_wall_second\": {:.0}, ",
            "\"events\": {}, \"events_per_wall_second\": {:.0}, \"peak_in_flight\": {}, ",
            "\"cart_attempts\": {}, \"cart_timeouts\": {}, \"payments_attempts\": {}, \"payments_timeouts\": {}, ",
            "\"peak_rss_kib\": {}}}"
        ),
        args.seed,
        w.requests(),
        w.error_count(),
        w.errors[Cause::Unfinished.index()],
        ms_of(lat.mean_s()),
        ms_of(lat.quantile_s(0.5)),
        ms_of(lat.quantile_s(0.99)),
        ms_of(lat.max_s()),
        stats.last_workload_answer_s,
        wall,
        w.requests() as f64 / wall,
        stats.events,
        stats.events as f64 / wall,
        stats.peak_in_flight,
        cart.requests(),
        cart.errors[Cause::Timeout.index()],
        pay.requests(),
        pay.errors[Cause::Timeout.index()],
        peak_rss_kib(),
    );
    println!("{out}");
}
