//! Benchmark of the local runtime (not a test): the load generator's highest sustained rate
//! against one agent with no work (compare with `wrk` on the same agent), the latency one agent
//! hop adds, and how late faults fire against their schedule. Figures go to `BENCH.md`.
//!
//! `cargo build --release -p chaos -p chaos-local && target/release/chaos-local-bench --chaos target/release/chaos`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos_plan::*;
use chaos_report::{Latency, Recording, SubjectKey};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let chaos = args
        .iter()
        .position(|a| a == "--chaos")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/chaos"));
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if let Err(e) = bench(&chaos, only.as_deref()) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn bench(chaos: &std::path::Path, only: Option<&str>) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("chaos-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if only.is_none_or(|o| o == "rate") {
        max_rate(&rt, chaos, &dir)?;
    }
    if only.is_none_or(|o| o == "hop") {
        hop(&rt, chaos, &dir)?;
    }
    if only.is_none_or(|o| o == "faults") {
        fault_lateness(chaos)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn service(name: &str, steps: Vec<Step>) -> Service {
    Service {
        name: name.into(),
        replicas: Replicas::Fixed { count: 1 },
        workers: 1024,
        queue: None,
        rate_limit_per_s: None,
        restart_s: 1.0,
        balance: Balance::RoundRobin,
        latency: Dist::ZERO,
        endpoints: vec![Endpoint {
            name: "GET /".into(),
            steps,
        }],
    }
}

fn open(name: &str, service: &str, rate: f64, duration_s: f64) -> Workload {
    Workload {
        name: name.into(),
        target: EndpointRef {
            service: service.into(),
            endpoint: "GET /".into(),
        },
        load: Load::Open {
            rate: vec![RatePiece {
                start_s: 0.0,
                end_s: duration_s,
                from_per_s: rate,
                to_per_s: rate,
            }],
            spikes: vec![],
            arrivals: Arrivals::Uniform,
        },
        timeout_s: Some(2.0),
    }
}

fn plan(
    services: Vec<Service>,
    workloads: Vec<Workload>,
    faults: Vec<Fault>,
    duration_s: f64,
) -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "bench".into(),
            duration_s,
            warmup_s: 0.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 2.0,
        },
        params: vec![],
        services,
        workloads,
        faults,
        expectations: vec![],
        aborts: vec![],
    }
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn agent(
    chaos: &std::path::Path,
    plan_path: &std::path::Path,
    service: &str,
    peers: &[(String, u16)],
) -> Result<(Agent, u16), String> {
    let port = free_port();
    let mut cmd = Command::new(chaos);
    cmd.arg("agent").arg("--plan").arg(plan_path).args([
        "--service",
        service,
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    for (s, p) in peers {
        cmd.args(["--peer", &format!("{s}=http://127.0.0.1:{p}")]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("run {}: {e}", chaos.display()))?;
    let a = Agent(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("agent {service} did not start"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((a, port))
}

fn workload_latency(rec: &Recording, name: &str) -> (u64, u64, Latency) {
    let i = rec
        .subject_index(&SubjectKey::Workload {
            workload: name.into(),
        })
        .unwrap_or(0);
    let mut l = Latency::new();
    let (mut ok, mut err) = (0, 0);
    for w in &rec.windows {
        if let Some(s) = w.subjects.get(i) {
            ok += s.ok;
            err += s.error_count();
            l.add_sparse(&s.latency);
        }
    }
    (ok, err, l)
}

fn endpoint_latency(rec: &Recording, service: &str) -> Latency {
    let i = rec
        .subject_index(&SubjectKey::Endpoint {
            service: service.into(),
            endpoint: "GET /".into(),
        })
        .unwrap_or(0);
    let mut l = Latency::new();
    for w in &rec.windows {
        if let Some(s) = w.subjects.get(i) {
            l.add_sparse(&s.latency);
        }
    }
    l
}

fn ms(l: &Latency, q: f64) -> f64 {
    l.quantile_s(q).unwrap_or(f64::NAN) * 1e3
}

/// Highest open-loop rate the load generator sustains (≥ 99% answered, p99 < 50 ms) against
/// one agent with no work, then `wrk` against the same agent.
fn max_rate(
    rt: &tokio::runtime::Runtime,
    chaos: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(), String> {
    let duration = 5.0;
    let base = plan(vec![service("s", vec![])], vec![], vec![], duration);
    let plan_path = dir.join("rate.json");
    std::fs::write(&plan_path, base.to_json()).map_err(|e| e.to_string())?;
    let (_a, port) = agent(chaos, &plan_path, "s", &[])?;
    let targets: BTreeMap<String, Vec<String>> =
        [("s".to_string(), vec![format!("http://127.0.0.1:{port}")])].into();
    println!(
        "## load generator, open loop, uniform arrivals, {duration}s per step, one agent with no work"
    );
    println!("| offered /s | answered /s | errors | p50 ms | p99 ms | sustained |");
    println!("|---:|---:|---:|---:|---:|---|");
    let mut best = 0.0;
    for rate in [
        2000.0, 4000.0, 6000.0, 8000.0, 10000.0, 12000.0, 14000.0, 16000.0, 20000.0,
    ] {
        let mut p = base.clone();
        p.workloads = vec![open("w", "s", rate, duration)];
        let rec = rt
            .block_on(chaos_agent::loadgen::run_to_recording(
                Arc::new(p),
                &targets,
                1,
            ))
            .map_err(|e| e.to_string())?;
        let (ok, err, l) = workload_latency(&rec, "w");
        let answered = ok as f64 / duration;
        let sustained = ok as f64 >= 0.99 * rate * duration && err == 0 && ms(&l, 0.99) < 50.0;
        println!(
            "| {rate} | {answered:.0} | {err} | {:.2} | {:.2} | {} |",
            ms(&l, 0.5),
            ms(&l, 0.99),
            if sustained { "yes" } else { "no" }
        );
        if sustained {
            best = rate;
        } else {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("\nloadgen highest sustained rate: {best}/s");
    for c in [16, 64] {
        let out = Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{c}"),
                "-d5s",
                "--latency",
                &format!("http://127.0.0.1:{port}/"),
            ])
            .output();
        match out {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                let rps = text
                    .lines()
                    .find(|l| l.starts_with("Requests/sec"))
                    .unwrap_or("Requests/sec: ?");
                let p50 = text
                    .lines()
                    .find(|l| l.trim_start().starts_with("50%"))
                    .unwrap_or("50% ?");
                println!(
                    "wrk -t2 -c{c} -d5s (closed loop): {}, latency {}",
                    rps.trim(),
                    p50.trim()
                );
            }
            Err(e) => println!("wrk not run: {e}"),
        }
    }
    Ok(())
}

/// Latency of one hop: the load generator → agent `a` (no work) and `a` → agent `b` (no work).
fn hop(
    rt: &tokio::runtime::Runtime,
    chaos: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(), String> {
    let duration = 10.0;
    let call = Step::Call(Call {
        service: "b".into(),
        endpoint: "GET /".into(),
        timeout_s: Some(1.0),
        retry: Retry::NONE,
        circuit_breaker: None,
        continue_on_error: false,
    });
    let p = plan(
        vec![service("a", vec![call]), service("b", vec![])],
        vec![open("w", "a", 500.0, duration)],
        vec![],
        duration,
    );
    let plan_path = dir.join("hop.json");
    std::fs::write(&plan_path, p.to_json()).map_err(|e| e.to_string())?;
    let (_b, bport) = agent(chaos, &plan_path, "b", &[])?;
    let (_a, aport) = agent(chaos, &plan_path, "a", &[("b".into(), bport)])?;
    let one = |target: &str, port: u16, p: &Plan| -> Result<Latency, String> {
        let mut p = p.clone();
        p.workloads = vec![open("w", target, 500.0, duration)];
        let targets: BTreeMap<String, Vec<String>> =
            [(target.to_string(), vec![format!("http://127.0.0.1:{port}")])].into();
        let rec = rt
            .block_on(chaos_agent::loadgen::run_to_recording(
                Arc::new(p),
                &targets,
                1,
            ))
            .map_err(|e| e.to_string())?;
        Ok(endpoint_latency(&rec, target))
    };
    let direct = one("b", bport, &p)?;
    let chain = one("a", aport, &p)?;
    println!("\n## agent hop latency, 500/s for {duration}s each, no work, loopback");
    println!("| path | p50 ms | p90 ms | p99 ms |\n|---|---:|---:|---:|");
    println!(
        "| loadgen → b | {:.3} | {:.3} | {:.3} |",
        ms(&direct, 0.5),
        ms(&direct, 0.9),
        ms(&direct, 0.99)
    );
    println!(
        "| loadgen → a → b | {:.3} | {:.3} | {:.3} |",
        ms(&chain, 0.5),
        ms(&chain, 0.9),
        ms(&chain, 0.99)
    );
    println!(
        "added by one agent hop (a, with its client call to b), p50: {:.3} ms",
        ms(&chain, 0.5) - ms(&direct, 0.5)
    );
    Ok(())
}

/// A local run with 40 fault starts and ends; lateness = effect in place − scheduled time.
fn fault_lateness(chaos: &std::path::Path) -> Result<(), String> {
    let duration = 11.0;
    let faults = (0..20)
        .map(|i| {
            let start = 0.5 + f64::from(i) * 0.5;
            Fault {
                name: format!("f{i}"),
                occurrences: vec![Occurrence {
                    start_s: start,
                    end_s: start + 0.25,
                }],
                active: vec![Interval {
                    start_s: start,
                    end_s: start + 0.25,
                }],
                actions: vec![Action::Latency {
                    target: Target {
                        service: "s".into(),
                        endpoint: None,
                    },
                    delay: Dist::Constant { value_s: 0.001 },
                }],
            }
        })
        .collect();
    let mut s = service(
        "s",
        vec![Step::Work {
            dist: Dist::Constant { value_s: 0.001 },
        }],
    );
    s.replicas = Replicas::Fixed { count: 3 };
    let p = plan(
        vec![s],
        vec![open("w", "s", 300.0, duration)],
        faults,
        duration,
    );
    let (_, stats) = chaos_local::run_with_stats(
        &p,
        &chaos_local::Options {
            seed: 1,
            chaos_bin: chaos.to_path_buf(),
        },
    )
    .map_err(|e| e.to_string())?;
    let mut l: Vec<f64> = stats.fault_lateness_s.iter().map(|x| x * 1e3).collect();
    l.sort_by(f64::total_cmp);
    let q = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "\n## fault firing lateness (3 replicas, 300/s, {} fault starts and ends)",
        l.len()
    );
    println!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
    Ok(())
}
