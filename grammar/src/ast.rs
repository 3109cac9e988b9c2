//! The syntax tree: what the user wrote, with a byte span on every node.
//!
//! It is deliberately close to the text (the formatter prints it back, comments included) and
//! checks nothing beyond the grammar: unknown names, wrong units, impossible values are the
//! compiler's business, so that it can report all of them with good messages. No pest type
//! appears here.

use serde::Serialize;

/// Byte range `start..end` in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A node with the span of everything it was parsed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

/// A name: service, workload, fault, param, metric, or a keyword-like value (`round_robin`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal, unescaped; the span covers the quotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// `# ...` to the end of the line; `text` excludes the `#`. Kept for the formatter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
    /// Every comment in source order.
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Item {
    Import(Import),
    Param(Param),
    Scenario(Scenario),
    Service(Service),
    Workload(Workload),
    Fault(Fault),
    Expect(Expect),
    Explore(Explore),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Param(i) => i.span,
            Item::Scenario(i) => i.span,
            Item::Service(i) => i.span,
            Item::Workload(i) => i.span,
            Item::Fault(i) => i.span,
            Item::Expect(i) => i.span,
            Item::Explore(i) => i.span,
        }
    }
}

/// `import "path.chaos"`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Import {
    pub path: StrLit,
    pub span: Span,
}

/// `param NAME = VALUE`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    pub name: Ident,
    pub value: Value,
    pub span: Span,
}

/// A literal with its unit as written, or a `$param` reference. Units are converted to base
/// units here (seconds, per second, fraction, bytes) so the checker compares kinds, not text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    pub kind: ValueKind,
    /// The source text, e.g. `1m30s`, `400/s`, `$peak`: the formatter prints it unchanged.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ValueKind {
    /// A plain number: counts, seeds, status codes, Pareto shapes.
    Number(f64),
    /// Seconds. `250us` `250ms` `2s` `10m` `1h` `1m30s` (units: `units::TIME_UNITS`).
    Duration(f64),
    /// Per second. `400/s` `20/m` `3/h`.
    Rate(f64),
    /// A fraction: `20%` is 0.2.
    Ratio(f64),
    /// `3x`, `0.5x`, or `x3`.
    Multiplier(f64),
    /// Bytes. `64KiB` `256MiB` `1GiB` (units: `units::SIZE_UNITS`).
    Size(f64),
    /// Bytes per second. `20MiB/s`.
    SizeRate(f64),
    /// `$name`, resolved by the compiler.
    Param(String),
}

/// A distribution or function-like value: `5ms` (constant), `exponential(mean = 5ms)`,
/// `uniform(2ms, 9ms)`, `exponential(50ms, max = 1s)` (a backoff). Names and arguments are
/// checked by the compiler.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Dist {
    Constant(Value),
    Call(DistCall),
}

impl Dist {
    pub fn span(&self) -> Span {
        match self {
            Dist::Constant(v) => v.span,
            Dist::Call(c) => c.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistCall {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// `mean = 5ms` (named) or `5ms` (positional).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: StrLit,
    pub settings: Vec<Spanned<ScenarioSetting>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ScenarioSetting {
    Duration(Value),
    Warmup(Value),
    Seed(Value),
    Window(Value),
    /// `hop D`: the model's cost of one network hop.
    Hop(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: Ident,
    pub settings: Vec<Spanned<ServiceSetting>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ServiceSetting {
    Replicas(Value),
    /// `autoscale MIN..MAX target RATIO [delay D] [interval D]`, or with
    /// `up above RATIO down below RATIO` instead of `target RATIO`
    Autoscale {
        min: Value,
        max: Value,
        rule: AutoscaleRule,
        delay: Option<Value>,
        interval: Option<Value>,
    },
    Workers(Value),
    /// `queue N [DISCIPLINE]`
    Queue {
        size: Value,
        discipline: Option<Ident>,
    },
    /// `health_check every D [timeout D] [unhealthy N] [healthy N]`
    HealthCheck {
        every: Value,
        timeout: Option<Value>,
        unhealthy: Option<Value>,
        healthy: Option<Value>,
    },
    /// `eject after N errors for D [max RATIO]`
    Eject {
        after: Value,
        duration: Value,
        max: Option<Value>,
    },
    RateLimit(Value),
    Restart(Value),
    Balance(Ident),
    Latency(Dist),
    Endpoint(Endpoint),
}

/// How `autoscale` picks the replica count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AutoscaleRule {
    /// `target RATIO`
    Target(Value),
    /// `up above RATIO down below RATIO`
    Watermarks { up: Value, down: Value },
}

impl AutoscaleRule {
    /// The last value written, where the rule ends.
    pub fn last(&self) -> &Value {
        match self {
            AutoscaleRule::Target(v) => v,
            AutoscaleRule::Watermarks { down, .. } => down,
        }
    }
}

/// `endpoint "GET /x" { STEPS }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    pub name: StrLit,
    pub steps: Vec<Spanned<Step>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Step {
    Work(Dist),
    Call(CallStep),
    /// `send SERVICE "ENDPOINT"`: fire-and-forget. `policies` are only kept so the compiler
    /// can report them (a send has none).
    Send(CallStep),
    Parallel(Vec<Spanned<Step>>),
    Choice(Vec<Branch>),
    /// `fail RATIO [status CODE]`
    Fail {
        ratio: Value,
        status: Option<Value>,
    },
}

/// `70% => STEP` or `70% => { STEPS }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Branch {
    pub weight: Value,
    pub steps: Vec<Spanned<Step>>,
    /// Written with braces (the formatter keeps the form).
    pub braced: bool,
    pub span: Span,
}

/// `call SERVICE "ENDPOINT" [POLICY...]` or with the policies in a `{ }` block (also a `send`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallStep {
    pub service: Ident,
    pub endpoint: StrLit,
    pub policies: Vec<Spanned<Policy>>,
    /// Policies were written as a block (the formatter keeps the form).
    pub block: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Policy {
    Timeout(Value),
    /// `retry N [backoff DIST] [jitter none|full|equal]`
    Retry {
        count: Value,
        backoff: Option<Dist>,
        jitter: Option<Ident>,
    },
    /// `circuit_breaker RATIO over D min N open D`
    CircuitBreaker {
        ratio: Value,
        over: Value,
        min: Value,
        open: Value,
    },
    /// `on_error continue`
    OnError(Ident),
    /// `priority N`
    Priority(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub name: Ident,
    pub settings: Vec<Spanned<WorkloadSetting>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum WorkloadSetting {
    Target {
        service: Ident,
        endpoint: StrLit,
    },
    /// `rate A -> B over D, B for D, ...`
    Rate(Vec<RateSegment>),
    /// `spike RATE at T for D`
    Spike {
        rate: Value,
        at: Value,
        duration: Value,
    },
    Arrivals(Ident),
    Timeout(Value),
    /// `users N [-> M over D] think DIST`
    Users {
        from: Value,
        to: Option<Value>,
        over: Option<Value>,
        think: Dist,
    },
    /// `priority N`
    Priority(Value),
}

/// `A` (hold until the end), `A for D` (hold), `A -> B over D` (ramp).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateSegment {
    pub from: Value,
    pub to: Option<Value>,
    pub length: Option<SegmentLength>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SegmentLength {
    Over(Value),
    For(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub name: Ident,
    pub schedule: Schedule,
    pub actions: Vec<Spanned<Action>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Schedule {
    /// `at T [for D]`
    At { at: Value, duration: Option<Value> },
    /// `every D [from T] [until T] [for D]`
    Every {
        every: Value,
        from: Option<Value>,
        until: Option<Value>,
        duration: Option<Value>,
    },
}

/// `SERVICE` or `SERVICE "ENDPOINT"`, optionally after `N of` or `N% of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetRef {
    /// `N` or `N%` of `on N of SERVICE`: only that many of the service's replicas.
    pub replicas: Option<Value>,
    pub service: Ident,
    pub endpoint: Option<StrLit>,
    /// From the service's name (not the `N of`) to the end of the target.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Action {
    /// `latency +DIST on TARGET`
    Latency { delay: Dist, target: TargetRef },
    /// `errors RATIO [status CODE] on TARGET`
    Errors {
        ratio: Value,
        status: Option<Value>,
        target: TargetRef,
    },
    /// `kill N of SERVICE` or `kill N of random(A, B, ...)`
    Kill { count: Value, of: KillTarget },
    /// `partition A[, A2...] | B[, B2...]`
    Partition { a: Vec<Ident>, b: Vec<Ident> },
    /// `cpu x3 on TARGET` (or `3x`)
    Cpu { factor: Value, target: TargetRef },
    /// `loss RATIO on TARGET`
    Loss { ratio: Value, target: TargetRef },
    /// `memory SIZE/s on SERVICE limit SIZE`
    Memory {
        rate: Value,
        target: TargetRef,
        limit: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum KillTarget {
    Service(Ident),
    Random { services: Vec<Ident>, span: Span },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expect {
    pub statements: Vec<Spanned<ExpectStmt>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExpectStmt {
    /// `METRIC(SUBJECT) OP VALUE [WINDOW]`
    Check {
        condition: Condition,
        window: Option<Spanned<WindowSpec>>,
    },
    /// `abort when CONDITION for D`
    Abort {
        condition: Condition,
        duration: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// `p99`, `error_rate`, ... (checked by the compiler, so a typo gets "did you mean").
    pub metric: Ident,
    pub subject: SubjectRef,
    pub op: Spanned<CmpOp>,
    pub threshold: Value,
    pub span: Span,
}

/// `gateway`, `gateway "GET /x"`, or a workload name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectRef {
    pub name: Ident,
    pub endpoint: Option<StrLit>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum WindowSpec {
    Overall,
    During(Ident),
    Before(Ident),
    /// `after F [+ D] [for D]`
    After {
        fault: Ident,
        plus: Option<Value>,
        duration: Option<Value>,
    },
    /// `between T and T`
    Between {
        from: Value,
        to: Value,
    },
}

/// `explore { LINES }`: the search space of `chaos explore`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explore {
    pub lines: Vec<Spanned<ExploreLine>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExploreLine {
    /// `max_faults N`
    MaxFaults(Value),
    /// `at RANGE`: when added faults start.
    At(Bounds),
    /// `for RANGE`: how long they last.
    For(Bounds),
    /// `partition A, B | C` (each pair), or `partition *` (`None`: every call edge).
    Partition {
        sides: Option<(Vec<Ident>, Vec<Ident>)>,
    },
    /// `KIND [RANGE] on TARGETS [limit SIZE]`; the kind is checked by the compiler.
    Fault {
        kind: Ident,
        intensity: Option<Bounds>,
        targets: ExploreTargets,
        limit: Option<Value>,
    },
}

/// The range of an explore line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Bounds {
    /// `up to HIGH`
    UpTo(Value),
    /// `LOW..HIGH`
    Between(Value, Value),
    /// `VALUE`
    Exactly(Value),
}

impl Bounds {
    pub fn span(&self) -> Span {
        match self {
            Bounds::UpTo(v) | Bounds::Exactly(v) => v.span,
            Bounds::Between(a, b) => a.span.to(b.span),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExploreTargets {
    /// `*`: every service.
    All {
        span: Span,
    },
    Services(Vec<Ident>),
}
