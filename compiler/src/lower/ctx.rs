//! The checker's working state: diagnostics so far, resolved params, and helpers that turn a
//! written value into a number of the wanted unit (or a diagnostic saying what was wanted).

use std::collections::HashMap;

use chaos_grammar::ast::{Ident, Span, Value, ValueKind};

use crate::diagnostic::{Diagnostic, codes};
use crate::quantity::{self, Unit};
use crate::source::FileId;

/// A param after `--set`: its unit, value, and the text reports show.
#[derive(Debug, Clone)]
pub(crate) struct ParamValue {
    pub unit: Unit,
    pub value: f64,
    pub text: String,
}

#[derive(Default)]
pub(crate) struct Ctx {
    pub diags: Vec<Diagnostic>,
    pub params: HashMap<String, ParamValue>,
    /// Declared params that failed to resolve: uses of them are not reported again.
    pub broken_params: std::collections::HashSet<String>,
}

impl Ctx {
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The unit and base value of a literal or `$param`.
    pub fn resolve(&mut self, file: FileId, v: &Value) -> Option<(Unit, f64)> {
        match &v.kind {
            ValueKind::Param(name) => {
                if let Some(p) = self.params.get(name) {
                    return Some((p.unit, p.value));
                }
                if !self.broken_params.contains(name) {
                    let mut d =
                        Diagnostic::error(codes::UNKNOWN_PARAM, format!("unknown param `${name}`"));
                    let hint = did_you_mean(name, self.params.keys().map(String::as_str));
                    d = d.at(file, v.span, "no param of this name is declared");
                    d = match hint {
                        Some(h) => {
                            d.suggest(v.span, format!("${h}"), |h| format!("did you mean `{h}`?"))
                        }
                        None => d.help(format!("declare it: `param {name} = ...`")),
                    };
                    self.push(d);
                }
                None
            }
            kind => quantity::literal(kind),
        }
    }

    /// The value's text with params replaced by their values (for canonical texts).
    pub fn text(&self, v: &Value) -> String {
        match &v.kind {
            ValueKind::Param(name) => self
                .params
                .get(name)
                .map_or_else(|| v.text.clone(), |p| p.text.clone()),
            _ => v.text.clone(),
        }
    }

    /// A value of `unit`, or a diagnostic naming the setting (`what`) and the unit it takes.
    pub fn want(&mut self, file: FileId, v: &Value, unit: Unit, what: &str) -> Option<f64> {
        let (found, value) = self.resolve(file, v)?;
        if found == unit {
            if !value.is_finite() {
                self.out_of_range(file, v.span, format!("{what} is too large"), "too large");
                return None;
            }
            return Some(value);
        }
        let shown = self.text(v);
        // The parser reads `30` as a number wherever a value may stand; only here is it known
        // that a unit was forgotten.
        let hint = match (&v.kind, found) {
            (ValueKind::Number(_), Unit::Number) => unit
                .with_unit(&shown)
                .map(|fixed| format!("quantities need a unit: write `{fixed}`, not `{shown}`")),
            _ => None,
        };
        let mut d = Diagnostic::error(
            codes::WRONG_UNIT,
            format!(
                "{what} takes {}, found {} `{shown}`",
                unit.describe(),
                found.describe()
            ),
        )
        .at(
            file,
            v.span,
            format!("expected {} such as {}", unit.describe(), unit.example()),
        );
        if let Some(h) = hint {
            d = d.help(h);
        }
        self.push(d);
        None
    }

    pub fn out_of_range(&mut self, file: FileId, span: Span, message: String, label: &str) {
        self.push(Diagnostic::error(codes::OUT_OF_RANGE, message).at(file, span, label));
    }

    /// A duration of at least 0 s.
    pub fn duration(&mut self, file: FileId, v: &Value, what: &str) -> Option<f64> {
        self.want(file, v, Unit::Duration, what)
    }

    /// A duration longer than 0 s.
    pub fn positive_duration(&mut self, file: FileId, v: &Value, what: &str) -> Option<f64> {
        let d = self.duration(file, v, what)?;
        if d > 0.0 {
            Some(d)
        } else {
            self.out_of_range(
                file,
                v.span,
                format!("{what} must be longer than 0s"),
                "zero",
            );
            None
        }
    }

    /// A whole number of at least `min`.
    pub fn count(&mut self, file: FileId, v: &Value, what: &str, min: u32) -> Option<u32> {
        let n = self.want(file, v, Unit::Number, what)?;
        if n.fract() != 0.0 {
            self.out_of_range(
                file,
                v.span,
                format!("{what} must be a whole number"),
                "not a whole number",
            );
            return None;
        }
        if n < f64::from(min) {
            self.out_of_range(
                file,
                v.span,
                format!("{what} must be at least {min}"),
                &format!("at least {min} is needed"),
            );
            return None;
        }
        if n > f64::from(u32::MAX) {
            self.out_of_range(file, v.span, format!("{what} is too large"), "too large");
            return None;
        }
        Some(n as u32)
    }

    /// A percentage within `0%..=100%`; `positive` also excludes 0%.
    pub fn ratio(&mut self, file: FileId, v: &Value, what: &str, positive: bool) -> Option<f64> {
        let r = self.want(file, v, Unit::Ratio, what)?;
        if r > 1.0 {
            self.out_of_range(
                file,
                v.span,
                format!("{what} must be at most 100%"),
                "more than 100%",
            );
            return None;
        }
        if positive && r <= 0.0 {
            self.out_of_range(file, v.span, format!("{what} must be more than 0%"), "zero");
            return None;
        }
        Some(r)
    }

    /// An HTTP status code.
    pub fn status(&mut self, file: FileId, v: &Value) -> Option<u16> {
        let n = self.count(file, v, "`status`", 0)?;
        if (100..=599).contains(&n) {
            Some(n as u16)
        } else {
            self.out_of_range(
                file,
                v.span,
                "`status` must be an HTTP status code between 100 and 599".to_string(),
                "not an HTTP status",
            );
            None
        }
    }

    /// A priority: a whole number in `0..=MAX_PRIORITY`.
    pub fn priority(&mut self, file: FileId, v: &Value) -> Option<u8> {
        let n = self.want(file, v, Unit::Number, "`priority`")?;
        let max = chaos_plan::MAX_PRIORITY;
        if n.fract() == 0.0 && (0.0..=f64::from(max)).contains(&n) {
            return Some(n as u8);
        }
        self.push(
            Diagnostic::error(
                codes::PRIORITY_RANGE,
                format!(
                    "`priority {}` is not a priority: priorities are whole numbers from 0 to {max}",
                    self.text(v)
                ),
            )
            .at(file, v.span, format!("expected 0 to {max}"))
            .help(format!(
                "0 (the default) is served last, {max} first; write a whole number from 0 to {max}"
            )),
        );
        None
    }

    /// One of a fixed set of words, or a diagnostic with the closest one.
    pub fn keyword<T: Copy>(
        &mut self,
        file: FileId,
        ident: &Ident,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        self.keyword_coded(codes::UNKNOWN_KEYWORD, file, ident, what, choices)
    }

    /// [`Ctx::keyword`] reported under its own code.
    pub fn keyword_coded<T: Copy>(
        &mut self,
        code: &'static str,
        file: FileId,
        ident: &Ident,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, t)) = choices.iter().find(|(n, _)| *n == ident.name) {
            return Some(*t);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::error(code, format!("unknown {what} `{}`", ident.name)).at(
            file,
            ident.span,
            format!("expected {}", list_code(&names)),
        );
        if let Some(h) = did_you_mean(&ident.name, names.iter().copied()) {
            d = d.suggest(ident.span, h, |h| format!("did you mean `{h}`?"));
        }
        self.push(d);
        None
    }
}

/// The closest candidate to a misspelt name, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    // Edit distance is quadratic in length; names this long are not typos of each other.
    if name.len() > 64 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates.filter(|c| c.len() <= 64) {
        let d = if c.eq_ignore_ascii_case(name) {
            0
        } else {
            strsim::damerau_levenshtein(name, c)
        };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// `` `a`, `b` or `c` ``
pub(crate) fn list_code(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["payments", "cart", "gateway"];
        assert_eq!(
            did_you_mean("paymnets", names.iter().copied()).as_deref(),
            Some("payments")
        );
        assert_eq!(
            did_you_mean("crat", names.iter().copied()).as_deref(),
            Some("cart")
        );
        assert_eq!(did_you_mean("search", names.iter().copied()), None);
    }
}
