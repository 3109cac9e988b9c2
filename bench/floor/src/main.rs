//! `ms-ref-1-floor`: the floor `chaos run --sim` is measured against (issue 15). A
//! special-purpose simulator of exactly `scenarios/ms-ref-1.chaos` (see `sim.rs` for the model
//! and its semantics), taking the scenario's params as `chaos run --set` does, and printing
//! the workload's figures as one JSON object.
//!
//! ms-ref-1-floor [--seed S] [--rate 800] [--run 125] [--fault-at 25] [--fault-for 25]
//!                [--patience 60] [-n N]
//! Times in seconds. `-n N` sets the bench's size: run = N / rate, the fault over
//! [0.2 run, 0.4 run) (like bench/run.sh's `--set`s for chaos).

mod rng;
mod sim;

use std::time::Instant;

use sim::{Params, percentile, simulate};

fn parse() -> Result<Params, String> {
    let mut p = Params {
        rate_per_s: 800.0,
        run_s: 125.0,
        fault_at_s: 25.0,
        fault_for_s: 25.0,
        patience_s: 60.0,
        seed: 1,
    };
    let mut n: Option<f64> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || -> Result<f64, String> {
            let v: f64 = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("{flag} {value}: must be a number >= 0"))
            }
        };
        match flag.as_str() {
            "--seed" | "-s" => {
                p.seed = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?
            }
            "--rate" => p.rate_per_s = num()?,
            "--run" => p.run_s = num()?,
            "--fault-at" => p.fault_at_s = num()?,
            "--fault-for" => p.fault_for_s = num()?,
            "--patience" => p.patience_s = num()?,
            "-n" | "--requests" => n = Some(num()?),
            _ => {
                return Err(format!(
                    "unknown argument {flag} (see the top of src/main.rs)"
                ));
            }
        }
    }
    if p.rate_per_s <= 0.0 {
        return Err("--rate must be above 0".into());
    }
    if let Some(n) = n {
        p.run_s = n / p.rate_per_s;
        p.fault_at_s = 0.2 * p.run_s;
        p.fault_for_s = 0.2 * p.run_s;
    }
    Ok(p)
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

fn main() {
    let p = match parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ms-ref-1-floor: {e}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let mut r = simulate(p);
    let wall = t0.elapsed().as_secs_f64();
    let sent = r.sent.max(1) as f64;
    let mean_ms = r.latencies.iter().map(|&x| f64::from(x)).sum::<f64>() / sent * 1e3;
    let p50 = percentile(&mut r.latencies, 0.50) * 1e3;
    let p99 = percentile(&mut r.latencies, 0.99) * 1e3;
    let errors = r.failed + r.client_timeouts;
    // Throughput as chaos reports it: answered OK per second of the run.
    println!(
        "{{\"simulator\": \"floor\", \"seed\": {}, \"run_s\": {}, \"requests\": {}, \"ok\": {}, \
         \"errors\": {}, \"client_timeouts\": {}, \"error_rate_pct\": {:.6}, \
         \"throughput_per_s\": {:.3}, \"mean_ms\": {:.3}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \
         \"attempts\": {}, \"events\": {}, \"events_per_request\": {:.3}, \
         \"wall_seconds\": {:.6}, \"peak_rss_kib\": {}}}",
        p.seed,
        p.run_s,
        r.sent,
        r.ok,
        errors,
        r.client_timeouts,
        errors as f64 / sent * 100.0,
        r.ok as f64 / p.run_s,
        mean_ms,
        p50,
        p99,
        r.attempts,
        r.events,
        r.events as f64 / sent,
        wall,
        peak_rss_kib()
    );
}
