//! One quantity parser: every unit spelling means the same written in a file and given with
//! `--set`, and an unknown unit on the command line is told apart with the list of units.
#![allow(clippy::unwrap_used)]

use chaos_compiler::quantity::{self, Unit};
use chaos_compiler::{compile_str, render};
use chaos_plan::Plan;
use proptest::prelude::*;

/// A scenario that uses `$v` where a value of `unit` is wanted, declared as `declared`.
fn scenario(unit: Unit, declared: &str) -> String {
    let (rate, replicas, fault, expect) = match unit {
        Unit::Duration => ("1/s", "1", "latency +$v on api", "error_rate(api) < 50%"),
        Unit::Rate => ("$v", "1", "latency +1ms on api", "error_rate(api) < 50%"),
        Unit::Ratio => ("1/s", "1", "latency +1ms on api", "error_rate(api) <= $v"),
        Unit::Multiplier => ("1/s", "1", "cpu $v on api", "error_rate(api) < 50%"),
        Unit::Size => (
            "1/s",
            "1",
            "memory 1MiB/s on api limit $v",
            "error_rate(api) < 50%",
        ),
        Unit::SizeRate => (
            "1/s",
            "1",
            "memory $v on api limit 1TiB",
            "error_rate(api) < 50%",
        ),
        Unit::Number => ("1/s", "$v", "latency +1ms on api", "error_rate(api) < 50%"),
    };
    format!(
        r#"param v = {declared}
scenario "s" {{ duration 10m }}
service api {{ replicas {replicas} endpoint "GET /" {{ }} }}
workload u {{ target api "GET /" rate {rate} }}
fault f at 1m for 1m {{ {fault} }}
expect {{ {expect} }}
"#
    )
}

/// A literal of `unit` other than the ones under test, declared in the file before `--set`.
fn placeholder(unit: Unit) -> &'static str {
    match unit {
        Unit::Duration => "7s",
        Unit::Rate => "7/s",
        Unit::Ratio => "7%",
        Unit::Multiplier => "x7",
        Unit::Size => "7MiB",
        Unit::SizeRate => "7MiB/s",
        Unit::Number => "7",
    }
}

use chaos_test_support::compile_source as compile;

/// The plan without its `params` list, which records the text and whether it was overridden.
fn resolved(mut plan: Plan) -> String {
    plan.params.clear();
    serde_json::to_string(&plan).unwrap()
}

/// Compiles `literal` written in the file and given with `--set`: both plans must be the same.
fn same_in_file_and_set(unit: Unit, literal: &str) -> Result<(), String> {
    let in_file = compile(&scenario(unit, literal), &[])?;
    let set = compile(
        &scenario(unit, placeholder(unit)),
        &[("v".to_string(), literal.to_string())],
    )?;
    if resolved(in_file) == resolved(set) {
        Ok(())
    } else {
        Err(format!("`{literal}` differs between the file and --set"))
    }
}

const KIB: f64 = 1024.0;

/// Every unit spelling, with the base-unit value of one example.
const TABLE: &[(&str, Unit, f64)] = &[
    ("250us", Unit::Duration, 250e-6),
    ("250µs", Unit::Duration, 250e-6),
    ("250ms", Unit::Duration, 0.25),
    ("2s", Unit::Duration, 2.0),
    ("1.5s", Unit::Duration, 1.5),
    ("2m", Unit::Duration, 120.0),
    ("2min", Unit::Duration, 120.0),
    ("1h", Unit::Duration, 3600.0),
    ("1m30s", Unit::Duration, 90.0),
    ("1min30s", Unit::Duration, 90.0),
    ("1h15m", Unit::Duration, 4500.0),
    ("400/s", Unit::Rate, 400.0),
    ("120/m", Unit::Rate, 2.0),
    ("120/min", Unit::Rate, 2.0),
    ("36/h", Unit::Rate, 0.01),
    ("20%", Unit::Ratio, 0.2),
    ("99.9%", Unit::Ratio, 0.999),
    ("3x", Unit::Multiplier, 3.0),
    ("0.5x", Unit::Multiplier, 0.5),
    ("x3", Unit::Multiplier, 3.0),
    ("512B", Unit::Size, 512.0),
    ("2KB", Unit::Size, 2e3),
    ("2MB", Unit::Size, 2e6),
    ("2GB", Unit::Size, 2e9),
    ("2TB", Unit::Size, 2e12),
    ("2KiB", Unit::Size, 2.0 * KIB),
    ("2MiB", Unit::Size, 2.0 * KIB * KIB),
    ("2GiB", Unit::Size, 2.0 * KIB * KIB * KIB),
    ("2TiB", Unit::Size, 2.0 * KIB * KIB * KIB * KIB),
    ("20MiB/s", Unit::SizeRate, 20.0 * KIB * KIB),
    ("60MB/m", Unit::SizeRate, 1e6),
    ("60MB/min", Unit::SizeRate, 1e6),
    ("3600KB/h", Unit::SizeRate, 1e3),
    ("1TB/s", Unit::SizeRate, 1e12),
    ("3", Unit::Number, 3.0),
];

#[test]
fn every_unit_spelling_means_the_same_in_a_file_and_in_set() {
    for &(literal, unit, base) in TABLE {
        let (parsed, value) = quantity::parse(literal).unwrap_or_else(|| panic!("{literal}"));
        assert_eq!(parsed, unit, "{literal}");
        assert!(
            (value - base).abs() <= 1e-12 * base.abs(),
            "{literal}: {value} != {base}"
        );
        same_in_file_and_set(unit, literal).unwrap_or_else(|e| panic!("{literal}: {e}"));
    }
}

/// Every size and time unit of the one table appears in `TABLE` above.
#[test]
fn the_table_covers_every_unit() {
    let units = chaos_grammar::units::TIME_UNITS
        .iter()
        .chain(chaos_grammar::units::SIZE_UNITS);
    for (name, _) in units {
        assert!(
            TABLE.iter().any(|(lit, _, _)| lit
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                .split('/')
                .any(|part| part == *name)),
            "unit `{name}` is not in the table"
        );
    }
}

#[test]
fn an_unknown_unit_in_set_lists_the_units() {
    let c = compile_str(
        "t.chaos",
        &scenario(Unit::Rate, "400/s"),
        &[("v".to_string(), "20/sec".to_string())],
    );
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0202"]);
    insta::assert_snapshot!(render::render_all_plain(&c.diagnostics, &c.sources));
}

/// A literal of `unit` for a value in hundredths: `12.34s`, `12.34/min`, `x12.34`, ...
fn unit_and_literal() -> impl Strategy<Value = (Unit, String)> {
    let time = prop::sample::select(vec!["us", "µs", "ms", "s", "m", "min", "h"]);
    let size = prop::sample::select(vec![
        "B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
    ]);
    let per = prop::sample::select(vec!["s", "m", "min", "h"]);
    (1u32..100_000, 0usize..6, time, size, per).prop_map(|(hundredths, kind, t, b, p)| {
        let v = format!("{}.{:02}", hundredths / 100, hundredths % 100);
        match kind {
            0 => (Unit::Duration, format!("{v}{t}")),
            1 => (Unit::Rate, format!("{v}/{p}")),
            2 => (Unit::Ratio, format!("{}%", hundredths % 10_001 / 100)),
            3 => (Unit::Multiplier, format!("{v}x")),
            4 => (Unit::Size, format!("{}{b}", hundredths / 100 + 1)),
            _ => (Unit::SizeRate, format!("{v}{b}/{p}")),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_random_quantity_means_the_same_in_a_file_and_in_set((unit, literal) in unit_and_literal()) {
        let parsed = quantity::parse(&literal).map(|(u, _)| u);
        prop_assert_eq!(parsed, Some(unit), "{}", literal);
        match same_in_file_and_set(unit, &literal) {
            Ok(()) => {}
            // Both refused it the same way (a size above the memory limit, say): also agreement.
            Err(e) if e.contains("differs") => prop_assert!(false, "{}", e),
            Err(_) => {
                let in_file = compile(&scenario(unit, &literal), &[]).err();
                let set = compile(
                    &scenario(unit, placeholder(unit)),
                    &[("v".to_string(), literal.clone())],
                )
                .err();
                prop_assert!(in_file.is_some() && set.is_some(), "{}: {:?} {:?}", literal, in_file, set);
            }
        }
    }
}
