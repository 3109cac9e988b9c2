//! Fixture files: `fixtures/parse/ok/*.chaos` parse (tree snapshotted), `fixtures/parse/err/*.chaos`
//! fail with the error their `# expect-error: TEXT` header names (error snapshotted).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;

#[test]
fn ok_fixtures_parse() {
    insta::glob!("fixtures/parse/ok/*.chaos", |path| {
        let src = fs::read_to_string(path).unwrap();
        let file = match chaos_grammar::parse(&src) {
            Ok(f) => f,
            Err(e) => panic!("{}: {}", path.display(), support::render_error(&e, &src)),
        };
        insta::assert_snapshot!(support::dump(&file, &src));
    });
}

#[test]
fn err_fixtures_fail_as_announced() {
    let mut wrong = Vec::new();
    insta::glob!("fixtures/parse/err/*.chaos", |path| {
        let src = fs::read_to_string(path).unwrap();
        let want = src
            .lines()
            .find_map(|l| l.strip_prefix("# expect-error:"))
            .unwrap_or_else(|| panic!("{} has no `# expect-error:` header", path.display()))
            .trim();
        let e = match chaos_grammar::parse(&src) {
            Ok(_) => panic!("{} parsed, but should fail with `{want}`", path.display()),
            Err(e) => e,
        };
        let rendered = support::render_error(&e, &src);
        if !rendered.contains(want) {
            wrong.push(format!(
                "{}: expected `{want}` in:\n{rendered}",
                path.display()
            ));
        }
        insta::assert_snapshot!(rendered);
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
