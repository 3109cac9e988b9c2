//! Turns pest's error (rule names at a position) into a [`ParseError`] in the user's words:
//! what was expected, what was found, and a hint for the usual mistakes.

use pest::error::{ErrorVariant, InputLocation};

use crate::ast::Span;
use crate::error::{ParseError, ParseErrorKind};
use crate::parser::Rule;

/// Words that start each kind of statement, for "did you mean" hints.
const ITEM_WORDS: &[&str] = &[
    "import", "param", "scenario", "service", "workload", "fault", "expect", "explore",
];
const SCENARIO_WORDS: &[&str] = &["duration", "warmup", "seed", "window", "hop"];
const SERVICE_WORDS: &[&str] = &[
    "replicas",
    "autoscale",
    "workers",
    "queue",
    "rate_limit",
    "restart",
    "balance",
    "latency",
    "endpoint",
    "health_check",
    "eject",
];
const STEP_WORDS: &[&str] = &["work", "call", "send", "parallel", "choice", "fail"];
const POLICY_WORDS: &[&str] = &[
    "timeout",
    "retry",
    "circuit_breaker",
    "on_error",
    "priority",
];
const WORKLOAD_WORDS: &[&str] = &[
    "target", "rate", "spike", "arrivals", "timeout", "users", "priority",
];
const ACTION_WORDS: &[&str] = &[
    "latency",
    "errors",
    "kill",
    "partition",
    "cpu",
    "loss",
    "memory",
];
const EXPLORE_WORDS: &[&str] = &[
    "max_faults",
    "at",
    "for",
    "latency",
    "errors",
    "kill",
    "partition",
    "cpu",
    "loss",
    "memory",
];
const WINDOW_WORDS: &[&str] = &["overall", "during", "before", "after", "between"];
const SCHEDULE_WORDS: &[&str] = &["at", "every"];

fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A rule as the user would name it.
fn label(rule: Rule) -> String {
    let s = |x: &str| x.to_string();
    match rule {
        Rule::EOI => s("the end of the file"),
        Rule::item => format!("an item ({})", list(ITEM_WORDS)),
        Rule::scenario_setting => format!("a scenario setting ({})", list(SCENARIO_WORDS)),
        Rule::service_setting => format!("a service setting ({})", list(SERVICE_WORDS)),
        Rule::step => format!("a step ({})", list(STEP_WORDS)),
        Rule::policy => format!("a call policy ({})", list(POLICY_WORDS)),
        Rule::workload_setting => format!("a workload setting ({})", list(WORKLOAD_WORDS)),
        Rule::action => format!("a fault action ({})", list(ACTION_WORDS)),
        Rule::explore_line => format!("an explore line ({})", list(EXPLORE_WORDS)),
        Rule::ex_range | Rule::ex_up_to => {
            s("a range (`up to 300ms`, `50ms..300ms` or one value such as `20%`)")
        }
        Rule::ex_high => s("`..`"),
        Rule::ex_targets | Rule::star => s("service names (`api, db`) or `*` for every service"),
        Rule::ex_limit => s("`limit`"),
        Rule::ex_max_faults => s("`max_faults`"),
        Rule::ex_at => s("`at`"),
        Rule::ex_for => s("`for`"),
        Rule::ex_partition => s("`partition`"),
        Rule::ex_fault => s("a fault kind (`latency`, `errors`, `kill`, `cpu`, `loss`, `memory`)"),
        Rule::end_explore => s("`}` to close `explore`"),
        Rule::schedule => s("a schedule (`at 2m`, `at 2m for 30s` or `every 90s`)"),
        Rule::expect_stmt | Rule::check | Rule::condition => {
            s("an expectation such as `p99(gateway) < 800ms`, or `abort when ...`")
        }
        Rule::window => format!("a window ({})", list(WINDOW_WORDS)),
        Rule::v_duration => s("a duration such as `250ms`"),
        Rule::v_rate | Rule::segment => s("a rate such as `400/s`"),
        Rule::v_ratio | Rule::branch => s("a percentage such as `20%`"),
        Rule::v_count => s("a number such as `3`"),
        Rule::v_factor => s("a multiplier such as `x3`"),
        Rule::v_size => s("a size such as `512MiB`"),
        Rule::v_sizerate => s("a size per second such as `20MiB/s`"),
        Rule::v_any => s("a value such as `250ms`, `400/s`, `20%`, `3` or `$name`"),
        Rule::dist | Rule::dist_call => {
            s("a duration or a distribution such as `exponential(mean = 5ms)`")
        }
        Rule::arg => s("an argument such as `mean = 5ms`"),
        Rule::arg_name => s("an argument name"),
        Rule::ident | Rule::name | Rule::subject | Rule::name_list => {
            s("a name (lowercase, such as `payments`)")
        }
        Rule::string => s("a string in double quotes, such as `\"GET /checkout\"`"),
        Rule::cmp_op => s("a comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`)"),
        Rule::open | Rule::policy_block | Rule::branch_block => s("`{`"),
        Rule::end_scenario => s("`}` to close the scenario"),
        Rule::end_service => s("`}` to close the service"),
        Rule::end_endpoint => s("`}` to close the endpoint"),
        Rule::end_block => s("`}` to close the block"),
        Rule::end_policies => s("`}` to close the call policies"),
        Rule::end_workload => s("`}` to close the workload"),
        Rule::end_fault => s("`}` to close the fault"),
        Rule::end_expect => s("`}` to close `expect`"),
        Rule::lparen => s("`(`"),
        Rule::rparen => s("`)`"),
        Rule::comma => s("`,`"),
        Rule::eq => s("`=`"),
        Rule::arrow | Rule::segment_to | Rule::users_ramp => s("`->`"),
        Rule::fat_arrow => s("`=>`"),
        Rule::dotdot => s("`..`"),
        Rule::bar => s("`|`"),
        Rule::plus | Rule::after_plus => s("`+`"),
        Rule::kill_random => s("`random(...)`"),
        Rule::target_ref => s("`on`"),
        Rule::autoscale_delay => s("`delay`"),
        Rule::autoscale_target => s("`target`"),
        Rule::autoscale_marks => s("`up`"),
        Rule::hc_timeout => s("`timeout`"),
        Rule::hc_unhealthy => s("`unhealthy`"),
        Rule::hc_healthy => s("`healthy`"),
        Rule::eject_max => s("`max`"),
        Rule::target_subset => s("`N of` (such as `1 of` or `30% of`)"),
        Rule::autoscale_interval => s("`interval`"),
        Rule::status => s("`status`"),
        Rule::retry_backoff => s("`backoff`"),
        Rule::retry_jitter => s("`jitter`"),
        Rule::segment_over => s("`over`"),
        Rule::segment_for | Rule::sched_for | Rule::after_for => s("`for`"),
        Rule::sched_from => s("`from`"),
        Rule::sched_until => s("`until`"),
        other => {
            // Keywords (`kw_replicas`) and statement rules (`replicas`, `wl_target`): the word itself.
            let name = format!("{other:?}");
            let word = ["kw_", "sc_", "wl_", "a_", "w_", "q_", "v_"]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .unwrap_or(&name);
            format!("`{word}`")
        }
    }
}

/// Categories first, closing braces and the end of file last, so the likeliest fix leads.
fn rank(rule: Rule) -> u8 {
    match rule {
        Rule::item
        | Rule::scenario_setting
        | Rule::service_setting
        | Rule::step
        | Rule::policy
        | Rule::workload_setting
        | Rule::action
        | Rule::explore_line
        | Rule::expect_stmt
        | Rule::window => 0,
        Rule::end_scenario
        | Rule::end_service
        | Rule::end_endpoint
        | Rule::end_block
        | Rule::end_policies
        | Rule::end_workload
        | Rule::end_fault
        | Rule::end_expect
        | Rule::end_explore
        | Rule::EOI => 2,
        _ => 1,
    }
}

/// The words a category or keyword rule stands for, for "did you mean".
fn words(rule: Rule) -> Vec<String> {
    let from = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
    match rule {
        Rule::item => from(ITEM_WORDS),
        Rule::scenario_setting => from(SCENARIO_WORDS),
        Rule::service_setting => from(SERVICE_WORDS),
        Rule::step => from(STEP_WORDS),
        Rule::policy => from(POLICY_WORDS),
        Rule::workload_setting => from(WORKLOAD_WORDS),
        Rule::action => from(ACTION_WORDS),
        Rule::explore_line => from(EXPLORE_WORDS),
        Rule::window => from(WINDOW_WORDS),
        Rule::schedule => from(SCHEDULE_WORDS),
        r => {
            let l = label(r);
            match l.strip_prefix('`').and_then(|l| l.strip_suffix('`')) {
                Some(w) if w.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                    vec![w.to_string()]
                }
                _ => Vec::new(),
            }
        }
    }
}

fn is_value_rule(r: Rule) -> bool {
    matches!(
        r,
        Rule::v_duration
            | Rule::v_rate
            | Rule::v_ratio
            | Rule::v_count
            | Rule::v_factor
            | Rule::v_size
            | Rule::v_sizerate
            | Rule::v_any
            | Rule::dist
            | Rule::segment
            | Rule::branch
    )
}

/// The token at `pos` as the user sees it, and its span.
fn found_at(source: &str, pos: usize) -> (String, Span) {
    let rest = source.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return (
            "the end of the file".into(),
            Span::new(source.len(), source.len()),
        );
    };
    let len = if first == '"' {
        let line = rest.find('\n').unwrap_or(rest.len());
        let mut end = line;
        let mut escaped = false;
        for (i, c) in rest.char_indices().take_while(|(i, _)| *i < line).skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = i + 1;
                break;
            }
        }
        trim_cr(rest, end)
    } else if is_word_char(first) {
        rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len())
    } else if ["->", "=>", "..", "<=", ">=", "==", "!="]
        .iter()
        .any(|op| rest.starts_with(op))
    {
        2
    } else {
        first.len_utf8()
    };
    let text = rest.get(..len).unwrap_or(rest);
    let shown = if first == '\n' || first == '\r' {
        "the end of the line".to_string()
    } else if text.chars().count() > 40 {
        format!("`{}...`", text.chars().take(40).collect::<String>())
    } else {
        format!("`{text}`")
    };
    (shown, Span::new(pos, pos + len))
}

/// `len` without a trailing `\r` (CRLF files).
fn trim_cr(s: &str, len: usize) -> usize {
    if len > 0 && s.as_bytes().get(len - 1) == Some(&b'\r') {
        len - 1
    } else {
        len
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.' | '%' | '/')
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Converts pest's error into ours.
pub(crate) fn convert(source: &str, e: pest::error::Error<Rule>) -> ParseError {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let Some(e) = space_in_quantity(source, pos) {
        return e;
    }
    let (found, span) = found_at(source, pos);
    let positives = match e.variant {
        ErrorVariant::CustomError { message } => {
            return ParseError {
                kind: ParseErrorKind::TooComplex,
                span,
                message: format!("the file is too complex to parse ({message})"),
                expected: Vec::new(),
                hint: Some("split the file into smaller files with `import`".into()),
                fix: None,
            };
        }
        ErrorVariant::ParsingError { positives, .. } => positives,
    };
    let mut rules = positives;
    rules.sort_by_key(|r| rank(*r));
    let mut expected: Vec<String> = Vec::new();
    for r in &rules {
        let l = label(*r);
        if !expected.contains(&l) {
            expected.push(l);
        }
    }
    // The headline names categories only ("a service setting"); `expected` lists their words.
    let short: Vec<String> = expected
        .iter()
        .map(|l| match l.find(" (`") {
            Some(i) if !l.starts_with('`') => l[..i].to_string(),
            _ => l.clone(),
        })
        .collect();
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&short))
    };
    let (hint, fix) = split(hint(source, pos, span, &rules));
    ParseError {
        kind: ParseErrorKind::Syntax,
        span,
        message,
        expected,
        hint,
        fix,
    }
}

/// A quantity the grammar delimited but `units::classify` could not read (`30sec`, `1.2.3`),
/// in the words pest's error would have used had the grammar rejected it: "expected a
/// duration such as `250ms`, found `30sec`", with the same hints.
pub(crate) fn bad_value(source: &str, span: Span, rule: Rule) -> ParseError {
    let expected = label(rule);
    let text = source.get(span.start..span.end).unwrap_or("");
    let (hint, fix) = split(hint(source, span.start, span, &[rule]));
    ParseError {
        kind: ParseErrorKind::Syntax,
        span,
        message: format!("expected {expected}, found `{text}`"),
        expected: vec![expected],
        hint,
        fix,
    }
}

/// A unit written on its own (`30 ms`): one of `units`' tables, `%`, `x`, or `/` and a time unit.
fn is_unit_word(text: &str) -> bool {
    let unit = text.strip_prefix('/').unwrap_or(text);
    let listed = |table: &[(&str, f64)]| table.iter().any(|(name, _)| *name == unit);
    matches!(text, "%" | "x")
        || listed(crate::units::TIME_UNITS)
        || (unit == text && listed(crate::units::SIZE_UNITS))
}

fn is_unit_char(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '%' | '/')
}

/// `20 ms`: a number, spaces, then a unit, which the grammar reads as two tokens. The error
/// comes at the unit (`timeout 200 ms`: `ms` cannot start a setting) or after it
/// (`p99(a) < 20 ms`: `20` is read as the value and `ms` as the next expectation's metric, so
/// pest fails where `(` should follow, maybe lines later). Either way the space is the mistake:
/// the error points at it.
fn space_in_quantity(source: &str, pos: usize) -> Option<ParseError> {
    let rest = source.get(pos..)?;
    let at_pos = rest.find(|c: char| !is_unit_char(c)).unwrap_or(rest.len());
    let (unit_start, unit_end) = if at_pos > 0 && is_unit_word(&rest[..at_pos]) {
        (pos, pos + at_pos)
    } else {
        let before = source.get(..pos)?.trim_end();
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_unit_char(*c))
            .last()?
            .0;
        (start, before.len())
    };
    let unit = source.get(unit_start..unit_end)?;
    if !is_unit_word(unit) {
        return None;
    }
    let number_end = source
        .get(..unit_start)?
        .trim_end_matches([' ', '\t'])
        .len();
    if number_end == unit_start {
        return None;
    }
    let head = source.get(..number_end)?;
    let number_start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == '.')
        .last()?
        .0;
    let number = &head[number_start..];
    let glued = head[..number_start]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'));
    if !number.starts_with(|c: char| c.is_ascii_digit()) || glued {
        return None;
    }
    Some(ParseError {
        kind: ParseErrorKind::Syntax,
        span: Span::new(number_end, unit_start),
        message: format!("a space inside the quantity `{number} {unit}`"),
        expected: vec!["the unit right after the number".into()],
        hint: Some(format!(
            "write the unit right after the number, without a space: `{number}{unit}`"
        )),
        // Removing the blanks is the whole fix.
        fix: Some(Box::new((Span::new(number_end, unit_start), String::new()))),
    })
}

/// A hint's text and, when it is a plain replacement, the replacement.
struct Hint {
    text: String,
    fix: Option<(Span, String)>,
}

impl From<String> for Hint {
    fn from(text: String) -> Hint {
        Hint { text, fix: None }
    }
}

impl From<&str> for Hint {
    fn from(text: &str) -> Hint {
        Hint::from(text.to_string())
    }
}

/// A hint that replaces `span` with `replacement`, its text made from the replacement.
fn replace(span: Span, replacement: String, text: impl FnOnce(&str) -> String) -> Option<Hint> {
    Some(Hint {
        text: text(&replacement),
        fix: Some((span, replacement)),
    })
}

fn split(h: Option<Hint>) -> (Option<String>, Option<Box<(Span, String)>>) {
    match h {
        Some(h) => (Some(h.text), h.fix.map(Box::new)),
        None => (None, None),
    }
}

/// A fix for the usual mistakes, judged from the text at the error and what was expected.
fn hint(source: &str, pos: usize, span: Span, rules: &[Rule]) -> Option<Hint> {
    let text = source.get(span.start..span.end).unwrap_or("");
    let wants = |r: Rule| rules.contains(&r);
    let wants_value = rules.iter().any(|r| is_value_rule(*r));
    let first = text.chars().next();
    let before = source
        .get(..pos)
        .unwrap_or("")
        .trim_end_matches([' ', '\t']);

    if text == ";" {
        return Some(Hint::from(
            "statements end at the end of the line: remove the `;`",
        ));
    }
    if text == "=" && wants(Rule::cmp_op) {
        return Some(Hint::from("to compare for equality write `==`"));
    }
    if text == ":" || (text == "=" && !wants(Rule::eq)) {
        return Some(Hint::from(
            "write a setting as its name and value, without `:` or `=`: `replicas 3`",
        ));
    }
    if matches!(text, "fifo" | "lifo") && wants(Rule::service_setting) {
        return Some(Hint::from(format!(
            "a queue discipline is written on the line of `queue`: `queue 100 {text}`"
        )));
    }
    if first == Some('"') {
        if !text.ends_with('"') || text.len() < 2 {
            return Some(Hint::from(
                "this string is not closed: add `\"` before the end of the line",
            ));
        }
        if text.contains('\\') {
            return Some(Hint::from(
                "strings know two escapes only: `\\\"` and `\\\\`",
            ));
        }
    }
    if wants(Rule::string) && first.is_some_and(|c| c.is_ascii_uppercase() || c == '/') {
        let line = source.get(pos..).unwrap_or("");
        let cut = line.find(['{', '#', '\n']).unwrap_or(line.len());
        let guess = line.get(..cut).unwrap_or("").trim();
        return Some(Hint::from(format!(
            "endpoint names are strings: write `\"{guess}\"`"
        )));
    }
    if (wants(Rule::ident) || wants(Rule::name)) && first.is_some_and(|c| c.is_ascii_uppercase()) {
        return Some(Hint::from(format!(
            "names are lowercase letters, digits, `_` and `-`: `{}`",
            text.to_ascii_lowercase()
        )));
    }
    if is_unit_word(text) && before.ends_with(|c: char| c.is_ascii_digit()) && before.len() < pos {
        let number: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let start = before.len() - number.len();
        return replace(Span::new(start, span.end), format!("{number}{text}"), |r| {
            format!("write the unit right after the number, without a space: `{r}`")
        });
    }
    if wants_value && first.is_some_and(|c| c.is_ascii_digit()) {
        let unit: String = text
            .chars()
            .skip_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if unit.is_empty() {
            return Some(Hint::from("numbers are written `12` or `0.5`"));
        }
        let all = format!("units are {}", crate::units::UNIT_HELP);
        let kinds = if wants(Rule::v_duration) {
            "durations are written `250us`, `250ms`, `2s`, `10m`, `1h` or `1m30s`"
        } else if wants(Rule::v_rate) || wants(Rule::segment) {
            "rates are written `400/s`, `20/m` or `3/h`"
        } else if wants(Rule::v_ratio) || wants(Rule::branch) {
            "percentages are written `20%` or `99.9%`"
        } else if wants(Rule::v_size) || wants(Rule::v_sizerate) {
            "sizes are written `64KiB`, `256MiB`, `1GiB` (or `KB`, `MB`, `GB`), and per second `20MiB/s`"
        } else if wants(Rule::v_factor) {
            "multipliers are written `3x`, `0.5x` or `x3`"
        } else {
            &all
        };
        return Some(Hint::from(format!("`{unit}` is not a unit here; {kinds}")));
    }
    if pos >= source.len() && rules.iter().any(|r| rank(*r) == 2 && *r != Rule::EOI) {
        return Some(Hint::from("a block opened with `{` is not closed"));
    }
    if wants(Rule::kw_think) {
        return Some(Hint::from(
            "a closed-loop workload needs a think time: `users 200 think 1s`",
        ));
    }
    // A misspelt window keyword reads as the start of the next expectation's metric.
    if wants(Rule::lparen) {
        let prev: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let prev: String = prev.chars().rev().collect();
        if let Some(w) = similar(&prev, WINDOW_WORDS.iter().map(|w| w.to_string()).collect()) {
            let at = Span::new(before.len() - prev.len(), before.len());
            return replace(at, w, |w| format!("did you mean `{w}`?"));
        }
    }
    if first.is_some_and(|c| c.is_ascii_lowercase()) {
        let candidates: Vec<String> = rules.iter().flat_map(|r| words(*r)).collect();
        if let Some(w) = similar(text, candidates) {
            return replace(span, w, |w| format!("did you mean `{w}`?"));
        }
        if wants_value && !wants(Rule::dist) {
            return Some(Hint::from(format!("to use a param, write `${text}`")));
        }
    }
    None
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
fn similar(word: &str, candidates: Vec<String>) -> Option<String> {
    if word.is_empty() {
        return None;
    }
    candidates
        .into_iter()
        .filter(|w| w != word)
        .map(|w| (strsim::jaro_winkler(&w, word), w))
        .filter(|(score, _)| *score >= 0.84)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, w)| w)
}
