//! The run as a whole in the Prometheus text exposition format (the dashboard's `/metrics`):
//! the newest window's figures per workload and service, counters per workload, fault
//! states and expectation values. Pure: an update in, text out.

use std::fmt::Write as _;

use chaos_report::Cause;
use chaos_report::live::{LiveUpdate, Phase, Totals};

const PHASES: [Phase; 6] = [
    Phase::Deploying,
    Phase::Warmup,
    Phase::Running,
    Phase::Draining,
    Phase::CleaningUp,
    Phase::Done,
];

/// Writes one metric family: its HELP and TYPE lines, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (k, (key, v)) in labels.iter().enumerate() {
                if k > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

pub fn render(u: &LiveUpdate, totals: &[Totals]) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    let scenario = u.scenario.as_str();

    f.head(
        "chaos_run_elapsed_seconds",
        "gauge",
        "Seconds since the run's time 0.",
    );
    f.sample(
        "chaos_run_elapsed_seconds",
        &[("scenario", scenario)],
        u.elapsed_s,
    );
    f.head(
        "chaos_run_duration_seconds",
        "gauge",
        "The scenario's duration (sending), without the drain.",
    );
    f.sample(
        "chaos_run_duration_seconds",
        &[("scenario", scenario)],
        u.duration_s,
    );
    f.head(
        "chaos_run_phase",
        "gauge",
        "1 for the phase the run is in, 0 for the others.",
    );
    for p in PHASES {
        let on = if p == u.phase { 1.0 } else { 0.0 };
        f.sample(
            "chaos_run_phase",
            &[
                ("scenario", scenario),
                ("phase", &p.name().replace(' ', "_")),
            ],
            on,
        );
    }

    f.head(
        "chaos_workload_requests_total",
        "counter",
        "Requests of a workload finished so far, as its clients saw them, by outcome (ok or the error's cause).",
    );
    for t in totals {
        f.sample(
            "chaos_workload_requests_total",
            &[("workload", &t.name), ("outcome", "ok")],
            t.ok as f64,
        );
        for c in Cause::ALL {
            let n = t.errors[c.index()];
            if n > 0 {
                f.sample(
                    "chaos_workload_requests_total",
                    &[("workload", &t.name), ("outcome", c.name())],
                    n as f64,
                );
            }
        }
    }

    if let Some(w) = &u.window {
        f.head(
            "chaos_window_end_seconds",
            "gauge",
            "End of the newest window read, in seconds of the run; the window gauges below are of it.",
        );
        f.sample(
            "chaos_window_end_seconds",
            &[("scenario", scenario)],
            w.end_s,
        );
        f.head(
            "chaos_workload_rate_per_second",
            "gauge",
            "Requests per second of a workload over the newest window.",
        );
        for x in &w.workloads {
            f.sample(
                "chaos_workload_rate_per_second",
                &[("workload", &x.name)],
                x.rate_per_s,
            );
        }
        f.head(
            "chaos_workload_error_ratio",
            "gauge",
            "Failed requests over requests of a workload in the newest window (absent without requests).",
        );
        for x in &w.workloads {
            if let Some(r) = x.error_rate {
                f.sample("chaos_workload_error_ratio", &[("workload", &x.name)], r);
            }
        }
        f.head(
            "chaos_workload_latency_p99_seconds",
            "gauge",
            "99th percentile latency of a workload's requests in the newest window.",
        );
        for x in &w.workloads {
            if let Some(ms) = x.p99_ms {
                f.sample(
                    "chaos_workload_latency_p99_seconds",
                    &[("workload", &x.name)],
                    ms / 1000.0,
                );
            }
        }
        f.head(
            "chaos_service_rate_per_second",
            "gauge",
            "Attempts per second at a service's endpoints (every caller) in the newest window.",
        );
        for s in &w.services {
            f.sample(
                "chaos_service_rate_per_second",
                &[("service", &s.name)],
                s.rate_per_s,
            );
        }
        f.head(
            "chaos_service_errors",
            "gauge",
            "Failed attempts at a service's endpoints in the newest window, by cause.",
        );
        for s in &w.services {
            for (cause, n) in &s.errors_by_cause {
                f.sample(
                    "chaos_service_errors",
                    &[("service", &s.name), ("cause", cause)],
                    *n as f64,
                );
            }
        }
        f.head(
            "chaos_service_latency_seconds",
            "gauge",
            "Latency percentiles (50, 90, 99) of attempts at a service's endpoints in the newest window.",
        );
        for s in &w.services {
            for (q, v) in [("50", s.p50_ms), ("90", s.p90_ms), ("99", s.p99_ms)] {
                if let Some(ms) = v {
                    f.sample(
                        "chaos_service_latency_seconds",
                        &[("service", &s.name), ("percentile", q)],
                        ms / 1000.0,
                    );
                }
            }
        }
        f.head(
            "chaos_service_replicas",
            "gauge",
            "Replicas serving at the end of the newest window.",
        );
        for s in &w.services {
            f.sample(
                "chaos_service_replicas",
                &[("service", &s.name)],
                f64::from(s.replicas),
            );
        }
        f.head(
            "chaos_service_utilisation_ratio",
            "gauge",
            "Busy worker-time over available worker-time in the newest window.",
        );
        for s in &w.services {
            f.sample(
                "chaos_service_utilisation_ratio",
                &[("service", &s.name)],
                s.utilisation_pct / 100.0,
            );
        }
    }

    f.head(
        "chaos_fault_active",
        "gauge",
        "1 while a fault is in force, 0 otherwise.",
    );
    for x in &u.faults {
        f.sample(
            "chaos_fault_active",
            &[("fault", &x.name)],
            if x.active { 1.0 } else { 0.0 },
        );
    }

    f.head(
        "chaos_expectation_value",
        "gauge",
        "An expectation's value on the windows read so far, in the unit of its threshold (absent while there is nothing to judge).",
    );
    for e in &u.expectations {
        if let Some(v) = e.observed {
            f.sample(
                "chaos_expectation_value",
                &[("expectation", &e.text), ("unit", &e.unit)],
                v,
            );
        }
    }
    f.head(
        "chaos_expectation_threshold",
        "gauge",
        "An expectation's threshold.",
    );
    for e in &u.expectations {
        f.sample(
            "chaos_expectation_threshold",
            &[("expectation", &e.text), ("unit", &e.unit)],
            e.threshold,
        );
    }
    f.head(
        "chaos_expectation_holding",
        "gauge",
        "1 while an expectation holds on the windows read so far, 0 when it fails (absent while waiting).",
    );
    for e in &u.expectations {
        let v = match e.status.as_str() {
            "holding" => 1.0,
            "failing" => 0.0,
            _ => continue,
        };
        f.sample("chaos_expectation_holding", &[("expectation", &e.text)], v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            escape(r#"p99(api "GET /a\b")"#),
            r#"p99(api \"GET /a\\b\")"#
        );
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(2.5), "2.5");
    }
}
