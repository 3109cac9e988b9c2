//! Every scenario in `scenarios/` and every spec example, compiled by the real compiler, then by
//! this back end: snapshots of `manifests.yaml` and `schedule.json`, and `kubernetes-validate`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use chaos_test_support::{FsLoader, chaos_files, scenarios_dir, scratch, spec_examples_dir};

/// `(snapshot name, path)` of every runnable scenario (libraries of shared services have no plan).
fn scenario_files() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (prefix, dir) in [
        ("scenario", scenarios_dir()),
        ("example", spec_examples_dir()),
    ] {
        for f in chaos_files(&dir) {
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            out.push((format!("{prefix}-{stem}"), f));
        }
    }
    out
}

fn options() -> chaos_k8s::Options {
    chaos_k8s::Options {
        image: chaos_k8s::DEFAULT_IMAGE.to_string(),
        namespace: None,
        run_id: "r20261122".to_string(),
        loadgen_pods: None,
    }
}

fn compiled() -> Vec<(String, chaos_k8s::Output)> {
    let files = scenario_files();
    assert!(files.len() >= 5, "scenarios found: {files:?}");
    files
        .into_iter()
        .map(|(name, path)| {
            let c = chaos_compiler::compile(&path, &FsLoader, &[]);
            let plan = c
                .plan
                .unwrap_or_else(|| panic!("{name} does not compile: {:?}", c.diagnostics));
            (name, chaos_k8s::compile(&plan, &options()).unwrap())
        })
        .collect()
}

/// The plan inside the ConfigMap is left out: the plan has its own snapshots (compiler), and
/// the hand-built plans' snapshots here show how it is embedded.
fn without_plan(manifests: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifests.lines() {
        if skipping && line.starts_with("    ") {
            continue;
        }
        skipping = false;
        if line == "  plan.json: |-" {
            out.push_str("  plan.json: <the scenario's plan.json>\n");
            skipping = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn scenario_snapshots() {
    for (name, out) in compiled() {
        insta::assert_snapshot!(
            format!("{name}.manifests"),
            without_plan(&out.manifests_yaml)
        );
        insta::assert_snapshot!(format!("{name}.schedule"), out.schedule_json);
    }
}

#[test]
fn scenario_manifests_pass_kubernetes_validate() {
    if !support::kubernetes_validate_installed("scenario_manifests_pass_kubernetes_validate") {
        return;
    }
    let dir = scratch("k8s-scenarios");
    let mut paths = Vec::new();
    let mut documents = 0;
    for (name, out) in compiled() {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, &out.manifests_yaml).unwrap();
        documents += out.manifests_yaml.matches("\n---\n").count() + 1;
        paths.push(path);
    }
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.37.0"])
        .args(&paths)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubernetes-validate failed\n{stdout}\n{stderr}"
    );
    let valid = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains(" passed for resource "))
        .count();
    assert_eq!(
        valid, documents,
        "not every document was validated\n{stdout}\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
