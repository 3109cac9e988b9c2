//! Adversarial input: random text, token soup and deep nesting never panic or hang, and
//! whatever parses formats to a fixed point with the same tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chaos_grammar::{ParseErrorKind, format::format_source, parse};
use proptest::prelude::*;

/// Pieces of the language besides its keywords, so random sequences often get deep into the grammar.
/// Every keyword of the grammar plus [`NON_KEYWORD_TOKENS`].
fn tokens() -> Vec<&'static str> {
    chaos_grammar::KEYWORDS
        .iter()
        .chain(NON_KEYWORD_TOKENS)
        .copied()
        .collect()
}

const NON_KEYWORD_TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    ",",
    "=",
    "=>",
    "->",
    "..",
    "|",
    "+",
    "<",
    "<=",
    "==",
    "p99",
    "error_rate",
    "gateway",
    "s",
    "x",
    "\"GET /x\"",
    "\"a\\\"b\"",
    "3",
    "2..8",
    "250ms",
    "1m30s",
    "400/s",
    "20%",
    "x3",
    "3x",
    "64KiB",
    "20MiB/s",
    "$peak",
    "exponential(mean = 5ms)",
    "# comment\n",
    "\n",
    "\n\n",
    "  ",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens()), 0..60).prop_map(|t| t.join(" "))
}

/// Valid statements, so that token soup inside a valid frame exercises the formatter.
const STATEMENTS: &[&str] = &[
    "service s { replicas 2 }",
    "service s { endpoint \"x\" { work 1ms } }",
    "service s { endpoint \"x\" { choice { 50% => work 1ms 50% => { } } } } # c",
    "service s { endpoint \"x\" { call t \"y\" { timeout 1s } on_error continue } }",
    "workload w { target s \"x\" rate 1/s -> 2/s over 1m, 2/s }",
    "fault f every 1m from 10s { kill 1 of random(a, b) } # trailing",
    "expect { p99(s) < 1s after f + 1s for 2s }",
    "# own line",
    "param p = 3",
    "\n\n",
];

fn programs() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(STATEMENTS), 0..12).prop_map(|t| t.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        let _ = parse(&s);
        let _ = format_source(&s);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s);
    }

    #[test]
    fn token_soup_never_panics_and_roundtrips(s in soup()) {
        if let Err(e) = support::check_roundtrip(&s) {
            prop_assert!(false, "{e}\n--- input\n{s}");
        }
    }

    #[test]
    fn valid_programs_roundtrip(s in programs()) {
        prop_assert!(parse(&s).is_ok(), "{s}");
        if let Err(e) = support::check_roundtrip(&s) {
            prop_assert!(false, "{e}\n--- input\n{s}");
        }
    }

    #[test]
    fn errors_point_inside_the_text(s in soup()) {
        if let Err(e) = parse(&s) {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= s.len());
            prop_assert!(s.is_char_boundary(e.span.start) && s.is_char_boundary(e.span.end));
            prop_assert!(!e.message.contains("kw_") && !e.message.contains("v_"), "{}", e.message);
        }
    }
}

#[test]
fn hundred_thousand_nested_parallels_fail_fast() {
    let mut s = String::from("service s { endpoint \"x\" {\n");
    s.push_str(&"parallel {\n".repeat(100_000));
    let e = parse(&s).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooDeep);
    assert_eq!(e.code(), "E0002");
    assert!(format_source(&s).is_err());
}

#[test]
fn deep_parentheses_and_braces_fail_fast() {
    for s in [
        "(".repeat(100_000),
        "{".repeat(100_000),
        format!("service s {{ latency f{}", "(".repeat(50_000)),
    ] {
        assert_eq!(parse(&s).unwrap_err().kind, ParseErrorKind::TooDeep);
    }
}

#[test]
fn nesting_at_the_limit_parses() {
    // Two levels are taken by the service and the endpoint.
    let depth = chaos_grammar::MAX_NESTING - 2;
    let s = format!(
        "service s {{ endpoint \"x\" {{ {} work 1ms {} }} }}",
        "parallel {".repeat(depth),
        "}".repeat(depth)
    );
    let file = parse(&s).unwrap();
    assert_eq!(file.items.len(), 1);
    support::check_roundtrip(&s).unwrap();
}

#[test]
fn braces_in_strings_and_comments_do_not_count() {
    let s = format!(
        "# {}\nservice s {{ endpoint \"{}\" {{ }} }}",
        "{".repeat(1000),
        "{".repeat(1000)
    );
    assert!(parse(&s).is_ok());
}

#[test]
fn long_flat_lists_parse() {
    let s = format!(
        "workload w {{ target s \"x\" rate 1/s{} }}",
        ", 2/s for 1s".repeat(100_000)
    );
    let file = parse(&s).unwrap();
    assert_eq!(file.items.len(), 1);
}

#[test]
fn unterminated_things_at_the_end_are_errors() {
    for s in [
        "service s {",
        "service s { endpoint \"x",
        "expect { p99(",
        "param x =",
        "fault f at",
    ] {
        let e = parse(s).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::Syntax, "{s}");
        assert!(e.span.end <= s.len());
    }
}
