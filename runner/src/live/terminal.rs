//! The live terminal view on stderr: redrawn in place on a terminal, one plain line every few
//! seconds otherwise (CI logs). The text is made by pure functions of a [`LiveUpdate`].

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chaos_report::live::{LiveUpdate, Phase};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Hub;

/// How the view writes.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Redrawn in place, several times a second.
    Tty,
    /// One line per period.
    Plain { every: Duration },
}

/// The running view; [`View::stop`] clears it (on a terminal) before the verdict prints.
pub struct View {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
    /// On a terminal, the redrawn block: other lines are printed above it.
    bar: Option<ProgressBar>,
}

impl View {
    pub fn start(hub: Arc<Hub>, style: Style) -> View {
        let (stop, rx) = mpsc::channel::<()>();
        let bar = match style {
            Style::Tty => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                Some(bar)
            }
            Style::Plain { .. } => None,
        };
        let drawn = bar.clone();
        let thread = std::thread::Builder::new()
            .name("chaos-live-terminal".into())
            .spawn(move || match (style, drawn) {
                (Style::Plain { every }, _) => plain(&hub, &rx, every),
                (Style::Tty, Some(bar)) => tty(&hub, &rx, &bar),
                (Style::Tty, None) => {}
            })
            .ok();
        View { stop, thread, bar }
    }

    /// Prints a line (a warning, a step of the run) without garbling the redrawn block.
    pub fn printer(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let bar = self.bar.clone();
        move |line: &str| match &bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tty(hub: &Hub, stop: &mpsc::Receiver<()>, bar: &ProgressBar) {
    loop {
        bar.set_message(lines(&hub.update()).join("\n"));
        match stop.recv_timeout(Duration::from_millis(250)) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => break,
        }
    }
    bar.finish_and_clear();
}

fn plain(hub: &Hub, stop: &mpsc::Receiver<()>, every: Duration) {
    let mut next = Instant::now() + every;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
        next += every;
        eprintln!("{}", line(&hub.update()));
    }
}

fn clock(u: &LiveUpdate) -> String {
    match u.phase {
        Phase::Deploying => format!("deploying ({:.0}s run)", u.total_s),
        p => format!("{:.0}s / {:.0}s  {}", u.elapsed_s, u.total_s, p.name()),
    }
}

fn faults_now(u: &LiveUpdate) -> String {
    let active: Vec<&str> = u
        .faults
        .iter()
        .filter(|f| f.active)
        .map(|f| f.name.as_str())
        .collect();
    if active.is_empty() {
        "no fault".to_string()
    } else {
        format!("faults: {}", active.join(", "))
    }
}

fn pct(r: Option<f64>) -> String {
    r.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0))
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) if v >= 1000.0 => format!("{:.2}s", v / 1000.0),
        Some(v) => format!("{v:.1}ms"),
    }
}

/// The view on a terminal: the clock and the faults, then one row per workload (its last window).
pub fn lines(u: &LiveUpdate) -> Vec<String> {
    let mut out = vec![format!(
        "{} {}  {}  {}",
        u.mode,
        u.scenario,
        clock(u),
        faults_now(u)
    )];
    if let Some(w) = &u.window {
        let width = w.workloads.iter().map(|x| x.name.len()).max().unwrap_or(0);
        for x in &w.workloads {
            out.push(format!(
                "  {:<width$}  {:>9}/s  errors {:>6}  p99 {:>8}",
                x.name,
                format!("{:.1}", x.rate_per_s),
                pct(x.error_rate),
                ms(x.p99_ms),
            ));
        }
    }
    out
}

/// The view as one line, for logs.
pub fn line(u: &LiveUpdate) -> String {
    let mut s = format!("[{}] {}", clock(u), faults_now(u));
    if let Some(w) = &u.window {
        for x in &w.workloads {
            s.push_str(&format!(
                " | {} {:.1}/s errors {} p99 {}",
                x.name,
                x.rate_per_s,
                pct(x.error_rate),
                ms(x.p99_ms)
            ));
        }
    }
    s
}
