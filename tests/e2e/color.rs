//! End-to-end: one colour decision for diagnostics (stderr) and the run report (stdout):
//! `--color` wins over the environment, `NO_COLOR` counts only when non-empty, and
//! `CLICOLOR_FORCE` forces colour onto a pipe (these tests' stdout and stderr are pipes).

use std::process::Output;

use crate::support::{chaos, repo_root, spec_examples};

const ESC: &str = "\x1b[";

/// `chaos ARGS` with the colour variables set as given and every other one removed, so the
/// environment running the tests cannot decide for them.
fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = chaos();
    for var in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "TERM", "CI"] {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm-256color");
    cmd.envs(env.iter().copied()).args(args).output().unwrap()
}

/// `chaos check` on a file with errors, returning its diagnostics (stderr).
fn diagnostics(flags: &[&str], env: &[(&str, &str)]) -> String {
    let file = repo_root().join("compiler/tests/fixtures/err/missing-unit.chaos");
    let file = file.display().to_string();
    let mut args = vec!["check", file.as_str()];
    args.extend_from_slice(flags);
    let out = with_env(&args, env);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("E0201"), "{stderr}");
    stderr
}

#[test]
fn color_always_colours_even_with_no_color_set() {
    assert!(diagnostics(&["--color", "always"], &[]).contains(ESC));
    assert!(diagnostics(&["--color", "always"], &[("NO_COLOR", "1")]).contains(ESC));
    // A global flag: also before the subcommand.
    let file = repo_root().join("compiler/tests/fixtures/err/missing-unit.chaos");
    let out = with_env(
        &["--color", "always", "check", &file.display().to_string()],
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(ESC));
}

#[test]
fn color_never_wins_over_clicolor_force() {
    let stderr = diagnostics(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]);
    assert!(!stderr.contains(ESC), "{stderr}");
}

#[test]
fn no_color_disables_colour_even_when_forced() {
    assert!(!diagnostics(&[], &[("NO_COLOR", "1")]).contains(ESC));
    assert!(!diagnostics(&[], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]).contains(ESC));
}

#[test]
fn empty_no_color_is_unset_and_clicolor_force_colours_a_pipe() {
    assert!(diagnostics(&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]).contains(ESC));
    // Without either, a pipe gets no colour.
    assert!(!diagnostics(&[], &[]).contains(ESC));
}

#[test]
fn the_run_report_follows_the_same_decision() {
    let file = spec_examples().join("mm1.chaos").display().to_string();
    let coloured = with_env(&["run", &file, "--sim", "--color", "always"], &[]);
    assert!(String::from_utf8_lossy(&coloured.stdout).contains(ESC));
    let plain = with_env(&["run", &file, "--sim"], &[("NO_COLOR", "1")]);
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(!plain.contains(ESC) && plain.contains("PASSED"), "{plain}");
}
