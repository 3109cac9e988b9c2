//! How late sleeps end, with tokio's timer and with `chaos_agent::clock`, side by side on
//! this machine: the error (actual − target) of the agent's `work` sleeps and of the load
//! generator's sends, at the rates of the sim-vs-real scenarios, the CPU each way costs, and
//! where the late ones' time went.
//!
//! ```sh
//! cargo run --release -p chaos-agent --example timing -- [SECONDS_PER_PHASE] [RATE_PER_S] [TIMER...]
//! ```
//!
//! - work: a runtime like the agent's (multi-thread, one worker per core); requests arrive
//!   Poisson at RATE and each sleeps an `exponential(mean = 8ms)` sample (the `store` of
//!   `retry-kill.chaos`; `saturation.chaos` is 140/s at 10 ms).
//! - send: like the load generator's open loop: one current-thread event loop per core, each
//!   with workers that take the next planned Poisson arrival at RATE and sleep until it.
//!
//! TIMER is `tokio`, or `clock`, `boosted`, `fifo` (boosted, its timer thread under
//! `SCHED_FIFO`) or `fifow` (and the runtime's workers under `SCHED_FIFO` too), each with the
//! clock's default lead or an optional `:LEAD_µs` (`clock::set_lead`) or `:auto`
//! (`clock::set_lead_auto`); default: `tokio clock boosted boosted:150 fifo fifow
//! fifow:60`. Each phase runs SECONDS (default 15), the timers taking turns in 3 s
//! blocks so that all see the same load, and prints p50, p99, p99.9 and max of the error in µs
//! and the process's CPU time over the phase (user + system, from /proc/self/stat). A second
//! table splits each late sleep (over 100 µs) into the timer thread's lateness (fired after
//! `deadline − lead`) and its task's wake-up (first poll after the fire), and says whether the
//! worker that polled it was parked when it was fired.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chaos_agent::clock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tokio,
    /// The clock without its boost: default timer slack and priority (before 2 Dec 10:55).
    Clock,
    /// The clock with its timer thread and the runtime's workers boosted
    /// (`clock::boost_current_thread`: 1 ns timer slack, nice `clock::BOOST_NICE`).
    Boosted,
    /// Boosted, and the timer thread under `SCHED_FIFO` priority 1 (`clock::set_realtime`).
    Fifo,
    /// As `Fifo`, and the runtime's worker threads under `SCHED_FIFO` too
    /// (`clock::set_realtime_workers`, applied at their first park).
    FifoWorkers,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lead {
    /// The clock's default (`clock::DEFAULT_LEAD`, `REALTIME_LEAD` with real-time workers).
    Default,
    Fixed(Duration),
    Auto,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Timer {
    kind: Kind,
    lead: Lead,
}

impl Timer {
    fn parse(s: &str) -> Option<Timer> {
        let (kind, lead) = s.split_once(':').unwrap_or((s, ""));
        let kind = match kind {
            "tokio" => Kind::Tokio,
            "clock" => Kind::Clock,
            "boosted" => Kind::Boosted,
            "fifo" => Kind::Fifo,
            "fifow" => Kind::FifoWorkers,
            _ => return None,
        };
        let lead = match lead {
            "" => Lead::Default,
            "auto" => Lead::Auto,
            us => Lead::Fixed(Duration::from_micros(us.parse().ok()?)),
        };
        Some(Timer { kind, lead })
    }

    fn name(self) -> String {
        let kind = match self.kind {
            Kind::Tokio => return "tokio::time".into(),
            Kind::Clock => "clock",
            Kind::Boosted => "clock, boosted",
            Kind::Fifo => "clock, boosted, SCHED_FIFO",
            Kind::FifoWorkers => "clock, boosted, SCHED_FIFO + workers",
        };
        match self.lead {
            Lead::Default => format!("{kind}, lead default"),
            Lead::Fixed(d) => format!("{kind}, lead {} µs", d.as_micros()),
            Lead::Auto => format!("{kind}, lead auto"),
        }
    }

    fn boosted(self) -> bool {
        matches!(self.kind, Kind::Boosted | Kind::Fifo | Kind::FifoWorkers)
    }

    /// Sets the clock's boost and lead for this phase; the runtime's threads follow through
    /// [`Timer::on_thread_start`].
    fn prepare(self) {
        clock::set_boost(self.boosted());
        clock::set_realtime(matches!(self.kind, Kind::Fifo | Kind::FifoWorkers));
        clock::set_realtime_workers(self.kind == Kind::FifoWorkers);
        clock::set_lead_auto(self.lead == Lead::Auto);
        match self.lead {
            Lead::Fixed(d) => clock::set_lead(Some(d)),
            Lead::Default | Lead::Auto => clock::set_lead(None),
        }
        clock::wait_settled(Duration::from_secs(5));
    }

    fn on_thread_start(self) -> impl Fn() + Send + Sync + 'static {
        move || {
            clock::boost_current_thread(self.boosted());
            WORKER.set(Some(NEXT_WORKER.fetch_add(1, Ordering::Relaxed) % WORKERS)); // id
        }
    }
}

/// Each runtime thread's id (an index into [`UNPARKED`]), set at its start.
const WORKERS: usize = 64;
static NEXT_WORKER: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}
/// When each runtime thread last left its park (ns since [`epoch`]): a sleep fired before
/// that and polled by that thread found it parked.
static UNPARKED: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn ns(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_nanos() as u64
}

fn on_unpark() {
    if let Some(w) = WORKER.get() {
        UNPARKED[w].store(ns(Instant::now()), Ordering::Relaxed);
    }
}

/// One sleep: its error and, for the clock, how it went.
#[derive(Clone, Copy)]
struct Sample {
    error: f64,
    wake: Option<clock::Wake>,
    /// Whether the thread that ran it after the fire was parked when it was fired.
    parked: Option<bool>,
}

async fn sleep_until(timer: Timer, at: Instant) -> Sample {
    let wake = match timer.kind {
        Kind::Tokio => {
            tokio::time::sleep_until(at.into()).await;
            None
        }
        Kind::Clock | Kind::Boosted | Kind::Fifo | Kind::FifoWorkers => {
            Some(clock::sleep_until(at).traced().await)
        }
    };
    let error = Instant::now().duration_since(at).as_secs_f64();
    let parked = wake.and_then(|w| {
        let fired = w.fired?;
        let worker = WORKER.get()?;
        Some(UNPARKED[worker].load(Ordering::Relaxed) >= ns(fired))
    });
    Sample {
        error,
        wake,
        parked,
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

fn work_phase(timer: Timer, secs: f64, rate: f64) -> Vec<Sample> {
    timer.prepare();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(timer.on_thread_start())
        .on_thread_park(clock::on_worker_park)
        .on_thread_unpark(on_unpark)
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let samples = Arc::new(Mutex::new(Vec::new()));
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
            let samples = samples.clone();
            tasks.spawn(async move {
                let s = sleep_until(timer, Instant::now() + d).await;
                samples.lock().expect("lock").push(s);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        std::mem::take(&mut *samples.lock().expect("lock"))
    })
}

fn send_phase(timer: Timer, secs: f64, rate: f64) -> Vec<Sample> {
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
    let samples = Arc::new(Mutex::new(Vec::new()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The load generator's initial pool: 2 ms of arrivals at the rate, at least 8.
    let workers = ((rate * 0.002).ceil() as usize).max(8);
    let t0 = Instant::now() + Duration::from_millis(50);
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let (pending, samples) = (pending.clone(), samples.clone());
            let share = workers / threads + usize::from(k < workers % threads);
            std::thread::spawn(move || {
                timer.on_thread_start()();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_park(clock::on_worker_park)
                    .on_thread_unpark(on_unpark)
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..share.max(1) {
                        let (pending, samples) = (pending.clone(), samples.clone());
                        set.spawn(async move {
                            loop {
                                let Some(t) = pending.lock().expect("lock").pop() else {
                                    break;
                                };
                                let s = sleep_until(timer, t0 + Duration::from_secs_f64(t)).await;
                                samples.lock().expect("lock").push(s);
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
    std::mem::take(&mut *samples.lock().expect("lock"))
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

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn us(x: f64) -> String {
    format!("{:.0}", x * 1e6)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The first table's row: the error's distribution and the CPU.
fn error_row(what: &str, timer: Timer, samples: &[Sample], cpu: f64) -> String {
    let e = sorted(samples.iter().map(|s| s.error).collect());
    format!(
        "| {what} | {} | {} | {} | {} | {} | {} | {} | {:.1}% | {:.1} |",
        timer.name(),
        e.len(),
        us(q(&e, 0.5)),
        us(q(&e, 0.9)),
        us(q(&e, 0.99)),
        us(q(&e, 0.999)),
        us(e.last().copied().unwrap_or(f64::NAN)),
        e.iter().filter(|&&x| x <= 100e-6).count() as f64 / e.len().max(1) as f64 * 100.0,
        cpu * 100.0,
    )
}

/// The second table's row: the timer thread's lateness and the wake-up over all sleeps, and
/// what made the late ones late.
fn cause_row(what: &str, timer: Timer, samples: &[Sample]) -> Option<String> {
    let traced: Vec<(&Sample, clock::Wake)> =
        samples.iter().filter_map(|s| Some((s, s.wake?))).collect();
    if traced.is_empty() {
        return None;
    }
    // Fired after `deadline − lead` by this much: the timer thread's own lateness.
    let timer_late = |w: &clock::Wake| {
        w.fired.map(|f| {
            f.saturating_duration_since(w.deadline - w.lead)
                .as_secs_f64()
        })
    };
    // From the fire to the task's first poll.
    let wake_up =
        |w: &clock::Wake| Some(w.woken?.saturating_duration_since(w.fired?).as_secs_f64());
    let tl = sorted(traced.iter().filter_map(|(_, w)| timer_late(w)).collect());
    let wu = sorted(traced.iter().filter_map(|(_, w)| wake_up(w)).collect());
    let leads = sorted(traced.iter().map(|(_, w)| w.lead.as_secs_f64()).collect());
    // The task's spin on its worker: from its first poll after the fire to its end.
    let spin: f64 = traced
        .iter()
        .filter(|(_, w)| w.end == clock::End::Spun)
        .filter_map(|(_, w)| Some(w.ended.saturating_duration_since(w.woken?).as_secs_f64()))
        .sum::<f64>()
        / traced.len() as f64;
    let parked_all = traced
        .iter()
        .filter(|(s, _)| s.parked == Some(true))
        .count();
    let late: Vec<_> = traced.iter().filter(|(s, _)| s.error > 100e-6).collect();
    let (mut by_timer, mut by_wake, mut by_backstop, mut parked_late) = (0, 0, 0, 0);
    for (s, w) in &late {
        match (timer_late(w), wake_up(w)) {
            (Some(t), Some(u)) if t >= u => by_timer += 1,
            (Some(_), Some(_)) => {
                by_wake += 1;
                parked_late += usize::from(s.parked == Some(true));
            }
            // Not fired, or fired but never polled after: tokio's backstop or a poll that
            // found the deadline passed.
            _ => by_backstop += 1,
        }
    }
    let pct = |n: usize, of: usize| n as f64 / of.max(1) as f64 * 100.0;
    Some(format!(
        "| {what} | {} | {}-{} | {} / {} / {} | {} / {} / {} | {:.0} | {:.0}% | {} | {} | {} | {} ({:.0}%) | {} |",
        timer.name(),
        us(q(&leads, 0.0)),
        us(q(&leads, 1.0)),
        us(q(&tl, 0.5)),
        us(q(&tl, 0.99)),
        us(q(&tl, 0.999)),
        us(q(&wu, 0.5)),
        us(q(&wu, 0.99)),
        us(q(&wu, 0.999)),
        spin * 1e6,
        pct(parked_all, traced.len()),
        late.len(),
        by_timer,
        by_wake,
        parked_late,
        pct(parked_late, by_wake),
        by_backstop,
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15.0);
    let rate: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(150.0);
    let mut timers: Vec<Timer> = args
        .iter()
        .skip(3)
        .filter_map(|a| Timer::parse(a))
        .collect();
    if timers.is_empty() {
        timers = [
            "tokio",
            "clock",
            "boosted",
            "boosted:150",
            "fifo",
            "fifow",
            "fifow:60",
        ]
        .iter()
        .filter_map(|t| Timer::parse(t))
        .collect();
    }
    epoch();
    clock::set_boost(true);
    clock::wait_settled(Duration::from_secs(5));
    println!(
        "clock boost (1 ns timer slack, nice {}) granted: {:?}",
        clock::BOOST_NICE,
        clock::boosted()
    );
    clock::set_realtime(true);
    clock::wait_settled(Duration::from_secs(5));
    println!(
        "timer thread under SCHED_FIFO (chrt) granted: {:?}",
        clock::realtime()
    );
    clock::set_realtime(false);
    let (gaps, share, max) = hiccups(3.0);
    println!(
        "a spinning thread lost the CPU {gaps} times over 100 µs in 3 s ({:.1}% of the time, longest {:.0} µs); load average {}",
        share * 100.0,
        max * 1e6,
        load_average(),
    );
    println!(
        "{secs} s per phase at {rate}/s; error = actual − target, µs; cpu = process CPU over the phase"
    );
    // The timers take turns in blocks of ROUND seconds, so all see the same load on a
    // shared machine; each phase's figures pool its blocks.
    const ROUND: f64 = 3.0;
    let rounds = (secs / ROUND).ceil().max(1.0) as usize;
    let mut errors = Vec::new();
    let mut causes = Vec::new();
    for (what, phase) in [
        (
            "work sleeps",
            work_phase as fn(Timer, f64, f64) -> Vec<Sample>,
        ),
        ("loadgen sends", send_phase),
    ] {
        let mut samples = vec![Vec::new(); timers.len()];
        let mut cpu = vec![0.0; timers.len()];
        let mut wall = vec![0.0; timers.len()];
        for _ in 0..rounds {
            for (i, &timer) in timers.iter().enumerate() {
                let (c0, w0) = (cpu_s(), Instant::now());
                samples[i].extend(phase(timer, secs / rounds as f64, rate));
                cpu[i] += cpu_s() - c0;
                wall[i] += w0.elapsed().as_secs_f64();
            }
        }
        for (i, &timer) in timers.iter().enumerate() {
            errors.push(error_row(what, timer, &samples[i], cpu[i] / wall[i]));
            causes.extend(cause_row(what, timer, &samples[i]));
        }
    }
    println!(
        "| what | timer | samples | p50 | p90 | p99 | p99.9 | max | ≤ 100 µs | cpu (% of one core) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in errors {
        println!("{r}");
    }
    println!(
        "\ntimer late = fired − (deadline − lead); wake-up = first poll after the fire − fired (both µs: p50 / p99 / p99.9);\n\
         spin = the task's mean spin per sleep; parked = the worker that polled it was parked when it was fired;\n\
         a late sleep (> 100 µs) is the timer's when its timer lateness ≥ its wake-up, else the wake-up's\n\
         | what | timer | lead µs | timer late | wake-up | spin µs | parked | late | timer's | wake-up's | of which parked | not fired/polled |\n\
         |---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in causes {
        println!("{r}");
    }
    println!("load average at the end: {}", load_average());
}
