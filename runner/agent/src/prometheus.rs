//! `GET /metrics`: what the agent measured, in the Prometheus text exposition format 0.0.4.
//!
//! Written by hand: eleven families of counters, gauges and histograms do not earn a
//! registry crate, and keeping the figures in [`crate::metrics::Metrics`] means the JSON the
//! runner reads and what Prometheus scrapes cannot disagree. Nothing here is secret: the
//! token, fault ids and peer URLs are never written, and the endpoint is read-only.

use std::collections::BTreeMap;
use std::fmt::Write;

use chaos_plan::{Action, Step};
use chaos_report::Cause;

use crate::server::Agent;

/// The `Content-Type` Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (`le`) of the latency histograms, in seconds: a millisecond to half a minute,
/// about three per decade, so both a cache hit and a timed-out call land in a bucket that
/// tells them apart.
pub const BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every fault action an agent can hold, so `chaos_faults_active` has a series (at 0) for
/// each from the first scrape: `rate()` and alerts then see a fault start, not a new series.
pub const ACTIONS: [&str; 7] = [
    "latency",
    "errors",
    "kill",
    "partition",
    "cpu",
    "loss",
    "memory",
];

pub fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Latency { .. } => "latency",
        Action::Errors { .. } => "errors",
        Action::Kill { .. } => "kill",
        Action::Partition { .. } => "partition",
        Action::Cpu { .. } => "cpu",
        Action::Loss { .. } => "loss",
        Action::Memory { .. } => "memory",
    }
}

/// A latency histogram with Prometheus' fixed buckets, kept beside the HDR one because
/// HDR bucket bounds do not fall on `le` values (a 25.001 ms sample shares a bucket with
/// 24.992 ms), and Prometheus needs the exact sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Samples per bucket, not cumulative; the last one holds those above every bound.
    pub counts: [u64; BUCKETS_S.len() + 1],
    pub sum_s: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        let s = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            f64::MAX
        };
        self.counts[BUCKETS_S.partition_point(|b| *b < s)] += 1;
        self.sum_s += s;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Finished attempts of one subject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub errors: BTreeMap<Cause, u64>,
    pub latency: Histogram,
}

/// One agent's figures at one instant, ready to be written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub service: String,
    pub replica: String,
    /// Unix time the agent process started.
    pub start_time_s: f64,
    pub workers: u32,
    pub queue_capacity: Option<u32>,
    pub busy_now: u32,
    pub waiting_now: u32,
    /// Worker-seconds spent serving since start.
    pub busy_s: f64,
    pub memory_bytes: u64,
    /// By endpoint of this service.
    pub received: BTreeMap<String, Counts>,
    /// By (callee service, endpoint).
    pub sent: BTreeMap<(String, String), Counts>,
    pub in_flight: BTreeMap<String, u64>,
    /// Installed faults by action.
    pub faults: BTreeMap<&'static str, u64>,
}

/// The agent's figures, with every endpoint it serves and every endpoint it calls present
/// from the start (at zero) so that rates over the first requests are not lost.
pub fn view(agent: &Agent) -> View {
    let mut v = View {
        service: agent.service.name.clone(),
        replica: agent.replica.clone(),
        workers: agent.service.workers,
        queue_capacity: agent.service.queue,
        memory_bytes: agent.faults.memory_held(),
        ..View::default()
    };
    for e in &agent.service.endpoints {
        v.received.insert(e.name.clone(), Counts::default());
        v.in_flight.insert(e.name.clone(), 0);
        walk_calls(&e.steps, &mut |s, e| {
            v.sent
                .insert((s.to_string(), e.to_string()), Counts::default());
        });
    }
    for a in ACTIONS {
        v.faults.insert(a, 0);
    }
    for f in agent.faults.list() {
        *v.faults.entry(action_name(&f.action)).or_default() += 1;
    }
    agent.metrics.fill(&mut v);
    v
}

fn walk_calls(steps: &[Step], f: &mut impl FnMut(&str, &str)) {
    for s in steps {
        match s {
            Step::Call(c) => f(&c.service, &c.endpoint),
            Step::Parallel { steps } => walk_calls(steps, f),
            Step::Choice { branches } => branches.iter().for_each(|b| walk_calls(&b.steps, f)),
            _ => {}
        }
    }
}

/// Writes the exposition: one `# HELP` and `# TYPE` per family, then its samples.
pub fn render(v: &View) -> String {
    let mut o = Out(String::with_capacity(16 * 1024));
    let base = [
        ("service", v.service.as_str()),
        ("replica", v.replica.as_str()),
    ];

    o.family(
        "chaos_requests_total",
        "counter",
        "Requests this replica answered, by endpoint (successes and errors).",
    );
    for (e, c) in &v.received {
        o.sample(
            "chaos_requests_total",
            &[base[0], base[1], ("endpoint", e)],
            c.latency.count(),
        );
    }
    o.family(
        "chaos_request_errors_total",
        "counter",
        "Requests this replica answered with an error, by endpoint and cause.",
    );
    for (e, c) in &v.received {
        o.errors(
            "chaos_request_errors_total",
            &[base[0], base[1], ("endpoint", e)],
            c,
        );
    }
    o.family(
        "chaos_request_duration_seconds",
        "histogram",
        "Time from receiving a request to answering it, by endpoint.",
    );
    for (e, c) in &v.received {
        o.histogram(
            "chaos_request_duration_seconds",
            &[base[0], base[1], ("endpoint", e)],
            &c.latency,
        );
    }

    o.family(
        "chaos_outbound_requests_total",
        "counter",
        "Call attempts this replica made, by callee service and endpoint (each retry counts).",
    );
    for ((s, e), c) in &v.sent {
        o.sample(
            "chaos_outbound_requests_total",
            &[base[0], base[1], ("callee", s), ("endpoint", e)],
            c.latency.count(),
        );
    }
    o.family(
        "chaos_outbound_request_errors_total",
        "counter",
        "Call attempts this replica made that failed, by callee service, endpoint and cause.",
    );
    for ((s, e), c) in &v.sent {
        o.errors(
            "chaos_outbound_request_errors_total",
            &[base[0], base[1], ("callee", s), ("endpoint", e)],
            c,
        );
    }
    o.family(
        "chaos_outbound_request_duration_seconds",
        "histogram",
        "Time each call attempt took as the caller saw it, by callee service and endpoint.",
    );
    for ((s, e), c) in &v.sent {
        o.histogram(
            "chaos_outbound_request_duration_seconds",
            &[base[0], base[1], ("callee", s), ("endpoint", e)],
            &c.latency,
        );
    }

    o.family(
        "chaos_requests_in_flight",
        "gauge",
        "Requests received and not yet answered (waiting, served or held by a fault).",
    );
    for (e, n) in &v.in_flight {
        o.sample(
            "chaos_requests_in_flight",
            &[base[0], base[1], ("endpoint", e)],
            *n,
        );
    }
    o.gauge(
        "chaos_queue_length",
        "Requests waiting for a worker.",
        &base,
        v.waiting_now,
    );
    if let Some(q) = v.queue_capacity {
        o.gauge(
            "chaos_queue_capacity",
            "Requests that may wait for a worker before more are rejected.",
            &base,
            q,
        );
    }
    o.gauge(
        "chaos_workers",
        "Workers of this replica.",
        &base,
        v.workers,
    );
    o.gauge(
        "chaos_workers_busy",
        "Workers serving a request now.",
        &base,
        v.busy_now,
    );
    o.family(
        "chaos_worker_busy_seconds_total",
        "counter",
        "Worker-seconds spent serving; its rate over chaos_workers is the utilisation.",
    );
    o.sample("chaos_worker_busy_seconds_total", &base, v.busy_s);
    o.family(
        "chaos_faults_active",
        "gauge",
        "Faults installed in this replica now, by action.",
    );
    for (a, n) in &v.faults {
        o.sample(
            "chaos_faults_active",
            &[base[0], base[1], ("action", a)],
            *n,
        );
    }
    o.gauge(
        "chaos_memory_fault_bytes",
        "Bytes held by memory faults.",
        &base,
        v.memory_bytes,
    );
    o.gauge(
        "chaos_agent_start_time_seconds",
        "Unix time this agent process started.",
        &base,
        v.start_time_s,
    );
    o.0
}

/// A sample value as the text format writes it.
trait Value {
    fn write(&self, s: &mut String);
}

impl Value for u64 {
    fn write(&self, s: &mut String) {
        let _ = write!(s, "{self}");
    }
}

impl Value for u32 {
    fn write(&self, s: &mut String) {
        let _ = write!(s, "{self}");
    }
}

impl Value for f64 {
    fn write(&self, s: &mut String) {
        if self.is_nan() {
            s.push_str("NaN");
        } else if self.is_infinite() {
            s.push_str(if *self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            // Rust's shortest round-trip form, never an exponent: Go's ParseFloat reads it.
            let _ = write!(s, "{self}");
        }
    }
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape(help, false));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Value) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v, true));
            }
            self.0.push('}');
        }
        self.0.push(' ');
        value.write(&mut self.0);
        self.0.push('\n');
    }

    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: impl Value) {
        self.family(name, "gauge", help);
        self.sample(name, labels, value);
    }

    /// Every cause, zeros included, for the same reason as [`ACTIONS`].
    fn errors(&mut self, name: &str, labels: &[(&str, &str)], c: &Counts) {
        for cause in Cause::ALL {
            let mut l = labels.to_vec();
            l.push(("cause", cause.name()));
            self.sample(name, &l, c.errors.get(&cause).copied().unwrap_or(0));
        }
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (i, n) in h.counts.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS_S
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| format!("{b}"));
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.sample(&bucket, &l, cumulative);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_s);
        self.sample(&format!("{name}_count"), labels, cumulative);
    }
}

/// Label values escape `\`, `"` and newlines; help text only `\` and newlines.
fn escape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_view() -> View {
        let mut h = Histogram::default();
        for s in [0.0005, 0.001, 0.02, 0.3, 40.0] {
            h.observe(s);
        }
        let mut errors = BTreeMap::new();
        errors.insert(Cause::Injected, 2);
        let mut received = BTreeMap::new();
        received.insert(
            "GET /a \"quoted\"\\path".to_string(),
            Counts { errors, latency: h },
        );
        View {
            service: "shop".into(),
            replica: "shop-0".into(),
            start_time_s: 1_700_000_000.5,
            workers: 4,
            queue_capacity: Some(10),
            busy_now: 1,
            waiting_now: 2,
            busy_s: 0.25,
            received,
            ..View::default()
        }
    }

    #[test]
    fn le_bounds_are_inclusive_and_the_last_bucket_takes_the_rest() {
        let mut h = Histogram::default();
        h.observe(0.001);
        h.observe(0.0010001);
        h.observe(30.0);
        h.observe(31.0);
        h.observe(f64::NAN);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[BUCKETS_S.len() - 1], 1);
        assert_eq!(h.counts[BUCKETS_S.len()], 2);
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let text = render(&sample_view());
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("chaos_request_duration_seconds"))
            .collect();
        let endpoint = r#"endpoint="GET /a \"quoted\"\\path""#;
        assert_eq!(
            lines[0],
            format!(
                r#"chaos_request_duration_seconds_bucket{{service="shop",replica="shop-0",{endpoint},le="0.001"}} 2"#
            )
        );
        assert!(lines[5].ends_with(r#"le="0.05"} 3"#), "{}", lines[5]);
        assert!(lines[8].ends_with(r#"le="0.5"} 4"#), "{}", lines[8]);
        assert!(lines[13].ends_with(r#"le="30"} 4"#), "{}", lines[13]);
        assert!(lines[14].ends_with(r#"le="+Inf"} 5"#), "{}", lines[14]);
        assert!(lines[15].starts_with("chaos_request_duration_seconds_sum{"));
        assert!(lines[15].ends_with("} 40.3215"), "{}", lines[15]);
        assert!(lines[16].ends_with("} 5"), "{}", lines[16]);
        assert_eq!(lines.len(), 17);
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples_and_errors_list_every_cause() {
        let text = render(&sample_view());
        let mut typed: Vec<(String, String)> = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let (n, k) = rest.split_once(' ').unwrap_or((rest, ""));
                assert!(
                    typed.iter().all(|(t, _)| t != n),
                    "{n} typed twice:\n{text}"
                );
                typed.push((n.to_string(), k.to_string()));
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap_or("");
                let (family, kind) = typed
                    .last()
                    .map(|(n, k)| (n.as_str(), k.as_str()))
                    .unwrap_or_default();
                let ok = name == family
                    || (kind == "histogram"
                        && [
                            format!("{family}_bucket"),
                            format!("{family}_sum"),
                            format!("{family}_count"),
                        ]
                        .contains(&name.to_string()));
                assert!(ok, "{name} under # TYPE {family}:\n{text}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "{name}");
                }
            }
        }
        assert!(text.ends_with('\n'));
        let causes = text
            .lines()
            .filter(|l| l.starts_with("chaos_request_errors_total{"))
            .count();
        assert_eq!(causes, Cause::ALL.len());
        assert!(text.contains(r#"cause="injected"} 2"#), "{text}");
        assert!(text.contains(
            "chaos_agent_start_time_seconds{service=\"shop\",replica=\"shop-0\"} 1700000000.5\n"
        ));
        assert!(text.contains("chaos_queue_capacity{service=\"shop\",replica=\"shop-0\"} 10\n"));
    }

    #[test]
    fn escapes_what_the_format_requires() {
        assert_eq!(escape("a\\b\"c\nd", true), "a\\\\b\\\"c\\nd");
        assert_eq!(escape("a\\b\"c\nd", false), "a\\\\b\"c\\nd");
    }
}
