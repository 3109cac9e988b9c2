//! The network hop in a report: the model's cost of one hop (`hop` in the scenario, which the
//! simulator adds to every attempt) beside what a real run measured, so a difference between
//! `--sim` and `--local` that comes from the network reads as such.

use serde::{Deserialize, Serialize};

use crate::recording::{MeasuredHop, Recording};
use crate::text::num;
use crate::{Latency, SparseLatency};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopInfo {
    /// The model's hop (`Scenario::hop_s`), in milliseconds.
    pub model_ms: f64,
    /// What the real run measured (absent in `--sim`, whose hops cost exactly the model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<MeasuredHopInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredHopInfo {
    /// Every answered hop, the load generator's and the services' together.
    pub all: Option<HopFigures>,
    /// The load generator's requests to the entry endpoints.
    pub entry: Option<HopFigures>,
    /// Calls and sends between services.
    pub calls: Option<HopFigures>,
}

/// One set of measured hops, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopFigures {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl HopFigures {
    pub fn of(l: &Latency) -> Option<HopFigures> {
        let ms = |s: f64| (s * 1e6).round() / 1e3;
        Some(HopFigures {
            count: l.count(),
            mean_ms: ms(l.mean_s()?),
            p50_ms: ms(l.quantile_s(0.5)?),
            p99_ms: ms(l.quantile_s(0.99)?),
        })
    }
}

/// The report's hop: `None` when the model has none and nothing was measured (a `--sim` run
/// of a scenario without `hop`), so such reports stay as they were.
pub fn info(hop_s: f64, rec: &Recording) -> Option<HopInfo> {
    let measured = rec.hop.as_ref().map(measured);
    (hop_s > 0.0 || measured.is_some()).then(|| HopInfo {
        model_ms: (hop_s * 1e6).round() / 1e3,
        measured,
    })
}

fn measured(h: &MeasuredHop) -> MeasuredHopInfo {
    let dense = |s: &SparseLatency| s.to_dense();
    let mut all = dense(&h.entry);
    all.add_sparse(&h.calls);
    MeasuredHopInfo {
        all: HopFigures::of(&all),
        entry: HopFigures::of(&dense(&h.entry)),
        calls: HopFigures::of(&dense(&h.calls)),
    }
}

/// `hop: model 0.25 ms · measured p50 0.21 ms, p99 0.62 ms, mean 0.24 ms (1,000 load
/// generator → entry, 2,000 service → service)`, one line for the terminal and Markdown.
pub fn line(h: &HopInfo) -> String {
    let model = if h.model_ms > 0.0 {
        format!("model {} ms", num(h.model_ms))
    } else {
        "model 0 ms (the scenario sets no `hop`)".to_string()
    };
    let Some(m) = &h.measured else {
        return format!("hop: {model}, added to every simulated call and request");
    };
    let Some(all) = &m.all else {
        return format!("hop: {model} · measured: no answered hop");
    };
    let count = |f: &Option<HopFigures>| f.as_ref().map_or(0, |f| f.count);
    format!(
        "hop: {model} · measured p50 {} ms, p99 {} ms, mean {} ms ({} load generator → entry, {} service → service)",
        num(all.p50_ms),
        num(all.p99_ms),
        num(all.mean_ms),
        count(&m.entry),
        count(&m.calls),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(hop: Option<MeasuredHop>) -> Recording {
        Recording {
            mode: "local".into(),
            seed: 1,
            window_s: 1.0,
            ended_s: 1.0,
            aborted: None,
            subjects: vec![],
            services: vec![],
            windows: vec![],
            unexpected: vec![],
            hop,
        }
    }

    fn hops(us: &[u64]) -> SparseLatency {
        SparseLatency::from_buckets(us.iter().map(|&u| (u, 1)))
    }

    #[test]
    fn a_sim_run_without_a_hop_reports_none() {
        assert_eq!(info(0.0, &rec(None)), None);
        let h = info(250e-6, &rec(None)).unwrap();
        assert_eq!(h.model_ms, 0.25);
        assert_eq!(
            line(&h),
            "hop: model 0.25 ms, added to every simulated call and request"
        );
    }

    #[test]
    fn a_real_run_reports_both_kinds_of_hop_and_all_of_them() {
        let measured = MeasuredHop {
            entry: hops(&[100, 200]),
            calls: hops(&[300, 400, 500]),
        };
        let h = info(0.0, &rec(Some(measured))).unwrap();
        let m = h.measured.as_ref().unwrap();
        assert_eq!(m.entry.as_ref().unwrap().count, 2);
        assert_eq!(m.calls.as_ref().unwrap().p50_ms, 0.4);
        let all = m.all.as_ref().unwrap();
        assert_eq!((all.count, all.mean_ms, all.p50_ms), (5, 0.3, 0.3));
        assert_eq!(
            line(&h),
            "hop: model 0 ms (the scenario sets no `hop`) · measured p50 0.3 ms, p99 0.5 ms, mean 0.3 ms (2 load generator → entry, 3 service → service)"
        );
    }
}
