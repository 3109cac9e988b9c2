//! Number and table formatting shared by the terminal, Markdown, JUnit, compare and HTML output.

use crate::model::{ExpectationResult, LatencyMs};

/// A number with about four significant digits, trailing zeros trimmed: `412.5`, `0.0012`, `1234`.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    let decimals = if a == 0.0 || a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        (3 - a.log10().floor() as i32).clamp(3, 6) as usize
    };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}

/// A value with its unit: `412.5 ms`, `0.12%`, `350/s`, `3`, `12 s`.
pub fn with_unit(x: f64, unit: &str) -> String {
    match unit {
        "%" | "/s" | "" => format!("{}{unit}", num(x)),
        u => format!("{} {u}", num(x)),
    }
}

pub fn opt_with_unit(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| "–".to_string(), |v| with_unit(v, unit))
}

/// The observed column of an expectation: its value, or `never` / `no data`.
pub fn observed(e: &ExpectationResult) -> String {
    match (e.observed, &e.note) {
        (Some(v), _) => with_unit(v, &e.unit),
        (None, Some(n)) => n.clone(),
        (None, None) => "no data".to_string(),
    }
}

/// `< 800 ms`.
pub fn threshold(e: &ExpectationResult) -> String {
    format!("{} {}", e.op, with_unit(e.threshold, &e.unit))
}

pub fn latency(l: &LatencyMs, pick: fn(&LatencyMs) -> Option<f64>) -> String {
    opt_with_unit(pick(l), "ms")
}

/// Seconds as `90s`, `2m30s`, `1h`.
pub fn duration(s: f64) -> String {
    if s < 60.0 {
        return format!("{}s", num(s));
    }
    let total = s.round() as u64;
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
    out
}

/// A left-aligned text table; columns listed in `right` are right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize], indent: &str) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from(indent);
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i > 0 {
                s.push_str("  ");
            }
            if right.contains(&i) {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// One unexpected event in words, for every summary: `s-0 of s exited with signal 9 (SIGKILL)
/// at 2.1s`.
pub fn unexpected(e: &crate::recording::UnexpectedEvent) -> String {
    format!(
        "{} of {} {} at {}",
        e.replica,
        e.service,
        e.what,
        duration(e.at_s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(412.5), "412.5");
        assert_eq!(num(800.0), "800");
        assert_eq!(num(0.0012), "0.0012");
        assert_eq!(num(0.12), "0.12");
        assert_eq!(num(12345.6), "12346");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(99.5), "99.5");
        assert_eq!(with_unit(0.5, "%"), "0.5%");
        assert_eq!(with_unit(35.25, "ms"), "35.25 ms");
        assert_eq!(duration(150.0), "2m30s");
        assert_eq!(duration(600.0), "10m");
        assert_eq!(duration(30.0), "30s");
    }
}
