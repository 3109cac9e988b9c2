//! End-to-end: `chaos fmt` prints, checks (exit 1 when a file would change) and rewrites files;
//! a file that does not parse gives exit 2 with `file:line:col`.

use std::fs;

use super::support::{code, run, scratch};

const MESSY: &str =
    "scenario \"x\" { duration 1m }\nservice s {replicas 2 # two\n endpoint \"GET /\" { } }\n";
const CANONICAL: &str = "scenario \"x\" {\n  duration 1m\n}\n\nservice s {\n  replicas 2  # two\n  endpoint \"GET /\" { }\n}\n";

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn prints_the_canonical_layout() {
    let dir = scratch("print");
    let f = write(&dir, "a.chaos", MESSY);
    let out = run(&["fmt", &f]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), CANONICAL);
    // Printing never touches the file.
    assert_eq!(fs::read_to_string(&f).unwrap(), MESSY);
}

#[test]
fn several_files_get_headers() {
    let dir = scratch("several");
    let a = write(&dir, "a.chaos", MESSY);
    let b = write(&dir, "b.chaos", CANONICAL);
    let out = run(&["fmt", &a, &b]);
    assert_eq!(code(&out), 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!("==> {a} <==\n{CANONICAL}\n==> {b} <==\n{CANONICAL}")
    );
}

#[test]
fn check_exits_1_and_lists_files_that_would_change() {
    let dir = scratch("check");
    let messy = write(&dir, "messy.chaos", MESSY);
    let good = write(&dir, "good.chaos", CANONICAL);
    let out = run(&["fmt", "--check", &good]);
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty());

    let out = run(&["fmt", "--check", &good, &messy]);
    assert_eq!(code(&out), 1);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{messy}\n"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 file would be reformatted"));
    assert_eq!(
        fs::read_to_string(&messy).unwrap(),
        MESSY,
        "--check changes nothing"
    );
}

#[test]
fn write_rewrites_in_place_and_is_idempotent() {
    let dir = scratch("write");
    let f = write(&dir, "a.chaos", MESSY);
    let out = run(&["fmt", "--write", &f]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::read_to_string(&f).unwrap(), CANONICAL);
    assert!(String::from_utf8_lossy(&out.stdout).contains("formatted"));

    let out = run(&["fmt", "--write", &f]);
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty(), "nothing left to rewrite");
    assert_eq!(fs::read_to_string(&f).unwrap(), CANONICAL);
    assert_eq!(code(&run(&["fmt", "--check", &f])), 0);
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn parse_errors_exit_2_with_a_position() {
    let dir = scratch("error");
    let bad = write(&dir, "bad.chaos", "service s {\n  replica 2\n}\n");
    let good = write(&dir, "good.chaos", MESSY);
    let out = run(&["fmt", "--write", &bad, &good]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{bad}:2:3]")) && stderr.contains("error[E0001]"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `replicas`?"), "{stderr}");
    assert_eq!(
        fs::read_to_string(&bad).unwrap(),
        "service s {\n  replica 2\n}\n"
    );
    // The other file is still formatted.
    assert_eq!(fs::read_to_string(&good).unwrap(), CANONICAL);
}

#[test]
fn missing_file_and_bad_usage_exit_2() {
    let out = run(&["fmt", "/nonexistent/x.chaos"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("can not read"));
    assert_eq!(code(&run(&["fmt"])), 2);
    assert_eq!(code(&run(&["fmt", "--check", "--write", "x.chaos"])), 2);
}

#[test]
fn spec_examples_format_to_a_fixed_point() {
    let dir = scratch("examples");
    for e in fs::read_dir(super::support::spec_examples()).unwrap() {
        let src = e.unwrap().path();
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        let f = write(&dir, &name, &fs::read_to_string(&src).unwrap());
        assert_eq!(code(&run(&["fmt", "--write", &f])), 0, "{name}");
        assert_eq!(code(&run(&["fmt", "--check", &f])), 0, "{name}");
        assert_eq!(
            code(&run(&["check", &f])),
            0,
            "{name} still checks after formatting"
        );
    }
}
