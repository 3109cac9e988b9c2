//! A run whose agents cannot start fails with an error naming the agent and what it said.
#![allow(clippy::unwrap_used)]

use chaos_plan::*;

fn plan() -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "t".into(),
            duration_s: 1.0,
            warmup_s: 0.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 1.0,
            hop_s: 0.0,
        },
        params: vec![],
        services: vec![Service {
            name: "s".into(),
            replicas: Replicas::Fixed { count: 2 },
            workers: 1,
            queue: None,
            rate_limit_per_s: None,
            restart_s: 1.0,
            balance: Balance::RoundRobin,
            latency: Dist::ZERO,
            endpoints: vec![Endpoint {
                name: "e".into(),
                steps: vec![Step::Work { dist: Dist::ZERO }],
            }],
            discipline: Default::default(),
            eject: None,
            health_check: None,
        }],
        workloads: vec![],
        faults: vec![],
        expectations: vec![],
        aborts: vec![],
    }
}

#[test]
fn an_agent_that_exits_at_start_is_named_with_its_stderr() {
    // `sh -c` stands in for a broken chaos binary: it prints an error and exits.
    let dir = std::env::temp_dir().join(format!("chaos-local-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("fake-chaos");
    std::fs::write(&fake, "#!/bin/sh\necho 'boom: cannot serve' >&2\nexit 7\n").unwrap();
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
