//! End-to-end: `chaos run --sim` on the spec's examples (exit codes are the contract), its
//! determinism, `--seed`, `--runs`, and the exit codes for invalid input.

use std::path::Path;

use crate::support::{chaos, code, scratch, spec_examples};

/// The exit code an example declares on its first line: `# expect-exit: N`.
fn expected_exit(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect-exit:")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{} has no `# expect-exit: N` first line", path.display()))
}

fn run_example(name: &str, extra: &[&str]) -> std::process::Output {
    let file = spec_examples().join(name);
    chaos()
        .arg("run")
        .arg(&file)
        .arg("--sim")
        .args(extra)
        .output()
        .unwrap()
}

fn check_example(name: &str) {
    let file = spec_examples().join(name);
    let out = run_example(name, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        code(&out),
        expected_exit(&file),
        "{name}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = if expected_exit(&file) == 0 {
        "PASSED"
    } else {
        "FAILED"
    };
    assert!(stdout.starts_with(verdict), "{stdout}");
}

#[test]
fn mm1_example_ends_with_its_exit_code() {
    check_example("mm1.chaos");
}

#[test]
fn checkout_example_ends_with_its_exit_code() {
    check_example("checkout.chaos");
}

#[test]
fn retry_storm_example_ends_with_its_exit_code() {
    check_example("retry-storm.chaos");
    // The first expectation holds, the other two fail (the example says so).
    let out = run_example("retry-storm.chaos", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let marks: Vec<char> = stdout
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .chars()
                .next()
                .filter(|c| *c == '✓' || *c == '✗')
        })
        .collect();
    assert_eq!(marks, vec!['✓', '✗', '✗'], "{stdout}");
    assert!(
        stdout.contains("never"),
        "recovery never happens:\n{stdout}"
    );
}

#[test]
fn same_seed_gives_a_byte_identical_report_and_another_seed_changes_it() {
    let dir = scratch("determinism");
    let (a, b, c) = (dir.join("a.json"), dir.join("b.json"), dir.join("c.json"));
    for (p, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let out = run_example(
            "mm1.chaos",
            &["--seed", seed, "--report", p.to_str().unwrap()],
        );
        assert_eq!(code(&out), 0);
    }
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b, "same plan and seed, same bytes");
    assert_ne!(a, c, "another seed, another run");
    let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(v["seed"], 5);
    assert_eq!(v["mode"], "sim");
    assert_eq!(v["passed"], true);
}

#[test]
fn many_seeds_report_a_distribution() {
    let dir = scratch("runs");
    let report = dir.join("r.json");
    let out = run_example(
        "retry-storm.chaos",
        &["--runs", "3", "--report", report.to_str().unwrap()],
    );
    assert_eq!(code(&out), 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 seeds"), "{stdout}");
    assert!(stdout.contains("of 3 runs"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["runs"]["runs"], 3);
    assert_eq!(v["runs"]["seeds"], serde_json::json!([3, 4, 5]));
    assert_eq!(
        v["runs"]["expectations"][0]["observed"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn invalid_input_exits_2() {
    let out = chaos()
        .args(["run", "/no/such/file.chaos"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let out = run_example("mm1.chaos", &["--local", "--runs", "2"]);
    assert_eq!(code(&out), 2, "--runs needs --sim");
    let out = run_example("mm1.chaos", &["--keep"]);
    assert_eq!(code(&out), 2, "--keep needs --cluster");
    let out = chaos()
        .args(["run", "x.chaos", "--sim", "--local"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "one mode at a time");
}

#[test]
fn an_unwritable_report_exits_3() {
    let out = run_example("mm1.chaos", &["--report", "/no/such/folder/r.json"]);
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
}

const ABORTING: &str = r#"scenario "an endpoint that mostly fails" {
  duration 2m
  seed 1
}

service api {
  workers 8
  endpoint "GET /" {
    work 5ms
    fail 80% status 500
  }
}

workload users {
  target api "GET /"
  rate 50/s
}

expect {
  p99(api "GET /") < 1s
  abort when error_rate(api) > 50% for 10s
}
"#;

#[test]
fn an_abort_stops_the_run_and_fails_it() {
    let dir = scratch("abort");
    let file = dir.join("abort.chaos");
    std::fs::write(&file, ABORTING).unwrap();
    let report = dir.join("r.json");
    let out = chaos()
        .arg("run")
        .arg(&file)
        .args(["--report", report.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 1, "{stdout}");
    assert!(
        stdout.contains("aborted at 10s: abort when error_rate(api) > 50% for 10s"),
        "{stdout}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["aborted"]["at_s"], 10.0);
    assert_eq!(v["ended_s"], 10.0);
    assert_eq!(v["passed"], false);
    assert_eq!(
        v["expectations"][0]["passed"], true,
        "the expectation itself held"
    );
}

/// Runs `scenario` in `--sim` with a JSON report; returns the exit code, stdout and the report.
fn sim_report(name: &str, scenario: &str) -> (i32, String, serde_json::Value) {
    let dir = scratch(name);
    let file = dir.join(format!("{name}.chaos"));
    std::fs::write(&file, scenario).unwrap();
    let report = dir.join("r.json");
    let out = chaos()
        .arg("run")
        .arg(&file)
        .args(["--report", report.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v = serde_json::from_slice(&std::fs::read(&report).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no report ({e}): {stdout}{stderr}"));
    (code(&out), stdout, v)
}

#[test]
fn an_abort_in_a_partial_last_window_is_at_the_end_of_the_run_never_after() {
    // Issue 16: `[3s, 6s)` is cut at 5s; its 2s of errors trip `for 1s`, at 5s (was 6s).
    let (code, stdout, v) = sim_report(
        "abort-partial",
        r#"
scenario "abort after the end" { duration 5s window 3s }
service s { endpoint "GET /" { work 1ms } }
workload w { target s "GET /" rate 100/s }
fault bad at 3s { errors 100% on s }
expect {
  error_rate(w) < 100% overall
  abort when error_rate(s) > 50% for 1s
}
"#,
    );
    assert_eq!(code, 1, "an abort fails the run: {stdout}");
    assert_eq!(v["passed"], false);
    assert_eq!(v["ended_s"], 5.0);
    let at = v["aborted"]["at_s"].as_f64().unwrap();
    assert!(at <= v["ended_s"].as_f64().unwrap(), "{v}");
    assert_eq!(at, 5.0);
    assert!(stdout.contains("aborted at 5s"), "{stdout}");
}

#[test]
fn the_summary_s_max_replicas_is_the_expectation_s_warmup_excluded() {
    // Issue 16: 3 replicas until the kill at 2s, inside the 5s warmup; 1 after (restart 60s).
    let (code, stdout, v) = sim_report(
        "max-replicas-warmup",
        r#"
scenario "warm" { duration 20s warmup 5s }
service s { replicas 3 restart 60s endpoint "GET /" { work 1ms } }
workload w { target s "GET /" rate 50/s }
fault crash at 2s { kill 2 of s }
expect { max_replicas(s) <= 1 overall }
"#,
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(v["expectations"][0]["observed"], 1.0);
    assert_eq!(v["services"][0]["max_replicas"], 1, "{}", v["services"]);
    assert_eq!(
        v["timeline"][0]["max_replicas"], 3,
        "the timeline keeps the warmup"
    );
}
