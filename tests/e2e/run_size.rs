//! End-to-end: valid but enormous scenarios (issue 16) are warned about (`W0007`) by
//! `chaos check`, which still exits 0, and by `chaos run --sim` before it starts simulating;
//! the scenarios in `scenarios/` are not.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Scratch, chaos, chaos_files, code, run, scenarios_dir, scratch};

/// The three scenarios of the issue: a billion requests a second for 10 s, 100,000 hours at
/// 100k/s, and five million users.
const HUGE: &[(&str, &str)] = &[
    (
        "billion-per-second",
        "scenario \"flood\" { duration 10s }\n\
         service api { endpoint \"GET /\" { work 1ms } }\n\
         workload w { target api \"GET /\" rate 1000000000/s }\n",
    ),
    (
        "hundred-thousand-hours",
        "scenario \"soak\" { duration 100000h }\n\
         service api { workers 8 endpoint \"GET /\" { work 1ms } }\n\
         workload w { target api \"GET /\" rate 100000/s }\n",
    ),
    (
        "five-million-users",
        "scenario \"crowd\" { duration 10m }\n\
         service api { workers 64 endpoint \"GET /\" { work 5ms } }\n\
         workload w { target api \"GET /\" users 5000000 think 1s }\n",
    ),
];

/// Writes the scenario into a fresh scratch folder, which the first value keeps alive.
fn write_huge(name: &str, text: &str) -> (Scratch, PathBuf) {
    let dir = scratch(&format!("run-size-{name}"));
    let path = dir.write(&format!("{name}.chaos"), text);
    (dir, path)
}

#[test]
fn check_warns_about_each_enormous_scenario_and_exits_0() {
    for (name, text) in HUGE {
        let (_dir, path) = write_huge(name, text);
        let out = run(&["check", &path.display().to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 0, "{name}: a warning is not an error\n{err}");
        assert!(err.contains("W0007"), "{name}: no W0007\n{err}");
        assert!(
            err.contains("simulated requests") && err.contains("take about"),
            "{name}: the count and the time are stated\n{err}"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("(1 warning)"),
            "{name}"
        );
    }
}

#[test]
fn the_scenarios_in_the_repository_are_not_warned_about() {
    let files: Vec<String> = chaos_files(&scenarios_dir())
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(!files.is_empty());
    let mut args = vec!["check".to_string()];
    args.extend(files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{err}");
    assert!(!err.contains("W0007"), "{err}");
}

#[test]
fn run_sim_warns_before_it_starts() {
    let (name, text) = HUGE[0];
    let (_dir, path) = write_huge(name, text);
    let mut child = chaos()
        .args(["run", "--sim", &path.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run itself would take most of an hour: read the warning, then stop the process.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    let mut warned = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if seen.contains("W0007") && seen.contains("take about") {
                    warned = true;
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(warned, "no W0007 from `run --sim`:\n{seen}");
    assert!(still_running, "the warning does not stop the run:\n{seen}");
}
