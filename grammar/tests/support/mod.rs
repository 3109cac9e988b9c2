//! Helpers shared by the grammar's integration tests: a compact tree dump for snapshots, a
//! span-erasing view for comparing trees, and one-line error rendering.
#![allow(dead_code)]

use chaos_grammar::{ParseError, ast::File, line_col};
use serde_json::Value as J;

/// The tree as indented lines; spans as `@line:col-line:col`, so a snapshot shows both shape
/// and positions without pages of byte offsets.
pub fn dump(file: &File, source: &str) -> String {
    let json = serde_json::to_value(file).expect("the tree serialises");
    let mut out = String::new();
    node(&mut out, source, 0, "", &json);
    out
}

fn span_text(source: &str, span: &J) -> String {
    let at = |k: &str| span.get(k).and_then(J::as_u64).unwrap_or(0) as usize;
    let (l1, c1) = line_col(source, at("start"));
    let (l2, c2) = line_col(source, at("end"));
    format!("@{l1}:{c1}-{l2}:{c2}")
}

fn node(out: &mut String, source: &str, depth: usize, label: &str, v: &J) {
    let pad = "  ".repeat(depth);
    let prefix = if label.is_empty() {
        String::new()
    } else {
        format!("{label}: ")
    };
    match v {
        J::Object(map) => {
            let span = map
                .get("span")
                .map(|s| span_text(source, s))
                .unwrap_or_default();
            // Leaves: a quantity, a name, a string, a comment.
            if let (Some(kind), Some(text)) = (map.get("kind"), map.get("text"))
                && map.len() == 3
            {
                out.push_str(&format!("{pad}{prefix}{} {text} {span}\n", compact(kind)));
                return;
            }
            if let Some(name) = map.get("name").filter(|n| n.is_string() && map.len() == 2) {
                out.push_str(&format!(
                    "{pad}{prefix}ident {} {span}\n",
                    name.as_str().unwrap_or("")
                ));
                return;
            }
            if let Some(value) = map.get("value").filter(|n| n.is_string() && map.len() == 2) {
                out.push_str(&format!("{pad}{prefix}str {value} {span}\n"));
                return;
            }
            if let Some(text) = map.get("text").filter(|n| n.is_string() && map.len() == 2) {
                out.push_str(&format!("{pad}{prefix}comment {text} {span}\n"));
                return;
            }
            // Spanned<T>: the node with the wrapper's span.
            if let (Some(inner), true) = (map.get("node"), map.len() == 2) {
                out.push_str(&format!("{pad}{prefix}{span}\n"));
                node(out, source, depth + 1, "", inner);
                return;
            }
            // An externally tagged enum variant.
            if map.len() == 1 && !map.contains_key("span") {
                let (k, inner) = map.iter().next().expect("one entry");
                match inner {
                    J::Object(_) | J::Array(_) => {
                        out.push_str(&format!("{pad}{prefix}{k}\n"));
                        node(out, source, depth + 1, "", inner);
                    }
                    _ => out.push_str(&format!("{pad}{prefix}{k} {}\n", compact(inner))),
                }
                return;
            }
            if !(prefix.is_empty() && span.is_empty()) {
                out.push_str(&format!("{pad}{prefix}{span}\n"));
            }
            for (k, child) in map {
                if k != "span" {
                    node(out, source, depth + 1, k, child);
                }
            }
        }
        J::Array(items) if items.is_empty() => out.push_str(&format!("{pad}{prefix}[]\n")),
        J::Array(items) => {
            if !prefix.is_empty() {
                out.push_str(&format!("{pad}{prefix}\n"));
            }
            let d = if prefix.is_empty() { depth } else { depth + 1 };
            for item in items {
                node(out, source, d, "-", item);
            }
        }
        other => out.push_str(&format!("{pad}{prefix}{}\n", compact(other))),
    }
}

fn compact(v: &J) -> String {
    match v {
        J::Object(map) if map.len() == 1 => {
            let (k, inner) = map.iter().next().expect("one entry");
            format!("{k}({})", compact(inner))
        }
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The tree without spans (and comments' spans), for "same tree" comparisons.
pub fn erase_spans(file: &File) -> J {
    let mut json = serde_json::to_value(file).expect("the tree serialises");
    strip(&mut json);
    json
}

fn strip(v: &mut J) {
    match v {
        J::Object(map) => {
            map.remove("span");
            map.values_mut().for_each(strip);
        }
        J::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// `line:col CODE message` + expected + hint, one per line.
pub fn render_error(e: &ParseError, source: &str) -> String {
    let (l, c) = line_col(source, e.span.start);
    let mut s = format!("{l}:{c} {} {}\n", e.code(), e.message);
    for x in &e.expected {
        s.push_str(&format!("  expected: {x}\n"));
    }
    if let Some(h) = &e.hint {
        s.push_str(&format!("  hint: {h}\n"));
    }
    s
}

/// Checks the three properties on one text; `Err` says which failed.
pub fn check_roundtrip(src: &str) -> Result<(), String> {
    let Ok(before) = chaos_grammar::parse(src) else {
        return Ok(());
    };
    let once =
        chaos_grammar::format::format_source(src).map_err(|e| format!("formatting failed: {e}"))?;
    let after =
        chaos_grammar::parse(&once).map_err(|e| format!("output does not parse: {e}\n{once}"))?;
    let twice = chaos_grammar::format::format_source(&once)
        .map_err(|e| format!("second format failed: {e}"))?;
    if once != twice {
        return Err(format!(
            "not idempotent:\n--- once\n{once}\n--- twice\n{twice}"
        ));
    }
    let (mut a, mut b) = (erase_spans(&before), erase_spans(&after));
    // Comments are compared by text: the formatter may move one, never drop or change it.
    let ca = a.as_object_mut().unwrap().remove("comments");
    let cb = b.as_object_mut().unwrap().remove("comments");
    if a != b {
        return Err(format!("tree changed:\n{once}"));
    }
    let trim = |c: Option<serde_json::Value>| -> Vec<String> {
        c.and_then(|c| c.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|c| c["text"].as_str().unwrap_or("").trim_end().to_string())
            .collect()
    };
    if trim(ca) != trim(cb) {
        return Err(format!("comments changed:\n{once}"));
    }
    Ok(())
}
