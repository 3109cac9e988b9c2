//! The formatter: prints a syntax tree in the canonical layout, keeping every comment.
//!
//! Layout: 2-space indentation; one setting, step, action or expectation per line; one blank
//! line between top-level items; inside blocks, a blank line is kept where the source had one
//! (several collapse to one) but never right after `{` or before `}`. Values are printed as
//! written (`Value::text`), so `1m30s` stays `1m30s`. Comments on their own line stay on their
//! own line; a comment after code on the same line stays after that code. A comment inside a
//! construct that the layout puts on one line (e.g. between the pieces of a multi-line `rate`)
//! moves to its own line just before it.

use crate::ast::*;
use crate::error::ParseError;

const INDENT: &str = "  ";

/// Parses `source` and returns it in the canonical layout.
pub fn format_source(source: &str) -> Result<String, ParseError> {
    let file = crate::parse(source)?;
    Ok(format_file(&file, source))
}

/// Prints an already parsed file; `source` is the text it was parsed from (for comments and
/// blank lines).
pub fn format_file(file: &File, source: &str) -> String {
    let mut p = Printer {
        src: source,
        comments: &file.comments,
        next_comment: 0,
        out: String::with_capacity(source.len() + source.len() / 8),
        depth: 0,
        last_end: 0,
        blank: Blank::Never,
    };
    for item in &file.items {
        p.blank = Blank::Force;
        p.item(item);
    }
    p.blank = if file.items.is_empty() {
        Blank::Source
    } else {
        Blank::Force
    };
    p.flush_comments(usize::MAX);
    p.out
}

/// Whether the next emitted line is preceded by a blank line.
#[derive(Clone, Copy, PartialEq)]
enum Blank {
    /// Never (first line of a block, closing brace).
    Never,
    /// When the source had a blank line before it.
    Source,
    /// Always (a new top-level item), unless it is the first line of the file.
    Force,
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    next_comment: usize,
    out: String,
    depth: usize,
    /// Source offset where the last emitted line (code or comment) ended.
    last_end: usize,
    blank: Blank,
}

impl Printer<'_> {
    fn gap_has_blank_line(&self, from: usize, to: usize) -> bool {
        from < to
            && self
                .src
                .get(from..to)
                .is_some_and(|gap| gap.bytes().filter(|b| *b == b'\n').count() >= 2)
    }

    /// Starts a line for a thing that begins at source offset `start`.
    fn begin_line(&mut self, start: usize) {
        let blank = match self.blank {
            Blank::Never => false,
            Blank::Source => self.gap_has_blank_line(self.last_end, start),
            Blank::Force => true,
        };
        if blank && !self.out.is_empty() {
            self.out.push('\n');
        }
        self.blank = Blank::Source;
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
    }

    /// Own-line comments that start before `limit`.
    fn flush_comments(&mut self, limit: usize) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.span.start >= limit {
                break;
            }
            self.begin_line(c.span.start);
            self.out.push('#');
            self.out.push_str(c.text.trim_end());
            self.out.push('\n');
            self.last_end = self.last_end.max(c.span.end);
            self.next_comment += 1;
        }
    }

    /// Emits one line of code standing for the source range `start..end`, with the comments
    /// before it and a trailing comment from the same source line.
    fn line(&mut self, start: usize, end: usize, text: &str) {
        self.flush_comments(end);
        self.begin_line(start);
        self.out.push_str(text);
        self.last_end = self.last_end.max(end);
        if let Some(c) = self.comments.get(self.next_comment)
            && c.span.start >= end
            && self
                .src
                .get(end..c.span.start)
                .is_some_and(|gap| gap.chars().all(|ch| ch == ' ' || ch == '\t'))
        {
            self.out.push_str("  #");
            self.out.push_str(c.text.trim_end());
            self.last_end = c.span.end;
            self.next_comment += 1;
        }
        self.out.push('\n');
    }

    /// The offset of the first `{` at or after `from`, skipping comments.
    fn open_brace(&self, from: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = from;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => return i,
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => i += 1,
            }
        }
        from
    }

    /// The offset of the first `}` after `open`, skipping comments (for blocks that hold no
    /// strings or nested braces: call policies).
    fn close_brace(&self, open: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = open + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'}' => return i,
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => i += 1,
            }
        }
        open
    }

    fn has_comment_between(&self, from: usize, to: usize) -> bool {
        self.comments
            .get(self.next_comment..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| c.span.start < to)
            .any(|c| c.span.start > from)
    }

    /// Prints `head {`, the body, and `}`; or `head { }` when the block holds nothing.
    /// `start` is where `head` starts in the source, `open`/`close` the braces.
    fn block(
        &mut self,
        start: usize,
        open: usize,
        close: usize,
        head: &str,
        empty: bool,
        body: impl FnOnce(&mut Self),
    ) {
        if empty && !self.has_comment_between(open, close) {
            self.line(start, close + 1, &format!("{head} {{ }}"));
            return;
        }
        self.line(start, open + 1, &format!("{head} {{"));
        self.depth += 1;
        self.blank = Blank::Never;
        body(self);
        self.flush_comments(close);
        self.depth -= 1;
        self.blank = Blank::Never;
        self.line(close, close + 1, "}");
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(i) => self.line(
                i.span.start,
                i.span.end,
                &format!("import {}", string(&i.path)),
            ),
            Item::Param(p) => self.line(
                p.span.start,
                p.span.end,
                &format!("param {} = {}", p.name.name, p.value.text),
            ),
            Item::Scenario(s) => {
                let open = self.open_brace(s.name.span.end);
                let head = format!("scenario {}", string(&s.name));
                self.block(
                    s.span.start,
                    open,
                    s.span.end - 1,
                    &head,
                    s.settings.is_empty(),
                    |p| {
                        for st in &s.settings {
                            let text = match &st.node {
                                ScenarioSetting::Duration(v) => format!("duration {}", v.text),
                                ScenarioSetting::Warmup(v) => format!("warmup {}", v.text),
                                ScenarioSetting::Seed(v) => format!("seed {}", v.text),
                                ScenarioSetting::Window(v) => format!("window {}", v.text),
                                ScenarioSetting::Hop(v) => format!("hop {}", v.text),
                            };
                            p.line(st.span.start, st.span.end, &text);
                        }
                    },
                );
            }
            Item::Service(s) => {
                let open = self.open_brace(s.name.span.end);
                let head = format!("service {}", s.name.name);
                self.block(
                    s.span.start,
                    open,
                    s.span.end - 1,
                    &head,
                    s.settings.is_empty(),
                    |p| {
                        for st in &s.settings {
                            p.service_setting(st);
                        }
                    },
                );
            }
            Item::Workload(w) => {
                let open = self.open_brace(w.name.span.end);
                let head = format!("workload {}", w.name.name);
                self.block(
                    w.span.start,
                    open,
                    w.span.end - 1,
                    &head,
                    w.settings.is_empty(),
                    |p| {
                        for st in &w.settings {
                            p.line(st.span.start, st.span.end, &workload_setting(&st.node));
                        }
                    },
                );
            }
            Item::Fault(f) => {
                let (sched, sched_end) = schedule(&f.schedule);
                let open = self.open_brace(sched_end.max(f.name.span.end));
                let head = format!("fault {} {sched}", f.name.name);
                self.block(
                    f.span.start,
                    open,
                    f.span.end - 1,
                    &head,
                    f.actions.is_empty(),
                    |p| {
                        for a in &f.actions {
                            p.line(a.span.start, a.span.end, &action(&a.node));
                        }
                    },
                );
            }
            Item::Expect(e) => {
                let open = self.open_brace(e.span.start);
                self.block(
                    e.span.start,
                    open,
                    e.span.end - 1,
                    "expect",
                    e.statements.is_empty(),
                    |p| {
                        for st in &e.statements {
                            p.line(st.span.start, st.span.end, &expect_stmt(&st.node));
                        }
                    },
                );
            }
            Item::Explore(e) => {
                let open = self.open_brace(e.span.start);
                self.block(
                    e.span.start,
                    open,
                    e.span.end - 1,
                    "explore",
                    e.lines.is_empty(),
                    |p| {
                        for l in &e.lines {
                            p.line(l.span.start, l.span.end, &explore_line(&l.node));
                        }
                    },
                );
            }
        }
    }

    fn service_setting(&mut self, st: &Spanned<ServiceSetting>) {
        let text = match &st.node {
            ServiceSetting::Replicas(v) => format!("replicas {}", v.text),
            ServiceSetting::Autoscale {
                min,
                max,
                rule,
                delay,
                interval,
            } => {
                let mut s = format!("autoscale {}..{} ", min.text, max.text);
                match rule {
                    AutoscaleRule::Target(t) => s.push_str(&format!("target {}", t.text)),
                    AutoscaleRule::Watermarks { up, down } => {
                        s.push_str(&format!("up above {} down below {}", up.text, down.text))
                    }
                }
                if let Some(d) = delay {
                    s.push_str(&format!(" delay {}", d.text));
                }
                if let Some(i) = interval {
                    s.push_str(&format!(" interval {}", i.text));
                }
                s
            }
            ServiceSetting::Workers(v) => format!("workers {}", v.text),
            ServiceSetting::Queue { size, discipline } => match discipline {
                Some(d) => format!("queue {} {}", size.text, d.name),
                None => format!("queue {}", size.text),
            },
            ServiceSetting::HealthCheck {
                every,
                timeout,
                unhealthy,
                healthy,
            } => {
                let mut s = format!("health_check every {}", every.text);
                for (word, v) in [
                    ("timeout", timeout),
                    ("unhealthy", unhealthy),
                    ("healthy", healthy),
                ] {
                    if let Some(v) = v {
                        s.push_str(&format!(" {word} {}", v.text));
                    }
                }
                s
            }
            ServiceSetting::Eject {
                after,
                duration,
                max,
            } => {
                let mut s = format!("eject after {} errors for {}", after.text, duration.text);
                if let Some(m) = max {
                    s.push_str(&format!(" max {}", m.text));
                }
                s
            }
            ServiceSetting::RateLimit(v) => format!("rate_limit {}", v.text),
            ServiceSetting::Restart(v) => format!("restart {}", v.text),
            ServiceSetting::Balance(i) => format!("balance {}", i.name),
            ServiceSetting::Latency(d) => format!("latency {}", dist(d)),
            ServiceSetting::Endpoint(e) => {
                let open = self.open_brace(e.name.span.end);
                let head = format!("endpoint {}", string(&e.name));
                self.block(
                    st.span.start,
                    open,
                    st.span.end - 1,
                    &head,
                    e.steps.is_empty(),
                    |p| {
                        p.steps(&e.steps);
                    },
                );
                return;
            }
        };
        self.line(st.span.start, st.span.end, &text);
    }

    fn steps(&mut self, steps: &[Spanned<Step>]) {
        for s in steps {
            self.step(s, "");
        }
    }

    /// One step; `prefix` goes before it on its first line (`70% => ` in a choice).
    fn step(&mut self, st: &Spanned<Step>, prefix: &str) {
        let (start, end) = (st.span.start, st.span.end);
        match &st.node {
            Step::Work(d) => self.line(start, end, &format!("{prefix}work {}", dist(d))),
            Step::Fail { ratio, status } => {
                let mut s = format!("{prefix}fail {}", ratio.text);
                if let Some(c) = status {
                    s.push_str(&format!(" status {}", c.text));
                }
                self.line(start, end, &s);
            }
            Step::Call(c) | Step::Send(c) => {
                let word = if matches!(st.node, Step::Send(_)) {
                    "send"
                } else {
                    "call"
                };
                let head = format!("{prefix}{word} {} {}", c.service.name, string(&c.endpoint));
                if c.block {
                    let open = self.open_brace(c.endpoint.span.end);
                    let close = self.close_brace(open);
                    self.block(start, open, close, &head, c.policies.is_empty(), |p| {
                        for pol in &c.policies {
                            p.line(pol.span.start, pol.span.end, &policy(&pol.node));
                        }
                    });
                } else {
                    let mut s = head;
                    for pol in &c.policies {
                        s.push(' ');
                        s.push_str(&policy(&pol.node));
                    }
                    self.line(start, end, &s);
                }
            }
            Step::Parallel(steps) => {
                let open = self.open_brace(start);
                let head = format!("{prefix}parallel");
                self.block(start, open, end - 1, &head, steps.is_empty(), |p| {
                    p.steps(steps)
                });
            }
            Step::Choice(branches) => {
                let open = self.open_brace(start);
                let head = format!("{prefix}choice");
                self.block(start, open, end - 1, &head, branches.is_empty(), |p| {
                    for b in branches {
                        p.branch(b);
                    }
                });
            }
        }
    }

    fn branch(&mut self, b: &Branch) {
        let prefix = format!("{} =>", b.weight.text);
        match (b.braced, b.steps.as_slice()) {
            (false, [only]) => self.step(only, &format!("{prefix} ")),
            _ => {
                let open = self.open_brace(b.weight.span.end);
                self.block(
                    b.span.start,
                    open,
                    b.span.end - 1,
                    &prefix,
                    b.steps.is_empty(),
                    |p| {
                        p.steps(&b.steps);
                    },
                );
            }
        }
    }
}

/// A string literal with its escapes.
fn string(s: &StrLit) -> String {
    let mut out = String::with_capacity(s.value.len() + 2);
    out.push('"');
    for c in s.value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn dist(d: &Dist) -> String {
    match d {
        Dist::Constant(v) => v.text.clone(),
        Dist::Call(c) => {
            let args: Vec<String> = c
                .args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{} = {}", n.name, a.value.text),
                    None => a.value.text.clone(),
                })
                .collect();
            format!("{}({})", c.name.name, args.join(", "))
        }
    }
}

fn policy(p: &Policy) -> String {
    match p {
        Policy::Timeout(v) => format!("timeout {}", v.text),
        Policy::Retry {
            count,
            backoff,
            jitter,
        } => {
            let mut s = format!("retry {}", count.text);
            if let Some(b) = backoff {
                s.push_str(&format!(" backoff {}", dist(b)));
            }
            if let Some(j) = jitter {
                s.push_str(&format!(" jitter {}", j.name));
            }
            s
        }
        Policy::CircuitBreaker {
            ratio,
            over,
            min,
            open,
        } => format!(
            "circuit_breaker {} over {} min {} open {}",
            ratio.text, over.text, min.text, open.text
        ),
        Policy::OnError(i) => format!("on_error {}", i.name),
        Policy::Priority(v) => format!("priority {}", v.text),
    }
}

fn workload_setting(s: &WorkloadSetting) -> String {
    match s {
        WorkloadSetting::Target { service, endpoint } => {
            format!("target {} {}", service.name, string(endpoint))
        }
        WorkloadSetting::Rate(segments) => {
            let parts: Vec<String> = segments
                .iter()
                .map(|seg| {
                    let mut s = seg.from.text.clone();
                    if let Some(to) = &seg.to {
                        s.push_str(&format!(" -> {}", to.text));
                    }
                    match &seg.length {
                        Some(SegmentLength::Over(d)) => s.push_str(&format!(" over {}", d.text)),
                        Some(SegmentLength::For(d)) => s.push_str(&format!(" for {}", d.text)),
                        None => {}
                    }
                    s
                })
                .collect();
            format!("rate {}", parts.join(", "))
        }
        WorkloadSetting::Spike { rate, at, duration } => {
            format!("spike {} at {} for {}", rate.text, at.text, duration.text)
        }
        WorkloadSetting::Arrivals(i) => format!("arrivals {}", i.name),
        WorkloadSetting::Timeout(v) => format!("timeout {}", v.text),
        WorkloadSetting::Users {
            from,
            to,
            over,
            think,
        } => {
            let mut s = format!("users {}", from.text);
            if let Some(to) = to {
                s.push_str(&format!(" -> {}", to.text));
            }
            if let Some(over) = over {
                s.push_str(&format!(" over {}", over.text));
            }
            s.push_str(&format!(" think {}", dist(think)));
            s
        }
        WorkloadSetting::Priority(v) => format!("priority {}", v.text),
    }
}

/// The schedule's text and the source offset where it ends.
fn schedule(s: &Schedule) -> (String, usize) {
    match s {
        Schedule::At { at, duration } => {
            let mut t = format!("at {}", at.text);
            let mut end = at.span.end;
            if let Some(d) = duration {
                t.push_str(&format!(" for {}", d.text));
                end = end.max(d.span.end);
            }
            (t, end)
        }
        Schedule::Every {
            every,
            from,
            until,
            duration,
        } => {
            let mut t = format!("every {}", every.text);
            let mut end = every.span.end;
            for (word, v) in [("from", from), ("until", until), ("for", duration)] {
                if let Some(v) = v {
                    t.push_str(&format!(" {word} {}", v.text));
                    end = end.max(v.span.end);
                }
            }
            (t, end)
        }
    }
}

fn target(t: &TargetRef) -> String {
    let subset = match &t.replicas {
        Some(n) => format!("{} of ", n.text),
        None => String::new(),
    };
    match &t.endpoint {
        Some(e) => format!("{subset}{} {}", t.service.name, string(e)),
        None => format!("{subset}{}", t.service.name),
    }
}

fn names(ids: &[Ident]) -> String {
    ids.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn action(a: &Action) -> String {
    match a {
        Action::Latency { delay, target: t } => {
            format!("latency +{} on {}", dist(delay), target(t))
        }
        Action::Errors {
            ratio,
            status,
            target: t,
        } => match status {
            Some(c) => format!("errors {} status {} on {}", ratio.text, c.text, target(t)),
            None => format!("errors {} on {}", ratio.text, target(t)),
        },
        Action::Kill { count, of } => match of {
            KillTarget::Service(s) => format!("kill {} of {}", count.text, s.name),
            KillTarget::Random { services, .. } => {
                format!("kill {} of random({})", count.text, names(services))
            }
        },
        Action::Partition { a, b } => format!("partition {} | {}", names(a), names(b)),
        Action::Cpu { factor, target: t } => format!("cpu {} on {}", factor.text, target(t)),
        Action::Loss { ratio, target: t } => format!("loss {} on {}", ratio.text, target(t)),
        Action::Memory {
            rate,
            target: t,
            limit,
        } => {
            format!("memory {} on {} limit {}", rate.text, target(t), limit.text)
        }
    }
}

fn condition(c: &Condition) -> String {
    let subject = match &c.subject.endpoint {
        Some(e) => format!("{} {}", c.subject.name.name, string(e)),
        None => c.subject.name.name.clone(),
    };
    format!(
        "{}({subject}) {} {}",
        c.metric.name,
        c.op.node.symbol(),
        c.threshold.text
    )
}

fn expect_stmt(s: &ExpectStmt) -> String {
    match s {
        ExpectStmt::Abort {
            condition: c,
            duration,
        } => {
            format!("abort when {} for {}", condition(c), duration.text)
        }
        ExpectStmt::Check {
            condition: c,
            window,
        } => match window {
            Some(w) => format!("{} {}", condition(c), window_text(&w.node)),
            None => condition(c),
        },
    }
}

fn window_text(w: &WindowSpec) -> String {
    match w {
        WindowSpec::Overall => "overall".into(),
        WindowSpec::During(f) => format!("during {}", f.name),
        WindowSpec::Before(f) => format!("before {}", f.name),
        WindowSpec::After {
            fault,
            plus,
            duration,
        } => {
            let mut s = format!("after {}", fault.name);
            if let Some(p) = plus {
                s.push_str(&format!(" + {}", p.text));
            }
            if let Some(d) = duration {
                s.push_str(&format!(" for {}", d.text));
            }
            s
        }
        WindowSpec::Between { from, to } => format!("between {} and {}", from.text, to.text),
    }
}

fn explore_line(l: &ExploreLine) -> String {
    match l {
        ExploreLine::MaxFaults(v) => format!("max_faults {}", v.text),
        ExploreLine::At(b) => format!("at {}", bounds(b)),
        ExploreLine::For(b) => format!("for {}", bounds(b)),
        ExploreLine::Partition { sides: None } => "partition *".into(),
        ExploreLine::Partition {
            sides: Some((a, b)),
        } => format!("partition {} | {}", names(a), names(b)),
        ExploreLine::Fault {
            kind,
            intensity,
            targets,
            limit,
        } => {
            let mut s = kind.name.clone();
            if let Some(b) = intensity {
                s.push(' ');
                s.push_str(&bounds(b));
            }
            // A kill names the service it kills `of`, every other action the one it is `on`,
            // as in a fault's actions (either word is accepted).
            s.push_str(if kind.name == "kill" { " of " } else { " on " });
            match targets {
                ExploreTargets::All { .. } => s.push('*'),
                ExploreTargets::Services(ids) => s.push_str(&names(ids)),
            }
            if let Some(v) = limit {
                s.push_str(&format!(" limit {}", v.text));
            }
            s
        }
    }
}

fn bounds(b: &Bounds) -> String {
    match b {
        Bounds::UpTo(v) => format!("up to {}", v.text),
        Bounds::Between(a, b) => format!("{}..{}", a.text, b.text),
        Bounds::Exactly(v) => v.text.clone(),
    }
}
