//! End-to-end: `chaos check` exit codes, diagnostics on stderr, summary on stdout.

use std::path::PathBuf;

use crate::support::{code, repo_root, run, spec_examples};

fn fixture(rel: &str) -> String {
    repo_root()
        .join("compiler/tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn spec_examples_pass() {
    let files: Vec<PathBuf> = std::fs::read_dir(spec_examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chaos"))
        .collect();
    assert!(files.len() >= 3);
    let mut args = vec!["check".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        files.len()
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn an_error_exits_2_with_the_diagnostic() {
    let out = run(&["check", &fixture("err/unknown-service.chaos")]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(err.contains("E0101"), "{err}");
    assert!(
        err.contains("unknown service `paymnets`; did you mean `payments`?"),
        "{err}"
    );
    assert!(err.contains("err/unknown-service.chaos:4:43]"), "{err}");
    assert_eq!(
        err.matches("unknown service `paymnets`").count(),
        1,
        "the message is printed once: {err}"
    );
}

#[test]
fn short_message_format_prints_one_line_per_diagnostic() {
    let file = fixture("err/unknown-service.chaos");
    let out = run(&["check", "--message-format", "short", &file]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].ends_with(
            "err/unknown-service.chaos:4:43: error[E0101]: unknown service `paymnets`; did you mean `payments`?"
        ),
        "{err}"
    );
    assert!(lines[1].starts_with("error: 1 file of 1 invalid"), "{err}");
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let out = run(&[
        "check",
        &fixture("err/several-errors.chaos"),
        &fixture("ok/spec-mm1.chaos"),
    ]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    for c in ["E0101", "E0201", "E0301", "E0302", "E0303"] {
        assert!(err.contains(c), "{c} missing in {err}");
    }
    assert!(err.contains("1 file of 2 invalid (5 errors"), "{err}");
    assert!(text(&out.stdout).contains("spec-mm1.chaos"));
}

#[test]
fn warnings_keep_exit_0() {
    let out = run(&["check", &fixture("err/unused-service.chaos")]);
    assert_eq!(code(&out), 0);
    assert!(text(&out.stderr).contains("W0001"));
    assert!(text(&out.stdout).contains("(1 warning)"));
}

#[test]
fn imported_files_are_named_in_diagnostics() {
    let out = run(&["check", &fixture("err/duplicate-across-files.chaos")]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(err.contains("topology.chaos"), "{err}");
}

#[test]
fn missing_file_and_bad_set_exit_2() {
    let out = run(&["check", "/nonexistent/x.chaos"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("cannot read"));
    let ex = spec_examples().join("checkout.chaos").display().to_string();
    let out = run(&["check", &ex, "--set", "peak=3s"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("`peak` is a rate, found a duration"));
    let out = run(&["check", &ex, "--set", "peak=500/s"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
}

#[test]
fn no_colour_when_not_a_terminal() {
    let out = run(&["check", &fixture("err/zero-workers.chaos")]);
    assert!(!text(&out.stderr).contains('\u{1b}'));
}

#[test]
fn the_drawing_starts_with_a_rustc_style_header_and_no_stray_lines() {
    let out = run(&["check", &fixture("err/duplicate-across-files.chaos")]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("× error[E0108]: service `cart` is defined twice"),
        "{err}"
    );
    // No line holding only the code, and no bare `Advice:` before the note in the other file.
    assert!(!err.lines().any(|l| l.trim() == "E0108"), "{err}");
    assert!(!err.contains("Advice:"), "{err}");
    assert!(err.contains("☞ first defined here"), "{err}");
}

#[test]
fn a_forgotten_unit_gets_a_hint() {
    let out = run(&["check", &fixture("err/missing-unit.chaos")]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("help: quantities need a unit: write `30s`, not `30`"),
        "{err}"
    );
    assert!(err.contains("write `100/s`, not `100`"), "{err}");
}

#[test]
fn new_warnings_keep_exit_0() {
    for (file, warning) in [
        ("err/arrivals-closed-loop.chaos", "W0003"),
        ("err/breaker-conflict.chaos", "W0004"),
        ("err/piling-fault.chaos", "W0005"),
        ("err/kill-too-many.chaos", "W0006"),
    ] {
        let out = run(&["check", &fixture(file)]);
        let err = text(&out.stderr);
        assert_eq!(code(&out), 0, "{file}: {err}");
        assert!(
            err.contains(&format!("warning[{warning}]")),
            "{file}: {err}"
        );
        assert!(text(&out.stdout).contains("warning"), "{file}");
    }
}
