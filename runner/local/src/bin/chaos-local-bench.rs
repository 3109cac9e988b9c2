//! Benchmark of the local runtime (not a test): the load generator's highest sustained rate
//! against one agent with no work (compare with `wrk` on the same agent), the latency one agent
//! hop adds, and how late faults fire against their schedule. Figures go to `BENCH.md`.
//!
//! `cargo build --release -p chaos -p chaos-local && target/release/chaos-local-bench --chaos target/release/chaos`
//! (`--only rate|hop|faults`, `--rounds N` to repeat the rate search and `wrk` back to back,
//! `--only rate --rate R` for one step at R/s, to profile).

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
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    // One step at one rate and nothing else, to profile the load generator.
    let fixed = args
        .iter()
        .position(|a| a == "--rate")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok());
    if let Err(e) = bench(&chaos, only.as_deref(), rounds, fixed) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn bench(
    chaos: &std::path::Path,
    only: Option<&str>,
    rounds: usize,
    fixed: Option<f64>,
) -> Result<(), String> {
    // CHAOS_BENCH_THREADS: worker threads of the load generator's runtime (default: cores).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("CHAOS_BENCH_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        builder.worker_threads(n);
    }
    let rt = builder.enable_all().build().map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("chaos-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if only.is_none_or(|o| o == "rate") {
        max_rate(&rt, chaos, &dir, rounds, fixed)?;
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
        discipline: Default::default(),
        eject: None,
        health_check: None,
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
        priority: 0,
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
            hop_s: 0.0,
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

/// One step of the rate search: what the load generator achieved at one offered rate.
struct RateStep {
    rate: f64,
    answered: f64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    connections: u64,
    overflow: u64,
    sustained: bool,
}

fn step(
    rt: &tokio::runtime::Runtime,
    agent_pid: &str,
    base: &Plan,
    targets: &BTreeMap<String, Vec<String>>,
    rate: f64,
    duration: f64,
) -> Result<RateStep, String> {
    let mut p = base.clone();
    p.workloads = vec![open("w", "s", rate, duration)];
    let (lg0, ag0) = (cpu_s("self", false), cpu_s(agent_pid, false));
    let (rec, stats) = rt
        .block_on(chaos_agent::loadgen::run_with_stats(
            Arc::new(p),
            targets,
            1,
        ))
        .map_err(|e| e.to_string())?;
    let (ok, err, l) = workload_latency(&rec, "w");
    let per_req = |c: f64| 1e6 * c / (ok + err).max(1) as f64;
    let lg_us = per_req(cpu_s("self", false) - lg0);
    let ag_us = per_req(cpu_s(agent_pid, false) - ag0);
    let s = RateStep {
        rate,
        answered: ok as f64 / duration,
        errors: err,
        p50_ms: ms(&l, 0.5),
        p99_ms: ms(&l, 0.99),
        connections: stats.connections,
        overflow: stats.overflow_workers,
        // Every planned request answered (1% slack for the last ones of the run), no error,
        // and the tail bounded: a backlog that builds shows in p99 measured from the plan.
        sustained: ok as f64 >= 0.99 * rate * duration && err == 0 && ms(&l, 0.99) < 50.0,
    };
    println!(
        "| {rate:.0} | {:.0} | {} | {:.2} | {:.2} | {} ({} overflow) | {lg_us:.1} | {ag_us:.1} | {} |",
        s.answered,
        s.errors,
        s.p50_ms,
        s.p99_ms,
        s.connections,
        s.overflow,
        if s.sustained { "yes" } else { "no" }
    );
    std::thread::sleep(Duration::from_millis(500));
    Ok(s)
}

/// CPU time (user + system, seconds) of process `pid` ("self" for this one), with its
/// waited-for children when `children` (wrk, once it has exited).
fn cpu_s(pid: &str, children: bool) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let n = if children { 4 } else { 2 };
    // Clock ticks of 1/100 s (CLK_TCK on Linux).
    fields.iter().take(n).sum::<f64>() / 100.0
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `wrk` against the same agent: requests/s, its p50, and CPU µs per request of wrk and of
/// the agent.
fn wrk(
    port: u16,
    agent_pid: &str,
    connections: u32,
    duration_s: u32,
) -> Option<(f64, String, f64, f64)> {
    let (wrk0, ag0) = (
        cpu_s("self", true) - cpu_s("self", false),
        cpu_s(agent_pid, false),
    );
    let o = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{duration_s}s"),
            "--latency",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    let p50 = text
        .lines()
        .find(|l| l.trim_start().starts_with("50%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let wrk_cpu = cpu_s("self", true) - cpu_s("self", false) - wrk0;
    let ag_cpu = cpu_s(agent_pid, false) - ag0;
    let n = rps * f64::from(duration_s);
    Some((rps, p50, 1e6 * wrk_cpu / n, 1e6 * ag_cpu / n))
}

/// Highest open-loop rate the load generator sustains against one agent with no work (found by
/// doubling, then halving the gap down to 500/s), then `wrk` against the same agent right
/// after; `rounds` times, alternating, with the load average before each.
fn max_rate(
    rt: &tokio::runtime::Runtime,
    chaos: &std::path::Path,
    dir: &std::path::Path,
    rounds: usize,
    fixed: Option<f64>,
) -> Result<(), String> {
    let duration = 5.0;
    let base = plan(vec![service("s", vec![])], vec![], vec![], duration);
    let plan_path = dir.join("rate.json");
    std::fs::write(&plan_path, base.to_json()).map_err(|e| e.to_string())?;
    let (a, port) = agent(chaos, &plan_path, "s", &[])?;
    let agent_pid = a.0.id().to_string();
    let targets: BTreeMap<String, Vec<String>> =
        [("s".to_string(), vec![format!("http://127.0.0.1:{port}")])].into();
    let mut summary = Vec::new();
    for round in 1..=rounds {
        println!(
            "\n## round {round}: load generator, open loop, uniform arrivals, {duration}s per step, one agent with no work (load {})",
            uptime()
        );
        println!(
            "| offered /s | answered /s | errors | p50 ms | p99 ms | connections | loadgen CPU µs/req | agent CPU µs/req | sustained |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        let (mut good, mut bad): (Option<RateStep>, Option<f64>) = (None, None);
        let mut rate: f64 = fixed.unwrap_or(4000.0);
        loop {
            let s = step(rt, &agent_pid, &base, &targets, rate, duration)?;
            if fixed.is_some() {
                for c in [16, 64] {
                    if let Some((rps, p50, wrk_us, ag_us)) = wrk(port, &agent_pid, c, 5) {
                        println!(
                            "wrk -t2 -c{c} -d5s: {rps:.0} req/s, p50 {p50}, CPU µs/req wrk {wrk_us:.1} agent {ag_us:.1}"
                        );
                    }
                }
                return Ok(());
            }
            if s.sustained {
                good = Some(s);
            } else {
                bad = Some(rate);
            }
            let lo = good.as_ref().map_or(0.0, |g| g.rate);
            rate = match bad {
                None => rate * 2.0,
                Some(hi) if hi - lo > 500.0 => ((lo + hi) / 2.0 / 250.0).round() * 250.0,
                Some(_) => break,
            };
        }
        let best = good.map_or(0.0, |g| g.rate);
        let load = uptime();
        let w16 = wrk(port, &agent_pid, 16, 5);
        let w64 = wrk(port, &agent_pid, 64, 5);
        println!("\nround {round}: loadgen sustained {best:.0}/s; then (load {load}):");
        for (c, w) in [(16, &w16), (64, &w64)] {
            match w {
                Some((rps, p50, wrk_us, ag_us)) => println!(
                    "wrk -t2 -c{c} -d5s (closed loop): {rps:.0} req/s, p50 {p50}, CPU µs/req wrk {wrk_us:.1} agent {ag_us:.1}; loadgen/wrk = {:.0}%",
                    100.0 * best / rps
                ),
                None => println!("wrk -c{c} not run (is wrk installed?)"),
            }
        }
        summary.push((
            best,
            w16.as_ref().map(|w| w.0),
            w64.as_ref().map(|w| w.0),
            load,
        ));
    }
    println!(
        "\n| round | loadgen sustained /s | wrk -c16 /s | ratio | wrk -c64 /s | ratio | load before wrk |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---|");
    for (i, (best, w16, w64, load)) in summary.iter().enumerate() {
        let cell = |w: &Option<f64>| {
            w.map_or("–".to_string(), |w| {
                format!("{w:.0} | {:.0}%", 100.0 * best / w)
            })
        };
        println!(
            "| {} | {best:.0} | {} | {} | {load} |",
            i + 1,
            cell(w16),
            cell(w64)
        );
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
        priority: None,
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
                        replicas: None,
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
            warn: chaos_local::Warn::default(),
            observer: None,
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
