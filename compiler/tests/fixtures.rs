//! Fixture tests: every `fixtures/ok/*.chaos` compiles without a diagnostic and its plan is
//! snapshotted as JSON; every `fixtures/err/*.chaos` produces the codes its header names
//! (`# expect: E0101 W0001`) and its rendered diagnostics are snapshotted without colour.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chaos_compiler::{compile, render};
use chaos_test_support::DirLoader;

/// Reads fixtures relative to this test folder, so diagnostics show short, stable paths.
fn fixtures() -> DirLoader {
    DirLoader(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(&fixtures().0).unwrap().to_path_buf()
}

/// The codes listed on the fixture's `# expect:` line.
fn expected_codes(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# expect:"))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn ok_fixtures_compile_to_plans() {
    insta::glob!("fixtures/ok/*.chaos", |path| {
        let compiled = compile(&relative(path), &fixtures(), &[]);
        let rendered = render::render_all_plain(&compiled.diagnostics, &compiled.sources);
        assert!(
            compiled.diagnostics.is_empty(),
            "{}:\n{rendered}",
            path.display()
        );
        let plan = compiled.plan.expect("a plan when there is no error");
        // The plan reads back as it was written.
        assert_eq!(chaos_plan::Plan::from_json(&plan.to_json()).unwrap(), plan);
        insta::assert_snapshot!(plan.to_json());
    });
}

#[test]
fn err_fixtures_report_their_codes() {
    insta::glob!("fixtures/err/*.chaos", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let want = expected_codes(&text);
        assert!(
            !want.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let compiled = compile(&relative(path), &fixtures(), &[]);
        let got: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code).collect();
        for code in &want {
            assert!(
                got.contains(&code.as_str()),
                "{}: expected {code}, got {got:?}",
                path.display()
            );
        }
        // Warnings only: the plan is still produced.
        let only_warnings = want.iter().all(|c| c.starts_with('W'));
        assert_eq!(compiled.plan.is_some(), only_warnings, "{}", path.display());
        insta::assert_snapshot!(render::render_all_plain(
            &compiled.diagnostics,
            &compiled.sources
        ));
    });
}
