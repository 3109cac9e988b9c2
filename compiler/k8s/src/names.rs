//! Kubernetes names and label values derived from plan names, checked before anything is built.
//!
//! Plan identifiers allow `_` and a leading `_`; Kubernetes object names do not, so every
//! service gets a DNS-1035 label (what a Service name must be) and clashes are reported.

use std::collections::BTreeMap;

use chaos_plan::Plan;

use crate::Error;

/// Longest DNS label and label value.
pub const MAX_LABEL: usize = 63;

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters: a namespace name or a label value we write.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Lower-cases, maps everything outside `[a-z0-9]` to `-`, collapses and trims dashes, cuts to `max`.
pub fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A DNS-1035 label for a plan service name (`stock_db` → `stock-db`); must start with a letter.
pub fn service_name(plan_name: &str) -> String {
    let s = slug(plan_name, MAX_LABEL);
    let s = s.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    if s.is_empty() {
        "svc".to_string()
    } else {
        s.to_string()
    }
}

/// Kubernetes name of every plan service, in plan order; two services mapping to one name is an error.
pub fn service_names(plan: &Plan) -> Result<Vec<(String, String)>, Error> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::with_capacity(plan.services.len());
    for s in &plan.services {
        let k = service_name(&s.name);
        if let Some(first) = seen.get(&k) {
            return Err(Error::NameClash {
                first: first.clone(),
                second: s.name.clone(),
                kubernetes: k,
            });
        }
        seen.insert(k.clone(), s.name.clone());
        out.push((s.name.clone(), k));
    }
    Ok(out)
}

/// `chaos-<scenario>-<run id>`, the scenario part shortened so the whole stays a DNS label.
pub fn default_namespace(scenario: &str, run_id: &str) -> String {
    let room = MAX_LABEL.saturating_sub("chaos-".len() + 1 + run_id.len());
    let middle = slug(scenario, room);
    if middle.is_empty() {
        format!("chaos-{run_id}")
    } else {
        format!("chaos-{middle}-{run_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_become_dns_labels() {
        assert_eq!(service_name("stock_db"), "stock-db");
        assert_eq!(service_name("_x"), "x");
        assert_eq!(service_name("9lives"), "lives");
        assert_eq!(service_name("__"), "svc");
        assert!(is_dns_label(&service_name(&"a".repeat(100))));
    }

    #[test]
    fn namespace_fits_in_a_label() {
        let ns = default_namespace(&"very long scenario name ".repeat(10), "r1a2b3c4");
        assert!(is_dns_label(&ns), "{ns}");
        assert!(ns.ends_with("-r1a2b3c4"));
        assert_eq!(default_namespace("!!!", "abc"), "chaos-abc");
    }

    #[test]
    fn labels_are_checked() {
        assert!(is_dns_label("abc-1"));
        assert!(!is_dns_label("Abc"));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
