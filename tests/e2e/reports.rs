//! End-to-end: every report file a run writes (JSON, JUnit, Markdown, HTML), `chaos compare`,
//! and the HTML report opened in headless Chromium (skipped with a message when
//! `/usr/bin/chromium` is missing; `.ci/run` installs it: `apt-get install -y chromium`).

use std::path::Path;

use crate::support::browser::{chromium, headless as chromium_cmd};
use crate::support::{chaos, code, scratch, spec_examples};

fn run_with_reports(example: &str, dir: &Path, extra: &[&str]) -> i32 {
    let file = spec_examples().join(example);
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let out = chaos()
        .arg("run")
        .arg(&file)
        .args([
            "--report",
            &p("r.json"),
            "--junit",
            &p("r.xml"),
            "--summary-md",
            &p("r.md"),
            "--html",
            &p("r.html"),
        ])
        .args(extra)
        .output()
        .unwrap();
    code(&out)
}

#[test]
fn a_failing_run_writes_every_report() {
    let dir = scratch("reports-failing");
    assert_eq!(run_with_reports("retry-storm.chaos", &dir, &[]), 1);
    let xml = std::fs::read_to_string(dir.join("r.xml")).unwrap();
    assert_eq!(
        xml.matches("<testcase ").count(),
        3,
        "one test case per expectation:\n{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    assert!(
        xml.contains("observed never, expected &lt; 60 s (window after slow_backend)"),
        "{xml}"
    );
    let md = std::fs::read_to_string(dir.join("r.md")).unwrap();
    assert!(
        md.starts_with("### ❌ retries keep a recovered backend down — failed"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(html.contains("<table class=\"verdicts\">"));
    // Each row links to its expectation's chart; the failed `error_rate(users) < 1% after
    // slow_backend + 30s` is drawn against its 1% line, red.
    for i in 1..=3 {
        assert_eq!(
            html.matches(&format!("href=\"#expectation-{i}\"")).count(),
            1
        );
        assert_eq!(html.matches(&format!("id=\"expectation-{i}\"")).count(), 1);
    }
    let chart = &html[html.find("id=\"expectation-2\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let line = &chart[chart.find("<line class=\"threshold\"").unwrap()..];
    assert!(
        line.starts_with("<line class=\"threshold\" data-value=\"1\""),
        "{line}"
    );
    assert!(line[..line.find("</line>").unwrap()].contains("stroke=\"#c62828\""));
    for net in ["http://", "https://", "<script", "<link"] {
        let hits: Vec<_> = html
            .match_indices(net)
            .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
            .collect();
        assert!(
            hits.is_empty(),
            "the HTML must not load anything: found {net}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["passed"], false);
    assert_eq!(json["expectations"][2]["note"], "never");
}

#[test]
fn compare_shows_both_figures_and_the_difference() {
    let dir = scratch("compare");
    let file = spec_examples().join("mm1.chaos");
    for seed in ["1", "2"] {
        let out = chaos()
            .arg("run")
            .arg(&file)
            .args([
                "--seed",
                seed,
                "--report",
                dir.join(format!("s{seed}.json")).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0);
    }
    let a = dir.join("s1.json");
    let b = dir.join("s2.json");
    let out = chaos().arg("compare").arg(&a).arg(&b).output().unwrap();
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("A: sim · seed 1\nB: sim · seed 2\n"),
        "{text}"
    );
    assert!(text.contains("mean(server \"GET /\") < 55ms"), "{text}");
    assert!(text.contains("server \"GET /\" p99"), "{text}");
    let out = chaos()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .args(["--format", "md"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| expectation | A | B | B − A |"), "{md}");
    let out = chaos()
        .arg("compare")
        .arg(&a)
        .arg(spec_examples().join("mm1.chaos"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "a .chaos file is not a report");
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED html_report_renders_in_headless_chromium: /usr/bin/chromium is missing (apt-get install -y chromium)"
        );
        return;
    };
    let dir = scratch("html");
    assert_eq!(run_with_reports("checkout.chaos", &dir, &[]), 0);
    let html = dir.join("r.html");
    let url = format!("file://{}", html.display());
    let profile = dir.join("profile");

    let dom = chromium_cmd(&bin, &profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<table class=\"verdicts\">"),
        "the verdict table is there"
    );
    assert_eq!(
        dom.matches("<tr class=\"pass\">").count(),
        6,
        "one row per expectation"
    );
    for service in ["gateway", "cart", "inventory", "stock_db", "payments"] {
        let block = format!("<div class=\"service\" data-service=\"{service}\">");
        let start = dom
            .find(&block)
            .unwrap_or_else(|| panic!("a block for {service}"));
        let rest = &dom[start..];
        let end = rest[block.len()..]
            .find("<div class=\"service\"")
            .map_or(rest.len(), |e| e + block.len());
        assert!(
            rest[..end].matches("<svg class=\"chart\"").count() >= 4,
            "charts for {service}"
        );
    }
    assert!(dom.contains("<svg class=\"topology\""));
    for fault in ["slow_payments", "payments_crash", "flaky_cart"] {
        assert!(
            dom.contains(&format!("class=\"fl\">{fault}</text>")),
            "band label for {fault}"
        );
    }

    let png = dir.join("shot.png");
    let shot = chromium_cmd(&bin, &profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 50_000,
        "a page with charts is not blank: {} bytes",
        bytes.len()
    );
}
