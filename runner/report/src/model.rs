//! The report model: everything a person or a CI system reads about one run (or many seeds),
//! built once from the plan, the recording and the verdicts; every format renders it.
//!
//! Values are in display units (`ms`, `%`, `/s`, `s`) as the field names say, rounded to
//! fixed decimals so the JSON is stable and readable. Lists keep the plan's order; maps are
//! `BTreeMap`s, so the same input gives byte-identical output.

use std::collections::BTreeMap;

use chaos_plan::{Action, DisplayUnit, Expectation, Load, Metric, Plan, Step, Subject, Target};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::evaluate::{Agg, Observed, Span, Verdict, reads_latency, resolve};
use crate::hist::Latency;
use crate::recording::{Cause, Recording, SubjectKey, UnexpectedEvent};

/// Bumped when a reader of older reports would misread a newer one.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub report_version: u32,
    pub scenario: String,
    pub mode: String,
    pub seed: u64,
    pub passed: bool,
    /// The scenario's planned duration.
    pub duration_s: f64,
    /// When sending stopped: `duration_s`, or the abort time.
    pub ended_s: f64,
    pub warmup_s: f64,
    pub window_s: f64,
    pub drain_s: f64,
    pub aborted: Option<AbortInfo>,
    /// What a real run saw that the scenario did not ask for (an agent that died on its own),
    /// in time order. Absent when there was nothing (always in `--sim`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexpected_events: Vec<UnexpectedEvent>,
    pub params: Vec<ParamInfo>,
    pub expectations: Vec<ExpectationResult>,
    /// `overall` window.
    pub endpoints: Vec<EndpointSummary>,
    /// `overall` window; all endpoints of each service together.
    pub services: Vec<ServiceSummary>,
    /// `overall` window.
    pub workloads: Vec<WorkloadSummary>,
    /// `overall` window: the workloads merged by priority, highest first; only when the
    /// workloads use more than one priority.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_priority: Vec<PrioritySummary>,
    pub faults: Vec<FaultInfo>,
    /// Per window and service, the whole run (drain included).
    pub timeline: Vec<TimelinePoint>,
    /// Per window and workload, the whole run.
    pub workload_timeline: Vec<WorkloadPoint>,
    pub topology: Topology,
    /// `--runs N`: the distribution of every expectation over the seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<crate::multi::RunsSummary>,
    /// The model's network hop and, in a real run, the measured one. Absent when the
    /// scenario has no `hop` and nothing was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<crate::hop::HopInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortInfo {
    pub text: String,
    pub at_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamInfo {
    pub name: String,
    pub value: String,
    pub overridden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub text: String,
    pub passed: bool,
    /// In `unit`; `null` with `note` when there was nothing to measure or no recovery.
    pub observed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub op: String,
    pub threshold: f64,
    pub unit: String,
    pub window: String,
    /// The expectation's metric window by window, so a report can draw it against its
    /// threshold; absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ExpectationChart>,
}

/// What an expectation watched, over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationChart {
    /// `gateway "GET /a"`, `gateway` or `users`.
    pub subject: String,
    /// The unit of `points`: the expectation's own, except for `recovery` (a time), which
    /// plots the error rate in `%` and draws its threshold as a deadline.
    pub unit: String,
    /// The windows the verdict was judged on, clipped to the run as the evaluation clips them.
    pub intervals: Vec<TimeSpan>,
    /// `recovery` only: the fault's end, from which the time to recover counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_from_s: Option<f64>,
    /// `(window start, value in that window alone)`; `null` where there was nothing to measure.
    pub points: Vec<(f64, Option<f64>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

impl LatencyMs {
    pub fn of(l: &Latency) -> LatencyMs {
        let q = |x: f64| l.quantile_s(x).map(ms);
        LatencyMs {
            mean: l.mean_s().map(ms),
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: l.max_s().map(ms),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSummary {
    pub service: String,
    pub endpoint: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_cause: BTreeMap<String, u64>,
    pub error_rate_pct: Option<f64>,
    pub throughput_per_s: Option<f64>,
    pub latency_ms: LatencyMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub service: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_cause: BTreeMap<String, u64>,
    pub error_rate_pct: Option<f64>,
    pub throughput_per_s: Option<f64>,
    pub latency_ms: LatencyMs,
    /// Most replicas serving at any moment of the `overall` windows (warmup excluded): the
    /// number `max_replicas(service)` over `overall` observes.
    pub max_replicas: u32,
    /// Mean over the `overall` windows, `0..=100`.
    pub utilisation_pct: f64,
    pub queue_mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    pub name: String,
    pub target_service: String,
    pub target_endpoint: String,
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_cause: BTreeMap<String, u64>,
    pub error_rate_pct: Option<f64>,
    pub latency_ms: LatencyMs,
}

/// What the clients of every workload of one priority saw, together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrioritySummary {
    pub priority: u8,
    pub workloads: Vec<String>,
    pub requests: u64,
    pub errors: u64,
    pub error_rate_pct: Option<f64>,
    pub latency_ms: LatencyMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    pub name: String,
    /// What it does, e.g. `cpu x4 on payments`.
    pub actions: Vec<String>,
    /// Its `during` window.
    pub active: Vec<TimeSpan>,
}

/// An interval in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeSpan {
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    pub t_s: f64,
    pub service: String,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_cause: BTreeMap<String, u64>,
    pub throughput_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub replicas: u32,
    pub max_replicas: u32,
    pub utilisation_pct: f64,
    pub queue_mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadPoint {
    pub t_s: f64,
    pub workload: String,
    /// Open loop: the planned arrival rate averaged over the window (spikes included).
    pub offered_per_s: Option<f64>,
    /// Closed loop: the number of users at the window's midpoint.
    pub users: Option<f64>,
    pub requests: u64,
    pub errors: u64,
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub services: Vec<TopologyService>,
    /// Caller service → callee service (one edge per pair).
    pub calls: Vec<Edge>,
    /// Workload → its target service.
    pub entries: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyService {
    pub name: String,
    /// `3`, or `3..8` for autoscaling.
    pub replicas: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

/// Rounds to 3 decimals (microseconds when in ms).
pub fn round3(x: f64) -> f64 {
    let r = (x * 1000.0).round() / 1000.0;
    if r == 0.0 { 0.0 } else { r }
}

/// Rounds to 6 decimals.
pub fn round6(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    if r == 0.0 { 0.0 } else { r }
}

fn ms(s: f64) -> f64 {
    round3(s * 1000.0)
}

fn by_cause(errors: &[u64; Cause::COUNT]) -> BTreeMap<String, u64> {
    Cause::ALL
        .iter()
        .filter(|c| errors[c.index()] > 0)
        .map(|c| (c.name().to_string(), errors[c.index()]))
        .collect()
}

/// A verdict's row, in the metric's display unit.
pub fn expectation_result(v: &Verdict) -> ExpectationResult {
    let unit = v.metric.display_unit();
    let (observed, note) = match v.observed {
        Observed::Value(x) => (Some(round6(x * unit.factor())), None),
        Observed::NoData => (None, Some("no data".to_string())),
        Observed::Never => (None, Some("never".to_string())),
    };
    ExpectationResult {
        text: v.text.clone(),
        passed: v.passed,
        observed,
        note,
        op: v.op.symbol().to_string(),
        threshold: round6(v.threshold * unit.factor()),
        unit: unit.symbol().to_string(),
        window: v.window.clone(),
        chart: None,
    }
}

/// The expectation's metric in every timeline window, for [`ExpectationChart`].
fn expectation_chart(
    plan: &Plan,
    rec: &Recording,
    span: &Span,
    e: &Expectation,
    digest: &Digest,
) -> Option<ExpectationChart> {
    let resolved = resolve(plan, &rec.subjects, &rec.services, &e.subject).ok()?;
    let subject = match &e.subject {
        Subject::Endpoint { service, endpoint } => format!("{service} \"{endpoint}\""),
        Subject::Service { service } => service.clone(),
        Subject::Workload { workload } => workload.clone(),
    };
    let (metric, unit) = match e.metric {
        Metric::Recovery => (Metric::ErrorRate, DisplayUnit::Percent),
        m => (m, m.display_unit()),
    };
    let mut agg = Agg::new();
    let points = (0..rec.windows.len())
        .map(|i| {
            agg.reset();
            let (subjects, service) = (&resolved.subjects, resolved.service);
            let v = match (rec.windows.get(i), metric.percentile()) {
                (Some(w), Some(p)) => {
                    let q = p / 100.0;
                    match agg.add_window_for_quantiles(w, subjects, service, span.sending_s(i)) {
                        Some(one) => match &subjects[..] {
                            [s] => digest.quantile(*s, i, q),
                            _ => None,
                        }
                        .unwrap_or_else(|| one.quantile_s(q)),
                        None => agg.metric(metric),
                    }
                }
                (Some(w), None) if !reads_latency(metric) => {
                    agg.add_window_counts(w, subjects, service, span.sending_s(i));
                    agg.metric(metric)
                }
                (Some(w), None) => {
                    agg.add_window(w, subjects, service, span.sending_s(i));
                    agg.metric(metric)
                }
                (None, _) => agg.metric(metric),
            };
            let v = v.map(|v| round6(v * unit.factor()));
            (round6(span.bounds(i).0), v)
        })
        .collect();
    Some(ExpectationChart {
        subject,
        unit: unit.symbol().to_string(),
        intervals: span
            .effective(&e.window.intervals)
            .iter()
            .map(|iv| TimeSpan {
                start_s: round6(iv.start_s),
                end_s: round6(iv.end_s),
            })
            .collect(),
        recovery_from_s: (e.metric == Metric::Recovery)
            .then_some(e.window.recovery_from_s)
            .flatten()
            .map(round6),
        points,
    })
}

/// Builds the report of one run.
pub fn build(plan: &Plan, rec: &Recording, verdicts: &[Verdict]) -> Report {
    build_with(plan, rec, verdicts, &Digest::of(plan, rec))
}

/// [`build`] from the subjects' sums and window quantiles already read ([`Digest::of`]).
pub fn build_with(plan: &Plan, rec: &Recording, verdicts: &[Verdict], digest: &Digest) -> Report {
    let span = Span::of(plan, rec);
    let overall_windows = digest.overall_windows();
    let mut expectations: Vec<ExpectationResult> =
        verdicts.iter().map(expectation_result).collect();
    // Verdicts come in the plan's order, one per expectation.
    for (row, e) in expectations.iter_mut().zip(&plan.expectations) {
        row.chart = expectation_chart(plan, rec, &span, e, digest);
    }
    let passed = rec.aborted.is_none() && verdicts.iter().all(|v| v.passed);

    let agg_of = |subjects: &[usize], service: Option<usize>| {
        digest.overall_agg(rec, &span, subjects, service)
    };

    let mut endpoints = Vec::new();
    let mut workloads = Vec::new();
    for (i, key) in rec.subjects.iter().enumerate() {
        let agg = agg_of(&[i], None);
        match key {
            SubjectKey::Endpoint { service, endpoint } => endpoints.push(EndpointSummary {
                service: service.clone(),
                endpoint: endpoint.clone(),
                requests: agg.requests(),
                ok: agg.ok,
                errors: agg.error_count(),
                errors_by_cause: by_cause(&agg.errors),
                error_rate_pct: agg.error_rate().map(|r| round6(r * 100.0)),
                throughput_per_s: agg.metric(chaos_plan::Metric::Throughput).map(round3),
                latency_ms: LatencyMs::of(&agg.latency),
            }),
            SubjectKey::Workload { workload } => {
                let target = plan.workload(workload).map(|w| w.target.clone());
                workloads.push(WorkloadSummary {
                    name: workload.clone(),
                    target_service: target
                        .as_ref()
                        .map(|t| t.service.clone())
                        .unwrap_or_default(),
                    target_endpoint: target.map(|t| t.endpoint).unwrap_or_default(),
                    sent: agg.requests(),
                    ok: agg.ok,
                    errors: agg.error_count(),
                    errors_by_cause: by_cause(&agg.errors),
                    error_rate_pct: agg.error_rate().map(|r| round6(r * 100.0)),
                    latency_ms: LatencyMs::of(&agg.latency),
                })
            }
        }
    }

    // Workload subjects by priority, highest first.
    let mut priorities: BTreeMap<std::cmp::Reverse<u8>, (Vec<String>, Vec<usize>)> =
        BTreeMap::new();
    for (i, key) in rec.subjects.iter().enumerate() {
        if let SubjectKey::Workload { workload } = key {
            let p = plan.workload(workload).map_or(0, |w| w.priority);
            let entry = priorities.entry(std::cmp::Reverse(p)).or_default();
            entry.0.push(workload.clone());
            entry.1.push(i);
        }
    }
    let by_priority = if priorities.len() > 1 {
        priorities
            .into_iter()
            .map(|(std::cmp::Reverse(priority), (names, subjects))| {
                let agg = agg_of(&subjects, None);
                PrioritySummary {
                    priority,
                    workloads: names,
                    requests: agg.requests(),
                    errors: agg.error_count(),
                    error_rate_pct: agg.error_rate().map(|r| round6(r * 100.0)),
                    latency_ms: LatencyMs::of(&agg.latency),
                }
            })
            .collect()
    } else {
        Vec::new()
    };

    let service_subjects = |name: &str| -> Vec<usize> {
        rec.subjects
            .iter()
            .enumerate()
            .filter(|(_, k)| matches!(k, SubjectKey::Endpoint { service, .. } if service == name))
            .map(|(i, _)| i)
            .collect()
    };

    let mut services = Vec::new();
    for (si, name) in rec.services.iter().enumerate() {
        let subjects = service_subjects(name);
        // The same windows and sum as `max_replicas(service)` over `overall`, so the summary
        // and the expectation can never disagree.
        let agg = agg_of(&subjects, Some(si));
        // Utilisation and queue over the sending period only: the drain would dilute them.
        let samples: Vec<_> = overall_windows
            .iter()
            .filter(|&&w| span.sending_s(w) > 0.0)
            .filter_map(|&w| rec.windows.get(w).and_then(|x| x.services.get(si)))
            .collect();
        let n = samples.len().max(1) as f64;
        services.push(ServiceSummary {
            service: name.clone(),
            requests: agg.requests(),
            ok: agg.ok,
            errors: agg.error_count(),
            errors_by_cause: by_cause(&agg.errors),
            error_rate_pct: agg.error_rate().map(|r| round6(r * 100.0)),
            throughput_per_s: agg.metric(chaos_plan::Metric::Throughput).map(round3),
            latency_ms: LatencyMs::of(&agg.latency),
            max_replicas: agg.max_replicas,
            utilisation_pct: round3(samples.iter().map(|s| s.utilisation).sum::<f64>() / n * 100.0),
            queue_mean: round3(samples.iter().map(|s| s.queue_mean).sum::<f64>() / n),
        });
    }

    let mut timeline = Vec::new();
    let subject_sets: Vec<Vec<usize>> = rec.services.iter().map(|s| service_subjects(s)).collect();
    let mut agg = Agg::new();
    for (wi, window) in rec.windows.iter().enumerate() {
        let (start, end) = span.bounds(wi);
        let width = (end - start).max(f64::MIN_POSITIVE);
        for (si, name) in rec.services.iter().enumerate() {
            agg.reset();
            let subjects = &subject_sets[si];
            let one = agg.add_window_for_quantiles(window, subjects, Some(si), width);
            let [p50, p99] = match (one, &subjects[..]) {
                (Some(l), [s]) => digest
                    .quantiles_of(*s, wi, [0.5, 0.99])
                    .unwrap_or_else(|| l.quantiles_s([0.5, 0.99])),
                (Some(l), _) => l.quantiles_s([0.5, 0.99]),
                (None, _) => [0.5, 0.99].map(|q| agg.latency.quantile_s(q)),
            };
            let sample = window.services.get(si).cloned().unwrap_or_default();
            timeline.push(TimelinePoint {
                t_s: round6(start),
                service: name.clone(),
                requests: agg.requests(),
                errors: agg.error_count(),
                errors_by_cause: by_cause(&agg.errors),
                throughput_per_s: round3(agg.ok as f64 / width),
                p50_ms: p50.map(ms),
                p99_ms: p99.map(ms),
                replicas: sample.replicas,
                max_replicas: sample.max_replicas.max(sample.replicas),
                utilisation_pct: round3(sample.utilisation * 100.0),
                queue_mean: round3(sample.queue_mean),
            });
        }
    }

    let mut workload_timeline = Vec::new();
    for (wi, window) in rec.windows.iter().enumerate() {
        let (start, end) = span.bounds(wi);
        for (i, key) in rec.subjects.iter().enumerate() {
            let SubjectKey::Workload { workload } = key else {
                continue;
            };
            agg.reset();
            let one = agg.add_window_for_quantiles(window, &[i], None, 0.0);
            let p99 = match one {
                Some(l) => digest
                    .quantile(i, wi, 0.99)
                    .unwrap_or_else(|| l.quantile_s(0.99)),
                None => agg.latency.quantile_s(0.99),
            };
            let load = plan.workload(workload).map(|w| &w.load);
            let send_end = end.min(span.ended_s);
            let (offered_per_s, users) = match load {
                Some(Load::Open { rate, spikes, .. }) => {
                    // The rate the arrivals of every mode follow (`chaos_plan::ArrivalTimes`).
                    let r = chaos_plan::RateFn::new(rate, spikes, plan.scenario.duration_s)
                        .mean_over(start, send_end);
                    (Some(round3(r)), None)
                }
                Some(load @ Load::Closed { .. }) => {
                    let mid = start + (end - start) / 2.0;
                    let u = match chaos_plan::UsersRamp::of_load(load) {
                        Some(users) if mid < span.ended_s => users.at(mid),
                        _ => 0.0,
                    };
                    (None, Some(round3(u)))
                }
                None => (None, None),
            };
            workload_timeline.push(WorkloadPoint {
                t_s: round6(start),
                workload: workload.clone(),
                offered_per_s,
                users,
                requests: agg.requests(),
                errors: agg.error_count(),
                p99_ms: p99.map(ms),
            });
        }
    }

    Report {
        report_version: REPORT_VERSION,
        scenario: plan.scenario.name.clone(),
        mode: rec.mode.clone(),
        seed: rec.seed,
        passed,
        duration_s: plan.scenario.duration_s,
        ended_s: round6(rec.ended_s),
        warmup_s: plan.scenario.warmup_s,
        window_s: rec.window_s,
        drain_s: plan.scenario.drain_s,
        aborted: rec.aborted.as_ref().map(|a| AbortInfo {
            text: a.text.clone(),
            at_s: round6(a.at_s),
        }),
        unexpected_events: rec
            .unexpected
            .iter()
            .map(|e| UnexpectedEvent {
                at_s: round6(e.at_s),
                ..e.clone()
            })
            .collect(),
        params: plan
            .params
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                value: p.value.clone(),
                overridden: p.overridden,
            })
            .collect(),
        expectations,
        endpoints,
        services,
        workloads,
        by_priority,
        faults: plan
            .faults
            .iter()
            .map(|f| FaultInfo {
                name: f.name.clone(),
                actions: f.actions.iter().map(describe_action).collect(),
                active: f
                    .active
                    .iter()
                    .map(|iv| TimeSpan {
                        start_s: round6(iv.start_s),
                        end_s: round6(iv.end_s),
                    })
                    .collect(),
            })
            .collect(),
        timeline,
        workload_timeline,
        topology: topology(plan),
        runs: None,
        hop: crate::hop::info(plan.scenario.hop_s, rec),
    }
}

fn target_text(t: &Target) -> String {
    match &t.endpoint {
        Some(e) => format!("{} \"{e}\"", t.service),
        None => t.service.clone(),
    }
}

fn fmt_s(s: f64) -> String {
    if s < 1.0 {
        format!("{}ms", round3(s * 1000.0))
    } else {
        format!("{}s", round3(s))
    }
}

fn describe_action(a: &Action) -> String {
    match a {
        Action::Latency { target, delay } => {
            format!(
                "latency +{} on {}",
                describe_dist(delay),
                target_text(target)
            )
        }
        Action::Errors {
            target,
            ratio,
            status,
        } => format!(
            "errors {}% status {status} on {}",
            round6(ratio * 100.0),
            target_text(target)
        ),
        Action::Kill { count, services } => {
            if services.len() == 1 {
                format!("kill {count} of {}", services.join(""))
            } else {
                format!("kill {count} of random({})", services.join(", "))
            }
        }
        Action::Partition { a, b } => format!("partition {} | {}", a.join(", "), b.join(", ")),
        Action::Cpu { target, factor } => {
            format!("cpu x{} on {}", round6(*factor), target_text(target))
        }
        Action::Loss { target, ratio } => {
            format!("loss {}% on {}", round6(ratio * 100.0), target_text(target))
        }
        Action::Memory {
            service,
            bytes_per_s,
            limit_bytes,
            ..
        } => format!(
            "memory {}MiB/s on {service} limit {}MiB",
            round3(bytes_per_s / 1_048_576.0),
            round3(limit_bytes / 1_048_576.0)
        ),
    }
}

fn describe_dist(d: &chaos_plan::Dist) -> String {
    use chaos_plan::Dist;
    match d {
        Dist::Constant { value_s } => fmt_s(*value_s),
        Dist::Exponential { mean_s } => format!("exponential(mean = {})", fmt_s(*mean_s)),
        Dist::Normal { mean_s, stddev_s } => {
            format!(
                "normal(mean = {}, stddev = {})",
                fmt_s(*mean_s),
                fmt_s(*stddev_s)
            )
        }
        Dist::Lognormal { median_s, p99_s } => {
            format!(
                "lognormal(median = {}, p99 = {})",
                fmt_s(*median_s),
                fmt_s(*p99_s)
            )
        }
        Dist::Uniform { low_s, high_s } => {
            format!("uniform({}, {})", fmt_s(*low_s), fmt_s(*high_s))
        }
        Dist::Pareto { scale_s, shape } => {
            format!("pareto(scale = {}, shape = {shape})", fmt_s(*scale_s))
        }
    }
}

/// The call graph of a plan: who calls whom, and where each workload enters.
pub fn topology(plan: &Plan) -> Topology {
    fn walk(steps: &[Step], out: &mut Vec<String>) {
        for s in steps {
            match s {
                Step::Call(c) => out.push(c.service.clone()),
                Step::Send { service, .. } => out.push(service.clone()),
                Step::Parallel { steps } => walk(steps, out),
                Step::Choice { branches } => branches.iter().for_each(|b| walk(&b.steps, out)),
                Step::Work { .. } | Step::Fail { .. } => {}
            }
        }
    }
    let mut calls = Vec::new();
    for s in &plan.services {
        let mut callees = Vec::new();
        for e in &s.endpoints {
            walk(&e.steps, &mut callees);
        }
        for c in callees {
            let edge = Edge {
                from: s.name.clone(),
                to: c,
            };
            if !calls.contains(&edge) {
                calls.push(edge);
            }
        }
    }
    let mut entries = Vec::new();
    for w in &plan.workloads {
        let edge = Edge {
            from: w.name.clone(),
            to: w.target.service.clone(),
        };
        if !entries.contains(&edge) {
            entries.push(edge);
        }
    }
    Topology {
        services: plan
            .services
            .iter()
            .map(|s| TopologyService {
                name: s.name.clone(),
                replicas: match s.replicas {
                    chaos_plan::Replicas::Fixed { count } => count.to_string(),
                    chaos_plan::Replicas::Autoscale { min, max, .. } => format!("{min}..{max}"),
                },
            })
            .collect(),
        calls,
        entries,
    }
}

impl Report {
    /// Pretty JSON with a final newline; identical input gives identical bytes.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialisation cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn from_json(text: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(text)
    }
}
