//! The plan's autoscale rule, as in simulation and local mode (`runner/sim`, `runner/local`):
//! `desired = ceil(current × utilisation / target)`, clamped to `min..=max`.

/// Replicas wanted after an interval with `utilisation` (busy over available worker-time).
pub(crate) fn desired(current: u32, utilisation: f64, target: f64, min: u32, max: u32) -> u32 {
    let want = if target > 0.0 && utilisation.is_finite() {
        (f64::from(current) * utilisation / target - 1e-9)
            .ceil()
            .max(0.0)
    } else {
        f64::from(current)
    };
    (want.min(f64::from(u32::MAX)) as u32).clamp(min, max.max(min))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_same_rule_as_sim_and_local() {
        assert_eq!(desired(3, 0.70, 0.70, 3, 8), 3);
        assert_eq!(desired(3, 1.0, 0.70, 3, 8), 5);
        assert_eq!(desired(4, 0.1, 0.70, 3, 8), 3, "clamped to min");
        assert_eq!(desired(8, 1.0, 0.5, 3, 8), 8, "clamped to max");
        assert_eq!(desired(5, 0.35, 0.70, 1, 8), 3);
        assert_eq!(desired(2, f64::NAN, 0.5, 1, 8), 2, "no measure: unchanged");
    }
}
