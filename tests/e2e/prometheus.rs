//! End-to-end: Debian's real Prometheus scrapes the agents of a `chaos run --local` (found
//! through file_sd as they start), and PromQL gives the error rate the report states.
//! Skipped when the `prometheus` binary is not installed (`scripts/test` installs it).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Reap, chaos, free_port, scratch};

const SCENARIO: &str = r#"
scenario "scraped by prometheus" {
  duration 20s
  warmup 0s
  seed 3
}

service api {
  workers 16
  latency 2ms
  endpoint "GET /" { }
}

workload users {
  target api "GET /"
  rate 150/s
}

fault flaky at 4s for 10s {
  errors 30% status 503 on api "GET /"
}
"#;

/// `127.0.0.1:PORT` of every `chaos agent` whose parent is `run` (read from /proc, as the
/// local runner picks the ports itself).
fn agent_addresses(run: u32) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let p = e.path();
        let Ok(stat) = std::fs::read_to_string(p.join("stat")) else {
            continue;
        };
        // The parent pid is the 2nd field after the `(comm)` one.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid != Some(run) {
            continue;
        }
        let Ok(cmd) = std::fs::read(p.join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "agent")
            && let Some(i) = args.iter().position(|a| a == "--listen")
            && let Some(addr) = args.get(i + 1)
        {
            out.push(addr.clone());
        }
    }
    out.sort();
    out
}

fn query(port: u16, promql: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let out = Command::new("curl")
        .args(["-sf", "--get", &url, "--data-urlencode"])
        .arg(format!("query={promql}"))
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_a_local_run_and_promql_matches_the_report() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
        || Command::new("curl").arg("--version").output().is_err()
    {
        eprintln!("prometheus or curl not installed (apt-get install prometheus curl); skipped");
        return;
    }
    let dir = scratch("prom");
    let scenario = dir.join("s.chaos");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let targets = dir.join("targets.json");
    std::fs::write(&targets, "[]").unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: chaos\n  file_sd_configs:\n  - files: ['{}']\n    refresh_interval: 1s\n",
            targets.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let _prom = Reap(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let report = dir.join("report.json");
    // The runner's own /metrics (the dashboard server's) is scraped beside the agents'.
    let runner = format!("127.0.0.1:{}", free_port());
    let mut run = Reap(
        chaos()
            .arg("run")
            .arg(&scenario)
            .args(["--local", "--report"])
            .arg(&report)
            .arg(format!("--dashboard={runner}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = run.0.id();
    let started = Instant::now();
    let mut known: Vec<String> = Vec::new();
    while run.0.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "run hangs");
        let now = agent_addresses(pid);
        if !now.is_empty() && now != known {
            let mut all = now.clone();
            all.push(runner.clone());
            write_targets(&targets, &all);
            known = now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!known.is_empty(), "no agent seen");

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let api = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "api")
        .unwrap();
    let reported = api["error_rate_pct"].as_f64().unwrap();
    // Counters start at zero with each agent, so the last scraped values are the run's totals
    // (less the last second, which has no fault): their ratio is the run's error rate.
    let promql = "100 * sum(max_over_time(chaos_request_errors_total{service=\"api\"}[5m])) / sum(max_over_time(chaos_requests_total{service=\"api\"}[5m]))";
    let mut measured = None;
    for _ in 0..30 {
        measured = query(port, promql);
        if measured.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let measured = measured.expect("Prometheus answered the query");
    eprintln!("error rate: PromQL {measured:.3}%, report {reported:.3}%");
    // 30% of 10 s of 20 s: about 15%; 3000 requests give a sampling sd near 0.7 points.
    assert!(reported > 8.0 && reported < 22.0, "report: {reported}%");
    assert!(
        (measured - reported).abs() < 2.0,
        "PromQL {measured}% vs report {reported}%"
    );
    // The runner's figures for the workload reached Prometheus too.
    let runner_requests = query(
        port,
        "sum(max_over_time(chaos_workload_requests_total[5m]))",
    );
    assert!(
        runner_requests.is_some_and(|n| n > 0.0),
        "the runner's /metrics was scraped: {runner_requests:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_targets(path: &Path, addrs: &[String]) {
    let body = serde_json::json!([{ "targets": addrs, "labels": { "job": "chaos" } }]);
    // Written whole, then renamed: Prometheus must never read half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
