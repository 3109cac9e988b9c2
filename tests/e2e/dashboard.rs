//! End-to-end: `chaos run --local --dashboard` watched by headless Chromium during a real
//! run (the page's numbers change, the fault's band appears while it is in force), its
//! `/events` pushing each window and then the end with the report, and its `/metrics`
//! accepted by `promtool check metrics`. Skipped loudly without /usr/bin/chromium or curl
//! (`.ci/run` installs chromium; `scripts/test` installs promtool).
//!
//! `CHAOS_UPDATE_DOCS=1` copies the screenshot taken during the fault to docs/dashboard.png.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::live::scenario;
use crate::support::{Reap, browser, chaos, free_port, repo_root, scratch};

/// Chromium, when curl is there too (it reads the dashboard's answers and event stream).
fn chromium() -> Option<PathBuf> {
    let curl = Command::new("curl").arg("--version").output().is_ok();
    browser::chromium().filter(|_| curl)
}

fn get(port: u16, path: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `/update` until `ready` holds (the run's own pace decides when; two minutes at most).
fn wait_for(
    port: u16,
    what: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(u) = get(port, "/update").and_then(|t| serde_json::from_str(&t).ok())
            && ready(&u)
        {
            return u;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard never showed {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn chromium_cmd(bin: &Path, profile: &Path) -> Command {
    let mut c = browser::headless(bin, profile);
    // The page keeps its event stream open: dump what it shows after two seconds.
    c.arg("--timeout=2000");
    c
}

fn dump_dom(bin: &Path, profile: &Path, port: u16) -> String {
    let out = chromium_cmd(bin, profile)
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the first element whose opening tag contains `marker`.
fn text_after<'a>(dom: &'a str, marker: &str) -> &'a str {
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("`{marker}` in the page"));
    let rest = &dom[start..];
    let open = rest.find('>').map_or(0, |i| i + 1);
    let close = rest[open..].find('<').map_or(rest.len(), |i| open + i);
    &rest[open..close]
}

fn band_count(dom: &str, fault: &str) -> usize {
    dom.matches(&format!("class=\"band\" data-fault=\"{fault}\""))
        .count()
}

#[test]
fn the_dashboard_follows_a_local_run_in_headless_chromium() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED the_dashboard_follows_a_local_run_in_headless_chromium: /usr/bin/chromium or curl is missing (apt-get install -y chromium curl)"
        );
        return;
    };
    let dir = scratch("dashboard");
    let profile = dir.join("profile");
    let port = free_port();
    let child = chaos()
        .args(["run", "--local", "--quiet", "--dashboard"])
        .arg(format!("127.0.0.1:{port}"))
        .arg(scenario())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Reap(child);

    // Before the fault (it starts at 10 s): a few windows read.
    let index = |u: &serde_json::Value| u["window"]["index"].as_u64();
    let flaky_on = |u: &serde_json::Value| u["faults"][0]["active"].as_bool() == Some(true);
    let before = wait_for(port, "window 2", |u| {
        index(u).is_some_and(|i| i >= 2) && !flaky_on(u)
    });
    let dom1 = dump_dom(&bin, &profile, port);

    // While it is in force, once a window inside it has been read.
    let during = wait_for(port, "the fault in force", |u| {
        flaky_on(u) && index(u).is_some_and(|i| i >= 11)
    });
    let dom2 = dump_dom(&bin, &profile, port);
    let png = dir.join("dashboard.png");
    let shot = chromium_cmd(&bin, &profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,1500")
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );

    // /metrics while the fault is on, checked by promtool.
    let metrics = get(port, "/metrics").expect("/metrics answers");
    assert!(
        metrics.contains("chaos_fault_active{fault=\"flaky\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("chaos_workload_requests_total{workload=\"users\",outcome=\"ok\"} "));
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut p) => {
            use std::io::Write;
            p.stdin
                .take()
                .unwrap()
                .write_all(metrics.as_bytes())
                .unwrap();
            let out = p.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}\n{metrics}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => {
            eprintln!("promtool not installed (apt-get install prometheus); its check skipped")
        }
    }

    // /events from now to the end of the run: each window pushed, then `done` with the report.
    let events = Command::new("curl")
        .args(["-sN", "--max-time", "60"])
        .arg(format!("http://127.0.0.1:{port}/events"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = run.0.wait().unwrap();
    let events = events.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&events.stdout);
    let out = String::from_utf8_lossy(&run.0.stdout.take().map_or(Vec::new(), |mut s| {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut v).unwrap();
        v
    }))
    .into_owned();
    assert_eq!(status.code(), Some(0), "{out}");

    // The first page was taken before the fault (the machine was not too slow to start Chromium).
    let seconds = |dom: &str| -> f64 {
        text_after(dom, "id=\"clock\"")
            .split(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN)
    };
    assert!(
        seconds(&dom1) < 10.0,
        "the first page is from before the fault: {}",
        seconds(&dom1)
    );
    // The page before the fault: numbers, no band, no fault named.
    assert_eq!(
        band_count(&dom1, "flaky"),
        0,
        "no band before the fault starts"
    );
    assert_eq!(text_after(&dom1, "id=\"faults-now\""), "no fault");
    assert!(
        dom1.contains("<svg class=\"topology\""),
        "the topology is drawn"
    );
    // During it: the band on every chart, the fault named, its service highlighted.
    assert!(
        band_count(&dom2, "flaky") >= 4,
        "a band on each chart while the fault is on"
    );
    assert_eq!(text_after(&dom2, "id=\"faults-now\""), "faults: flaky");
    assert!(dom2.contains("class=\"node under-fault\" data-node=\"db\""));
    assert!(dom2.contains("class=\"service under-fault\" data-service=\"db\""));
    // The numbers changed between the two.
    let clock1 = text_after(&dom1, "id=\"clock\"");
    let clock2 = text_after(&dom2, "id=\"clock\"");
    assert_ne!(clock1, clock2);
    let errors = |dom: &str| -> f64 {
        text_after(dom, "data-live=\"errors\"")
            .trim_end_matches('%')
            .parse()
            .unwrap_or(-1.0)
    };
    assert!(
        errors(&dom1) < 5.0,
        "no errors before the fault: {}",
        errors(&dom1)
    );
    assert!(
        errors(&dom2) > 10.0,
        "the injected errors show: {}",
        errors(&dom2)
    );
    assert_ne!(
        text_after(&dom1, "data-live=\"rate\""),
        "–",
        "a live rate before the fault"
    );
    assert!(before["window"]["index"].as_u64() < during["window"]["index"].as_u64());
    // Expectations are judged so far: the one about the fault waits before it.
    assert!(
        dom1.contains("<td class=\"waiting\">waiting</td>"),
        "waiting before the fault"
    );
    assert!(dom2.contains("<td class=\"holding\">holding</td>"));

    // The stream: updates of later windows than when it connected, then the end.
    let indices: Vec<u64> = events
        .split("\"window\":{\"index\":")
        .skip(1)
        .filter_map(|s| s.split(',').next()?.parse().ok())
        .collect();
    let connected_at = during["window"]["index"].as_u64().unwrap();
    assert!(
        indices.iter().any(|&i| i > connected_at + 2),
        "windows pushed after connecting: {indices:?}"
    );
    assert!(events.contains("event: done"), "the end is pushed");
    assert!(events.contains("\"passed\":true"));
    assert!(
        events.contains("class=\\\"verdicts\\\""),
        "with the HTML report"
    );

    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    if std::env::var("CHAOS_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::copy(&png, repo_root().join("docs/dashboard.png")).unwrap();
    }
}

#[test]
fn after_the_run_the_kept_dashboard_shows_the_report() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED after_the_run_the_kept_dashboard_shows_the_report: /usr/bin/chromium or curl is missing"
        );
        return;
    };
    let dir = scratch("dashboard-keep");
    let port = free_port();
    let child = chaos()
        .args(["run", "--sim", "--dashboard"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--dashboard-keep")
        .arg(scenario())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Reap(child);
    wait_for(port, "the end", |u| u["phase"] == "done");
    // One self-contained page: nothing to fetch from elsewhere (the machine may be offline).
    let page = get(port, "/").expect("the page");
    for external in ["src=\"http", "href=\"http", "@import", "url(http", "<link "] {
        assert!(
            !page.contains(external),
            "the page loads nothing: {external}"
        );
    }
    let report = get(port, "/report").expect("/report once the run is over");
    assert!(report.contains("<table class=\"verdicts\">"));
    let out = chromium_cmd(&bin, &dir.join("profile"))
        .arg("--virtual-time-budget=3000")
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("id=\"final\" class=\"shown\""), "{dom}");
    assert_eq!(
        text_after(&dom, "id=\"verdict\""),
        "Run over: every expectation held"
    );
    assert!(dom.contains("srcdoc=\""), "the report in the page");
    // Still serving until interrupted; SIGTERM ends it with the run's exit code.
    assert!(run.0.try_wait().unwrap().is_none());
    let pid = run.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(run.0.wait().unwrap().code(), Some(0));
}
