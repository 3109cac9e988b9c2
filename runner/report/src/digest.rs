//! What the report reads of every subject, from one pass over its windows.
//!
//! A report reads each subject's windows several times: summed over `overall` for the
//! endpoint, service, workload and priority tables and for the expectations judged over
//! `overall`, and one by one for the timelines' and charts' quantiles. Decoding a window's
//! buckets costs about as much as using them, so [`Digest::of`] visits each subject's windows
//! once: it sums the `overall` ones into the subject's histogram and reads the quantiles every
//! reader asks for ([`Digest::quantiles_of`]) from each window's buckets on the way. The
//! figures are those of [`crate::evaluate::aggregate`] and [`crate::SparseLatency::quantile_s`],
//! bit for bit (tests compare them).

use chaos_plan::Plan;

use crate::evaluate::{Agg, Span, overall};
use crate::hist::{Latency, Ranks};
use crate::recording::{Cause, Recording};

/// Every subject's `overall` sums and its windows' quantiles.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The timeline windows of `overall`, ascending.
    overall_windows: Vec<usize>,
    /// The quantiles read in every window.
    qs: Vec<f64>,
    subjects: Vec<SubjectDigest>,
}

#[derive(Debug, Clone)]
struct SubjectDigest {
    /// Over `overall`'s windows.
    ok: u64,
    errors: [u64; Cause::COUNT],
    latency: Latency,
    /// Window by window, the `qs` of that window alone: `qs.len()` values a window.
    quantiles: Vec<Option<f64>>,
}

impl Digest {
    /// The quantiles every report reads: the timeline's p50 and p99, and the percentile of
    /// each expectation (its chart reads it window by window).
    pub fn of(plan: &Plan, rec: &Recording) -> Digest {
        let mut qs = vec![0.5, 0.99];
        for e in &plan.expectations {
            // The same division as the chart's, so the lookup finds it.
            if let Some(p) = e.metric.percentile().map(|p| p / 100.0)
                && !qs.contains(&p)
            {
                qs.push(p);
            }
        }
        let span = Span::of(plan, rec);
        let windows = span.windows_in(rec.windows.len(), &[overall(plan)]);
        Digest::with(rec, windows, qs)
    }

    /// Sums `overall_windows` (ascending) of each subject and reads `qs` in every window.
    pub fn with(rec: &Recording, overall_windows: Vec<usize>, qs: Vec<f64>) -> Digest {
        let mut in_overall = vec![false; rec.windows.len()];
        for &i in &overall_windows {
            if let Some(x) = in_overall.get_mut(i) {
                *x = true;
            }
        }
        let mut ranks = Ranks::new(&qs);
        let subjects = (0..rec.subjects.len())
            .map(|s| {
                let mut d = SubjectDigest {
                    ok: 0,
                    errors: [0; Cause::COUNT],
                    latency: Latency::new(),
                    quantiles: Vec::with_capacity(rec.windows.len() * qs.len()),
                };
                for (i, window) in rec.windows.iter().enumerate() {
                    let Some(stats) = window.subjects.get(s) else {
                        d.quantiles.extend(qs.iter().map(|_| None));
                        continue;
                    };
                    if in_overall.get(i).copied().unwrap_or(false) {
                        d.ok += stats.ok;
                        for (a, b) in d.errors.iter_mut().zip(stats.errors) {
                            *a += b;
                        }
                        d.latency.add_sparse_reading(&stats.latency, &mut ranks);
                    } else {
                        stats.latency.read_ranks(&mut ranks);
                    }
                    d.quantiles.extend((0..qs.len()).map(|k| ranks.get(k)));
                }
                d
            })
            .collect();
        Digest {
            overall_windows,
            qs,
            subjects,
        }
    }

    pub fn overall_windows(&self) -> &[usize] {
        &self.overall_windows
    }

    /// `subjects` (and `service`'s samples) summed over `overall`: what
    /// [`crate::evaluate::aggregate`] gives for these windows.
    pub fn overall_agg(
        &self,
        rec: &Recording,
        span: &Span,
        subjects: &[usize],
        service: Option<usize>,
    ) -> Agg {
        let mut agg = Agg::new();
        for &i in &self.overall_windows {
            let Some(w) = rec.windows.get(i) else {
                continue;
            };
            if let Some(sample) = service.and_then(|s| w.services.get(s)) {
                agg.add_sample(sample);
            }
            agg.windows += 1;
            agg.sending_s += span.sending_s(i);
        }
        let mut digests = subjects.iter().filter_map(|&s| self.subjects.get(s));
        let Some(first) = digests.next() else {
            return agg;
        };
        // One subject's histogram is taken as it is; several are merged bucket by bucket
        // (the merged figures are the same as summing their windows).
        agg.latency = first.latency.clone();
        for d in std::iter::once(first).chain(digests.clone()) {
            agg.ok += d.ok;
            for (a, b) in agg.errors.iter_mut().zip(d.errors) {
                *a += b;
            }
        }
        for d in digests {
            agg.latency.add(&d.latency);
        }
        agg
    }

    /// Quantile `q` of `subject`'s window `window` alone, when `q` is one the digest read
    /// (`None` otherwise); the inner `None` when the window has no sample.
    pub fn quantile(&self, subject: usize, window: usize, q: f64) -> Option<Option<f64>> {
        let k = self.qs.iter().position(|&x| x == q)?;
        let d = self.subjects.get(subject)?;
        d.quantiles.get(window * self.qs.len() + k).copied()
    }

    /// [`Digest::quantile`] of several `qs` at once.
    pub fn quantiles_of<const N: usize>(
        &self,
        subject: usize,
        window: usize,
        qs: [f64; N],
    ) -> Option<[Option<f64>; N]> {
        let mut out = [None; N];
        for (o, q) in out.iter_mut().zip(qs) {
            *o = self.quantile(subject, window, q)?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{Resolved, aggregate};
    use crate::hist::SparseLatency;
    use crate::recording::{ServiceSample, Stats, SubjectKey, WindowSample};

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Three subjects over 40 windows: millisecond and second scales, empty windows, a
    /// window with a late sample stored by value, and windows missing a subject's stats.
    fn recording() -> Recording {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let windows = (0..40)
            .map(|i| {
                let n_subjects = if i % 13 == 7 { 2 } else { 3 };
                let subjects = (0..n_subjects)
                    .map(|s| {
                        let mut l = crate::WindowLatency::new();
                        let n = if (i + s) % 9 == 4 {
                            0
                        } else {
                            1 + xorshift(&mut x) % 400
                        };
                        for _ in 0..n {
                            let r = xorshift(&mut x);
                            let scale = [1e-3, 5e-2, 3.0][s % 3];
                            l.record_s((r % 10_000) as f64 / 10_000.0 * scale);
                        }
                        let mut latency: SparseLatency = l.take_sparse();
                        if i == 11 {
                            latency.push_s(0.0123);
                        }
                        let mut errors = [0; Cause::COUNT];
                        errors[(i + s) % Cause::COUNT] = xorshift(&mut x) % 5;
                        Stats {
                            ok: n,
                            errors,
                            latency,
                        }
                    })
                    .collect();
                let services = (0..2)
                    .map(|k| ServiceSample {
                        replicas: 1 + ((i + k) % 4) as u32,
                        max_replicas: 1 + ((i * 7 + k) % 5) as u32,
                        utilisation: 0.1 * (i % 10) as f64,
                        queue_mean: 0.3,
                    })
                    .collect();
                WindowSample {
                    start_s: i as f64,
                    subjects,
                    services,
                }
            })
            .collect();
        let key = |e: &str| SubjectKey::Endpoint {
            service: "a".into(),
            endpoint: e.into(),
        };
        Recording {
            mode: "sim".into(),
            seed: 1,
            window_s: 1.0,
            ended_s: 33.3,
            aborted: None,
            subjects: vec![key("x"), key("y"), key("z")],
            services: vec!["a".into(), "b".into()],
            windows,
            unexpected: Vec::new(),
            hop: None,
        }
    }

    #[test]
    fn overall_sums_are_the_windows_summed() {
        let rec = recording();
        let span = Span {
            window_s: 1.0,
            ended_s: 33.3,
            horizon_s: 40.0,
        };
        let overall: Vec<usize> = (3..37).collect();
        let d = Digest::with(&rec, overall.clone(), vec![0.5, 0.99]);
        let sets: [&[usize]; 6] = [&[0], &[1], &[2], &[0, 2], &[2, 1, 0], &[]];
        for subjects in sets {
            for service in [None, Some(1)] {
                let resolved = Resolved {
                    subjects: subjects.to_vec(),
                    service,
                };
                let want = aggregate(&rec, &span, &overall, &resolved);
                let got = d.overall_agg(&rec, &span, subjects, service);
                let label = format!("{subjects:?} {service:?}");
                assert_eq!((got.ok, got.errors), (want.ok, want.errors), "{label}");
                assert_eq!(got.windows, want.windows, "{label}");
                assert_eq!(got.sending_s.to_bits(), want.sending_s.to_bits(), "{label}");
                assert_eq!(got.max_replicas, want.max_replicas, "{label}");
                let (g, w) = (&got.latency, &want.latency);
                assert_eq!(g.count(), w.count(), "{label}");
                for q in [0.0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
                    assert_eq!(g.quantile_s(q), w.quantile_s(q), "{label} q = {q}");
                }
                assert_eq!(g.mean_s(), w.mean_s(), "{label}");
                assert_eq!((g.min_s(), g.max_s()), (w.min_s(), w.max_s()), "{label}");
                assert_eq!(g.to_sparse(), w.to_sparse(), "{label}");
            }
        }
    }

    #[test]
    fn window_quantiles_are_each_windows_own() {
        let rec = recording();
        let qs = vec![0.5, 0.99, 0.0, 1.0, 0.999];
        let d = Digest::with(&rec, (0..20).collect(), qs.clone());
        for (i, w) in rec.windows.iter().enumerate() {
            for s in 0..3 {
                for &q in &qs {
                    let want = w
                        .subjects
                        .get(s)
                        .and_then(|st| st.latency.to_dense().quantile_s(q));
                    assert_eq!(
                        d.quantile(s, i, q),
                        Some(want),
                        "window {i} subject {s} q {q}"
                    );
                }
                let both = d.quantiles_of(s, i, [0.99, 0.5]);
                assert_eq!(
                    both,
                    Some([0.99, 0.5].map(|q| d.quantile(s, i, q).flatten()))
                );
            }
        }
        assert_eq!(d.quantile(0, 0, 0.95), None, "a quantile not read");
        assert_eq!(d.quantile(0, 99, 0.5), None, "a window past the end");
    }
}
