//! Every definition and reference of a name in one compilation (the root file and its imports),
//! found by walking the syntax trees: the base of go to definition, references and rename.

use chaos_compiler::{Compiled, FileId};
use chaos_grammar::Span;
use chaos_grammar::ast::{
    Action, AutoscaleRule, Bounds, CallStep, Condition, Dist, ExpectStmt, ExploreLine,
    ExploreTargets, File, Item, KillTarget, Policy, Schedule, SegmentLength, ServiceSetting,
    Spanned, Step, TargetRef, Value, ValueKind, WindowSpec, WorkloadSetting,
};

/// What a name refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SymbolKey {
    Service(String),
    /// A service's endpoint: (service, endpoint).
    Endpoint(String, String),
    Workload(String),
    Fault(String),
    Param(String),
}

impl SymbolKey {
    /// The name as written in source (an endpoint's without quotes).
    pub fn name(&self) -> &str {
        match self {
            SymbolKey::Service(n)
            | SymbolKey::Workload(n)
            | SymbolKey::Fault(n)
            | SymbolKey::Param(n) => n,
            SymbolKey::Endpoint(_, e) => e,
        }
    }

    /// `service`, `endpoint`, ... as a user calls it.
    pub fn kind_word(&self) -> &'static str {
        match self {
            SymbolKey::Service(_) => "service",
            SymbolKey::Endpoint(..) => "endpoint",
            SymbolKey::Workload(_) => "workload",
            SymbolKey::Fault(_) => "fault",
            SymbolKey::Param(_) => "param",
        }
    }
}

/// One place where a name is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub key: SymbolKey,
    pub file: FileId,
    /// The name itself: without the `$` of a param reference; with the quotes of an endpoint.
    pub span: Span,
    pub is_definition: bool,
}

/// The occurrences of one compilation, in file then source order.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub occurrences: Vec<Occurrence>,
}

impl Index {
    pub fn build(compiled: &Compiled) -> Index {
        let mut w = Walker {
            file: FileId(0),
            out: Vec::new(),
            subjects: Vec::new(),
        };
        for (id, _) in compiled.sources.iter() {
            if let Some(ast) = compiled.ast(id) {
                w.file = id;
                w.walk(ast);
            }
        }
        // A subject names a workload when one exists by that name, else a service (as the
        // compiler resolves it).
        let workloads: Vec<String> = w
            .out
            .iter()
            .filter(|o| o.is_definition)
            .filter_map(|o| match &o.key {
                SymbolKey::Workload(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let mut occurrences = w.out;
        for (file, span, name) in w.subjects {
            let key = if workloads.contains(&name) {
                SymbolKey::Workload(name)
            } else {
                SymbolKey::Service(name)
            };
            occurrences.push(Occurrence {
                key,
                file,
                span,
                is_definition: false,
            });
        }
        occurrences.sort_by_key(|o| (o.file, o.span.start));
        Index { occurrences }
    }

    /// The occurrence under a byte offset of a file (the end of a name counts, so that a cursor
    /// right after it still finds it).
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .find(|o| o.file == file && o.span.start <= offset && offset <= o.span.end)
    }

    pub fn definitions<'a>(
        &'a self,
        key: &'a SymbolKey,
    ) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences
            .iter()
            .filter(move |o| o.is_definition && &o.key == key)
    }

    pub fn all<'a>(&'a self, key: &'a SymbolKey) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| &o.key == key)
    }

    /// Names defined anywhere in the compilation, of one kind, in declaration order, deduplicated.
    pub fn defined(&self, kind: fn(&SymbolKey) -> bool) -> Vec<&SymbolKey> {
        let mut out: Vec<&SymbolKey> = Vec::new();
        for o in self
            .occurrences
            .iter()
            .filter(|o| o.is_definition && kind(&o.key))
        {
            if !out.contains(&&o.key) {
                out.push(&o.key);
            }
        }
        out
    }
}

struct Walker {
    file: FileId,
    out: Vec<Occurrence>,
    /// Expectation subjects, resolved once every workload is known.
    subjects: Vec<(FileId, Span, String)>,
}

impl Walker {
    fn def(&mut self, key: SymbolKey, span: Span) {
        self.out.push(Occurrence {
            key,
            file: self.file,
            span,
            is_definition: true,
        });
    }

    fn reference(&mut self, key: SymbolKey, span: Span) {
        self.out.push(Occurrence {
            key,
            file: self.file,
            span,
            is_definition: false,
        });
    }

    fn walk(&mut self, file: &File) {
        for item in &file.items {
            match item {
                Item::Import(_) => {}
                Item::Param(p) => {
                    self.def(SymbolKey::Param(p.name.name.clone()), p.name.span);
                    self.value(&p.value);
                }
                Item::Scenario(s) => {
                    for Spanned { node, .. } in &s.settings {
                        use chaos_grammar::ast::ScenarioSetting as S;
                        match node {
                            S::Duration(v)
                            | S::Warmup(v)
                            | S::Seed(v)
                            | S::Window(v)
                            | S::Hop(v) => self.value(v),
                        }
                    }
                }
                Item::Service(s) => {
                    let service = s.name.name.clone();
                    self.def(SymbolKey::Service(service.clone()), s.name.span);
                    for Spanned { node, .. } in &s.settings {
                        self.service_setting(&service, node);
                    }
                }
                Item::Workload(wl) => {
                    self.def(SymbolKey::Workload(wl.name.name.clone()), wl.name.span);
                    for Spanned { node, .. } in &wl.settings {
                        self.workload_setting(node);
                    }
                }
                Item::Fault(f) => {
                    self.def(SymbolKey::Fault(f.name.name.clone()), f.name.span);
                    match &f.schedule {
                        Schedule::At { at, duration } => {
                            self.value(at);
                            self.opt(duration.as_ref());
                        }
                        Schedule::Every {
                            every,
                            from,
                            until,
                            duration,
                        } => {
                            self.value(every);
                            self.opt(from.as_ref());
                            self.opt(until.as_ref());
                            self.opt(duration.as_ref());
                        }
                    }
                    for Spanned { node, .. } in &f.actions {
                        self.action(node);
                    }
                }
                Item::Expect(e) => {
                    for Spanned { node, .. } in &e.statements {
                        match node {
                            ExpectStmt::Check { condition, window } => {
                                self.condition(condition);
                                if let Some(w) = window {
                                    self.window(&w.node);
                                }
                            }
                            ExpectStmt::Abort {
                                condition,
                                duration,
                            } => {
                                self.condition(condition);
                                self.value(duration);
                            }
                        }
                    }
                }
                Item::Explore(e) => {
                    for Spanned { node, .. } in &e.lines {
                        self.explore_line(node);
                    }
                }
            }
        }
    }

    /// Services named in `explore` are references (rename and go to definition reach them).
    fn explore_line(&mut self, line: &ExploreLine) {
        match line {
            ExploreLine::MaxFaults(v) => self.value(v),
            ExploreLine::At(b) | ExploreLine::For(b) => self.bounds(b),
            ExploreLine::Partition { sides } => {
                for s in sides.iter().flat_map(|(a, b)| a.iter().chain(b)) {
                    self.reference(SymbolKey::Service(s.name.clone()), s.span);
                }
            }
            ExploreLine::Fault {
                intensity,
                targets,
                limit,
                ..
            } => {
                if let Some(b) = intensity {
                    self.bounds(b);
                }
                if let ExploreTargets::Services(ids) = targets {
                    for s in ids {
                        self.reference(SymbolKey::Service(s.name.clone()), s.span);
                    }
                }
                self.opt(limit.as_ref());
            }
        }
    }

    fn bounds(&mut self, b: &Bounds) {
        match b {
            Bounds::UpTo(v) | Bounds::Exactly(v) => self.value(v),
            Bounds::Between(l, h) => {
                self.value(l);
                self.value(h);
            }
        }
    }

    fn service_setting(&mut self, service: &str, setting: &ServiceSetting) {
        match setting {
            ServiceSetting::Replicas(v)
            | ServiceSetting::Workers(v)
            | ServiceSetting::Queue { size: v, .. }
            | ServiceSetting::RateLimit(v)
            | ServiceSetting::Restart(v) => self.value(v),
            ServiceSetting::Autoscale {
                min,
                max,
                rule,
                delay,
                interval,
            } => {
                self.value(min);
                self.value(max);
                match rule {
                    AutoscaleRule::Target(v) => self.value(v),
                    AutoscaleRule::Watermarks { up, down } => {
                        self.value(up);
                        self.value(down);
                    }
                }
                self.opt(delay.as_ref());
                self.opt(interval.as_ref());
            }
            ServiceSetting::HealthCheck {
                every,
                timeout,
                unhealthy,
                healthy,
            } => {
                self.value(every);
                self.opt(timeout.as_ref());
                self.opt(unhealthy.as_ref());
                self.opt(healthy.as_ref());
            }
            ServiceSetting::Eject {
                after,
                duration,
                max,
            } => {
                self.value(after);
                self.value(duration);
                self.opt(max.as_ref());
            }
            ServiceSetting::Balance(_) => {}
            ServiceSetting::Latency(d) => self.dist(d),
            ServiceSetting::Endpoint(e) => {
                self.def(
                    SymbolKey::Endpoint(service.to_string(), e.name.value.clone()),
                    e.name.span,
                );
                self.steps(&e.steps);
            }
        }
    }

    fn steps(&mut self, steps: &[Spanned<Step>]) {
        for Spanned { node, .. } in steps {
            match node {
                Step::Work(d) => self.dist(d),
                Step::Call(c) | Step::Send(c) => self.call(c),
                Step::Parallel(inner) => self.steps(inner),
                Step::Choice(branches) => {
                    for b in branches {
                        self.value(&b.weight);
                        self.steps(&b.steps);
                    }
                }
                Step::Fail { ratio, status } => {
                    self.value(ratio);
                    self.opt(status.as_ref());
                }
            }
        }
    }

    fn call(&mut self, c: &CallStep) {
        self.reference(SymbolKey::Service(c.service.name.clone()), c.service.span);
        self.reference(
            SymbolKey::Endpoint(c.service.name.clone(), c.endpoint.value.clone()),
            c.endpoint.span,
        );
        for Spanned { node, .. } in &c.policies {
            match node {
                Policy::Timeout(v) | Policy::Priority(v) => self.value(v),
                Policy::Retry { count, backoff, .. } => {
                    self.value(count);
                    if let Some(d) = backoff {
                        self.dist(d);
                    }
                }
                Policy::CircuitBreaker {
                    ratio,
                    over,
                    min,
                    open,
                } => {
                    for v in [ratio, over, min, open] {
                        self.value(v);
                    }
                }
                Policy::OnError(_) => {}
            }
        }
    }

    fn workload_setting(&mut self, setting: &WorkloadSetting) {
        match setting {
            WorkloadSetting::Target { service, endpoint } => {
                self.reference(SymbolKey::Service(service.name.clone()), service.span);
                self.reference(
                    SymbolKey::Endpoint(service.name.clone(), endpoint.value.clone()),
                    endpoint.span,
                );
            }
            WorkloadSetting::Rate(segments) => {
                for s in segments {
                    self.value(&s.from);
                    self.opt(s.to.as_ref());
                    match &s.length {
                        Some(SegmentLength::Over(v) | SegmentLength::For(v)) => self.value(v),
                        None => {}
                    }
                }
            }
            WorkloadSetting::Spike { rate, at, duration } => {
                for v in [rate, at, duration] {
                    self.value(v);
                }
            }
            WorkloadSetting::Arrivals(_) => {}
            WorkloadSetting::Timeout(v) | WorkloadSetting::Priority(v) => self.value(v),
            WorkloadSetting::Users {
                from,
                to,
                over,
                think,
            } => {
                self.value(from);
                self.opt(to.as_ref());
                self.opt(over.as_ref());
                self.dist(think);
            }
        }
    }

    fn action(&mut self, action: &Action) {
        match action {
            Action::Latency { delay, target } => {
                self.dist(delay);
                self.target(target);
            }
            Action::Errors {
                ratio,
                status,
                target,
            } => {
                self.value(ratio);
                self.opt(status.as_ref());
                self.target(target);
            }
            Action::Kill { count, of } => {
                self.value(count);
                match of {
                    KillTarget::Service(s) => {
                        self.reference(SymbolKey::Service(s.name.clone()), s.span)
                    }
                    KillTarget::Random { services, .. } => {
                        for s in services {
                            self.reference(SymbolKey::Service(s.name.clone()), s.span);
                        }
                    }
                }
            }
            Action::Partition { a, b } => {
                for s in a.iter().chain(b) {
                    self.reference(SymbolKey::Service(s.name.clone()), s.span);
                }
            }
            Action::Cpu { factor: v, target } | Action::Loss { ratio: v, target } => {
                self.value(v);
                self.target(target);
            }
            Action::Memory {
                rate,
                target,
                limit,
            } => {
                self.value(rate);
                self.target(target);
                self.value(limit);
            }
        }
    }

    fn target(&mut self, t: &TargetRef) {
        self.opt(t.replicas.as_ref());
        self.reference(SymbolKey::Service(t.service.name.clone()), t.service.span);
        if let Some(e) = &t.endpoint {
            self.reference(
                SymbolKey::Endpoint(t.service.name.clone(), e.value.clone()),
                e.span,
            );
        }
    }

    fn condition(&mut self, c: &Condition) {
        let subject = &c.subject;
        match &subject.endpoint {
            // `p99(gateway "GET /x")`: only a service has endpoints.
            Some(e) => {
                self.reference(
                    SymbolKey::Service(subject.name.name.clone()),
                    subject.name.span,
                );
                self.reference(
                    SymbolKey::Endpoint(subject.name.name.clone(), e.value.clone()),
                    e.span,
                );
            }
            None => self
                .subjects
                .push((self.file, subject.name.span, subject.name.name.clone())),
        }
        self.value(&c.threshold);
    }

    fn window(&mut self, w: &WindowSpec) {
        match w {
            WindowSpec::Overall => {}
            WindowSpec::During(f) | WindowSpec::Before(f) => {
                self.reference(SymbolKey::Fault(f.name.clone()), f.span);
            }
            WindowSpec::After {
                fault,
                plus,
                duration,
            } => {
                self.reference(SymbolKey::Fault(fault.name.clone()), fault.span);
                self.opt(plus.as_ref());
                self.opt(duration.as_ref());
            }
            WindowSpec::Between { from, to } => {
                self.value(from);
                self.value(to);
            }
        }
    }

    fn dist(&mut self, d: &Dist) {
        match d {
            Dist::Constant(v) => self.value(v),
            Dist::Call(c) => {
                for a in &c.args {
                    self.value(&a.value);
                }
            }
        }
    }

    fn opt(&mut self, v: Option<&Value>) {
        if let Some(v) = v {
            self.value(v);
        }
    }

    fn value(&mut self, v: &Value) {
        if let ValueKind::Param(name) = &v.kind {
            // The span covers `$name`; the name starts after the `$`.
            let start = (v.span.start + 1).min(v.span.end);
            self.reference(SymbolKey::Param(name.clone()), Span::new(start, v.span.end));
        }
    }
}
