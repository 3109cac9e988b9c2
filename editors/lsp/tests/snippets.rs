//! The VS Code snippets expand (with their default placeholders) to text the parser accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// `${1:x}` → `x`, `${1|a,b|}` → `a`, `$1` → ``, tabs → two spaces.
fn expand(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(inner) = rest.strip_prefix('{') {
            // Nested placeholders: find the matching brace.
            let mut depth = 1;
            let mut end = 0;
            for (j, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = j;
                    break;
                }
            }
            let placeholder = &inner[..end];
            let digits = placeholder.chars().take_while(char::is_ascii_digit).count();
            let after = &placeholder[digits..];
            if let Some(default) = after.strip_prefix(':') {
                out.push_str(&expand(default));
            } else if let Some(choices) = after.strip_prefix('|') {
                out.push_str(choices.split([',', '|']).next().unwrap());
            }
            rest = &inner[end + 1..];
        } else {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out.replace('\t', "  ")
}

#[test]
fn every_snippet_parses() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vscode/snippets/chaos.code-snippets");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let snippets = json.as_object().unwrap();
    assert!(snippets.len() >= 10);
    for (name, snippet) in snippets {
        let body: Vec<&str> = snippet["body"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let text = expand(&body.join("\n"));
        let prefix = snippet["prefix"].as_str().unwrap();
        // Snippets of statements are tried where they belong.
        let wrapped = match prefix {
            "endpoint" => format!("service s {{\n{text}\n}}"),
            "call" | "send" | "parallel" | "choice" => {
                format!("service s {{\n  endpoint \"e\" {{\n{text}\n  }}\n}}")
            }
            "abort" => format!("expect {{\n{text}\n}}"),
            _ => text.clone(),
        };
        if let Err(e) = chaos_grammar::parse(&wrapped) {
            panic!("snippet `{name}` does not parse: {e}\n{wrapped}");
        }
    }
}

#[test]
fn expansion_takes_the_defaults() {
    assert_eq!(
        expand("rate ${1:50/s} -> ${2:400/s}$0"),
        "rate 50/s -> 400/s"
    );
    assert_eq!(expand("jitter ${7|full,equal,none|}"), "jitter full");
    assert_eq!(
        expand("latency ${4:exponential(mean = ${5:10ms})}"),
        "latency exponential(mean = 10ms)"
    );
    assert_eq!(expand("\tp99($1)"), "  p99()");
}
