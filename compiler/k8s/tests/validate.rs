//! Every compiled manifest validated by `kubernetes-validate` against the schemas of a current
//! Kubernetes release, strictly (unknown fields are errors).
//!
//! Needs `pip install kubernetes-validate==1.37.0` (the CI line); without it the test says so and passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

/// The Kubernetes release the manifests are validated against (k8s-openapi's `latest` too).
const KUBERNETES_VERSION: &str = "1.37.0";

#[test]
fn manifests_pass_kubernetes_validate() {
    if !support::kubernetes_validate_installed("manifests_pass_kubernetes_validate") {
        return;
    }
    let dir = chaos_test_support::scratch("k8s-validate");
    let options = chaos_k8s::Options {
        image: chaos_k8s::DEFAULT_IMAGE.to_string(),
        namespace: None,
        run_id: "r20261122".to_string(),
        loadgen_pods: None,
    };
    let mut files = Vec::new();
    for (name, plan) in support::all() {
        let out = chaos_k8s::compile(&plan, &options).unwrap();
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, &out.manifests_yaml).unwrap();
        files.push((
            name,
            path,
            out.manifests_yaml.matches("\n---\n").count() + 1,
        ));
    }
    for (name, path, documents) in &files {
        let out = Command::new("kubernetes-validate")
            .args(["--strict", "-k", KUBERNETES_VERSION])
            .arg(path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{name}: kubernetes-validate failed\n{stdout}\n{stderr}"
        );
        // One INFO line per valid document: all of them were checked, none skipped.
        let valid = stdout
            .lines()
            .chain(stderr.lines())
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert_eq!(
            valid, *documents,
            "{name}: not every document was validated\n{stdout}\n{stderr}"
        );
    }

    // The tool does catch mistakes: an unknown field and a wrongly typed one.
    let text = std::fs::read_to_string(dir.join("mm1.yaml")).unwrap();
    for (from, to) in [
        ("  replicas: 1\n", "  replicas: 1\n  replica: 1\n"),
        ("containerPort: 8080", "containerPort: eighty"),
    ] {
        assert!(text.contains(from), "{from}");
        let broken = dir.join("broken.yaml");
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
        let out = Command::new("kubernetes-validate")
            .args(["--strict", "-k", KUBERNETES_VERSION])
            .arg(&broken)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "kubernetes-validate accepted a broken manifest ({to})"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
