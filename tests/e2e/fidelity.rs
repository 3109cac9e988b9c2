//! End-to-end: `chaos fidelity` runs a small scenario in both modes and prints its table.
//! Whether the modes agree on a shared, loaded machine is not asserted (that is for
//! docs/sim-vs-real.md); the tolerance logic has unit tests on fixed numbers in
//! `runner/src/cmd/fidelity.rs`. Here: the table's shape, and that the exit code is 0 or 1
//! and says what the table says.

use crate::support::{chaos, code, scratch};

const SCENARIO: &str = r#"
scenario "fidelity smoke" {
  duration 3s
  seed 5
}

service api {
  workers 8
  endpoint "GET /a" {
    work exponential(mean = 2ms)
    call db "q"
  }
}

service db {
  workers 8
  latency 3ms
  endpoint "q" { }
}

workload users {
  target api "GET /a"
  rate 50/s
}

expect {
  error_rate(users) < 50%
}
"#;

#[test]
fn fidelity_prints_one_row_per_figure_and_exits_by_the_table() {
    let dir = scratch("fidelity");
    let file = dir.write("smoke.chaos", SCENARIO);
    let out = chaos()
        .args(["fidelity", file.to_str().unwrap(), "--runs", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let c = code(&out);
    assert!(c == 0 || c == 1, "exit {c}\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 run each, seeds 5..=5"), "{stdout}");
    // Three figures for the workload and three for its entry endpoint.
    for subject in ["workload users", "endpoint api \"GET /a\""] {
        for figure in ["p50", "p99", "errors"] {
            let row = stdout
                .lines()
                .find(|l| l.starts_with(subject) && l.split_whitespace().any(|w| w == figure));
            let row = row.unwrap_or_else(|| panic!("no row {subject} {figure}:\n{stdout}"));
            assert!(
                row.ends_with("ok") || row.ends_with("OUTSIDE"),
                "{row}\n{stdout}"
            );
        }
    }
    assert!(
        stdout.contains("error_rate(users) < 50%") && stdout.contains("1/1"),
        "{stdout}"
    );
    // The model's hop (none in this scenario) beside the one the local run measured.
    assert!(
        stdout.contains("hop: model 0 ms; measured in --local (mean of 1 run): p50 "),
        "{stdout}"
    );
    // The exit code follows the marks.
    let outside = stdout.contains("OUTSIDE") || stdout.contains("DIFFERS");
    assert_eq!(c == 1, outside, "exit {c}\n{stdout}");
    assert_eq!(stdout.contains("the modes agree"), !outside, "{stdout}");
}

#[test]
fn fidelity_refuses_bad_input_with_2() {
    let dir = scratch("fidelity-bad");
    let file = dir.write("bad.chaos", "scenario {");
    let out = chaos()
        .args(["fidelity", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let out = chaos()
        .args(["fidelity", file.to_str().unwrap(), "--runs", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
}
