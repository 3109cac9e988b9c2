//! `--param NAME=FROM..TO`: which param, over which values, in which unit; and each value
//! written back as the literal `--set` takes.

use chaos_compiler::quantity::{self, Unit};

/// A param's range, in display units (`40.0` for `40/s`, `250.0` for `250ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRange {
    pub name: String,
    pub from: f64,
    pub to: f64,
    pub unit: ValueUnit,
    /// Whole numbers only (a count such as `workers`): the grid and bisection stay on integers.
    pub integer: bool,
}

/// How values of the range are shown and written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueUnit {
    pub unit: Unit,
    /// Written after the number (`/s`, `ms`, `%`, `x`, `MiB`, ``).
    pub suffix: &'static str,
    /// Base units per display unit (`0.001` for `ms`, `0.01` for `%`).
    pub factor: f64,
}

/// Why a `--param` is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    #[error("expected NAME=FROM..TO, found `{0}`")]
    Shape(String),
    #[error("`{0}` is not a value")]
    NotAValue(String),
    #[error("`{from}` and `{to}` are not the same kind of value ({} and {})", .from_unit.describe(), .to_unit.describe())]
    MixedUnits {
        from: String,
        to: String,
        from_unit: Unit,
        to_unit: Unit,
    },
    #[error("the range `{0}` must go up: FROM below TO")]
    Empty(String),
    #[error("no param `{name}` is declared in the scenario")]
    UnknownParam { name: String, declared: Vec<String> },
    #[error("param `{name}` is {} (declared `{declared}`), but the range is {}", .param_unit.describe(), .range_unit.describe())]
    WrongUnit {
        name: String,
        declared: String,
        param_unit: Unit,
        range_unit: Unit,
    },
}

impl RangeError {
    /// A line of help for the user.
    pub fn hint(&self) -> String {
        match self {
            RangeError::Shape(_) => "write it like `--param rate=40/s..120/s`".into(),
            RangeError::NotAValue(_) | RangeError::MixedUnits { .. } => {
                "write both ends as in a .chaos file: `40/s..120/s`, `100ms..2s`, `1..16`".into()
            }
            RangeError::Empty(_) => "swap the two ends".into(),
            RangeError::UnknownParam { declared, .. } if declared.is_empty() => {
                "declare it in the file (`param rate = 80/s`) and use it as `$rate`".into()
            }
            RangeError::UnknownParam { declared, .. } => {
                format!("declared params: {}", declared.join(", "))
            }
            RangeError::WrongUnit { param_unit, .. } => format!(
                "give the range in the param's unit, e.g. {}",
                param_unit.example()
            ),
        }
    }
}

impl ParamRange {
    /// Parses `NAME=FROM..TO` against the params the plan declares (`(name, value)` pairs). A
    /// bare number takes the declared param's unit (`rate=40..120` for a rate param).
    pub fn parse(arg: &str, declared: &[(String, String)]) -> Result<ParamRange, RangeError> {
        let (name, range) = arg
            .split_once('=')
            .ok_or_else(|| RangeError::Shape(arg.to_string()))?;
        let name = name.trim();
        let (from_text, to_text) = range
            .split_once("..")
            .ok_or_else(|| RangeError::Shape(arg.to_string()))?;
        let (from_text, to_text) = (from_text.trim(), to_text.trim());
        if name.is_empty() || from_text.is_empty() || to_text.is_empty() {
            return Err(RangeError::Shape(arg.to_string()));
        }
        let Some((_, declared_value)) = declared.iter().find(|(n, _)| n == name) else {
            return Err(RangeError::UnknownParam {
                name: name.to_string(),
                declared: declared.iter().map(|(n, _)| n.clone()).collect(),
            });
        };
        let declared_unit = quantity::parse(declared_value).map(|(u, _)| u);
        let value = |text: &str| -> Result<(Unit, f64), RangeError> {
            let (unit, v) =
                quantity::parse(text).ok_or_else(|| RangeError::NotAValue(text.to_string()))?;
            // A bare number takes the param's own unit.
            match (unit, declared_unit) {
                (Unit::Number, Some(d)) if d != Unit::Number => {
                    let written = d.with_unit(text).unwrap_or_default();
                    quantity::parse(&written).ok_or_else(|| RangeError::NotAValue(text.to_string()))
                }
                _ => Ok((unit, v)),
            }
        };
        let (from_unit, from_base) = value(from_text)?;
        let (to_unit, to_base) = value(to_text)?;
        if from_unit != to_unit {
            return Err(RangeError::MixedUnits {
                from: from_text.to_string(),
                to: to_text.to_string(),
                from_unit,
                to_unit,
            });
        }
        if let Some(d) = declared_unit
            && d != from_unit
        {
            return Err(RangeError::WrongUnit {
                name: name.to_string(),
                declared: declared_value.clone(),
                param_unit: d,
                range_unit: from_unit,
            });
        }
        if from_base.partial_cmp(&to_base) != Some(std::cmp::Ordering::Less) {
            return Err(RangeError::Empty(range.trim().to_string()));
        }
        let unit = ValueUnit::for_range(from_unit, from_base.abs().max(to_base.abs()));
        let integer =
            from_unit == Unit::Number && from_base.fract() == 0.0 && to_base.fract() == 0.0;
        Ok(ParamRange {
            name: name.to_string(),
            from: from_base / unit.factor,
            to: to_base / unit.factor,
            unit,
            integer,
        })
    }

    /// The literal `--set NAME=…` takes for a value in display units.
    pub fn literal(&self, value: f64) -> String {
        self.unit.literal(value)
    }

    /// `steps` values evenly spread over the range, ends included (integers: rounded, distinct).
    pub fn grid(&self, steps: usize) -> Vec<f64> {
        let steps = steps.max(2);
        let mut out: Vec<f64> = (0..steps)
            .map(|i| {
                let v = self.from + (self.to - self.from) * i as f64 / (steps - 1) as f64;
                self.snap(v)
            })
            .collect();
        out.dedup();
        out
    }

    /// A value as the sweep evaluates it: whole for integer ranges, else to 6 decimals (what
    /// the literal carries).
    pub fn snap(&self, v: f64) -> f64 {
        if self.integer {
            v.round()
        } else {
            (v * 1e6).round() / 1e6
        }
    }
}

impl ValueUnit {
    /// The display unit for values of `unit` up to `largest` (base units).
    fn for_range(unit: Unit, largest: f64) -> ValueUnit {
        let (suffix, factor) = match unit {
            Unit::Number => ("", 1.0),
            Unit::Rate => ("/s", 1.0),
            Unit::Duration if largest < 1.0 => ("ms", 1e-3),
            Unit::Duration => ("s", 1.0),
            Unit::Ratio => ("%", 0.01),
            Unit::Multiplier => ("x", 1.0),
            Unit::Size if largest < 1024.0 * 1024.0 => ("KiB", 1024.0),
            Unit::Size => ("MiB", 1024.0 * 1024.0),
            Unit::SizeRate => ("MiB/s", 1024.0 * 1024.0),
        };
        ValueUnit {
            unit,
            suffix,
            factor,
        }
    }

    /// `40/s`, `250ms`, `20%`, `1.5x`, `8`.
    pub fn literal(&self, value: f64) -> String {
        format!("{}{}", quantity::trim(value), self.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<(String, String)> {
        vec![
            ("rate".into(), "80/s".into()),
            ("workers".into(), "4".into()),
            ("timeout".into(), "800ms".into()),
        ]
    }

    #[test]
    fn parses_ranges_with_units_or_the_params_unit() {
        let r = ParamRange::parse("rate=40/s..120/s", &declared()).unwrap();
        assert_eq!(
            (r.from, r.to, r.unit.suffix, r.integer),
            (40.0, 120.0, "/s", false)
        );
        let bare = ParamRange::parse("rate = 40..120", &declared()).unwrap();
        assert_eq!((bare.from, bare.to), (40.0, 120.0));
        let per_min = ParamRange::parse("rate=60/m..2/s", &declared()).unwrap();
        assert_eq!((per_min.from, per_min.to), (1.0, 2.0));
        let t = ParamRange::parse("timeout=100ms..900ms", &declared()).unwrap();
        assert_eq!((t.from, t.to, t.unit.suffix), (100.0, 900.0, "ms"));
        assert_eq!(t.literal(250.5), "250.5ms");
        let w = ParamRange::parse("workers=1..8", &declared()).unwrap();
        assert!(w.integer);
        assert_eq!(w.grid(5), vec![1.0, 3.0, 5.0, 6.0, 8.0]);
        assert_eq!(w.literal(3.0), "3");
    }

    #[test]
    fn rejects_what_it_cannot_sweep() {
        let e = |a: &str| ParamRange::parse(a, &declared()).unwrap_err();
        assert!(matches!(e("rate"), RangeError::Shape(_)));
        assert!(matches!(e("rate=40/s"), RangeError::Shape(_)));
        assert!(matches!(e("rate=fast..120/s"), RangeError::NotAValue(_)));
        assert!(matches!(e("rate=40/s..1s"), RangeError::MixedUnits { .. }));
        assert!(matches!(e("rate=120/s..40/s"), RangeError::Empty(_)));
        assert!(matches!(e("rate=40ms..90ms"), RangeError::WrongUnit { .. }));
        match e("rat=1/s..2/s") {
            RangeError::UnknownParam { declared, .. } => assert_eq!(declared.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn grid_covers_both_ends() {
        let r = ParamRange::parse("rate=40/s..120/s", &declared()).unwrap();
        let g = r.grid(9);
        assert_eq!(g.len(), 9);
        assert_eq!((g[0], g[8], g[4]), (40.0, 120.0, 80.0));
    }
}
