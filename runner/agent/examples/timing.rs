//! How late sleeps end, with tokio's timer and with `chaos_agent::clock`, side by side on
//! this machine: the error (actual − target) of the agent's `work` sleeps and of the load
//! generator's sends, at the rates of the sim-vs-real scenarios, and the CPU each way costs.
//!
//! ```sh
//! cargo run --release -p chaos-agent --example timing -- [SECONDS_PER_PHASE] [RATE_PER_S]
//! ```
//!
//! - work: a runtime like the agent's (multi-thread, one worker per core); requests arrive
//!   Poisson at RATE and each sleeps an `exponential(mean = 8ms)` sample (the `store` of
//!   `retry-kill.chaos`; `saturation.chaos` is 140/s at 10 ms).
//! - send: like the load generator's open loop: one current-thread event loop per core, each
//!   with workers that take the next planned Poisson arrival at RATE and sleep until it.
//!
//! Each phase runs SECONDS (default 15), the four timers (tokio's, the clock without and
//! with its boost, and boosted with its timer thread under `SCHED_FIFO`) taking turns in 3 s blocks so that all see the same load, and prints p50, p99, p99.9 and max of the error in µs
//! and the process's CPU time over the phase (user + system, from /proc/self/stat).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos_agent::clock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Timer {
    Tokio,
    /// The clock without its boost: default timer slack and priority (before 2 Dec 10:55).
    Clock,
    /// The clock with its timer thread and the runtime's workers boosted
    /// (`clock::boost_current_thread`: 1 ns timer slack, nice `clock::BOOST_NICE`).
    Boosted,
    /// Boosted, and the timer thread under `SCHED_FIFO` priority 1 (`clock::set_realtime`).
    Fifo,
}

const TIMERS: [Timer; 4] = [Timer::Tokio, Timer::Clock, Timer::Boosted, Timer::Fifo];

impl Timer {
    fn name(self) -> &'static str {
        match self {
            Timer::Tokio => "tokio::time",
            Timer::Clock => "clock",
            Timer::Boosted => "clock, boosted",
            Timer::Fifo => "clock, boosted, SCHED_FIFO",
        }
    }

    /// Sets the clock's boost for this phase; the runtime's threads follow through
    /// [`Timer::on_thread_start`].
    fn prepare(self) {
        clock::set_boost(matches!(self, Timer::Boosted | Timer::Fifo));
        clock::set_realtime(self == Timer::Fifo);
    }

    fn on_thread_start(self) -> impl Fn() + Send + Sync + 'static {
        move || {
            clock::boost_current_thread(matches!(self, Timer::Boosted | Timer::Fifo));
        }
    }
}

async fn sleep_until(timer: Timer, at: Instant) {
    match timer {
        Timer::Tokio => tokio::time::sleep_until(at.into()).await,
        Timer::Clock | Timer::Boosted | Timer::Fifo => clock::sleep_until(at).await,
    }
}

fn exp(rng: &mut StdRng, mean_s: f64) -> f64 {
    -(1.0 - rng.random::<f64>()).ln() * mean_s
}

/// CPU seconds (user + system) of this process so far; 0 where /proc is not there.
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at state = field 3.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15: indices 11 and 12 after the state.
    (ticks(11) + ticks(12)) / 100.0
}

fn work_phase(timer: Timer, secs: f64, rate: f64) -> Vec<f64> {
    timer.prepare();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(timer.on_thread_start())
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut t = 0.0;
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            t += exp(&mut rng, 1.0 / rate);
            if t >= secs {
                break;
            }
            // Arrivals themselves are timed by the precise clock in both phases, so only
            // the sleep under test differs.
            clock::sleep_until(t0 + Duration::from_secs_f64(t)).await;
            let d = Duration::from_secs_f64(exp(&mut rng, 0.008));
            let errors = errors.clone();
            tasks.spawn(async move {
                let at = Instant::now() + d;
                sleep_until(timer, at).await;
                let e = Instant::now().duration_since(at).as_secs_f64();
                errors.lock().expect("lock").push(e);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        std::mem::take(&mut *errors.lock().expect("lock"))
    })
}

fn send_phase(timer: Timer, secs: f64, rate: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(2);
    timer.prepare();
    let mut planned = Vec::new();
    let mut t = 0.0;
    loop {
        t += exp(&mut rng, 1.0 / rate);
        if t >= secs {
            break;
        }
        planned.push(t);
    }
    planned.reverse();
    let pending = Arc::new(Mutex::new(planned));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The load generator's initial pool: 2 ms of arrivals at the rate, at least 8.
    let workers = ((rate * 0.002).ceil() as usize).max(8);
    let t0 = Instant::now() + Duration::from_millis(50);
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let (pending, errors) = (pending.clone(), errors.clone());
            let share = workers / threads + usize::from(k < workers % threads);
            std::thread::spawn(move || {
                timer.on_thread_start()();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..share.max(1) {
                        let (pending, errors) = (pending.clone(), errors.clone());
                        set.spawn(async move {
                            loop {
                                let Some(t) = pending.lock().expect("lock").pop() else {
                                    break;
                                };
                                let at = t0 + Duration::from_secs_f64(t);
                                sleep_until(timer, at).await;
                                let e = Instant::now().duration_since(at).as_secs_f64();
                                errors.lock().expect("lock").push(e);
                            }
                        });
                    }
                    while set.join_next().await.is_some() {}
                });
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    std::mem::take(&mut *errors.lock().expect("lock"))
}

/// The machine's floor: one thread spins on the clock for `secs` and notes every gap over
/// 100 µs between two readings, i.e. every time the CPU was taken from it (other processes,
/// the hypervisor). No sleep can be more precise than this on a busy machine.
fn hiccups(secs: f64) -> (usize, f64, f64) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let (mut gaps, mut stolen, mut max) = (0, 0.0, 0.0f64);
    let mut last = Instant::now();
    while last < end {
        let now = Instant::now();
        let gap = (now - last).as_secs_f64();
        if gap > 100e-6 {
            gaps += 1;
            stolen += gap;
            max = max.max(gap);
        }
        last = now;
    }
    (gaps, stolen / secs, max)
}

fn q(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15.0);
    let rate: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(150.0);
    clock::set_boost(true);
    // Wakes the timer thread once, so that it has tried its boost.
    futures::executor::block_on(clock::sleep(Duration::from_millis(1)));
    println!(
        "clock boost (1 ns timer slack, nice {}) granted: {:?}",
        clock::BOOST_NICE,
        clock::boosted()
    );
    clock::set_realtime(true);
    futures::executor::block_on(clock::sleep(Duration::from_millis(1)));
    println!(
        "timer thread under SCHED_FIFO (chrt) granted: {:?}",
        clock::realtime()
    );
    clock::set_realtime(false);
    let (gaps, share, max) = hiccups(3.0);
    println!(
        "a spinning thread lost the CPU {gaps} times over 100 µs in 3 s ({:.1}% of the time, longest {:.0} µs)",
        share * 100.0,
        max * 1e6
    );
    println!(
        "{secs} s per phase at {rate}/s; error = actual − target, µs; cpu = process CPU over the phase"
    );
    println!(
        "| what | timer | samples | p50 | p90 | p99 | p99.9 | max | ≤ 100 µs | cpu (% of one core) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    // The timers take turns in blocks of ROUND seconds, so both see the same load on a
    // shared machine; each phase's figures pool its blocks.
    const ROUND: f64 = 3.0;
    let rounds = (secs / ROUND).ceil().max(1.0) as usize;
    for (what, phase) in [
        ("work sleeps", work_phase as fn(Timer, f64, f64) -> Vec<f64>),
        ("loadgen sends", send_phase),
    ] {
        let mut errors = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        let mut cpu = [0.0; 4];
        let mut wall = [0.0; 4];
        for _ in 0..rounds {
            for (i, timer) in TIMERS.into_iter().enumerate() {
                let (c0, w0) = (cpu_s(), Instant::now());
                errors[i].extend(phase(timer, secs / rounds as f64, rate));
                cpu[i] += cpu_s() - c0;
                wall[i] += w0.elapsed().as_secs_f64();
            }
        }
        for (i, name) in TIMERS.map(Timer::name).into_iter().enumerate() {
            let e = &mut errors[i];
            e.sort_by(f64::total_cmp);
            let us = |x: f64| format!("{:.0}", x * 1e6);
            println!(
                "| {what} | {name} | {} | {} | {} | {} | {} | {} | {:.1}% | {:.1} |",
                e.len(),
                us(q(e, 0.5)),
                us(q(e, 0.9)),
                us(q(e, 0.99)),
                us(q(e, 0.999)),
                us(e.last().copied().unwrap_or(f64::NAN)),
                e.iter().filter(|&&x| x <= 100e-6).count() as f64 / e.len().max(1) as f64 * 100.0,
                cpu[i] / wall[i] * 100.0,
            );
        }
    }
}
