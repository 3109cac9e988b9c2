//! End-to-end: the README's language tour is a scenario that checks and passes, as it claims.

use crate::support::{code, repo_root, run, scratch};

#[test]
fn readme_tour_checks_and_passes_its_expectations() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let tour: String = readme
        .split("```chaos\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README has a ```chaos block")
        .to_string();
    let dir = scratch("readme");
    let file = dir.write("tour.chaos", &tour);
    let path = file.to_str().unwrap();

    let check = run(&["check", path]);
    assert_eq!(
        code(&check),
        0,
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let want: i32 = tour
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect-exit: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the tour starts with # expect-exit: N");
    let sim = run(&["run", "--sim", path]);
    assert_eq!(code(&sim), want, "{}", String::from_utf8_lossy(&sim.stdout));
}
