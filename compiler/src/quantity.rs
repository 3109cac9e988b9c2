//! Units of values: their names in messages, and a parser for `--set` values written on the
//! command line (the same literal forms as in `.chaos` files).

use chaos_grammar::ast::ValueKind;

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

/// Parses a literal such as `400/s`, `1m30s`, `20%`, `x3`, `256MiB`, `20MiB/s`, `7`.
pub fn parse(text: &str) -> Option<(Unit, f64)> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('x') {
        return number(rest).map(|v| (Unit::Multiplier, v));
    }
    if let Some(rest) = t.strip_suffix('x') {
        return number(rest).map(|v| (Unit::Multiplier, v));
    }
    if let Some(rest) = t.strip_suffix('%') {
        return number(rest).map(|v| (Unit::Ratio, v / 100.0));
    }
    if let Some((n, per)) = t.split_once('/') {
        let per_s = match per {
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        if let Some(v) = number(n) {
            return Some((Unit::Rate, v / per_s));
        }
        let (_, bytes) = size(n)?;
        return (per == "s").then_some((Unit::SizeRate, bytes));
    }
    if let Some(v) = number(t) {
        return Some((Unit::Number, v));
    }
    if let Some(s) = size(t) {
        return Some(s);
    }
    duration(t).map(|v| (Unit::Duration, v))
}

fn number(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.chars().filter(|c| *c == '.').count() <= 1
        && s.starts_with(|c: char| c.is_ascii_digit())
        && !s.ends_with('.');
    if ok { s.parse().ok() } else { None }
}

fn split_number(s: &str) -> (&str, &str) {
    let i = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(i)
}

fn size(s: &str) -> Option<(Unit, f64)> {
    let (n, unit) = split_number(s);
    let factor = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    number(n).map(|v| (Unit::Size, v * factor))
}

/// `250us` `250ms` `2s` `10m` `1h` and sums such as `1m30s`.
fn duration(s: &str) -> Option<f64> {
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let (n, after) = split_number(rest);
        let v = number(n)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let factor = match unit {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * factor;
        rest = next;
    }
    Some(total)
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
