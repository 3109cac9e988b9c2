//! Quantity literals (`1m30s`, `400/s`, `20MiB/s`, ...) to base units: seconds, per second,
//! fractions, bytes.
//!
//! This module is the one quantity parser: the grammar reads every literal in a file through
//! [`classify`], and the compiler reads every `--set` value through it too
//! (`chaos_compiler::quantity::parse`), so a unit works in both places or in neither. The unit
//! tables below are the only list of unit spellings; hints print them with [`UNIT_HELP`].
//!
//! The grammar only finds where a quantity ends (`quantity` in `chaos.pest`); these functions
//! check its shape and split it, returning `None` for a malformed one (`30sec`, `1e5`, `1.`),
//! which the parser reports as a syntax error.

use crate::ast::ValueKind;

/// Time units and the seconds in one: a duration's units, and what a rate is counted per
/// (`400/s`, `20/min`).
pub const TIME_UNITS: &[(&str, f64)] = &[
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("min", 60.0),
    ("h", 3600.0),
];

/// Size units and the bytes in one: powers of 1000 (`KB`) and of 1024 (`KiB`).
pub const SIZE_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1024.0 * 1024.0),
    ("GiB", 1024.0 * 1024.0 * 1024.0),
    ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
];

/// Every way to write a quantity, in one line, for hints on a value that is not one.
pub const UNIT_HELP: &str = "durations `250us` (or `µs`) `ms` `s` `m` (or `min`) `h`, summed as \
`1m30s`; rates `400/s` `20/m` (or `/min`) `3/h`; percentages `20%`; multipliers `3x` or `x3`; \
sizes `B` `KB` `MB` `GB` `TB` `KiB` `MiB` `GiB` `TiB`; size rates `20MiB/s`; plain numbers `3`";

/// The kind and base-unit amount of a quantity (`quantity` in `chaos.pest`), or `None` if it
/// is malformed: the shapes do not overlap, so the text alone tells the kind.
pub fn classify(text: &str) -> Option<ValueKind> {
    if let Some(name) = text.strip_prefix('$') {
        return Some(ValueKind::Param(name.to_string()));
    }
    if text.starts_with('x') || text.ends_with('x') {
        return multiplier(text).map(ValueKind::Multiplier);
    }
    if text.ends_with('%') {
        return ratio(text).map(ValueKind::Ratio);
    }
    if let Some((amount, _)) = text.split_once('/') {
        return if amount.ends_with('B') {
            size_rate(text).map(ValueKind::SizeRate)
        } else {
            rate(text).map(ValueKind::Rate)
        };
    }
    if text.ends_with('B') {
        return size(text).map(ValueKind::Size);
    }
    if text.ends_with(|c: char| c.is_ascii_digit()) {
        return number(text).map(ValueKind::Number);
    }
    duration(text).map(ValueKind::Duration)
}

/// Seconds in one unit of time.
fn seconds(unit: &str) -> Option<f64> {
    lookup(TIME_UNITS, unit)
}

/// Bytes in one unit of size.
fn bytes(unit: &str) -> Option<f64> {
    lookup(SIZE_UNITS, unit)
}

fn lookup(table: &[(&str, f64)], unit: &str) -> Option<f64> {
    table
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, v)| *v)
}

/// Splits `12.5rest` into `(12.5, "rest")`.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    Some((number(text.get(..end)?)?, text.get(end..)?))
}

/// `12` or `0.5`: digits with an optional fraction; not `1.`, `.5`, `1e5` or `inf`, which
/// `f64::from_str` would take.
pub fn number(text: &str) -> Option<f64> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = match text.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(text),
    };
    if well_formed { text.parse().ok() } else { None }
}

/// `250ms`, `1m30s`: a sum of number-unit pairs.
pub fn duration(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let (n, after) = leading_number(rest)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        total += n * seconds(after.get(..unit_len)?)?;
        rest = after.get(unit_len..)?;
    }
    Some(total)
}

/// `400/s`, `20/m`, `3/h`: per second.
pub fn rate(text: &str) -> Option<f64> {
    let (n, unit) = text.split_once('/')?;
    Some(number(n)? / seconds(unit)?)
}

/// `20%`: a fraction.
pub fn ratio(text: &str) -> Option<f64> {
    Some(number(text.strip_suffix('%')?)? / 100.0)
}

/// `3x`, `0.5x` or `x3`.
pub fn multiplier(text: &str) -> Option<f64> {
    match text.strip_suffix('x') {
        Some(n) => number(n),
        None => number(text.strip_prefix('x')?),
    }
}

/// `64KiB`: bytes.
pub fn size(text: &str) -> Option<f64> {
    let (n, unit) = leading_number(text)?;
    Some(n * bytes(unit)?)
}

/// `20MiB/s`: bytes per second.
pub fn size_rate(text: &str) -> Option<f64> {
    let (amount, per) = text.split_once('/')?;
    Some(size(amount)? / seconds(per)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_tells_kinds_apart() {
        use ValueKind::*;
        assert_eq!(classify("$peak"), Some(Param("peak".into())));
        assert_eq!(classify("x3"), Some(Multiplier(3.0)));
        assert_eq!(classify("0.5x"), Some(Multiplier(0.5)));
        assert_eq!(classify("20%"), Some(Ratio(0.2)));
        assert_eq!(classify("20MiB/s"), Some(SizeRate(20.0 * 1024.0 * 1024.0)));
        assert_eq!(classify("20/m"), Some(Rate(20.0 / 60.0)));
        assert_eq!(classify("1GB"), Some(Size(1e9)));
        assert_eq!(classify("1.5"), Some(Number(1.5)));
        assert_eq!(classify("1m30s"), Some(Duration(90.0)));
        assert_eq!(classify("10m"), Some(Duration(600.0)));
        assert_eq!(classify("5q"), None);
        // The grammar hands over anything made of unit characters: only these shapes pass.
        for bad in [
            "1e5", "1E5", "1.", "1.2.3", "1.s", "30sec", "5ms5", "x", "3x3", "5%%", "1/s/s", "xx3",
        ] {
            assert_eq!(classify(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("250us"), Some(250e-6));
        assert_eq!(duration("250ms"), Some(0.25));
        assert_eq!(duration("1.5s"), Some(1.5));
        assert_eq!(duration("10m"), Some(600.0));
        assert_eq!(duration("1h"), Some(3600.0));
        assert_eq!(duration("1m30s"), Some(90.0));
        assert_eq!(duration("1h2m3s"), Some(3723.0));
        assert_eq!(duration("250µs"), Some(250e-6));
        assert_eq!(duration("2min"), Some(120.0));
        assert_eq!(duration("1min30s"), Some(90.0));
        assert_eq!(duration("5sec"), None);
        assert_eq!(duration(""), None);
    }

    #[test]
    fn rates_ratios_multipliers() {
        assert_eq!(rate("400/s"), Some(400.0));
        assert_eq!(rate("120/m"), Some(2.0));
        assert_eq!(rate("36/h"), Some(0.01));
        assert_eq!(rate("120/min"), Some(2.0));
        assert_eq!(ratio("20%"), Some(0.2));
        assert!((ratio("99.9%").unwrap_or(0.0) - 0.999).abs() < 1e-12);
        assert_eq!(multiplier("3x"), Some(3.0));
        assert_eq!(multiplier("x3"), Some(3.0));
        assert_eq!(multiplier("0.5x"), Some(0.5));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("64KiB"), Some(65536.0));
        assert_eq!(size("1GB"), Some(1e9));
        assert_eq!(size("2MB"), Some(2e6));
        assert_eq!(size_rate("20MiB/s"), Some(20.0 * 1024.0 * 1024.0));
        assert_eq!(size_rate("60MB/m"), Some(1e6));
        assert_eq!(size("2TB"), Some(2e12));
        assert_eq!(size("1TiB"), Some(1024f64.powi(4)));
        assert_eq!(size("3XB"), None);
    }
}
