//! The `.chaos` language front end: text to syntax tree (with spans), and back (formatter).
//!
//! Entry points: [`parse`] (text to [`ast::File`] or a [`ParseError`]) and
//! [`format::format_source`] (text to its canonical layout).

// The tree is built once per file and matched everywhere; boxing the big variants would
// complicate every consumer for no measurable gain.
#[allow(clippy::large_enum_variant)]
pub mod ast;
mod comments;
mod diagnose;
pub mod error;
pub mod format;
mod parser;
pub mod units;

pub use ast::Span;
pub use error::{ParseError, ParseErrorKind, line_col};
pub use parser::{MAX_NESTING, parse};

/// Every keyword of the language, as in the `keyword` rule of `chaos.pest` (a test keeps the
/// two in sync; the editor grammars are tested against this list).
pub const KEYWORDS: &[&str] = &[
    "import",
    "param",
    "scenario",
    "service",
    "workload",
    "fault",
    "expect",
    "duration",
    "warmup",
    "seed",
    "window",
    "hop",
    "replicas",
    "autoscale",
    "target",
    "delay",
    "interval",
    "workers",
    "queue",
    "rate_limit",
    "restart",
    "balance",
    "latency",
    "endpoint",
    "work",
    "call",
    "parallel",
    "choice",
    "fail",
    "status",
    "timeout",
    "retry",
    "backoff",
    "jitter",
    "circuit_breaker",
    "over",
    "min",
    "open",
    "on_error",
    "rate",
    "spike",
    "arrivals",
    "users",
    "think",
    "at",
    "for",
    "every",
    "from",
    "until",
    "errors",
    "kill",
    "of",
    "random",
    "partition",
    "cpu",
    "loss",
    "memory",
    "limit",
    "on",
    "abort",
    "when",
    "overall",
    "during",
    "before",
    "after",
    "between",
    "and",
    "health_check",
    "unhealthy",
    "healthy",
    "eject",
    "max",
    "up",
    "above",
    "down",
    "below",
    "send",
    "priority",
    "explore",
    "max_faults",
    "to",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The quoted words of one rule of `chaos.pest` (not the `"_"`/`"-"` of its word boundary).
    fn words_of_rule(grammar: &str, rule: &str) -> BTreeSet<String> {
        let start = grammar
            .find(&format!("\n{rule} = "))
            .unwrap_or_else(|| panic!("no rule `{rule}`"));
        let body = &grammar[start..];
        let end = body
            .find("\n}")
            .unwrap_or_else(|| body.find('\n').unwrap_or(body.len()));
        body[..end]
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn keywords_match_the_grammar() {
        let grammar = include_str!("chaos.pest");
        let in_grammar = words_of_rule(grammar, "keyword");
        let listed: BTreeSet<String> = super::KEYWORDS.iter().map(|s| s.to_string()).collect();
        assert_eq!(in_grammar, listed);
        assert_eq!(listed.len(), super::KEYWORDS.len(), "no duplicates");
        // Every `kw_*` rule is a keyword (statements such as `replicas` match theirs inline).
        let kw_rules: BTreeSet<String> = grammar
            .lines()
            .filter_map(|l| l.strip_prefix("kw_"))
            .filter_map(|l| l.split_once(" = @{ \""))
            .map(|(name, rest)| {
                let word = rest.split('"').next().unwrap_or("");
                assert_eq!(name, word, "rule kw_{name} matches `{word}`");
                word.to_string()
            })
            .collect();
        assert!(
            kw_rules.is_subset(&listed),
            "{:?}",
            kw_rules.difference(&listed)
        );
        // And every keyword is written in some rule besides `keyword`.
        let start = grammar.find("\nkeyword = ").unwrap();
        let end = start + grammar[start..].find("\n}").unwrap();
        let elsewhere = format!("{}{}", &grammar[..start], &grammar[end..]);
        for k in &listed {
            assert!(
                elsewhere.contains(&format!("\"{k}\"")),
                "keyword `{k}` is used by no rule"
            );
        }
    }
}
