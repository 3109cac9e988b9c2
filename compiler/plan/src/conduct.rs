//! The conductor of real runs: what is due next, and in which order at one instant.
//!
//! A sans-IO state machine built from the plan. It owns no clock: the runner asks when the
//! next decision is due ([`Conductor::next_due`]), sleeps until then on its own clock, and
//! takes every decision due by now ([`Conductor::poll`]), which it carries out (installs a
//! fault on agents or Pods, reads metrics, scales a Deployment...). What only the runner can
//! observe comes back as input: an `abort when` that fired ([`Conductor::abort`]).
//! `--local` and `--cluster` carry out the same decisions in the same order, and the
//! simulator orders its fault events by the same [`fault_edges`].
//!
//! The rule at one instant, in this order:
//! 1. the window that ends now is read, then aborts are checked on it: a window covers
//!    `[start, end)`, so nothing that happens at its end instant belongs to it (the simulator
//!    closes windows before the events at their end);
//! 2. faults ending now are reverted, in declaration order (fault, then occurrence), so
//!    back-to-back faults never overlap;
//! 3. faults starting now start, in declaration order; an occurrence's kills come first, in
//!    action order, then its timed actions;
//! 4. autoscaled services tick, in declaration order (on the figures up to now);
//! 5. at `duration` the load stops.

use std::collections::{BTreeSet, VecDeque};

use crate::{Action, Plan, ReplicaSubset, Replicas, pick_replicas};

/// What the runner must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Read what was measured in timeline window `window` (it just ended).
    ReadWindow { window: usize },
    /// Check the plan's `abort when` on window `window`; report a firing with
    /// [`Conductor::abort`].
    CheckAbort { window: usize },
    /// Remove this occurrence's timed actions from wherever they were installed.
    RevertFault { fault: usize, occurrence: usize },
    /// Kill `count` live replicas of `service` (an index into `plan.services`): the kill
    /// action `action` of this occurrence. The replicas are the runner's pick.
    Kill {
        fault: usize,
        occurrence: usize,
        action: usize,
        service: usize,
        count: u32,
    },
    /// Install this occurrence's timed actions (every action but kills).
    StartFault { fault: usize, occurrence: usize },
    /// Apply the service's scale rule ([`crate::ScaleRule::desired`]) on its utilisation
    /// since the previous tick.
    Autoscale { service: usize },
    /// The load stops: at `duration`, or at once after an abort (`aborted`). The run ends
    /// when in-flight requests have drained.
    Stop { aborted: bool },
}

/// A decision and the instant (seconds from time 0) it was due at; the runner may be late.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Due {
    pub at_s: f64,
    pub decision: Decision,
}

/// A fault occurrence's start or end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    // Declared before `Start`: at one instant, ends come first.
    End,
    Start,
}

/// One start or end of one fault occurrence, at its planned instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultEdge {
    pub at_s: f64,
    pub kind: EdgeKind,
    pub fault: usize,
    pub occurrence: usize,
}

/// Every start and end of every fault occurrence, in the order every mode carries them
/// out: by time, then ends before starts, then fault, then occurrence. `faults` gives, per
/// fault in declaration order, its occurrences as `(start, end)`; an instant fault (a kill,
/// `end == start`) has no end.
pub fn fault_edges<F, O>(faults: F) -> Vec<FaultEdge>
where
    F: IntoIterator<Item = O>,
    O: IntoIterator<Item = (f64, f64)>,
{
    let mut edges = Vec::new();
    for (fault, occurrences) in faults.into_iter().enumerate() {
        for (occurrence, (start, end)) in occurrences.into_iter().enumerate() {
            edges.push(FaultEdge {
                at_s: start,
                kind: EdgeKind::Start,
                fault,
                occurrence,
            });
            if end > start {
                edges.push(FaultEdge {
                    at_s: end,
                    kind: EdgeKind::End,
                    fault,
                    occurrence,
                });
            }
        }
    }
    edges.sort_by(|a, b| {
        a.at_s
            .total_cmp(&b.at_s)
            .then(a.kind.cmp(&b.kind))
            .then(a.fault.cmp(&b.fault))
            .then(a.occurrence.cmp(&b.occurrence))
    });
    edges
}

/// The service a kill `action` of this occurrence hits among its `candidates` (`random(a,
/// b)`): a seeded pick, the same in `--local` and `--cluster` for the same seed.
pub fn kill_candidate(
    seed: u64,
    fault: &str,
    occurrence: usize,
    action: usize,
    candidates: usize,
) -> usize {
    pick_replicas(
        seed,
        fault,
        occurrence,
        action,
        u32::try_from(candidates).unwrap_or(u32::MAX),
        ReplicaSubset::Count { count: 1 },
    )
    .first()
    .map_or(0, |&k| k as usize)
}

/// A kill action of a fault, resolved to service indices.
#[derive(Debug, Clone)]
struct KillAction {
    action: usize,
    count: u32,
    candidates: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Tick {
    service: usize,
    interval_s: f64,
    next_s: f64,
}

/// Ranks of the kinds of decisions at one instant (see the module's rule).
const RANK_WINDOW: u8 = 0;
const RANK_END: u8 = 1;
const RANK_START: u8 = 2;
const RANK_AUTOSCALE: u8 = 3;
const RANK_STOP: u8 = 4;

/// What comes next on the agenda, before it is expanded into decisions.
#[derive(Debug, Clone, Copy)]
enum Next {
    Window(usize),
    Edge(usize),
    Tick(usize),
    Stop,
}

/// The sans-IO conductor of one run (see the module documentation).
#[derive(Debug, Clone)]
pub struct Conductor {
    seed: u64,
    names: Vec<String>,
    /// Per fault: its occurrences' `(start, end)`.
    occurrences: Vec<Vec<(f64, f64)>>,
    /// Per fault: its kill actions.
    kills: Vec<Vec<KillAction>>,
    edges: Vec<FaultEdge>,
    next_edge: usize,
    window_s: f64,
    horizon_s: f64,
    duration_s: f64,
    windows: usize,
    next_window: usize,
    ticks: Vec<Tick>,
    stopped: bool,
    aborted: bool,
    /// Occurrences started and not reverted, in declaration order.
    active: BTreeSet<(usize, usize)>,
    /// Decisions already due, in order (an expanded start, a check after a read, an abort).
    pending: VecDeque<Due>,
}

impl Conductor {
    /// The conductor of `plan`; `seed` picks the service of `random(a, b)` kills.
    pub fn new(plan: &Plan, seed: u64) -> Conductor {
        let service = |name: &String| plan.services.iter().position(|s| &s.name == name);
        let kills = plan
            .faults
            .iter()
            .map(|f| {
                f.actions
                    .iter()
                    .enumerate()
                    .filter_map(|(action, a)| match a {
                        Action::Kill { count, services } => Some(KillAction {
                            action,
                            count: *count,
                            candidates: services.iter().filter_map(service).collect(),
                        }),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let occurrences: Vec<Vec<(f64, f64)>> = plan
            .faults
            .iter()
            .map(|f| f.occurrences.iter().map(|o| (o.start_s, o.end_s)).collect())
            .collect();
        let edges = fault_edges(occurrences.iter().map(|o| o.iter().copied()));
        let window_s = plan.scenario.window_s;
        let horizon_s = plan.horizon_s();
        // As the simulator counts them: the last window may end early, at the horizon.
        let windows = if window_s > 0.0 {
            ((horizon_s / window_s).ceil().max(1.0)) as usize
        } else {
            0
        };
        let ticks = plan
            .services
            .iter()
            .enumerate()
            .filter_map(|(service, s)| match s.replicas {
                Replicas::Autoscale { interval_s, .. } if interval_s > 0.0 => Some(Tick {
                    service,
                    interval_s,
                    next_s: interval_s,
                }),
                _ => None,
            })
            .collect();
        Conductor {
            seed,
            names: plan.faults.iter().map(|f| f.name.clone()).collect(),
            occurrences,
            kills,
            edges,
            next_edge: 0,
            window_s,
            horizon_s,
            duration_s: plan.scenario.duration_s,
            windows,
            next_window: 0,
            ticks,
            stopped: false,
            aborted: false,
            active: BTreeSet::new(),
            pending: VecDeque::new(),
        }
    }

    /// When the next decision is due (seconds from time 0), or `None` when nothing is left.
    /// Decisions already due are due at their own (past) instant.
    pub fn next_due(&self) -> Option<f64> {
        if let Some(d) = self.pending.front() {
            return Some(d.at_s);
        }
        self.peek().map(|(t, _, _)| t)
    }

    /// The next decision due at or before `now`, in the rule's order; `None` when the next
    /// one is later (ask [`Conductor::next_due`] when).
    pub fn poll(&mut self, now_s: f64) -> Option<Due> {
        if let Some(d) = self.pending.pop_front() {
            return Some(d);
        }
        let (at_s, _, next) = self.peek()?;
        if at_s > now_s {
            return None;
        }
        self.expand(at_s, next);
        self.pending.pop_front()
    }

    /// The plan's `abort when` fired at `now`: every fault in force is reverted (declaration
    /// order), nothing more starts, and the load stops. Windows are still read and
    /// autoscaling goes on while in-flight requests drain.
    pub fn abort(&mut self, now_s: f64) {
        if self.aborted {
            return;
        }
        self.aborted = true;
        // Nothing else due at this instant and still queued may start a fault.
        self.pending.retain(|d| {
            !matches!(
                d.decision,
                Decision::Kill { .. } | Decision::StartFault { .. }
            )
        });
        for (fault, occurrence) in std::mem::take(&mut self.active) {
            self.pending.push_back(Due {
                at_s: now_s,
                decision: Decision::RevertFault { fault, occurrence },
            });
        }
        if !self.stopped {
            self.stopped = true;
            self.pending.push_back(Due {
                at_s: now_s,
                decision: Decision::Stop { aborted: true },
            });
        }
    }

    /// Whether an abort was reported.
    pub fn aborted(&self) -> bool {
        self.aborted
    }

    /// Whether the load was told to stop (at `duration`, or by an abort).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Fault occurrences in force (started, not yet reverted), in declaration order.
    pub fn active(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.active.iter().copied()
    }

    /// The earliest item on the agenda: its instant, rank and what it is.
    fn peek(&self) -> Option<(f64, u8, Next)> {
        let mut best: Option<(f64, u8, usize, Next)> = None;
        let mut offer = |t: f64, rank: u8, index: usize, next: Next| {
            let earlier = best.is_none_or(|(bt, br, bi, _)| {
                t.total_cmp(&bt)
                    .then(rank.cmp(&br))
                    .then(index.cmp(&bi))
                    .is_lt()
            });
            if earlier {
                best = Some((t, rank, index, next));
            }
        };
        if self.next_window < self.windows {
            offer(
                self.window_end(self.next_window),
                RANK_WINDOW,
                0,
                Next::Window(self.next_window),
            );
        }
        if !self.aborted
            && let Some(e) = self.edges.get(self.next_edge)
        {
            let rank = match e.kind {
                EdgeKind::End => RANK_END,
                EdgeKind::Start => RANK_START,
            };
            offer(e.at_s, rank, 0, Next::Edge(self.next_edge));
        }
        for (i, tick) in self.ticks.iter().enumerate() {
            if tick.next_s < self.horizon_s {
                offer(tick.next_s, RANK_AUTOSCALE, tick.service, Next::Tick(i));
            }
        }
        if !self.stopped {
            offer(self.duration_s, RANK_STOP, 0, Next::Stop);
        }
        best.map(|(t, rank, _, next)| (t, rank, next))
    }

    /// End of window `k`, exactly as the simulator computes it (equal instants must compare
    /// equal in both).
    fn window_end(&self, k: usize) -> f64 {
        ((k + 1) as f64 * self.window_s).min(self.horizon_s)
    }

    /// Takes `next` off the agenda and queues the decisions it stands for.
    fn expand(&mut self, at_s: f64, next: Next) {
        let due = |decision| Due { at_s, decision };
        match next {
            Next::Window(window) => {
                self.next_window += 1;
                self.pending.push_back(due(Decision::ReadWindow { window }));
                if !self.aborted {
                    self.pending.push_back(due(Decision::CheckAbort { window }));
                }
            }
            Next::Edge(i) => {
                self.next_edge += 1;
                let e = self.edges[i];
                let (fault, occurrence) = (e.fault, e.occurrence);
                match e.kind {
                    EdgeKind::End => {
                        if self.active.remove(&(fault, occurrence)) {
                            self.pending
                                .push_back(due(Decision::RevertFault { fault, occurrence }));
                        }
                    }
                    EdgeKind::Start => {
                        for k in &self.kills[fault] {
                            if k.candidates.is_empty() {
                                continue;
                            }
                            let pick = kill_candidate(
                                self.seed,
                                &self.names[fault],
                                occurrence,
                                k.action,
                                k.candidates.len(),
                            );
                            self.pending.push_back(due(Decision::Kill {
                                fault,
                                occurrence,
                                action: k.action,
                                service: k.candidates[pick],
                                count: k.count,
                            }));
                        }
                        let (start, end) = self.occurrences[fault][occurrence];
                        if end > start {
                            self.active.insert((fault, occurrence));
                            self.pending
                                .push_back(due(Decision::StartFault { fault, occurrence }));
                        }
                    }
                }
            }
            Next::Tick(i) => {
                let tick = &mut self.ticks[i];
                // Added up as the simulator does, so ticks fall on the same instants.
                tick.next_s += tick.interval_s;
                let service = tick.service;
                self.pending.push_back(due(Decision::Autoscale { service }));
            }
            Next::Stop => {
                self.stopped = true;
                self.pending
                    .push_back(due(Decision::Stop { aborted: false }));
            }
        }
    }
}

#[cfg(test)]
#[path = "conduct_tests.rs"]
mod tests;
