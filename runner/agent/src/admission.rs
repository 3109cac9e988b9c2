//! A replica's admission to its workers: a free worker at once, or a place in the replica's
//! [`WaitQueue`] (priorities, FIFO or LIFO, shedding), the one copy of those rules every
//! mode uses. A waiter is a oneshot sender: a worker that finishes hands itself over to the
//! waiter the queue gives it, so a worker is never free while someone waits.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chaos_plan::{Discipline, Offer, WaitQueue};
use tokio::sync::oneshot;

/// Why a request got no worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue was full and nothing of lower priority waited (cause `rejected`).
    Rejected,
    /// It waited and was dropped for a higher-priority arrival (cause `shed`).
    Shed,
}

type Grant = Result<Permit, Refused>;

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Grant>,
}

struct State {
    free: u32,
    queue: WaitQueue<Waiter>,
    next_id: u64,
}

/// Workers and the queue of one replica.
pub struct Admission {
    state: Mutex<State>,
}

/// A worker held; dropping it hands the worker to the next waiter, or frees it.
pub struct Permit {
    admission: Option<Arc<Admission>>,
    granted_at: Instant,
}

impl Permit {
    /// When the worker became this request's: at the offer, or when the previous request
    /// released it to this one. The request's work is timed from here (`exec::run_steps`),
    /// as the simulator starts a job the instant a worker frees: the time the waiting task
    /// then takes to be polled (a wake-up, another task's poll, a busy machine) is the
    /// runtime's, not the model's, and would otherwise lengthen every queued job.
    pub fn granted_at(&self) -> Instant {
        self.granted_at
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            a.release();
        }
    }
}

/// What [`Admission::offer`] gives: a worker now, or a place to wait for one.
pub enum Admit {
    Now(Permit),
    Wait(Waiting),
}

/// A request waiting for a worker. Dropping it (the caller went away) leaves the queue.
pub struct Waiting {
    admission: Arc<Admission>,
    id: u64,
    rx: Option<oneshot::Receiver<Grant>>,
}

impl Waiting {
    /// Waits for a worker, or for being shed.
    pub async fn granted(mut self) -> Result<Permit, Refused> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(Refused::Rejected);
        };
        let r = rx.await.unwrap_or(Err(Refused::Rejected));
        self.rx = None;
        r
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        // Closing first: a worker handed over after this fails to send and goes elsewhere;
        // one handed over before is in the channel and is released with it.
        rx.close();
        if let Ok(Ok(permit)) = rx.try_recv() {
            drop(permit);
            return;
        }
        let id = self.id;
        self.admission.lock().queue.retain(|w| w.id != id);
    }
}

impl Admission {
    pub fn new(workers: u32, queue: Option<u32>, discipline: Discipline) -> Arc<Admission> {
        Arc::new(Admission {
            state: Mutex::new(State {
                free: workers.max(1),
                queue: WaitQueue::new(queue, discipline),
                next_id: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing in the state can be left half-updated by a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker at once if one is free; else a place in the queue at `priority`, or refused.
    pub fn offer(self: &Arc<Self>, priority: u8) -> Result<Admit, Refused> {
        let mut s = self.lock();
        if s.free > 0 {
            s.free -= 1;
            return Ok(Admit::Now(Permit {
                admission: Some(self.clone()),
                granted_at: Instant::now(),
            }));
        }
        let id = s.next_id;
        s.next_id += 1;
        let (tx, rx) = oneshot::channel();
        let victim = match s.queue.offer(priority, Waiter { id, tx }) {
            Offer::Queued => None,
            Offer::Rejected(_) => return Err(Refused::Rejected),
            Offer::Shed(victim) => Some(victim),
        };
        drop(s);
        if let Some(v) = victim {
            // Its receiver may be gone already (the caller left): nothing to tell then.
            let _ = v.tx.send(Err(Refused::Shed));
        }
        Ok(Admit::Wait(Waiting {
            admission: self.clone(),
            id,
            rx: Some(rx),
        }))
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> u32 {
        self.lock().queue.len()
    }

    fn release(self: &Arc<Self>) {
        let released_at = Instant::now();
        let mut s = self.lock();
        loop {
            let Some(w) = s.queue.take() else {
                s.free += 1;
                return;
            };
            let permit = Permit {
                admission: Some(self.clone()),
                granted_at: released_at,
            };
            match w.tx.send(Ok(permit)) {
                Ok(()) => return,
                Err(Ok(mut p)) => {
                    // That waiter left: the worker goes to the next one, not back through
                    // `release` (which would lock again).
                    p.admission = None;
                }
                Err(Err(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(a: &Arc<Admission>, p: u8) -> Permit {
        match a.offer(p) {
            Ok(Admit::Now(p)) => p,
            _ => panic!("expected a free worker"),
        }
    }

    fn wait(a: &Arc<Admission>, p: u8) -> Waiting {
        match a.offer(p) {
            Ok(Admit::Wait(w)) => w,
            Ok(Admit::Now(_)) => panic!("expected to wait"),
            Err(e) => panic!("refused: {e:?}"),
        }
    }

    #[tokio::test]
    async fn a_finished_worker_goes_to_the_highest_priority_waiting() {
        let a = Admission::new(1, Some(2), Discipline::Fifo);
        let busy = now(&a, 0);
        let low = wait(&a, 0);
        let high = wait(&a, 5);
        assert_eq!(a.waiting(), 2);
        // Full: a priority-0 arrival is rejected, a priority-3 one sheds the low waiter.
        assert!(matches!(a.offer(0), Err(Refused::Rejected)));
        let mid = wait(&a, 3);
        assert!(matches!(low.granted().await, Err(Refused::Shed)));
        drop(busy);
        let h = high.granted().await.expect("high gets the worker");
        drop(h);
        let m = mid.granted().await.expect("then mid");
        drop(m);
        assert_eq!(a.waiting(), 0);
        // The worker is free again.
        drop(now(&a, 0));
    }

    #[tokio::test]
    async fn a_waiter_that_leaves_frees_its_place_and_never_keeps_a_worker() {
        let a = Admission::new(1, Some(1), Discipline::Lifo);
        let busy = now(&a, 0);
        let gone = wait(&a, 0);
        drop(gone);
        assert_eq!(a.waiting(), 0);
        let next = wait(&a, 0);
        drop(busy);
        // Handed over, then abandoned before being taken: the worker is released.
        drop(next);
        drop(now(&a, 0));
    }

    #[tokio::test]
    async fn a_handed_over_worker_is_the_waiters_from_its_release_not_from_the_wake_up() {
        let a = Admission::new(1, None, Discipline::Fifo);
        let busy = now(&a, 0);
        let waiting = wait(&a, 0);
        let before = Instant::now();
        drop(busy);
        let after = Instant::now();
        // The waiting task is polled later (here: after a 5 ms block of its thread).
        std::thread::sleep(std::time::Duration::from_millis(5));
        let permit = waiting.granted().await.expect("the worker");
        let polled = Instant::now();
        assert!(before <= permit.granted_at() && permit.granted_at() <= after);
        assert!(permit.granted_at() < polled);
    }
}
