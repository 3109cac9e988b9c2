//! The prometheus-operator ServiceMonitor of a run. k8s-openapi has no type for a custom
//! resource, so this is a small serialisable struct of the fields we set.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::manifests::{Context, METRICS_PATH, RUN_ID_LABEL};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitor {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub selector: Selector,
    pub namespace_selector: NamespaceSelector,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    pub match_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub port: &'static str,
    pub path: &'static str,
    pub interval: String,
    /// The agents label their series `service` and `endpoint` (the plan's names); the
    /// operator adds target labels of the same names (the Kubernetes Service and the port),
    /// which would otherwise rename ours to `exported_service` and `exported_endpoint`.
    pub honor_labels: bool,
}

pub(crate) fn service_monitor(cx: &Context<'_>) -> ServiceMonitor {
    let name = "chaos-agents";
    let selector = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "chaos-agent".to_string(),
        ),
        (RUN_ID_LABEL.to_string(), cx.run_id.to_string()),
    ]);
    // One scrape per report window at most: finer gives Grafana the same resolution as the
    // report's charts; Prometheus accepts whole seconds here.
    let interval = (cx.plan.scenario.window_s.floor() as u64).clamp(1, 60);
    ServiceMonitor {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: Metadata {
            name: name.to_string(),
            namespace: cx.namespace.to_string(),
            labels: cx.labels("chaos-agent", name, "service-monitor"),
        },
        spec: Spec {
            selector: Selector {
                match_labels: selector,
            },
            namespace_selector: NamespaceSelector {
                match_names: vec![cx.namespace.to_string()],
            },
            endpoints: vec![Endpoint {
                port: "http",
                path: METRICS_PATH,
                interval: format!("{interval}s"),
                honor_labels: true,
            }],
        },
    }
}
