//! End-to-end: the JSON report example in `docs/language.md` has exactly the fields a real
//! report has (top level and each list's items), so the reference can not drift from the report.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{chaos, code, repo_root};

/// The first ```json block of the language reference.
fn documented_report() -> Value {
    let doc = std::fs::read_to_string(repo_root().join("docs/language.md")).unwrap();
    let start = doc
        .find("```json\n")
        .expect("docs/language.md shows a JSON report")
        + "```json\n".len();
    let end = start + doc[start..].find("```").unwrap();
    serde_json::from_str(&doc[start..end]).expect("the documented report is valid JSON")
}

fn real_report() -> Value {
    let out_dir = crate::support::scratch("reference-json");
    let path = out_dir.join("report.json");
    let out = chaos()
        .current_dir(repo_root())
        .args(["run", "scenarios/shop.chaos", "--sim", "--report"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_documented_json_report_has_the_fields_of_a_real_one() {
    let doc = documented_report();
    let real = real_report();
    assert_eq!(keys(&doc), keys(&real), "top-level fields");
    for list in [
        "params",
        "expectations",
        "endpoints",
        "services",
        "workloads",
        "faults",
        "timeline",
        "workload_timeline",
    ] {
        let d = &doc[list][0];
        let r = &real[list][0];
        assert!(
            r.is_object(),
            "a real report of shop.chaos has `{list}` items"
        );
        assert_eq!(keys(d), keys(r), "fields of a `{list}` item");
    }
    assert_eq!(
        keys(&doc["topology"]),
        keys(&real["topology"]),
        "fields of `topology`"
    );
}
