//! The agent's readinessProbe: a service's `health_check` becomes it, number for number, on the
//! path that answers through the replica's inbound faults (issue 14); without one the probe
//! only says the agent is up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chaos_k8s::{Options, build};
use chaos_plan::HealthCheck;
use k8s_openapi::api::core::v1::Probe;

fn probe(health_check: Option<HealthCheck>) -> Probe {
    let mut plan = support::mm1();
    plan.services[0].replicas = chaos_plan::Replicas::Fixed { count: 3 };
    plan.services[0].health_check = health_check;
    let options = Options {
        image: chaos_k8s::DEFAULT_IMAGE.to_string(),
        namespace: None,
        run_id: "r1".to_string(),
        loadgen_pods: None,
    };
    let bundle = build(&plan, &options, "token").unwrap();
    let deployment = &bundle.objects.services[0].deployment;
    let pod = deployment.spec.template.spec.as_ref().unwrap();
    pod.containers[0].readiness_probe.clone().unwrap()
}

#[test]
fn a_health_check_is_the_readiness_probe_with_the_same_numbers() {
    let p = probe(Some(HealthCheck {
        every_s: 2.0,
        timeout_s: 1.0,
        unhealthy: 3,
        healthy: 2,
    }));
    let get = p.http_get.as_ref().unwrap();
    assert_eq!(get.path.as_deref(), Some("/_chaos/check"));
    assert_eq!(
        (
            p.period_seconds,
            p.timeout_seconds,
            p.failure_threshold,
            p.success_threshold
        ),
        (Some(2), Some(1), Some(3), Some(2))
    );
    insta::assert_yaml_snapshot!("health-check.readiness-probe", p);
}

#[test]
fn sub_second_numbers_round_up_to_whole_seconds() {
    // Kubernetes counts probe periods and timeouts in whole seconds, at least 1.
    let p = probe(Some(HealthCheck {
        every_s: 1.5,
        timeout_s: 0.2,
        unhealthy: 1,
        healthy: 1,
    }));
    assert_eq!((p.period_seconds, p.timeout_seconds), (Some(2), Some(1)));
    assert_eq!(
        (p.failure_threshold, p.success_threshold),
        (Some(1), Some(1))
    );
}

#[test]
fn without_a_health_check_the_probe_only_says_the_agent_is_up() {
    let p = probe(None);
    assert_eq!(
        p.http_get.as_ref().unwrap().path.as_deref(),
        Some("/_chaos/health")
    );
    assert_eq!((p.period_seconds, p.failure_threshold), (Some(1), Some(3)));
    assert_eq!(p.success_threshold, None);
}
