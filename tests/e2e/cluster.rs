//! End-to-end: `chaos run --cluster` as a user runs it, against the in-process fake API server
//! (no real cluster can run here; see docs/kubernetes.md), and its errors.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chaos_cluster_testing::{FakeApiServer, FakeConfig, FakeView, JobOutcome};
use chaos_report::{Recorder, SubjectKey};

use crate::support::{chaos, code, free_port, http, scratch};

/// A short scenario: two replicas, one latency fault, one expectation that holds.
const SCENARIO: &str = r#"
scenario "e2e cluster" {
  duration 3s
  seed 4
}

service api {
  replicas 2
  endpoint "GET /" { work 1ms }
}

workload users {
  target api "GET /"
  rate 10/s
}

fault slow at 1s for 1s {
  latency +10ms on api
}

expect {
  error_rate(users) == 0%
}
"#;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The load generator's stand-in: every window, ten successful requests, from the plan the
/// Job's Pod would mount.
fn config(view: Arc<OnceLock<FakeView>>) -> FakeConfig {
    config_with(view, Ok(()), 3, Duration::from_millis(3000))
}

/// Like [`config`]: `windows` windows of ten requests ending with `outcome`; the Job runs `runs_for`
/// unless stopped.
pub(crate) fn config_with(
    view: Arc<OnceLock<FakeView>>,
    outcome: Result<(), chaos_report::Cause>,
    windows: usize,
    runs_for: Duration,
) -> FakeConfig {
    FakeConfig {
        ready_after: Duration::from_millis(100),
        job: Arc::new(move |job| {
            let ns = job["metadata"]["namespace"].as_str().unwrap_or_default();
            let text = view
                .get()
                .unwrap()
                .config_map(ns, "chaos-plan", "plan.json")
                .unwrap();
            let plan = chaos_plan::Plan::from_json(&text).unwrap();
            let mut r = Recorder::new(&plan, "loadgen", 4);
            let users = r
                .subjects()
                .iter()
                .position(|s| matches!(s, SubjectKey::Workload { .. }))
                .unwrap();
            for w in 0..windows {
                for i in 0..10 {
                    r.record(users, w as f64 + i as f64 / 10.0, 0.002, outcome);
                }
            }
            let rec = r.finish(plan.scenario.duration_s, plan.horizon_s(), None);
            JobOutcome {
                runs_for,
                logs: serde_json::to_string(&rec).unwrap() + "\n",
                succeeded: true,
            }
        }),
        ..FakeConfig::default()
    }
}

#[test]
fn run_cluster_against_the_fake_api_server_passes_and_cleans_up() {
    let rt = runtime();
    let view = Arc::new(OnceLock::new());
    let server = rt
        .block_on(FakeApiServer::start(config(view.clone())))
        .unwrap();
    view.set(server.view()).ok().unwrap();
    let dir = scratch("pass");
    let file = dir.join("e2e.chaos");
    std::fs::write(&file, SCENARIO).unwrap();
    let report = dir.join("report.json");
    let out = chaos()
        .args([
            "run",
            file.to_str().unwrap(),
            "--cluster",
            "--context",
            "fake",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("KUBECONFIG", server.kubeconfig().unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(
        stderr.contains("waiting for rollouts"),
        "progress is shown: {stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["mode"], "cluster");
    assert_eq!(report["passed"], true);

    // The fault went to both api Pods and was removed; the namespace is gone.
    let proxied = server.proxied();
    assert_eq!(
        proxied.iter().filter(|r| r.method == "POST").count(),
        2,
        "{proxied:?}"
    );
    assert_eq!(proxied.iter().filter(|r| r.method == "DELETE").count(), 2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.objects("namespaces").is_empty());
}

#[test]
fn run_cluster_forbidden_by_rbac_exits_3_and_says_what() {
    let rt = runtime();
    let view = Arc::new(OnceLock::new());
    let mut config = config(view.clone());
    // The namespace is server-side applied: a PATCH, so `patch` is the verb it needs.
    config.forbid = vec![("patch".into(), "namespaces".into())];
    let server = rt.block_on(FakeApiServer::start(config)).unwrap();
    view.set(server.view()).ok().unwrap();
    let dir = scratch("rbac");
    let file = dir.join("e2e.chaos");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = chaos()
        .args(["run", file.to_str().unwrap(), "--cluster"])
        .env("KUBECONFIG", server.kubeconfig().unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 3, "{stderr}");
    assert!(
        stderr.contains("forbidden by RBAC: cannot patch namespaces"),
        "{stderr}"
    );
}

#[test]
fn run_cluster_without_a_reachable_cluster_exits_3() {
    let dir = scratch("unreachable");
    let file = dir.join("e2e.chaos");
    std::fs::write(&file, SCENARIO).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.join("kubeconfig");
    chaos_cluster_testing::write_kubeconfig(&kubeconfig, &format!("http://127.0.0.1:{port}"), "t")
        .unwrap();
    let out = chaos()
        .args(["run", file.to_str().unwrap(), "--cluster"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the Kubernetes API server at http://127.0.0.1:{port}"
        )),
        "{stderr}"
    );

    let out = chaos()
        .args(["run", file.to_str().unwrap(), "--cluster"])
        .env("KUBECONFIG", dir.join("missing"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 3, "{stderr}");
    assert!(stderr.contains("no usable kubeconfig"), "{stderr}");
}

#[test]
fn run_cluster_refuses_an_unnamed_context_when_one_is_required() {
    let example = crate::support::spec_examples().join("mm1.chaos");
    let example = example.to_str().unwrap();
    for (args, env) in [
        (vec!["run", "--cluster", "--require-context", example], None),
        (vec!["run", "--cluster", example], Some("1")),
    ] {
        let mut cmd = crate::support::chaos();
        cmd.args(&args).env("KUBECONFIG", "/nonexistent/kubeconfig");
        if let Some(v) = env {
            cmd.env("CHAOS_REQUIRE_CONTEXT", v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(crate::support::code(&out), 3, "{stderr}");
        assert!(stderr.contains("--context NAME"), "{stderr}");
    }
}

#[test]
fn cluster_flags_without_cluster_mode_are_invalid() {
    let example = crate::support::spec_examples().join("mm1.chaos");
    let out = crate::support::run(&["run", "--sim", "--image", "x", example.to_str().unwrap()]);
    assert_eq!(crate::support::code(&out), 2);
}

/// Every request fails: `abort when` fires when the first window closes.
const ABORTING: &str = r#"
scenario "e2e cluster abort" {
  duration 6s
  seed 4
}

service api {
  replicas 2
  endpoint "GET /" { work 1ms }
}

workload users {
  target api "GET /"
  rate 10/s
}

fault slow at 1s for 4s {
  latency +10ms on api
}

expect {
  p99(users) < 1s
  abort when error_rate(users) > 50% for 1s
}
"#;

#[test]
fn run_cluster_abort_reverts_stops_the_load_fails_the_run_and_cleans_up() {
    let rt = runtime();
    let view = Arc::new(OnceLock::new());
    let config = config_with(
        view.clone(),
        Err(chaos_report::Cause::Injected),
        6,
        Duration::from_secs(30),
    );
    let server = rt.block_on(FakeApiServer::start(config)).unwrap();
    view.set(server.view()).ok().unwrap();
    let dir = scratch("abort");
    let file = dir.join("abort.chaos");
    std::fs::write(&file, ABORTING).unwrap();
    let report = dir.join("report.json");
    let started = std::time::Instant::now();
    let out = chaos()
        .args([
            "run",
            file.to_str().unwrap(),
            "--cluster",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("KUBECONFIG", server.kubeconfig().unwrap())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // As in --sim and --local: an abort fails the run (exit 1), it is not an error (3).
    assert_eq!(code(&out), 1, "{stdout}\n{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stop ended the load generator's Job"
    );
    assert!(
        stdout.contains("aborted at 1s: abort when error_rate(users) > 50% for 1s"),
        "{stdout}"
    );
    assert!(stderr.contains("abort at 1s"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["mode"], "cluster");
    assert_eq!(report["passed"], false);
    assert_eq!(report["aborted"]["at_s"], 1.0);
    assert_eq!(report["ended_s"], 1.0);

    let proxied = server.proxied();
    assert!(
        proxied
            .iter()
            .any(|r| r.method == "POST" && r.path == "/_chaos/loadgen/stop")
    );
    // Whatever of the fault was installed (it starts at 1 s, as the abort fires) was removed.
    let installs = proxied
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/_chaos/faults")
        .count();
    let removes = proxied
        .iter()
        .filter(|r| r.method == "DELETE" && r.path == "/_chaos/faults/slow-0-0")
        .count();
    assert_eq!(installs, removes, "{proxied:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.objects("namespaces").is_empty(), "namespace deleted");
}

/// One HTTP/1.1 exchange with the control token in `X-Chaos-Token` (as through the API
/// server's proxy); `None` when nothing listens yet.
fn exchange(port: u16, method: &str, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let headers: Vec<(&str, &str)> = token.map(|t| ("X-Chaos-Token", t)).into_iter().collect();
    http(port, method, path, &headers, "").ok()
}

#[test]
fn the_in_cluster_load_generator_serves_its_status_and_stops_on_request() {
    let dir = scratch("loadgen");
    let file = dir.join("lg.chaos");
    std::fs::write(
        &file,
        "scenario \"lg\" { duration 20s }\nservice api {\n  endpoint \"GET /\" { work 1ms }\n}\nworkload users {\n  target api \"GET /\"\n  rate 20/s\n}\n",
    )
    .unwrap();
    let out = chaos()
        .args(["compile", file.to_str().unwrap(), "--target", "sim", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let plan = dir.join("plan.json");
    let (agent_port, status_port) = (free_port(), free_port());
    let mut agent = chaos()
        .args([
            "agent",
            "--plan",
            plan.to_str().unwrap(),
            "--service",
            "api",
        ])
        .args(["--listen", &format!("127.0.0.1:{agent_port}")])
        .args(["--token-env", "E2E_TOKEN"])
        .env("E2E_TOKEN", "t0k")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut loadgen = chaos()
        .args(["loadgen", "--plan", plan.to_str().unwrap()])
        .args(["--target", &format!("api=http://127.0.0.1:{agent_port}")])
        .args(["--listen", &format!("127.0.0.1:{status_port}")])
        .args(["--token-env", "E2E_TOKEN", "--out", "-"])
        .env("E2E_TOKEN", "t0k")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let poll = |token: Option<&str>, from: usize, until: &dyn Fn(&serde_json::Value) -> bool| loop {
        assert!(std::time::Instant::now() < deadline, "timed out");
        if let Some((status, body)) = exchange(
            status_port,
            "GET",
            &format!("/_chaos/loadgen?from={from}"),
            token,
        ) {
            if token.is_none() {
                return (status, serde_json::Value::Null);
            }
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if until(&v) {
                return (status, v);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (status, _) = poll(None, 0, &|_| true);
    assert_eq!(status, 401, "the status API needs the token");
    let (_, started) = poll(Some("t0k"), 0, &|v| v["elapsed_s"].is_number());
    let at = started["started_at"].as_str().unwrap();
    assert!(
        at.len() == 24
            && at.ends_with('Z')
            && at.as_bytes()[10] == b'T'
            && at.as_bytes()[19] == b'.',
        "RFC 3339 with milliseconds: {at}"
    );
    let (_, windows) = poll(Some("t0k"), 0, &|v| {
        v["windows"].as_array().is_some_and(|w| !w.is_empty())
    });
    assert_eq!(windows["from"], 0);
    assert!(windows["windows"][0]["subjects"][1]["ok"].as_u64().unwrap() > 0);
    let (stop, body) = exchange(status_port, "POST", "/_chaos/loadgen/stop", Some("t0k")).unwrap();
    assert_eq!(stop, 200, "{body}");

    // It stops sending, prints its Recording and exits well before the 20 s duration.
    let exited = loop {
        if let Some(s) = loadgen.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the load generator did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = agent.kill();
    let _ = agent.wait();
    let out = loadgen.wait_with_output().unwrap();
    assert!(exited.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("load started at {at}")),
        "{stderr}"
    );
    let recording: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ended = recording["ended_s"].as_f64().unwrap();
    assert!(ended > 0.0 && ended < 20.0, "ended at the stop: {ended}");
}
