//! End-to-end: the live terminal view of a real `--local` run. Off a terminal (as here) it
//! prints one plain line per `--live-every` period while the run goes; `--quiet` prints none.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread;

use crate::support::{Reap, chaos, chaos_bin, repo_root, scratch};

pub fn scenario() -> String {
    repo_root()
        .join("tests/live/watched.chaos")
        .display()
        .to_string()
}

/// A stderr line, and whether the run was still going when the test read it.
struct Line {
    pub text: String,
    pub while_running: bool,
}

/// Reads `child`'s stderr line by line on a thread, as it comes.
pub fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn plain_live_lines_appear_on_stderr_while_a_local_run_goes() {
    let child = chaos()
        .args(["run", "--local", "--live-every", "1"])
        .arg(scenario())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Reap(child);
    let rx = stderr_lines(&mut run.0);
    let mut lines = Vec::new();
    for text in rx.iter() {
        // try_wait: has the process exited by the time this line is read?
        let while_running = run.0.try_wait().unwrap().is_none();
        lines.push(Line {
            text,
            while_running,
        });
    }
    let status = run.0.wait().unwrap();
    let all: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(status.code(), Some(0), "{all:#?}");

    let live: Vec<&Line> = lines.iter().filter(|l| l.text.starts_with('[')).collect();
    assert!(
        live.len() >= 20,
        "a line per second of a 32 s run (some may be deploying): {all:#?}"
    );
    assert!(
        live.iter().filter(|l| l.while_running).count() >= 20,
        "the lines are printed while the run goes, not at its end: {all:#?}"
    );
    assert!(
        live.iter()
            .any(|l| l.text.contains(" running] no fault | users ")),
        "the phase and each workload's figures: {all:#?}"
    );
    let during = live
        .iter()
        .find(|l| l.text.contains("faults: flaky"))
        .unwrap_or_else(|| panic!("the fault in force is named: {all:#?}"));
    assert!(during.text.contains("users ") && during.text.contains("/s errors "));
    // Some line during the fault shows the injected errors reaching the workload (40% of db's
    // answers fail, so api answers 500 for them).
    let error_pct = |l: &Line| -> Option<f64> {
        let rest = l.text.split(" errors ").nth(1)?;
        rest.split('%').next()?.trim().parse().ok()
    };
    assert!(
        live.iter()
            .filter(|l| l.text.contains("faults: flaky"))
            .filter_map(|l| error_pct(l))
            .any(|p| p > 10.0),
        "errors during the fault: {all:#?}"
    );
    // Before it (the figures are of the newest window read, a second or two behind the clock,
    // so lines just after the fault still show it).
    assert!(
        live.iter()
            .take_while(|l| !l.text.contains("faults: flaky"))
            .filter_map(|l| error_pct(l))
            .all(|p| p < 5.0),
        "no errors before it: {all:#?}"
    );
}

const SHORT: &str = r#"
scenario "quiet one" {
  duration 3s
  warmup 0s
  seed 1
}

service api {
  workers 4
  latency 1ms
  endpoint "GET /" { }
}

workload users {
  target api "GET /"
  rate 50/s
}
"#;

const SHORT_WITH_FAULT: &str = r#"
fault slowed at 1s for 1s {
  latency 5ms on api "GET /"
}
"#;

#[test]
fn on_a_terminal_the_view_is_redrawn_in_place() {
    // util-linux `script` runs the command on a pseudo-terminal, as a user's shell would.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED on_a_terminal_the_view_is_redrawn_in_place: `script` (util-linux) is missing"
        );
        return;
    }
    let dir = scratch("live-tty");
    let file = dir.join("short.chaos");
    std::fs::write(&file, format!("{SHORT}{SHORT_WITH_FAULT}")).unwrap();
    let command = format!(
        "{} run --local --color never {}",
        chaos_bin().display(),
        file.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    // Each redraw returns to the line start and clears it; a two-line block moves up first.
    let redraws = tty.matches("\r\x1b[2K").count();
    assert!(redraws >= 4, "redrawn in place several times: {tty:?}");
    assert!(
        tty.contains("\x1b[1A"),
        "the block of two lines is redrawn whole: {tty:?}"
    );
    assert!(tty.contains("local quiet one  deploying"), "{tty:?}");
    assert!(tty.contains("running  faults: slowed"), "{tty:?}");
    assert!(tty.contains("  users  "), "a row per workload: {tty:?}");
    // The view is cleared before the verdict, which is printed once.
    let verdict = tty.find("PASSED").expect("the verdict");
    assert!(!tty[verdict..].contains("running  "), "{tty:?}");
}

#[test]
fn quiet_prints_nothing_while_running() {
    let dir = scratch("live-quiet");
    let file = dir.join("quiet.chaos");
    std::fs::write(&file, SHORT).unwrap();
    let out = chaos()
        .args(["run", "--local", "--quiet", "--live-every", "0.5"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("quiet one"),
        "the verdict still prints: {stdout}"
    );
    assert_eq!(stderr.trim(), "", "nothing on stderr with --quiet");
}

/// `--cluster` against the in-process fake API server (as tests/e2e/cluster.rs): the windows the
/// runner reads from the load generator during the run reach the live view.
#[test]
fn a_cluster_run_shows_its_windows_live() {
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use chaos_cluster_testing::{FakeApiServer, FakeView};

    const CLUSTER: &str = r#"
scenario "live cluster" {
  duration 4s
  seed 4
  window 1s
}

service api {
  replicas 2
  endpoint "GET /" { work 1ms }
}

workload users {
  target api "GET /"
  rate 10/s
}

fault slow at 1s for 2s {
  latency +10ms on api
}
"#;
    let rt = crate::cluster::runtime();
    let view: Arc<OnceLock<FakeView>> = Arc::new(OnceLock::new());
    // The load generator's stand-in: ten successful requests a window, from the mounted plan.
    let config = crate::cluster::config_with(view.clone(), Ok(()), 4, Duration::from_millis(4500));
    let server = rt.block_on(FakeApiServer::start(config)).unwrap();
    view.set(server.view()).ok().unwrap();
    let dir = scratch("live-cluster");
    let file = dir.join("cluster.chaos");
    std::fs::write(&file, CLUSTER).unwrap();
    let child = chaos()
        .args([
            "run",
            "--cluster",
            "--context",
            "fake",
            "--live-every",
            "0.5",
        ])
        .arg(&file)
        .env("KUBECONFIG", server.kubeconfig().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Reap(child);
    let rx = stderr_lines(&mut run.0);
    let lines: Vec<(String, bool)> = rx
        .iter()
        .map(|l| (l, run.0.try_wait().unwrap().is_none()))
        .collect();
    let status = run.0.wait().unwrap();
    let all: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(status.code(), Some(0), "{all:#?}");
    assert!(
        all.iter().any(|l| l.contains("deploying")),
        "the rollout is the deploying phase: {all:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, running)| *running && l.contains("| users 10.0/s errors 0.0%")),
        "a window read from the load generator during the run: {all:#?}"
    );
    assert!(
        all.iter().any(|l| l.contains("running] faults: slow")),
        "{all:#?}"
    );
    // The runner's own progress lines still come through.
    assert!(
        all.iter().any(|l| l.contains("waiting for rollouts")),
        "{all:#?}"
    );
}
