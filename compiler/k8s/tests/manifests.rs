//! Snapshots of `manifests.yaml` and `schedule.json` for the spec examples, and properties every
//! compiled output must have (labels, determinism, errors).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chaos_k8s::{Error, Options, compile};
use serde_norway::Value;

fn options() -> Options {
    Options {
        image: chaos_k8s::DEFAULT_IMAGE.to_string(),
        namespace: None,
        run_id: "r20261122".to_string(),
        loadgen_pods: None,
    }
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

#[test]
fn snapshots() {
    for (name, plan) in support::all() {
        let out = compile(&plan, &options()).unwrap();
        insta::assert_snapshot!(format!("{name}.manifests"), out.manifests_yaml);
        insta::assert_snapshot!(format!("{name}.schedule"), out.schedule_json);
    }
}

#[test]
fn output_is_deterministic() {
    for (_, plan) in support::all() {
        let a = compile(&plan, &options()).unwrap();
        let b = compile(&plan, &options()).unwrap();
        assert_eq!(a.manifests_yaml, b.manifests_yaml);
        assert_eq!(a.schedule_json, b.schedule_json);
    }
}

#[test]
fn every_object_and_pod_carries_the_run_id_and_namespace() {
    for (name, plan) in support::all() {
        let out = compile(&plan, &options()).unwrap();
        let docs = docs(&out.manifests_yaml);
        let ns = docs[0]["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(docs[0]["kind"], "Namespace", "{name}");
        for d in &docs {
            let kind = d["kind"].as_str().unwrap();
            assert_eq!(
                d["metadata"]["labels"]["chaos.dev/run-id"], "r20261122",
                "{name} {kind}"
            );
            assert_eq!(
                d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "chaos",
                "{name} {kind}"
            );
            if kind != "Namespace" {
                assert_eq!(
                    d["metadata"]["namespace"].as_str(),
                    Some(ns.as_str()),
                    "{name} {kind}"
                );
            }
            if let Some(template) = d["spec"]["template"].as_mapping() {
                let labels = &template[&Value::from("metadata")]["labels"];
                assert_eq!(
                    labels["chaos.dev/run-id"], "r20261122",
                    "{name} {kind} pod template"
                );
            }
        }
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "Deployment").count(),
            plan.services.len()
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "Service").count(),
            plan.services.len()
        );
        assert_eq!(kinds.last(), Some(&"Job"));
    }
}

#[test]
fn options_override_image_and_namespace() {
    let plan = support::retry_storm();
    let opts = Options {
        image: "registry.example/chaos:dev".into(),
        namespace: Some("mine".into()),
        run_id: "x1".into(),
        loadgen_pods: None,
    };
    let out = compile(&plan, &opts).unwrap();
    let docs = docs(&out.manifests_yaml);
    assert_eq!(docs[0]["metadata"]["name"], "mine");
    let images: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["spec"]["template"]["spec"]["containers"][0]["image"].as_str())
        .collect();
    assert_eq!(images, vec!["registry.example/chaos:dev"; 3]);
    assert!(out.schedule_json.contains("\"namespace\": \"mine\""));
}

#[test]
fn memory_fault_sets_the_pod_memory_limit() {
    let plan = support::all_faults();
    let out = compile(&plan, &options()).unwrap();
    let docs = docs(&out.manifests_yaml);
    let limit = |name: &str| {
        let d = docs
            .iter()
            .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == name)
            .unwrap();
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // 512 MiB fault limit + 64 MiB for the agent itself.
    assert_eq!(limit("inventory"), "576Mi");
    assert_eq!(limit("cart"), "256Mi");
}

#[test]
fn autoscale_becomes_an_hpa_and_underscores_become_dashes() {
    let plan = support::checkout();
    let out = compile(&plan, &options()).unwrap();
    let docs = docs(&out.manifests_yaml);
    let hpas: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "HorizontalPodAutoscaler")
        .collect();
    assert_eq!(hpas.len(), 1);
    assert_eq!(hpas[0]["apiVersion"], "autoscaling/v2");
    assert_eq!(hpas[0]["spec"]["scaleTargetRef"]["name"], "payments");
    assert_eq!(hpas[0]["spec"]["minReplicas"], 3);
    assert_eq!(hpas[0]["spec"]["maxReplicas"], 8);
    let note = hpas[0]["metadata"]["annotations"]["chaos.dev/autoscaler"]
        .as_str()
        .unwrap();
    assert!(
        note.contains("chaos run --cluster does not apply it"),
        "{note}"
    );
    let db = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "stock-db")
        .unwrap();
    let args = &db["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_sequence()
            .unwrap()
            .contains(&Value::from("stock_db")),
        "the agent keeps the plan name"
    );
    let inv = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "inventory")
        .unwrap();
    let args = inv["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap();
    assert!(args.contains(&Value::from("stock_db=http://stock-db:8080")));
}

#[test]
fn schedule_lists_every_action_with_its_revert() {
    let plan = support::all_faults();
    let bundle = chaos_k8s::build(&plan, &options(), "t").unwrap();
    let s = &bundle.schedule;
    // 3 kills + 2 actions + partition + cpu + memory.
    assert_eq!(s.entries.len(), 8);
    assert!(s.entries.windows(2).all(|w| w[0].start_s <= w[1].start_s));
    let ids: std::collections::BTreeSet<&str> = s.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), s.entries.len(), "ids are unique");
    for e in &s.entries {
        match (&e.action, &e.apply, &e.revert) {
            (
                chaos_plan::Action::Kill { .. },
                chaos_k8s::schedule::Step::DeletePods { candidates, .. },
                chaos_k8s::schedule::Step::Nothing { .. },
            ) => {
                assert_eq!(candidates.len(), 2);
                assert_eq!(e.start_s, e.end_s);
            }
            (
                _,
                chaos_k8s::schedule::Step::Install {
                    path,
                    body,
                    services,
                    ..
                },
                chaos_k8s::schedule::Step::Remove {
                    path: rp,
                    services: rs,
                    ..
                },
            ) => {
                assert_eq!(path, "/_chaos/faults");
                assert_eq!(rp, &format!("/_chaos/faults/{}", e.id));
                assert_eq!(body["id"], e.id.as_str());
                assert_eq!(services, rs);
            }
            other => panic!("unexpected apply/revert pair {other:?}"),
        }
    }
    let split = s.entries.iter().find(|e| e.fault == "split").unwrap();
    let chaos_k8s::schedule::Step::Install { services, .. } = &split.apply else {
        panic!()
    };
    assert_eq!(
        services
            .iter()
            .map(|t| t.service.as_str())
            .collect::<Vec<_>>(),
        ["front", "inventory"]
    );
}

#[test]
fn invalid_options_and_name_clashes_are_errors() {
    let plan = support::mm1();
    let bad_run = Options {
        run_id: "Not_Valid".into(),
        ..options()
    };
    assert!(matches!(
        compile(&plan, &bad_run),
        Err(Error::InvalidRunId(_))
    ));
    let bad_ns = Options {
        namespace: Some("-x".into()),
        ..options()
    };
    assert!(matches!(
        compile(&plan, &bad_ns),
        Err(Error::InvalidNamespace(_))
    ));
    let no_image = Options {
        image: " ".into(),
        ..options()
    };
    assert!(matches!(compile(&plan, &no_image), Err(Error::EmptyImage)));

    let mut clash = support::mm1();
    let mut twin = clash.services[0].clone();
    clash.services[0].name = "stock_db".into();
    twin.name = "stock-db".into();
    clash.services.push(twin);
    let err = compile(&clash, &options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "services `stock_db` and `stock-db` would both be named `stock-db` in Kubernetes; rename one of them"
    );
}

#[test]
fn the_load_generator_serves_its_status_with_the_run_token() {
    let plan = support::checkout();
    let out = compile(&plan, &options()).unwrap();
    let docs = docs(&out.manifests_yaml);
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(
        after("--listen"),
        format!("0.0.0.0:{}", chaos_k8s::manifests::LOADGEN_PORT)
    );
    assert_eq!(after("--token-env"), "CHAOS_TOKEN");
    assert_eq!(container["env"][0]["name"], "CHAOS_TOKEN");
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "chaos-token"
    );
    assert_eq!(container["ports"][0]["containerPort"], 8081);
}

#[test]
fn agent_pods_carry_the_prometheus_scrape_annotations() {
    for (name, plan) in support::all() {
        let out = compile(&plan, &options()).unwrap();
        for d in docs(&out.manifests_yaml) {
            if d["kind"] != "Deployment" {
                continue;
            }
            let a = &d["spec"]["template"]["metadata"]["annotations"];
            assert_eq!(a["prometheus.io/scrape"], "true", "{name}");
            assert_eq!(a["prometheus.io/port"], "8080", "{name}");
            assert_eq!(a["prometheus.io/path"], "/metrics", "{name}");
        }
    }
}

#[test]
fn the_service_monitor_selects_every_agent_service_of_the_run() {
    let (_, plan) = support::all()
        .into_iter()
        .find(|(n, _)| *n == "checkout")
        .unwrap();
    let sm = chaos_k8s::service_monitor(&plan, &options()).unwrap();
    insta::assert_snapshot!("checkout.service-monitor", sm);
    let sm: Value = serde_norway::from_str(&sm).unwrap();
    let out = compile(&plan, &options()).unwrap();
    let docs = docs(&out.manifests_yaml);
    let ns = docs[0]["metadata"]["name"].clone();
    assert_eq!(sm["metadata"]["namespace"], ns);
    assert_eq!(sm["spec"]["namespaceSelector"]["matchNames"][0], ns);
    let want = sm["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
    let selects = |d: &Value| {
        want.iter()
            .all(|(k, v)| &d["metadata"]["labels"][k.as_str().unwrap()] == v)
    };
    let services: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Service").collect();
    assert_eq!(services.len(), plan.services.len());
    for s in services {
        assert!(selects(s), "{s:?}");
        assert_eq!(
            s["spec"]["ports"][0]["name"],
            sm["spec"]["endpoints"][0]["port"]
        );
    }
    assert!(!docs.iter().any(|d| d["kind"] == "Job" && selects(d)));
    // Invalid options fail the same way as the manifests.
    let bad = Options {
        run_id: "Bad_Run".to_string(),
        ..options()
    };
    assert!(matches!(
        chaos_k8s::service_monitor(&plan, &bad),
        Err(Error::InvalidRunId(_))
    ));
}

#[test]
fn several_load_generator_pods_make_an_indexed_job() {
    let plan = support::mm1();
    let three = Options {
        loadgen_pods: Some(3),
        ..options()
    };
    let out = compile(&plan, &three).unwrap();
    let docs = docs(&out.manifests_yaml);
    let job = docs.last().unwrap();
    insta::assert_yaml_snapshot!("mm1.loadgen-job-3-pods", job["spec"]);
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(
        (spec["parallelism"].as_i64(), spec["completions"].as_i64()),
        (Some(3), Some(3))
    );
    let args: Vec<&str> = spec["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2)
            .any(|w| w == ["--share", "$(JOB_COMPLETION_INDEX)/3"]),
        "{args:?}"
    );
    assert!(args.contains(&"--wait-for-start"), "{args:?}");

    // One Pod (the default for a plan this slow) starts on its own.
    let one = compile(&plan, &options()).unwrap();
    assert!(one.manifests_yaml.contains("$(JOB_COMPLETION_INDEX)/1"));
    assert!(!one.manifests_yaml.contains("--wait-for-start"));

    for bad in [0, chaos_k8s::sizing::MAX_PODS + 1] {
        let o = Options {
            loadgen_pods: Some(bad),
            ..options()
        };
        assert!(matches!(compile(&plan, &o), Err(Error::LoadgenPods(n)) if n == bad));
    }
}
