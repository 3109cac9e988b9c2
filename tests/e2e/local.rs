//! End-to-end: `chaos run --local` and `chaos agent` for real, on loopback. Each scenario runs
//! for a few seconds of wall time; assertions are about effects that cannot be absent
//! (an injected 80ms delay makes p50 at least 80ms), never about how fast the machine is.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, chaos, code, free_port, scratch as temp_dir, wait_until};

/// Runs a scenario with `--local`; returns the exit code, the JSON report and stderr.
pub(crate) fn run_local(name: &str, scenario: &str) -> (i32, Value, String) {
    let dir = temp_dir(name);
    let file = dir.join(format!("{name}.chaos"));
    std::fs::write(&file, scenario).unwrap();
    let report = dir.join("report.json");
    let out = chaos()
        .args([
            "run",
            file.to_str().unwrap(),
            "--local",
            "--report",
            report.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = std::fs::read_to_string(&report)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|_| panic!("no report (exit {}): {stderr}", code(&out)));
    (code(&out), json, stderr)
}

fn observed(report: &Value, text: &str) -> f64 {
    let e = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == text);
    e.unwrap_or_else(|| panic!("no expectation `{text}` in {report}"))["observed"]
        .as_f64()
        .unwrap()
}

fn endpoint<'a>(report: &'a Value, service: &str, endpoint: &str) -> &'a Value {
    report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == service && e["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no endpoint {service} {endpoint}"))
}

fn workload<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap()
}

#[test]
fn injected_latency_shows_in_the_measured_p50() {
    let (code, r, err) = run_local(
        "latency",
        r#"
scenario "latency" { duration 4s }
service s {
  workers 32
  endpoint "GET /" { work 1ms }
}
workload w { target s "GET /" rate 100/s timeout 2s }
fault slow at 2s for 2s { latency +80ms on s }
expect {
  p50(s "GET /") < 80ms before slow
  p50(s "GET /") >= 80ms during slow
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
    assert!(observed(&r, r#"p50(s "GET /") >= 80ms during slow"#) >= 80.0);
    assert_eq!(r["mode"], "local");
}

#[test]
fn an_error_fault_shows_in_the_error_rate() {
    let (code, r, err) = run_local(
        "errors",
        r#"
scenario "errors" { duration 4s }
service s {
  workers 32
  endpoint "GET /" { work 1ms }
}
workload w { target s "GET /" rate 200/s }
fault flaky at 1s for 3s { errors 50% status 503 on s }
expect {
  error_rate(s) == 0% before flaky
  error_rate(s) > 35% during flaky
  error_rate(s) < 65% during flaky
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
    let e = endpoint(&r, "s", "GET /");
    assert!(
        e["errors_by_cause"]["injected"].as_u64().unwrap() > 100,
        "{e}"
    );
}

#[test]
fn a_kill_fails_requests_until_the_replica_restarts() {
    let (code, r, err) = run_local(
        "kill",
        r#"
scenario "kill" { duration 5s }
service s {
  replicas 1
  workers 16
  restart 1s
  endpoint "GET /" { work 1ms }
}
workload w { target s "GET /" rate 100/s timeout 1s }
fault crash at 1s { kill 1 of s }
expect {
  error_rate(w) == 0% before crash
  error_rate(w) > 50% during crash
  error_rate(w) < 1% after crash + 1s
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
    let w = workload(&r, "w");
    assert!(
        w["errors_by_cause"]["connection"].as_u64().unwrap_or(0) > 30,
        "{w}"
    );
}

#[test]
fn a_partition_fails_only_the_cut_calls() {
    let (code, r, err) = run_local(
        "partition",
        r#"
scenario "partition" { duration 4s }
service front {
  workers 32
  endpoint "GET /a" { call a "x" timeout 500ms }
  endpoint "GET /b" { call b "x" timeout 500ms }
}
service a {
  workers 8
  endpoint "x" { work 1ms }
}
service b {
  workers 8
  endpoint "x" { work 1ms }
}
workload to_a { target front "GET /a" rate 50/s }
workload to_b { target front "GET /b" rate 50/s }
fault cut at 1s for 2s { partition front | a }
expect {
  error_rate(a) > 90% during cut
  error_rate(a) == 0% after cut + 200ms
  error_rate(b) == 0% during cut
  error_rate(to_b) == 0%
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
    let a = endpoint(&r, "a", "x");
    assert!(
        a["errors_by_cause"]["connection"].as_u64().unwrap() > 50,
        "{a}"
    );
}

#[test]
fn retries_and_timeouts_behave_as_configured() {
    let (code, r, err) = run_local(
        "retries",
        r#"
scenario "retries" { duration 3s }
service front {
  workers 64
  endpoint "GET /" { call back "slow" timeout 50ms retry 2 backoff 10ms }
}
service back {
  workers 64
  endpoint "slow" { work 300ms }
}
workload w { target front "GET /" rate 20/s timeout 5s }
expect {
  error_rate(w) == 100%
  p50(w) >= 170ms
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
    let front = endpoint(&r, "front", "GET /");
    let back = endpoint(&r, "back", "slow");
    let n = front["requests"].as_u64().unwrap();
    assert!(n > 20, "{front}");
    // Three attempts (1 + 2 retries) per request, each cut by its 50ms timeout.
    assert_eq!(back["requests"].as_u64().unwrap(), 3 * n, "{back}");
    assert_eq!(back["errors_by_cause"]["timeout"].as_u64().unwrap(), 3 * n);
    assert_eq!(front["errors_by_cause"]["downstream"].as_u64().unwrap(), n);
}

#[test]
fn a_scenario_beyond_the_local_limits_is_refused_with_the_limit_named() {
    let dir = temp_dir("limits");
    let file = dir.join("big.chaos");
    std::fs::write(
        &file,
        "scenario \"big\" { duration 1s }\nservice s {\n  replicas 3\n  endpoint \"GET /\" { }\n}\nworkload w { target s \"GET /\" rate 10/s }\n",
    )
    .unwrap();
    let out = chaos()
        .args(["run", file.to_str().unwrap(), "--local"])
        .env("CHAOS_LOCAL_MAX_REPLICAS", "2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains("replicas") && err.contains("CHAOS_LOCAL_MAX_REPLICAS"),
        "{err}"
    );
}

/// One HTTP/1.1 exchange with the agent, with its control token when given.
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(bearer.as_deref().map(|b| ("Authorization", b)));
    support::http(port, method, path, &headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn wait_healthy(port: u16, agent: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(agent.try_wait().unwrap().is_none(), "agent exited");
        assert!(Instant::now() < deadline, "agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_unauthenticated_control_call_gets_401_and_changes_nothing() {
    let dir = temp_dir("auth");
    let file = dir.join("auth.chaos");
    std::fs::write(
        &file,
        "scenario \"auth\" { duration 1s }\nservice s {\n  endpoint \"GET /\" { }\n}\n",
    )
    .unwrap();
    let out = chaos()
        .args([
            "compile",
            file.to_str().unwrap(),
            "--target",
            "sim",
            "-o",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let port = free_port();
    let mut agent = chaos()
        .args([
            "agent",
            "--plan",
            dir.join("plan.json").to_str().unwrap(),
            "--service",
            "s",
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--token-env",
            "E2E_TOKEN",
        ])
        .env("E2E_TOKEN", "right")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(port, &mut agent);
    let fault = r#"{"id":"e","action":{"action":"errors","target":{"service":"s","endpoint":null},"ratio":1.0,"status":500}}"#;
    assert_eq!(http(port, "POST", "/_chaos/faults", None, fault).0, 401);
    assert_eq!(
        http(port, "POST", "/_chaos/faults", Some("wrong"), fault).0,
        401
    );
    assert_eq!(http(port, "DELETE", "/_chaos/faults", None, "").0, 401);
    assert_eq!(http(port, "GET", "/_chaos/metrics", None, "").0, 401);
    assert_eq!(http(port, "GET", "/_chaos/health", None, "").0, 200);
    assert_eq!(
        http(port, "GET", "/", None, "").0,
        200,
        "no fault was installed"
    );
    assert_eq!(
        http(port, "GET", "/_chaos/faults", Some("right"), ""),
        (200, "[]".to_string())
    );
    // With the token the same call takes effect.
    assert_eq!(
        http(port, "POST", "/_chaos/faults", Some("right"), fault).0,
        201
    );
    assert_eq!(http(port, "GET", "/", None, "").0, 500);
    agent.kill().unwrap();
    agent.wait().unwrap();
}

/// Processes whose command line mentions `needle` (Linux /proc).
fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            out.push(pid);
        }
    }
    out
}

fn wait_for(what: &str, secs: u64, f: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(secs), f);
}

fn long_run(dir: &Path) -> Child {
    let file = dir.join("long.chaos");
    std::fs::write(
        &file,
        "scenario \"long\" { duration 60s }\nservice front {\n  replicas 2\n  endpoint \"GET /\" { call back \"x\" }\n}\nservice back {\n  replicas 2\n  endpoint \"x\" { work 1ms }\n}\nworkload w { target front \"GET /\" rate 50/s }\nfault slow at 1s for 50s { latency +5ms on back }\n",
    )
    .unwrap();
    chaos()
        .args(["run", file.to_str().unwrap(), "--local"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn no_agent_outlives_a_runner_killed_with_sigkill() {
    let dir = temp_dir("sigkill");
    let mut runner = long_run(&dir);
    let needle = format!("chaos-local-{}-", runner.id());
    wait_for("4 agents", 20, || processes_with(&needle).len() >= 4);
    std::thread::sleep(Duration::from_millis(1500));
    runner.kill().unwrap();
    runner.wait().unwrap();
    wait_for("every agent to exit", 10, || {
        processes_with(&needle).is_empty()
    });
}

#[test]
fn sigterm_reverts_stops_every_agent_and_exits_3() {
    let dir = temp_dir("sigterm");
    let runner = long_run(&dir);
    let needle = format!("chaos-local-{}-", runner.id());
    wait_for("4 agents", 20, || processes_with(&needle).len() >= 4);
    std::thread::sleep(Duration::from_millis(1500));
    let st = Command::new("kill")
        .args(["-TERM", &runner.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = runner.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    assert!(
        processes_with(&needle).is_empty(),
        "agents left after the runner returned"
    );
}

#[test]
fn a_memory_fault_kills_the_replica_at_its_limit_and_it_comes_back() {
    let (code, r, err) = run_local(
        "memory",
        r#"
scenario "memory" { duration 5s }
service s {
  replicas 1
  workers 16
  restart 1s
  endpoint "GET /" { work 1ms }
}
workload w { target s "GET /" rate 100/s timeout 1s }
fault leak at 1s for 1s { memory 64MiB/s on s limit 16MiB }
expect {
  error_rate(w) == 0% before leak
  error_rate(w) < 1% after leak + 1500ms
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
    let w = workload(&r, "w");
    assert!(
        w["errors_by_cause"]["connection"].as_u64().unwrap_or(0) > 20,
        "{w}"
    );
    // The scenario asked for this death: nothing unexpected to say.
    assert!(r.get("unexpected_events").is_none(), "{r}");
    assert!(!err.contains("did not ask for"), "{err}");
}

/// The command line of process `pid`, its arguments separated by spaces.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn an_agent_killed_from_outside_is_warned_about_and_reported() {
    let dir = temp_dir("outside");
    let file = dir.join("outside.chaos");
    std::fs::write(
        &file,
        r#"
scenario "outside" { duration 5s }
service s {
  replicas 2
  restart 1s
  endpoint "GET /" { work 1ms }
}
workload w { target s "GET /" rate 50/s timeout 1s }
expect { error_rate(w) < 50% overall }
"#,
    )
    .unwrap();
    let report = dir.join("report.json");
    let summary = dir.join("summary.md");
    let runner = chaos()
        .args(["run", file.to_str().unwrap(), "--local", "--report"])
        .arg(&report)
        .arg("--summary-md")
        .arg(&summary)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The agents' plan lives in the runner's own temporary folder, named after its pid.
    let needle = format!("chaos-local-{}-", runner.id());
    let victim = || {
        processes_with(&needle)
            .into_iter()
            .find(|&p| cmdline(p).contains("--replica s-0 "))
    };
    wait_for("agent s-0", 20, || victim().is_some());
    // Well inside the run: load starts once both agents answer their health checks.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = victim().unwrap();
    let st = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = runner.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The verdict judges what happened; the kill is said, not counted against it.
    assert_eq!(out.status.code(), Some(0), "{stdout}{err}");
    assert!(
        err.contains("warning: agent s-0 of s exited with signal 9 (SIGKILL) at")
            && err.contains("which the scenario did not ask for"),
        "{err}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let events = r["unexpected_events"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(events.len(), 1, "{r}");
    let e = &events[0];
    assert_eq!(e["service"], "s");
    assert_eq!(e["replica"], "s-0");
    assert_eq!(e["what"], "exited with signal 9 (SIGKILL)");
    let at = e["at_s"].as_f64().unwrap();
    assert!(at > 0.0 && at < 5.0, "noticed during the run: {at}");
    assert!(
        stdout.contains("unexpected: s-0 of s exited with signal 9 (SIGKILL) at"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("**Unexpected**"), "{md}");
    assert!(
        md.contains("s-0 of s exited with signal 9 (SIGKILL)"),
        "{md}"
    );
}

#[test]
fn autoscaling_starts_replicas_under_load() {
    let (code, r, err) = run_local(
        "autoscale",
        r#"
scenario "autoscale" { duration 6s }
service s {
  autoscale 1..3 target 50% delay 1s interval 1s
  workers 2
  endpoint "GET /" { work 20ms }
}
workload w { target s "GET /" rate 80/s timeout 3s }
expect {
  max_replicas(s) >= 2
}
"#,
    );
    assert_eq!(code, 0, "{err}\n{r}");
}
