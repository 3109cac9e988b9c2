//! End-to-end: `chaos sweep` and `chaos explore` as a user runs them: exit codes, the files
//! they write, and the failing scenario explore writes reproducing with `chaos run --sim`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{chaos, code, repo_root, scratch};

fn fixture(name: &str) -> PathBuf {
    repo_root().join("runner/explore/tests/fixtures").join(name)
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd` with `--report REPORT`, asserts it exits `want` (its output in the message) and
/// returns its stdout, its stderr and the JSON report it wrote.
fn run_reporting(cmd: &mut Command, report: &Path, want: i32) -> (String, String, Value) {
    let out = cmd.arg("--report").arg(report).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), want, "{stdout}\n{stderr}");
    let written = std::fs::read_to_string(report).unwrap();
    (stdout, stderr, serde_json::from_str(&written).unwrap())
}

#[test]
fn sweep_finds_the_mm1_boundary_and_writes_json_and_html() {
    let dir = scratch("sweep-mm1");
    let (json, html) = (dir.join("sweep.json"), dir.join("sweep.html"));
    let (stdout, _, report) = run_reporting(
        chaos()
            .arg("sweep")
            .arg(fixture("mm1-sweep.chaos"))
            .args(["--param", "rate=40/s..95/s", "--steps", "6", "--html"])
            .arg(&html),
        &json,
        0,
    );
    assert!(stdout.contains("mean(s) < 50ms"), "{stdout}");
    assert!(stdout.contains("holds up to"), "{stdout}");
    assert!(
        stdout.contains("holds everywhere") && stdout.contains("holds nowhere"),
        "{stdout}"
    );
    assert_eq!(report["param"], "rate");
    assert_eq!(report["unit"], "/s");
    let b = &report["boundaries"][0];
    assert_eq!(b["expectation"], "mean(s) < 50ms");
    assert_eq!(b["kind"], "holds_up_to");
    let v = b["value"].as_f64().unwrap();
    assert!((v - 80.0).abs() <= 4.0, "{v}");
    assert!(b["interval"].is_array());
    assert_eq!(report["boundaries"][1]["kind"], "holds_everywhere");
    assert!(report["boundaries"][1]["value"].is_null());
    assert!(report["points"].as_array().unwrap().len() >= 6);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 3);
}

#[test]
fn sweep_rejects_an_unknown_param_and_a_bad_range_with_exit_2() {
    for (arg, needle) in [
        ("rat=40/s..95/s", "no param `rat`"),
        ("rate=95/s..40/s", "must go up"),
        ("rate=40ms..95ms", "is a rate"),
        ("rate=40/s", "NAME=FROM..TO"),
        ("rate=fast..95/s", "not a value"),
    ] {
        let out = chaos()
            .arg("sweep")
            .arg(fixture("mm1-sweep.chaos"))
            .args(["--param", arg])
            .output()
            .unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 2, "{arg}: {stderr}");
        assert!(stderr.contains(needle), "{arg}: {stderr}");
        assert!(stderr.contains("help:"), "{arg}: {stderr}");
    }
}

#[test]
fn explore_finds_the_planted_pair_and_the_file_it_writes_fails_with_exit_1() {
    let dir = scratch("explore-planted");
    let (failing, json) = (dir.join("failing.chaos"), dir.join("explore.json"));
    let (stdout, stderr, report) = run_reporting(
        chaos()
            .arg("explore")
            .arg(fixture("planted-pair.chaos"))
            .args(["--budget", "300", "--seed", "1", "-o"])
            .arg(&failing),
        &json,
        1,
    );
    assert!(stdout.starts_with("FAILURE FOUND"), "{stdout}");
    assert!(stderr.contains("reproduces"), "{stderr}");
    let written = std::fs::read_to_string(&failing).unwrap();
    assert!(written.starts_with("# expect-exit: 1\n"), "{written}");
    assert!(
        written.contains("cpu x") && written.contains("kill "),
        "{written}"
    );
    // Formatted as `chaos fmt` would.
    let fmt = chaos()
        .arg("fmt")
        .arg("--check")
        .arg(&failing)
        .output()
        .unwrap();
    assert_eq!(code(&fmt), 0, "{}", String::from_utf8_lossy(&fmt.stdout));
    let rerun = chaos()
        .arg("run")
        .arg("--sim")
        .arg(&failing)
        .output()
        .unwrap();
    assert_eq!(code(&rerun), 1, "{}", text(&rerun).0);
    assert_eq!(report["found"], true);
    let shrunk = &report["failures"][0]["shrunk"]["faults"];
    assert_eq!(shrunk.as_array().unwrap().len(), 2, "{shrunk}");
    assert!(report["failures"][0]["effects"][0]["needed_for"][0].is_string());
}

#[test]
fn explore_spends_its_budget_on_a_robust_scenario_and_exits_0() {
    let dir = scratch("explore-robust");
    let json = dir.join("explore.json");
    let (stdout, _, report) = run_reporting(
        chaos()
            .arg("explore")
            .arg(fixture("robust.chaos"))
            .args(["--budget", "24"]),
        &json,
        0,
    );
    assert!(
        stdout.starts_with("NO FAILURE FOUND in 24 runs"),
        "{stdout}"
    );
    assert!(stdout.contains("coverage:"), "{stdout}");
    assert_eq!(report["found"], false);
    assert_eq!(report["runs"], 24);
    assert_eq!(report["coverage"]["kinds_targets_tried"], 6);
}

#[test]
fn explore_rejects_invalid_input_with_exit_2() {
    let out = chaos()
        .arg("explore")
        .arg(fixture("no-such-file.chaos"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let out = chaos()
        .arg("explore")
        .arg(fixture("robust.chaos"))
        .args(["--budget", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
}

#[test]
fn explore_searches_only_the_files_explore_block_and_keeps_it_in_the_file_it_writes() {
    let dir = scratch("explore-block");
    let (failing, json) = (dir.join("failing.chaos"), dir.join("explore.json"));
    let (_, stderr, report) = run_reporting(
        chaos()
            .arg("explore")
            .arg(fixture("narrowed.chaos"))
            .args(["--budget", "24", "--shrink-budget", "30", "-o"])
            .arg(&failing),
        &json,
        1,
    );
    assert!(stderr.contains("reproduces"), "{stderr}");
    assert_eq!(report["max_faults"], 1, "the block's `max_faults 1`");
    let space = &report["space"];
    assert_eq!(space["declared"], true);
    let slots = space["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1, "{space}");
    assert_eq!(slots[0]["kind"], "errors");
    assert_eq!(slots[0]["service"], "db");
    assert_eq!(report["coverage"]["kinds_targets_total"], 1);
    assert_eq!(space["start_s"], serde_json::json!([20, 60]));
    let written = std::fs::read_to_string(&failing).unwrap();
    assert!(written.contains("explore {"), "{written}");
    for args in [&["check"][..], &["run", "--sim"][..]] {
        let o = chaos().args(args).arg(&failing).output().unwrap();
        let want = if args[0] == "check" { 0 } else { 1 };
        assert_eq!(code(&o), want, "{args:?}: {}", text(&o).1);
    }
    // `--max-faults` overrides the block.
    let (_, _, report) = run_reporting(
        chaos().arg("explore").arg(fixture("narrowed.chaos")).args([
            "--budget",
            "8",
            "--shrink-budget",
            "0",
            "--max-faults",
            "3",
        ]),
        &json,
        1,
    );
    assert_eq!(report["max_faults"], 3);
}

#[test]
fn an_invalid_explore_block_is_exit_2_with_the_place_and_a_hint() {
    let dir = scratch("explore-block-invalid");
    let base = std::fs::read_to_string(fixture("narrowed.chaos")).unwrap();
    // A misspelt kind stops the line's check there, so an unknown service gets its own file.
    let cases = [
        ("kind.chaos", "erors 50%..100% on db", "E0116", "`errors`"),
        ("service.chaos", "errors 50%..100% on dbb", "E0101", "`db`"),
    ];
    for (name, line, code_word, hint) in cases {
        let file = dir.join(name);
        std::fs::write(&file, base.replace("errors 50%..100% on db", line)).unwrap();
        for cmd in ["check", "explore"] {
            let out = chaos().arg(cmd).arg(&file).output().unwrap();
            let (_, stderr) = text(&out);
            assert_eq!(code(&out), 2, "{cmd} {name}: {stderr}");
            assert!(
                stderr.contains(code_word) && stderr.contains(hint),
                "{cmd} {name}: {stderr}"
            );
        }
    }
}
