//! A run whose agents cannot start fails with an error naming the agent and what it said.
#![allow(clippy::unwrap_used)]

use chaos_plan::*;
use chaos_test_support::{plans, scratch};

/// Two replicas of one service.
fn plan() -> Plan {
    plans::plan(vec![Service {
        replicas: Replicas::Fixed { count: 2 },
        ..plans::service("s", vec![plans::endpoint("e", vec![plans::work(0.0)])])
    }])
}

#[test]
fn an_agent_that_exits_at_start_is_named_with_its_stderr() {
    // `sh -c` stands in for a broken chaos binary: it prints an error and exits.
    let dir = scratch("local-start");
    let fake = dir.write(
        "fake-chaos",
        "#!/bin/sh\necho 'boom: cannot serve' >&2\nexit 7\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let err = chaos_local::run(
        &plan(),
        &chaos_local::Options {
            seed: 1,
            chaos_bin: fake,
            warn: chaos_local::Warn::default(),
            observer: None,
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("agent `s-0` did not start"), "{msg}");
    assert!(msg.contains("boom: cannot serve"), "{msg}");
}

#[test]
fn a_missing_binary_is_a_clear_error() {
    let err = chaos_local::run(
        &plan(),
        &chaos_local::Options {
            seed: 1,
            chaos_bin: "/nonexistent/chaos".into(),
            warn: chaos_local::Warn::default(),
            observer: None,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot run /nonexistent/chaos"),
        "{err}"
    );
}
