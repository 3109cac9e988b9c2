//! Units of values: their names in messages, and `--set` values written on the command line,
//! read by the grammar's own quantity parser (`chaos_grammar::units`).

use chaos_grammar::{ast::ValueKind, units};

/// The kind of a literal, which the checker compares against what a setting wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Number,
    Duration,
    Rate,
    Ratio,
    Multiplier,
    Size,
    SizeRate,
}

impl Unit {
    /// "a duration", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Unit::Number => "a plain number",
            Unit::Duration => "a duration",
            Unit::Rate => "a rate",
            Unit::Ratio => "a percentage",
            Unit::Multiplier => "a multiplier",
            Unit::Size => "a size",
            Unit::SizeRate => "a size per second",
        }
    }

    /// A bare number written with this unit's usual suffix (`30` -> `30s`), for the hint on
    /// a forgotten unit; `None` for a plain number.
    pub fn with_unit(self, number: &str) -> Option<String> {
        match self {
            Unit::Number => None,
            Unit::Duration => Some(format!("{number}s")),
            Unit::Rate => Some(format!("{number}/s")),
            Unit::Ratio => Some(format!("{number}%")),
            Unit::Multiplier => Some(format!("x{number}")),
            Unit::Size => Some(format!("{number}MiB")),
            Unit::SizeRate => Some(format!("{number}MiB/s")),
        }
    }

    /// An example literal, for labels ("expected a duration such as `500ms`").
    pub fn example(self) -> &'static str {
        match self {
            Unit::Number => "`3`",
            Unit::Duration => "`500ms`",
            Unit::Rate => "`100/s`",
            Unit::Ratio => "`20%`",
            Unit::Multiplier => "`x3`",
            Unit::Size => "`256MiB`",
            Unit::SizeRate => "`20MiB/s`",
        }
    }
}

/// The unit and base-unit value of a literal; `None` for a `$param`.
pub fn literal(kind: &ValueKind) -> Option<(Unit, f64)> {
    Some(match kind {
        ValueKind::Number(v) => (Unit::Number, *v),
        ValueKind::Duration(v) => (Unit::Duration, *v),
        ValueKind::Rate(v) => (Unit::Rate, *v),
        ValueKind::Ratio(v) => (Unit::Ratio, *v),
        ValueKind::Multiplier(v) => (Unit::Multiplier, *v),
        ValueKind::Size(v) => (Unit::Size, *v),
        ValueKind::SizeRate(v) => (Unit::SizeRate, *v),
        ValueKind::Param(_) => return None,
    })
}

/// Parses a `--set` value such as `400/s`, `1m30s`, `20%`, `x3`, `256MiB`, `20MiB/s`, `7`:
/// the one quantity parser the grammar uses for literals in files ([`units::classify`]), so a
/// value means the same on the command line and in a file. `None` for anything else,
/// `$params` included.
pub fn parse(text: &str) -> Option<(Unit, f64)> {
    literal(&units::classify(text.trim())?)
}

/// Seconds as a short literal a user would write: `300ms`, `1.5s`, `2m`, `1m30s`.
pub fn fmt_seconds(s: f64) -> String {
    if !s.is_finite() {
        return "∞".to_string();
    }
    if s == 0.0 {
        return "0s".to_string();
    }
    if s < 1e-3 {
        return format!("{}us", trim(s * 1e6));
    }
    if s < 1.0 {
        return format!("{}ms", trim(s * 1e3));
    }
    let whole = s.round();
    if (s - whole).abs() < 1e-9 && whole >= 60.0 {
        let total = whole as u64;
        let (h, m, sec) = (total / 3600, (total % 3600) / 60, total % 60);
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        if sec > 0 {
            out.push_str(&format!("{sec}s"));
        }
        return out;
    }
    format!("{}s", trim(s))
}

/// A number without a trailing `.0`, rounded to what a person reads (at most 6 decimals).
pub fn trim(v: f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    format!("{r}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("400/s"), Some((Unit::Rate, 400.0)));
        assert_eq!(parse("120/m"), Some((Unit::Rate, 2.0)));
        assert_eq!(parse("1m30s"), Some((Unit::Duration, 90.0)));
        assert_eq!(parse("250ms"), Some((Unit::Duration, 0.25)));
        assert_eq!(parse("250us"), Some((Unit::Duration, 0.00025)));
        assert_eq!(parse("20%"), Some((Unit::Ratio, 0.2)));
        assert_eq!(parse("x3"), Some((Unit::Multiplier, 3.0)));
        assert_eq!(parse("0.5x"), Some((Unit::Multiplier, 0.5)));
        assert_eq!(parse("1KiB"), Some((Unit::Size, 1024.0)));
        assert_eq!(parse("1MB/s"), Some((Unit::SizeRate, 1e6)));
        assert_eq!(parse("7"), Some((Unit::Number, 7.0)));
        assert_eq!(parse("20/min"), Some((Unit::Rate, 20.0 / 60.0)));
        assert_eq!(parse("250µs"), Some((Unit::Duration, 250e-6)));
        assert_eq!(parse("1TiB"), Some((Unit::Size, 1024f64.powi(4))));
        assert_eq!(parse("60MB/m"), Some((Unit::SizeRate, 1e6)));
        assert_eq!(parse("$peak"), None);
        assert_eq!(parse("fast"), None);
        assert_eq!(parse("3/d"), None);
        assert_eq!(parse("1.2.3s"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn formats_seconds_as_written() {
        assert_eq!(fmt_seconds(0.3), "300ms");
        assert_eq!(fmt_seconds(1.5), "1.5s");
        assert_eq!(fmt_seconds(120.0), "2m");
        assert_eq!(fmt_seconds(90.0), "1m30s");
        assert_eq!(fmt_seconds(30.0), "30s");
        assert_eq!(fmt_seconds(0.0), "0s");
    }
}
