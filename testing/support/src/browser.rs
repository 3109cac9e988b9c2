//! Headless Chromium, for the tests that check what a page shows (the HTML report, the live
//! dashboard). `.ci/run` installs it; tests without it skip loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `/usr/bin/chromium` when it is installed.
pub fn chromium() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/chromium");
    p.exists().then_some(p)
}

/// Chromium headless, quiet and sandbox-free (tests run as root in containers), with its own
/// profile in `profile` so parallel tests do not share one.
pub fn headless(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}
