//! The editor grammars highlight exactly the pest grammar's keywords: the TextMate grammar's
//! `keywords-*` rules and the Vim syntax's keyword groups hold the same set as
//! `chaos_grammar::KEYWORDS`, so a keyword added to the language cannot be forgotten in an editor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

fn editors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn grammar_keywords() -> BTreeSet<String> {
    chaos_grammar::KEYWORDS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The words of `(?:a|b|c)` groups in a regex.
fn alternation_words(regex: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = regex;
    while let Some(i) = rest.find("(?:") {
        rest = &rest[i + 3..];
        let Some(end) = rest.find(')') else { break };
        let group = &rest[..end];
        let words: Vec<&str> = group.split('|').collect();
        if words.iter().all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }) {
            out.extend(words.iter().map(|w| w.to_string()));
        }
    }
    out
}

#[test]
fn textmate_keywords_are_the_grammar_keywords() {
    let path = editors().join("vscode/syntaxes/chaos.tmLanguage.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let repository = json["repository"].as_object().unwrap();
    let mut words = BTreeSet::new();
    let mut rules = 0;
    for (name, rule) in repository {
        if !name.starts_with("keywords-") {
            continue;
        }
        rules += 1;
        let regex = rule["match"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has a `match`"));
        let found = alternation_words(regex);
        assert!(!found.is_empty(), "{name}: no keyword list in {regex}");
        for w in found {
            assert!(words.insert(w.clone()), "`{w}` is in two keywords-* rules");
        }
    }
    assert!(rules >= 5, "found only {rules} keywords-* rules");
    let expected = grammar_keywords();
    let missing: Vec<_> = expected.difference(&words).collect();
    let extra: Vec<_> = words.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "TextMate keywords differ from chaos_grammar::KEYWORDS\n  missing from TextMate: {missing:?}\n  not keywords of the grammar: {extra:?}"
    );
}

#[test]
fn every_textmate_keyword_rule_is_used() {
    let path = editors().join("vscode/syntaxes/chaos.tmLanguage.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let top: Vec<&str> = json["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["include"].as_str())
        .collect();
    for name in json["repository"].as_object().unwrap().keys() {
        if name.starts_with("keywords-") {
            assert!(
                top.contains(&format!("#{name}").as_str()),
                "{name} is not included at the top level"
            );
        }
    }
}

#[test]
fn vim_keywords_are_the_grammar_keywords() {
    let text = std::fs::read_to_string(editors().join("vim/syntax/chaos.vim")).unwrap();
    let mut words = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("syntax keyword ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let group = parts.next().unwrap();
        // Values such as `round_robin` are names to the grammar, and TODO markers are for comments.
        if group == "chaosConstant" || group == "chaosTodo" {
            continue;
        }
        words.extend(parts.take_while(|p| !p.contains('=')).map(str::to_string));
    }
    // Words that are also functions are matches in Vim (keywords would win over the call form).
    assert!(
        text.contains("\\<\\%(random\\|"),
        "`random` has a syntax match"
    );
    words.insert("random".to_string());
    // `max` is also a metric and an argument name: a match that those, defined after it, beat.
    assert!(
        text.contains("syntax match chaosSetting \"\\<max\\>\""),
        "`max` has a syntax match"
    );
    words.insert("max".to_string());
    let expected = grammar_keywords();
    let missing: Vec<_> = expected.difference(&words).collect();
    let extra: Vec<_> = words.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "Vim keywords differ from chaos_grammar::KEYWORDS\n  missing from Vim: {missing:?}\n  not keywords of the grammar: {extra:?}"
    );
}
