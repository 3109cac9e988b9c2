//! The Kubernetes back end: a plan becomes manifests (k8s-openapi types) and a fault schedule.
//!
//! Pure: no IO, no clock, no randomness. The same plan and options give byte-identical output.
//! `chaos compile --target k8s` renders [`compile`]'s [`Output`]; `chaos run --cluster` applies
//! the typed [`Bundle`] from [`build`] and executes its [`schedule::Schedule`].

pub mod manifests;
pub mod monitor;
pub mod names;
pub mod schedule;
pub mod sizing;

use chaos_plan::Plan;
use serde::Serialize;

pub use manifests::{Objects, ServiceObjects};
pub use schedule::Schedule;

/// The image `chaos compile --target k8s` uses unless `--image` says otherwise: what
/// `docker build -t chaos:<version> .` at the repository root produces.
pub const DEFAULT_IMAGE: &str = concat!("chaos:", env!("CARGO_PKG_VERSION"));

/// What `chaos compile --target k8s` can change from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The agent image, e.g. `ghcr.io/chaos/agent:0.1.0`.
    pub image: String,
    /// Namespace to create; defaults to one derived from the scenario and run id.
    pub namespace: Option<String>,
    /// Labelled on every object; the cluster runner only ever touches objects carrying it.
    pub run_id: String,
    /// Load generator Pods (the Job's `parallelism`), each sending its share of every
    /// workload; `None`: [`sizing::default_pods`] from the plan's peak offered rate.
    pub loadgen_pods: Option<u32>,
}

/// The files `chaos compile --target k8s` writes.
#[derive(Debug, Clone)]
pub struct Output {
    pub manifests_yaml: String,
    pub schedule_json: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "run id `{0}` cannot label Kubernetes objects: use 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit"
    )]
    InvalidRunId(String),
    #[error(
        "namespace `{0}` is not a valid Kubernetes namespace name: use 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit"
    )]
    InvalidNamespace(String),
    #[error("image must not be empty")]
    EmptyImage,
    #[error("{0} load generator Pods: use 1 to {max}", max = sizing::MAX_PODS)]
    LoadgenPods(u32),
    #[error(
        "services `{first}` and `{second}` would both be named `{kubernetes}` in Kubernetes; rename one of them"
    )]
    NameClash {
        first: String,
        second: String,
        kubernetes: String,
    },
    #[error("could not render {what}: {message}")]
    Render { what: &'static str, message: String },
}

/// The typed objects and the schedule of one run.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub namespace: String,
    pub objects: Objects,
    pub schedule: Schedule,
}

/// Builds the objects and schedule. `token` is the agents' control token, stored in the run's
/// Secret; the cluster runner passes a fresh random one.
pub fn build(plan: &Plan, options: &Options, token: &str) -> Result<Bundle, Error> {
    let (namespace, service_names, part_of) = naming(plan, options)?;
    let cx = manifests::Context {
        plan,
        run_id: &options.run_id,
        namespace: &namespace,
        image: &options.image,
        part_of,
        names: &service_names,
        loadgen_pods: loadgen_pods(plan, options)?,
    };
    let objects = manifests::build(&cx, token);
    let target = |service: &str| {
        let k = service_names
            .iter()
            .find(|(p, _)| p == service)
            .map_or_else(|| names::service_name(service), |(_, k)| k.clone());
        schedule::Target {
            service: service.to_string(),
            label_selector: manifests::selector_string(&cx.selector(&k)),
            kubernetes: k,
        }
    };
    let schedule = schedule::build(plan, &options.run_id, &namespace, &target);
    Ok(Bundle {
        namespace,
        objects,
        schedule,
    })
}

/// A `monitoring.coreos.com/v1` ServiceMonitor scraping every agent of the run, for
/// `chaos compile --target k8s --service-monitor`: one YAML document (without `---`).
pub fn service_monitor(plan: &Plan, options: &Options) -> Result<String, Error> {
    let (namespace, service_names, part_of) = naming(plan, options)?;
    let cx = manifests::Context {
        plan,
        run_id: &options.run_id,
        namespace: &namespace,
        image: &options.image,
        part_of,
        names: &service_names,
        loadgen_pods: loadgen_pods(plan, options)?,
    };
    yaml(&monitor::service_monitor(&cx))
}

/// The Pods of the load generator Job: the user's number, checked, or the plan's default.
pub fn loadgen_pods(plan: &Plan, options: &Options) -> Result<u32, Error> {
    match options.loadgen_pods {
        Some(n) if (1..=sizing::MAX_PODS).contains(&n) => Ok(n),
        Some(n) => Err(Error::LoadgenPods(n)),
        None => Ok(sizing::default_pods(plan)),
    }
}

/// The run's namespace, the Kubernetes name of each service and the `part-of` label.
type Naming = (String, Vec<(String, String)>, String);

/// Checks the options and derives the names every object is built with.
fn naming(plan: &Plan, options: &Options) -> Result<Naming, Error> {
    if !names::is_dns_label(&options.run_id) {
        return Err(Error::InvalidRunId(options.run_id.clone()));
    }
    if options.image.trim().is_empty() {
        return Err(Error::EmptyImage);
    }
    let namespace = match &options.namespace {
        Some(ns) if names::is_dns_label(ns) => ns.clone(),
        Some(ns) => return Err(Error::InvalidNamespace(ns.clone())),
        None => names::default_namespace(&plan.scenario.name, &options.run_id),
    };
    let service_names = names::service_names(plan)?;
    let mut part_of = names::slug(&plan.scenario.name, names::MAX_LABEL);
    if part_of.is_empty() {
        part_of = "chaos".to_string();
    }
    Ok((namespace, service_names, part_of))
}

/// `manifests.yaml` and `schedule.json` for `chaos compile --target k8s`.
///
/// The Secret's token is derived from the run id (see [`derived_token`]) so output is
/// reproducible; give each applied run its own run id.
pub fn compile(plan: &Plan, options: &Options) -> Result<Output, Error> {
    let bundle = build(plan, options, &derived_token(&options.run_id))?;
    Ok(Output {
        manifests_yaml: render_manifests(&bundle.objects)?,
        schedule_json: render_schedule(&bundle.schedule)?,
    })
}

/// Every object as one multi-document YAML stream, in apply order.
pub fn render_manifests(objects: &Objects) -> Result<String, Error> {
    let mut docs = vec![
        yaml(&objects.namespace)?,
        yaml(&objects.secret)?,
        yaml(&objects.config_map)?,
    ];
    for s in &objects.services {
        docs.push(yaml(&s.deployment)?);
        docs.push(yaml(&s.service)?);
        if let Some(hpa) = &s.autoscaler {
            docs.push(yaml(hpa)?);
        }
    }
    docs.push(yaml(&objects.loadgen)?);
    Ok(docs.iter().map(|d| format!("---\n{d}")).collect())
}

pub fn render_schedule(schedule: &Schedule) -> Result<String, Error> {
    serde_json::to_string_pretty(schedule)
        .map(|s| s + "\n")
        .map_err(|e| Error::Render {
            what: "schedule.json",
            message: e.to_string(),
        })
}

fn yaml<T: Serialize>(object: &T) -> Result<String, Error> {
    serde_norway::to_string(object).map_err(|e| Error::Render {
        what: "manifests.yaml",
        message: e.to_string(),
    })
}

/// A 32-hex-digit token computed from the run id (FNV-1a, twice with different seeds).
/// Reproducible, not secret: anyone knowing the run id can compute it. It only guards the
/// agents' fault API inside the run's namespace; `chaos run --cluster` uses a random token.
pub fn derived_token(run_id: &str) -> String {
    fn fnv(seed: u64, data: &[u8]) -> u64 {
        data.iter().fold(seed, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
    let data = format!("chaos-control-token/{run_id}");
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325, data.as_bytes()),
        fnv(0x8422_2325_cbf2_9ce4, data.as_bytes())
    )
}
