//! Watching a run while it happens: the [`Hub`] every live view reads from.
//!
//! A runner's [`Observer`] feeds the hub time 0 and each window as it is read; the hub keeps
//! the [`LiveState`] (pure: windows in, updates out) and a clock, publishes each window's
//! update to the dashboard's subscribers, and answers the terminal view and `/metrics` with
//! the update of the moment.

pub mod metrics;
pub mod server;
pub mod terminal;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chaos_plan::Plan;
use chaos_report::live::{LiveState, LiveUpdate, Observer, Phase, Seen};
use tokio::sync::broadcast;

/// What the dashboard pushes: an update (JSON of a [`LiveUpdate`]) or the end of the run.
#[derive(Debug, Clone)]
pub enum Event {
    Update(Arc<str>),
    /// JSON `{"passed": bool, "report": "<the HTML report>"}`.
    Done(Arc<str>),
}

pub struct Hub {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Event>,
}

struct Inner {
    state: LiveState,
    t0: Option<Instant>,
    /// Set when the run is over: the final HTML report and the `done` event.
    done: Option<(Arc<str>, Event)>,
    /// One update per window read (the latest for a window read twice), for a page that
    /// connects late.
    history: Vec<(usize, Arc<str>)>,
}

impl Hub {
    pub fn new(plan: &Plan, mode: &str, seed: u64) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(1024);
        Arc::new(Hub {
            inner: Mutex::new(Inner {
                state: LiveState::new(plan, mode, seed),
                t0: None,
                done: None,
                history: Vec::new(),
            }),
            tx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding it leaves plain data behind: keep showing it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The observer to give the runner.
    pub fn observer(self: &Arc<Hub>) -> Observer {
        let hub = self.clone();
        Observer::new(move |seen| hub.seen(seen))
    }

    fn seen(&self, seen: Seen<'_>) {
        let mut inner = self.lock();
        match seen {
            Seen::Started => {
                inner.t0 = Some(Instant::now());
            }
            Seen::Window { index, window } => {
                inner.state.push(index, window);
                let json: Arc<str> = to_json(&inner.update()).into();
                match inner.history.iter_mut().find(|(i, _)| *i == index) {
                    Some(slot) => slot.1 = json.clone(),
                    None => inner.history.push((index, json.clone())),
                }
                // No subscriber is not an error: nobody is watching yet.
                let _ = self.tx.send(Event::Update(json));
            }
        }
    }

    /// The update of this moment.
    pub fn update(&self) -> LiveUpdate {
        self.lock().update()
    }

    /// The run is over: the page shows `report_html` from now on.
    pub fn finish(&self, passed: bool, report_html: String) {
        let mut inner = self.lock();
        let json = serde_json::json!({ "passed": passed, "report": report_html }).to_string();
        let done = Event::Done(json.into());
        inner.done = Some((report_html.into(), done.clone()));
        let update: Arc<str> = to_json(&inner.update()).into();
        let _ = self.tx.send(Event::Update(update));
        let _ = self.tx.send(done);
    }

    /// Everything published so far (to replay), and the events from now on.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let mut inner = self.lock();
        let now = to_json(&inner.update());
        let rx = self.tx.subscribe();
        let mut past: Vec<Event> = inner
            .history
            .iter()
            .map(|(_, j)| Event::Update(j.clone()))
            .collect();
        past.push(Event::Update(now.into()));
        if let Some((_, done)) = &inner.done {
            past.push(done.clone());
        }
        (past, rx)
    }

    /// How many pages are connected.
    pub fn watchers(&self) -> usize {
        self.tx.receiver_count()
    }

    pub fn report_html(&self) -> Option<Arc<str>> {
        self.lock().done.as_ref().map(|(h, _)| h.clone())
    }

    /// Every window's update so far, for the page's first paint.
    pub fn history_json(&self) -> String {
        let mut inner = self.lock();
        let now = to_json(&inner.update());
        let mut items: Vec<&str> = inner.history.iter().map(|(_, j)| &**j).collect();
        items.push(&now);
        format!("[{}]", items.join(","))
    }

    /// The Prometheus exposition of the run so far.
    pub fn metrics(&self) -> String {
        let mut inner = self.lock();
        let update = inner.update();
        metrics::render(&update, &inner.state.workload_totals())
    }
}

impl Inner {
    fn update(&mut self) -> LiveUpdate {
        let mut elapsed = self.t0.map(|t| t.elapsed().as_secs_f64());
        let phase = if self.done.is_some() {
            // Over: every band drawn whole (a simulated run has no clock of its own).
            let end = self.state.plan().horizon_s();
            elapsed = Some(elapsed.unwrap_or(end).max(end));
            Phase::Done
        } else {
            Phase::at(self.state.plan(), elapsed)
        };
        self.state.update(elapsed, phase)
    }
}

fn to_json(u: &LiveUpdate) -> String {
    // A LiveUpdate is plain data (strings, numbers, options): serialising it cannot fail.
    serde_json::to_string(u).unwrap_or_else(|_| "{}".to_string())
}
