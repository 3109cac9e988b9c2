//! The Kubernetes objects of one run, as k8s-openapi types: namespace, token Secret, plan
//! ConfigMap, per service a Deployment + Service (+ HPA), and the load generator Job.

use std::collections::BTreeMap;

use chaos_plan::{Action, Plan, Replicas, Service as PlanService};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, Namespace, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, Secret, SecretKeySelector, SecurityContext,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Port every agent listens on, in the Pod and on its Service.
pub const AGENT_PORT: i32 = 8080;
pub const PLAN_CONFIGMAP: &str = "chaos-plan";
pub const PLAN_DIR: &str = "/etc/chaos";
pub const PLAN_FILE: &str = "plan.json";
pub const TOKEN_SECRET: &str = "chaos-token";
pub const TOKEN_KEY: &str = "token";
pub const TOKEN_ENV: &str = "CHAOS_TOKEN";
pub const LOADGEN_JOB: &str = "loadgen";
/// The env var holding a load generator Pod's completion index (0..N) in the Indexed Job,
/// the name the Job controller itself uses.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The annotation (and label) the Job controller puts a Pod's completion index in.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// Port of the load generator's status API (start instant, windows so far, stop), which
/// `chaos run --cluster` reads through the Pod proxy.
pub const LOADGEN_PORT: i32 = 8081;
/// On an HPA: says that `chaos run --cluster` does not apply it (the runner scales instead).
pub const AUTOSCALER_ANNOTATION: &str = "chaos.dev/autoscaler";
pub const RUN_ID_LABEL: &str = "chaos.dev/run-id";
pub const SERVICE_ANNOTATION: &str = "chaos.dev/service";
/// Where every agent serves its Prometheus metrics (no token needed).
pub const METRICS_PATH: &str = "/metrics";
/// The non-root user the image runs as (distroless `nonroot`).
pub const RUN_AS_USER: i64 = 65532;
/// Memory the agent needs for itself, on top of what a memory fault allocates.
pub const AGENT_BASE_MEMORY: u64 = 64 * MIB;
/// Memory limit of an agent without a memory fault.
pub const AGENT_DEFAULT_MEMORY_LIMIT: u64 = 256 * MIB;
const MIB: u64 = 1024 * 1024;

/// Everything applied for one run, in apply order.
#[derive(Debug, Clone)]
pub struct Objects {
    pub namespace: Namespace,
    pub secret: Secret,
    pub config_map: ConfigMap,
    pub services: Vec<ServiceObjects>,
    pub loadgen: Job,
}

/// One plan service's objects.
#[derive(Debug, Clone)]
pub struct ServiceObjects {
    /// The plan's name.
    pub name: String,
    /// The Deployment's and Service's name.
    pub kubernetes: String,
    pub deployment: Deployment,
    pub service: Service,
    pub autoscaler: Option<HorizontalPodAutoscaler>,
}

/// What every object's metadata is derived from.
pub(crate) struct Context<'a> {
    pub plan: &'a Plan,
    pub run_id: &'a str,
    pub namespace: &'a str,
    pub image: &'a str,
    pub part_of: String,
    /// (plan name, kubernetes name) per service.
    pub names: &'a [(String, String)],
    /// The load generator Job's Pods.
    pub loadgen_pods: u32,
}

impl Context<'_> {
    fn kubernetes_name(&self, plan_name: &str) -> String {
        self.names
            .iter()
            .find(|(p, _)| p == plan_name)
            .map_or_else(|| crate::names::service_name(plan_name), |(_, k)| k.clone())
    }

    /// Recommended labels plus the run id.
    pub(crate) fn labels(
        &self,
        name: &str,
        instance: &str,
        component: &str,
    ) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), name.to_string()),
            (
                "app.kubernetes.io/instance".to_string(),
                instance.to_string(),
            ),
            (
                "app.kubernetes.io/component".to_string(),
                component.to_string(),
            ),
            (
                "app.kubernetes.io/part-of".to_string(),
                self.part_of.clone(),
            ),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "chaos".to_string(),
            ),
            (
                "app.kubernetes.io/version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            (RUN_ID_LABEL.to_string(), self.run_id.to_string()),
        ])
    }

    /// The labels a service's Deployment selects its Pods by.
    pub fn selector(&self, kubernetes: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "app.kubernetes.io/name".to_string(),
                "chaos-agent".to_string(),
            ),
            (
                "app.kubernetes.io/instance".to_string(),
                kubernetes.to_string(),
            ),
            (RUN_ID_LABEL.to_string(), self.run_id.to_string()),
        ])
    }

    fn meta(&self, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(self.namespace.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        }
    }
}

/// The `prometheus.io/*` annotations most Prometheus setups (the Helm chart's and the
/// example `kubernetes-pods` job) discover scrape targets by, on top of `base`.
fn pod_annotations(base: Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut a = base.unwrap_or_default();
    a.insert("prometheus.io/scrape".to_string(), "true".to_string());
    a.insert("prometheus.io/port".to_string(), AGENT_PORT.to_string());
    a.insert("prometheus.io/path".to_string(), METRICS_PATH.to_string());
    a
}

/// `k=v,k=v` for a label map (the form list calls and `kubectl -l` take).
pub fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn build(cx: &Context<'_>, token: &str) -> Objects {
    let mut ns_labels = cx.labels("chaos", cx.namespace, "namespace");
    // The Pods below satisfy the `restricted` Pod Security Standard; enforce it.
    ns_labels.insert(
        "pod-security.kubernetes.io/enforce".to_string(),
        "restricted".to_string(),
    );
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(cx.namespace.to_string()),
            labels: Some(ns_labels),
            annotations: Some(BTreeMap::from([(
                "chaos.dev/scenario".to_string(),
                cx.plan.scenario.name.clone(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let secret = Secret {
        metadata: cx.meta(
            TOKEN_SECRET,
            cx.labels("chaos", TOKEN_SECRET, "control-token"),
        ),
        type_: Some("Opaque".to_string()),
        string_data: Some(BTreeMap::from([(TOKEN_KEY.to_string(), token.to_string())])),
        ..Secret::default()
    };
    let config_map = ConfigMap {
        metadata: cx.meta(PLAN_CONFIGMAP, cx.labels("chaos", PLAN_CONFIGMAP, "plan")),
        data: Some(BTreeMap::from([(PLAN_FILE.to_string(), cx.plan.to_json())])),
        ..ConfigMap::default()
    };
    let services = cx
        .plan
        .services
        .iter()
        .map(|s| service_objects(cx, s))
        .collect();
    Objects {
        namespace,
        secret,
        config_map,
        services,
        loadgen: loadgen_job(cx),
    }
}

fn service_objects(cx: &Context<'_>, s: &PlanService) -> ServiceObjects {
    let k = cx.kubernetes_name(&s.name);
    let labels = cx.labels("chaos-agent", &k, "service");
    let selector = cx.selector(&k);
    let mut meta = cx.meta(&k, labels.clone());
    meta.annotations = Some(BTreeMap::from([(
        SERVICE_ANNOTATION.to_string(),
        s.name.clone(),
    )]));

    let mut args = vec![
        "agent".to_string(),
        "--plan".to_string(),
        format!("{PLAN_DIR}/{PLAN_FILE}"),
        "--service".to_string(),
        s.name.clone(),
        "--listen".to_string(),
        format!("0.0.0.0:{AGENT_PORT}"),
        "--replica".to_string(),
        // Expanded by the kubelet from the env var below: each Pod knows itself by name.
        "$(POD_NAME)".to_string(),
        "--token-env".to_string(),
        TOKEN_ENV.to_string(),
    ];
    for callee in callees(s) {
        args.push("--peer".to_string());
        args.push(format!(
            "{callee}=http://{}:{AGENT_PORT}",
            cx.kubernetes_name(&callee)
        ));
    }

    let (replicas, ready_delay) = match s.replicas {
        Replicas::Fixed { count } => (count, s.restart_s),
        Replicas::Autoscale { min, delay_s, .. } => (min, delay_s),
    };
    let container = Container {
        name: "agent".to_string(),
        image: Some(cx.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(vec!["chaos".to_string()]),
        args: Some(args),
        env: Some(vec![
            EnvVar {
                name: "POD_NAME".to_string(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                        field_path: "metadata.name".to_string(),
                        ..Default::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
            token_env(),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_string()),
            container_port: AGENT_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(readiness_probe(s, ready_delay)),
        resources: Some(resources(
            "100m",
            "1",
            64 * MIB,
            memory_limit(cx.plan, &s.name),
        )),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![VolumeMount {
            name: "plan".to_string(),
            mount_path: PLAN_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let deployment = Deployment {
        metadata: meta.clone(),
        spec: DeploymentSpec {
            replicas: Some(to_i32(replicas)),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_string()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    annotations: Some(pod_annotations(meta.annotations.clone())),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(container, "Always")),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };
    let service = Service {
        metadata: meta.clone(),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some("http".to_string()),
                port: AGENT_PORT,
                target_port: Some(IntOrString::String("http".to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let autoscaler = match s.replicas {
        Replicas::Autoscale {
            min,
            max,
            rule,
            interval_s,
            ..
        } => Some(HorizontalPodAutoscaler {
            metadata: {
                let mut meta = meta;
                meta.annotations.get_or_insert_with(BTreeMap::new).insert(
                    AUTOSCALER_ANNOTATION.to_string(),
                    "for deploying these manifests without chaos: scales on CPU as a stand-in for \
                     worker utilisation. chaos run --cluster does not apply it: the runner scales the \
                     Deployment itself by the plan's rule (worker utilisation read from the agents)"
                        .to_string(),
                );
                meta
            },
            spec: autoscaler_spec(&k, min, max, hpa_target(rule), interval_s),
            ..HorizontalPodAutoscaler::default()
        }),
        Replicas::Fixed { .. } => None,
    };
    ServiceObjects {
        name: s.name.clone(),
        kubernetes: k,
        deployment,
        service,
        autoscaler,
    }
}

/// An HPA has one target; watermarks become the middle of their band (the runner itself
/// applies the real rule).
fn hpa_target(rule: chaos_plan::ScaleRule) -> f64 {
    match rule {
        chaos_plan::ScaleRule::Target { utilisation } => utilisation,
        chaos_plan::ScaleRule::Watermarks { up, down } => (up + down) / 2.0,
    }
}

/// CPU utilisation stands in for worker utilisation (the only metric every cluster has); the
/// plan's interval becomes the scaling policies' period.
fn autoscaler_spec(
    k: &str,
    min: u32,
    max: u32,
    target: f64,
    interval_s: f64,
) -> HorizontalPodAutoscalerSpec {
    let period = whole_seconds(interval_s).clamp(1, 1800);
    let rules = |window: i32| HPAScalingRules {
        policies: Some(vec![HPAScalingPolicy {
            type_: "Percent".to_string(),
            value: 100,
            period_seconds: period,
        }]),
        stabilization_window_seconds: Some(window),
        ..HPAScalingRules::default()
    };
    HorizontalPodAutoscalerSpec {
        scale_target_ref: CrossVersionObjectReference {
            api_version: Some("apps/v1".to_string()),
            kind: "Deployment".to_string(),
            name: k.to_string(),
        },
        min_replicas: Some(to_i32(min.max(1))),
        max_replicas: to_i32(max.max(min).max(1)),
        metrics: Some(vec![MetricSpec {
            type_: "Resource".to_string(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_string(),
                target: MetricTarget {
                    type_: "Utilization".to_string(),
                    average_utilization: Some(((target * 100.0).round() as i32).clamp(1, 100)),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        }]),
        behavior: Some(HorizontalPodAutoscalerBehavior {
            scale_up: Some(rules(0)),
            scale_down: Some(rules(period)),
        }),
    }
}

fn loadgen_job(cx: &Context<'_>) -> Job {
    let labels = cx.labels("chaos-loadgen", LOADGEN_JOB, "load-generator");
    let mut args = vec![
        "loadgen".to_string(),
        "--plan".to_string(),
        format!("{PLAN_DIR}/{PLAN_FILE}"),
    ];
    let mut targets: Vec<&str> = cx
        .plan
        .workloads
        .iter()
        .map(|w| w.target.service.as_str())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    targets.retain(|t| seen.insert(*t));
    for t in targets {
        args.push("--target".to_string());
        args.push(format!("{t}=http://{}:{AGENT_PORT}", cx.kubernetes_name(t)));
    }
    args.extend([
        "--seed".to_string(),
        cx.plan.scenario.seed.to_string(),
        "--out".to_string(),
        "-".to_string(),
        // The status API (start instant, windows so far, stop) for `chaos run --cluster`.
        "--listen".to_string(),
        format!("0.0.0.0:{LOADGEN_PORT}"),
        "--token-env".to_string(),
        TOKEN_ENV.to_string(),
        // Pod I of N sends arrivals I, I + N, I + 2N, ... of every workload's stream.
        "--share".to_string(),
        format!("$({COMPLETION_INDEX_ENV})/{}", cx.loadgen_pods),
    ]);
    if cx.loadgen_pods > 1 {
        // Several Pods start when the runner says, at one instant (`chaos run --cluster`
        // waits until all are ready), not each when its own process is up.
        args.push("--wait-for-start".to_string());
    }
    // What the Job controller would add by itself, written out so the manifest says where
    // `$(JOB_COMPLETION_INDEX)` comes from.
    let index_env = EnvVar {
        name: COMPLETION_INDEX_ENV.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: format!("metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let container = Container {
        name: "loadgen".to_string(),
        image: Some(cx.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(vec!["chaos".to_string()]),
        args: Some(args),
        env: Some(vec![token_env(), index_env]),
        ports: Some(vec![ContainerPort {
            name: Some("status".to_string()),
            container_port: LOADGEN_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        resources: Some(resources("500m", "2", 128 * MIB, 1024 * MIB)),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![VolumeMount {
            name: "plan".to_string(),
            mount_path: PLAN_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    // The run, its drain, and a few minutes for the image pull and for writing results.
    let deadline = whole_seconds(cx.plan.horizon_s()) as i64 + 300;
    Job {
        metadata: cx.meta(LOADGEN_JOB, labels.clone()),
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".to_string()),
            completions: Some(to_i32(cx.loadgen_pods)),
            parallelism: Some(to_i32(cx.loadgen_pods)),
            backoff_limit: Some(0),
            active_deadline_seconds: Some(deadline),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(container, "Never")),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The control token from the run's Secret, as `CHAOS_TOKEN`.
fn token_env() -> EnvVar {
    EnvVar {
        name: TOKEN_ENV.to_string(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: TOKEN_SECRET.to_string(),
                key: TOKEN_KEY.to_string(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn pod_spec(container: Container, restart_policy: &str) -> PodSpec {
    PodSpec {
        containers: vec![container],
        restart_policy: Some(restart_policy.to_string()),
        // Neither the agent nor the load generator talks to the API server.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(5),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                ..Default::default()
            }),
            ..PodSecurityContext::default()
        }),
        volumes: Some(vec![Volume {
            name: "plan".to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: PLAN_CONFIGMAP.to_string(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    }
}

fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            ..Default::default()
        }),
        ..SecurityContext::default()
    }
}

fn resources(
    cpu_request: &str,
    cpu_limit: &str,
    memory_request: u64,
    memory_limit: u64,
) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu_request.to_string())),
            (
                "memory".to_string(),
                bytes(memory_request.min(memory_limit)),
            ),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu_limit.to_string())),
            ("memory".to_string(), bytes(memory_limit)),
        ])),
        ..ResourceRequirements::default()
    }
}

/// The Pod memory limit of a service: with memory faults, the smallest fault limit (the first
/// one reached) plus what the agent needs for itself, so the kernel kills the replica when the
/// fault's allocation reaches its limit.
pub fn memory_limit(plan: &Plan, service: &str) -> u64 {
    plan.faults
        .iter()
        .flat_map(|f| &f.actions)
        .filter_map(|a| match a {
            Action::Memory {
                service: s,
                limit_bytes,
                ..
            } if s == service => Some(*limit_bytes),
            _ => None,
        })
        .reduce(f64::min)
        .map_or(AGENT_DEFAULT_MEMORY_LIMIT, |l| {
            let l = if l.is_finite() && l > 0.0 {
                l.ceil() as u64
            } else {
                0
            };
            // Whole MiB keep the quantity readable.
            (l + AGENT_BASE_MEMORY).div_ceil(MIB) * MIB
        })
}

/// A byte count as a quantity: `Mi` when whole, plain bytes otherwise.
pub fn bytes(n: u64) -> Quantity {
    if n > 0 && n.is_multiple_of(MIB) {
        Quantity(format!("{}Mi", n / MIB))
    } else {
        Quantity(n.to_string())
    }
}

/// The agent's readinessProbe. With `health_check` it is that check, with the same numbers
/// (Kubernetes counts in whole seconds: `every` and `timeout` round up, at least 1 s), on
/// `/_chaos/check`, which answers through the replica's inbound faults as the plan's checks do.
/// Without one it only says the agent is up, as callers then learn of deaths at once.
fn readiness_probe(s: &PlanService, ready_delay: f64) -> Probe {
    // A new or recreated replica serves no sooner than the plan says (restart / delay).
    let initial_delay_seconds = Some(whole_seconds(ready_delay));
    let get = |path: &str| {
        Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("http".to_string()),
            ..HTTPGetAction::default()
        })
    };
    match &s.health_check {
        Some(h) => Probe {
            http_get: get("/_chaos/check"),
            initial_delay_seconds,
            period_seconds: Some(whole_seconds(h.every_s).max(1)),
            timeout_seconds: Some(whole_seconds(h.timeout_s).max(1)),
            failure_threshold: Some(to_i32(h.unhealthy.max(1))),
            success_threshold: Some(to_i32(h.healthy.max(1))),
            ..Probe::default()
        },
        None => Probe {
            http_get: get("/_chaos/health"),
            initial_delay_seconds,
            period_seconds: Some(1),
            failure_threshold: Some(3),
            ..Probe::default()
        },
    }
}

fn whole_seconds(s: f64) -> i32 {
    if s.is_finite() && s > 0.0 {
        s.ceil().min(i32::MAX as f64) as i32
    } else {
        0
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Services a service calls, in first-call order.
pub fn callees(s: &PlanService) -> Vec<String> {
    fn walk(steps: &[chaos_plan::Step], out: &mut Vec<String>) {
        for step in steps {
            match step {
                chaos_plan::Step::Call(chaos_plan::Call { service, .. })
                | chaos_plan::Step::Send { service, .. } => {
                    if !out.contains(service) {
                        out.push(service.clone());
                    }
                }
                chaos_plan::Step::Parallel { steps } => walk(steps, out),
                chaos_plan::Step::Choice { branches } => {
                    for b in branches {
                        walk(&b.steps, out);
                    }
                }
                chaos_plan::Step::Work { .. } | chaos_plan::Step::Fail { .. } => {}
            }
        }
    }
    let mut out = Vec::new();
    for e in &s.endpoints {
        walk(&e.steps, &mut out);
    }
    out
}
