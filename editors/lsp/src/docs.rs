//! What each word of the language means, with the unit it takes: shown on hover and in
//! completion. Every keyword of the grammar has an entry (a test checks it).

/// A documented word: its forms (`syntax`), what it means, and the unit of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Doc {
    pub word: &'static str,
    pub syntax: &'static str,
    pub meaning: &'static str,
    /// The kind of value it takes, e.g. "duration (`250ms`, `2s`, `1m30s`)"; empty when none.
    pub unit: &'static str,
}

impl Doc {
    /// Markdown for a hover.
    pub fn markdown(&self) -> String {
        let mut s = format!("```chaos\n{}\n```\n{}", self.syntax, self.meaning);
        if !self.unit.is_empty() {
            s.push_str("\n\n**Unit:** ");
            s.push_str(self.unit);
        }
        s
    }
}

const DURATION: &str = "duration (`250us`, `250ms`, `2s`, `10m`, `1h`, `1m30s`)";
const RATE: &str = "rate (`400/s`, `20/m`, `3/h`)";
const RATIO: &str = "ratio (`20%`, `99.9%`)";
const COUNT: &str = "count (a plain integer)";

macro_rules! doc {
    ($word:literal, $syntax:literal, $meaning:literal) => {
        Doc {
            word: $word,
            syntax: $syntax,
            meaning: $meaning,
            unit: "",
        }
    };
    ($word:literal, $syntax:literal, $meaning:literal, $unit:expr) => {
        Doc {
            word: $word,
            syntax: $syntax,
            meaning: $meaning,
            unit: $unit,
        }
    };
}

/// Keywords of the grammar, then metric, distribution, argument and value names.
pub const DOCS: &[Doc] = &[
    // items
    doc!(
        "import",
        "import \"path.chaos\"",
        "Brings in the top-level items of another file; the path is relative to the importing file. Cycles and duplicate names are errors."
    ),
    doc!(
        "param",
        "param NAME = VALUE",
        "Declares a value that `--set NAME=VALUE` overrides at compile time; `$NAME` uses it anywhere a value of that unit fits."
    ),
    doc!(
        "scenario",
        "scenario \"TITLE\" { duration D  warmup D  seed N  window D  hop D }",
        "The run: exactly one per run, in the root file or an import."
    ),
    doc!(
        "service",
        "service NAME { replicas N  workers N  queue N  ...  endpoint \"...\" { } }",
        "A service: replicas that each serve `workers` requests at once, with a bounded queue, and endpoints."
    ),
    doc!(
        "endpoint",
        "endpoint \"METHOD /path\" { STEPS }",
        "An endpoint of a service. Steps run in order, holding one worker of the replica from start to end; an empty body means `work <latency>`."
    ),
    doc!(
        "workload",
        "workload NAME { target SERVICE \"ENDPOINT\"  rate R | users N think DIST }",
        "Clients sending requests to one endpoint: open loop (`rate`) or closed loop (`users`)."
    ),
    doc!(
        "fault",
        "fault NAME at T [for D] { ACTIONS }\nfault NAME every D [from T] [until T] [for D] { ACTIONS }",
        "A fault: when it starts, how long it lasts and what it does. Actions in one block start and end together; without `for`, a fault is instant (kill) or lasts until the end of the run (memory).",
        DURATION
    ),
    doc!(
        "expect",
        "expect { METRIC(SUBJECT) OP VALUE [WINDOW] ...  abort when CONDITION for D }",
        "Expectations checked against the run; each is reported with its observed value, threshold, window and verdict."
    ),
    doc!(
        "explore",
        "explore {\n  max_faults N\n  KIND [up to HIGH | LOW..HIGH | VALUE] on SERVICES | *\n  kill [RANGE] of SERVICES | *\n  partition A | B   partition *\n  at RANGE\n  for RANGE\n}",
        "The search space of `chaos explore`: the fault kinds and services it may add faults to, their intensity ranges, when they start (`at`), how long they last (`for`), how many at once. A run ignores it. What it leaves out is the default space: every kind on every service, any start, up to a quarter of the run, 2 at once."
    ),
    doc!(
        "max_faults",
        "max_faults N",
        "In `explore`: the most faults `chaos explore` adds at once, 1 to 8. `--max-faults` overrides it. Default 2.",
        COUNT
    ),
    doc!(
        "to",
        "KIND up to HIGH on SERVICES",
        "In `explore`: `up to HIGH` tries four levels from nothing up to HIGH (`errors up to 20%`: 5%, 10%, 15%, 20%; `cpu up to x3` from x1)."
    ),
    // scenario
    doc!(
        "duration",
        "duration D",
        "Simulated (or wall) time of the run. Required.",
        DURATION
    ),
    doc!(
        "warmup",
        "warmup D",
        "Time at the start excluded from `overall` windows. Default `0s`.",
        DURATION
    ),
    doc!(
        "seed",
        "seed N",
        "Default random seed for `--sim`; `--seed` overrides it. Default 1.",
        COUNT
    ),
    doc!(
        "window",
        "window D",
        "Width of the timeline buckets in reports and of the windows of `recovery` and `abort`. Default `1s`.",
        DURATION
    ),
    doc!(
        "hop",
        "hop D",
        "What one network hop costs on top of the callee's own time: the simulator adds it to every call, send and workload request that reaches a replica. Default `0s`; `--local` measures the real one and reports both.",
        DURATION
    ),
    // service
    doc!(
        "replicas",
        "replicas N",
        "Number of replicas of the service. Default 1. Excludes `autoscale`.",
        COUNT
    ),
    doc!(
        "autoscale",
        "autoscale MIN..MAX target RATIO [delay D] [interval D]\nautoscale MIN..MAX up above RATIO down below RATIO [delay D] [interval D]",
        "Scales between MIN and MAX replicas. With `target`, like an HPA: every `interval`, desired = ceil(current × utilisation / target). With watermarks: every `interval`, one replica more when utilisation is above `up`, one fewer when below `down`. New replicas serve after `delay` (default 10s); `interval` defaults to 15s.",
        "counts, then a ratio and durations"
    ),
    doc!(
        "target",
        "target SERVICE \"ENDPOINT\"   (workload)\nautoscale MIN..MAX target RATIO   (service)",
        "In a workload: the endpoint its clients call. In `autoscale`: the utilisation the autoscaler aims at.",
        "a service and an endpoint; in autoscale a ratio (`70%`)"
    ),
    doc!(
        "delay",
        "autoscale ... delay D",
        "How long a new replica takes before it serves.",
        DURATION
    ),
    doc!(
        "interval",
        "autoscale ... interval D",
        "How often the autoscaler decides.",
        DURATION
    ),
    doc!(
        "workers",
        "workers N",
        "Requests served concurrently by one replica. Default 1.",
        COUNT
    ),
    doc!(
        "queue",
        "queue N [fifo | lifo]",
        "Requests waiting per replica, served highest priority first and, within a priority, oldest first (`fifo`, the default) or newest first (`lifo`). When full, an arrival is rejected (503), or sheds the newest of a lower priority waiting (cause `shed`). Default unbounded.",
        COUNT
    ),
    doc!(
        "health_check",
        "health_check every D [timeout D] [unhealthy N] [healthy N]",
        "Callers send only to healthy replicas. Each replica is checked every D from its start, like a request from outside (its inbound faults apply, a dead replica fails; partitions do not cut checks); a check fails past `timeout` (default 1s). `unhealthy` failures in a row (default 3) take it out, `healthy` passes in a row (default 1) put it back. Replicas up at time 0 start healthy; later ones join after `healthy` passes. In `--cluster`: the Pod's readiness probe.",
        DURATION
    ),
    doc!(
        "unhealthy",
        "health_check every D unhealthy N",
        "Failed checks in a row that take a healthy replica out. Default 3; at least 1.",
        COUNT
    ),
    doc!(
        "healthy",
        "health_check every D healthy N",
        "Passed checks in a row that put a replica (back) in. Default 1; at least 1.",
        COUNT
    ),
    doc!(
        "eject",
        "eject after N errors for D [max RATIO]",
        "Outlier ejection, applied by each caller of this service: after N failed calls in a row (connection errors, timeouts, 5xx) to one replica, the caller stops picking it for D, then tries it again (one more failure ejects it again at once). At most `max` (default 50%) of the replicas are ejected at once.",
        "a count, a duration, a ratio"
    ),
    doc!(
        "up",
        "autoscale MIN..MAX up above RATIO down below RATIO",
        "The upper watermark: above it, one replica is added each interval.",
        RATIO
    ),
    doc!(
        "above",
        "autoscale MIN..MAX up above RATIO ...",
        "Utilisation above this adds one replica per interval.",
        RATIO
    ),
    doc!(
        "down",
        "autoscale MIN..MAX up above RATIO down below RATIO",
        "The lower watermark: below it, one replica is removed each interval. Must be below `up`.",
        RATIO
    ),
    doc!(
        "below",
        "autoscale ... down below RATIO",
        "Utilisation below this removes one replica per interval.",
        RATIO
    ),
    doc!(
        "rate_limit",
        "rate_limit R",
        "Token bucket per service; the excess is rejected (429). Default none.",
        RATE
    ),
    doc!(
        "restart",
        "restart D",
        "A killed replica serves again this long after it died. Default `5s`.",
        DURATION
    ),
    doc!(
        "balance",
        "balance round_robin | random | least_request",
        "How callers pick a replica. Default `round_robin`."
    ),
    doc!(
        "latency",
        "latency DIST   (service)\nlatency +DIST on SERVICE [\"ENDPOINT\"]   (fault)",
        "In a service: the default work of an endpoint that has no `work` step (default 0). In a fault: delay added on the wire in front of the target; the caller waits longer, the target's workers are not held.",
        "duration or distribution (`8ms`, `exponential(mean = 8ms)`)"
    ),
    // steps
    doc!(
        "work",
        "work DIST",
        "Busy for a sample of DIST, holding the worker (scaled by `cpu` faults).",
        "duration or distribution"
    ),
    doc!(
        "call",
        "call SERVICE \"ENDPOINT\" [timeout D] [retry N ...] [circuit_breaker ...] [on_error continue]",
        "Sends a request and waits for the answer, an error or the timeout. A failed call fails the step and the endpoint answers 500, unless `on_error continue`."
    ),
    doc!(
        "send",
        "send SERVICE \"ENDPOINT\"",
        "Fire-and-forget: sends a request and the step ends at once, holding nothing; the callee serves it like any request, its answer and errors never reach the caller. Carries the request's priority. No timeout, retry, breaker or `on_error` (an error)."
    ),
    doc!(
        "priority",
        "priority N   (workload, call policy)",
        "0 (default) to 9; the higher is served first from a replica's queue (non-preemptive). A request carries its workload's priority into every call and send it causes, unless a call sets its own.",
        "a whole number from 0 to 9"
    ),
    doc!(
        "parallel",
        "parallel { STEPS }",
        "Runs each step concurrently; the group ends when all end and fails if any fails."
    ),
    doc!(
        "choice",
        "choice { 70% => STEP  30% => { STEPS } }",
        "Runs one branch, picked by probability; the weights must sum to 100%.",
        RATIO
    ),
    doc!(
        "fail",
        "fail RATIO [status CODE]",
        "The endpoint itself fails this fraction of the time (status 500 unless given).",
        RATIO
    ),
    doc!(
        "status",
        "fail RATIO status CODE\nerrors RATIO status CODE on SERVICE",
        "The HTTP status of an injected failure.",
        "an HTTP status code (`500`, `503`)"
    ),
    // call policies
    doc!(
        "timeout",
        "call ... timeout D   (call policy)\ntimeout D   (workload)",
        "How long the caller (or the workload's client) waits before giving up. The callee keeps working: wasted work is real.",
        DURATION
    ),
    doc!(
        "retry",
        "retry N [backoff DIST] [jitter none|full|equal]",
        "Retries a failed call up to N times: on timeout, 5xx, 429 and connection errors.",
        COUNT
    ),
    doc!(
        "backoff",
        "retry N backoff DIST",
        "Wait before each retry: a duration, or `exponential(BASE, max = D)` for an exponential backoff.",
        "duration or distribution"
    ),
    doc!(
        "jitter",
        "retry N ... jitter none | full | equal",
        "Randomises the backoff: `full` draws from 0 to the backoff, `equal` from half of it to all of it."
    ),
    doc!(
        "circuit_breaker",
        "circuit_breaker RATIO over D min N open D",
        "A caller-side breaker per (caller, callee): it opens when at least RATIO of at least N calls over D failed, and stays open for the last duration.",
        "ratio, duration, count, duration"
    ),
    doc!(
        "over",
        "circuit_breaker RATIO over D ...\nrate A -> B over D\nusers N -> M over D",
        "The length of a breaker's observation window, or of a ramp.",
        DURATION
    ),
    doc!(
        "min",
        "circuit_breaker RATIO over D min N open D",
        "The fewest calls in the window before the breaker may open.",
        COUNT
    ),
    doc!(
        "open",
        "circuit_breaker ... open D",
        "How long the breaker stays open before it lets a call through again.",
        DURATION
    ),
    doc!(
        "on_error",
        "on_error continue",
        "After the call's policy: a failed call does not fail the endpoint; the next step runs."
    ),
    // workloads
    doc!(
        "rate",
        "rate A -> B over D, B for D, ...",
        "Open-loop load, piecewise: ramps (`->` ... `over`) and holds (`for`); the last rate holds until the end. Latency is measured from the intended send time (no coordinated omission).",
        RATE
    ),
    doc!(
        "spike",
        "spike R at T for D",
        "Extra open-loop load added on top of `rate`.",
        "rate, then durations"
    ),
    doc!(
        "arrivals",
        "arrivals poisson | uniform",
        "How open-loop requests are spaced. Default `poisson`."
    ),
    doc!(
        "users",
        "users N [-> M over D] think DIST",
        "Closed-loop load: each user sends, waits for the answer, thinks, and sends again; optionally a linear increase of users.",
        COUNT
    ),
    doc!(
        "think",
        "users N think DIST",
        "How long a closed-loop user waits between an answer and the next request.",
        "duration or distribution"
    ),
    // schedules
    doc!(
        "at",
        "fault NAME at T ...\nspike R at T for D",
        "When it starts, from the start of the run.",
        DURATION
    ),
    doc!(
        "for",
        "at T for D\nrate R for D\nafter F for D\nabort when ... for D",
        "How long it lasts (a fault, a hold of a rate, a window), or how long an abort condition must hold.",
        DURATION
    ),
    doc!(
        "every",
        "fault NAME every D [from T] [until T] [for D]",
        "Repeats the fault every D; `during NAME` is the union of its occurrences.",
        DURATION
    ),
    doc!(
        "from",
        "fault NAME every D from T",
        "The first occurrence of a repeated fault. Default: the start of the run.",
        DURATION
    ),
    doc!(
        "until",
        "fault NAME every D until T",
        "No occurrence of a repeated fault starts after this time. Default: the end of the run.",
        DURATION
    ),
    // fault actions
    doc!(
        "errors",
        "errors RATIO [status CODE] on SERVICE [\"ENDPOINT\"]",
        "The target answers this fraction of requests with an error (500 unless `status`).",
        RATIO
    ),
    doc!(
        "kill",
        "kill N of SERVICE\nkill N of random(A, B, ...)",
        "Kills N replicas at once; they serve again after the service's `restart`.",
        COUNT
    ),
    doc!(
        "of",
        "kill N of SERVICE",
        "The service whose replicas are killed."
    ),
    doc!(
        "random",
        "kill N of random(A, B, ...)\nbalance random",
        "In `kill`: one of the listed services, picked at random each time. In `balance`: callers pick a replica at random."
    ),
    doc!(
        "partition",
        "partition A, B | C, D",
        "Calls across the cut fail to connect, in both directions."
    ),
    doc!(
        "cpu",
        "cpu xF on SERVICE [\"ENDPOINT\"]",
        "Every `work` step of the target takes F times as long (it holds its workers longer).",
        "multiplier (`x3`, `3x`, `0.5x`)"
    ),
    doc!(
        "loss",
        "loss RATIO on SERVICE [\"ENDPOINT\"]",
        "This fraction of requests vanish: the caller waits for its timeout.",
        RATIO
    ),
    doc!(
        "memory",
        "memory RATE on SERVICE limit SIZE",
        "The replica's memory grows at RATE; it is killed when it reaches the limit, then restarts.",
        "size per second (`20MiB/s`)"
    ),
    doc!(
        "limit",
        "memory RATE on SERVICE limit SIZE",
        "The memory at which a replica is killed.",
        "size (`64KiB`, `256MiB`, `1GiB`)"
    ),
    doc!(
        "on",
        "ACTION on SERVICE [\"ENDPOINT\"]",
        "The target of a fault action: a service, or one of its endpoints."
    ),
    // expectations
    doc!(
        "abort",
        "abort when CONDITION for D",
        "Stops the run early (faults reverted) when the condition holds in every window for D; the run fails."
    ),
    doc!(
        "when",
        "abort when CONDITION for D",
        "The condition that stops the run."
    ),
    doc!(
        "overall",
        "METRIC(X) OP VALUE overall",
        "From the end of `warmup` to the end of the run (the default window)."
    ),
    doc!(
        "during",
        "METRIC(X) OP VALUE during FAULT",
        "While the fault is active (for a kill: until the replica serves again); for `every`, the union of its occurrences."
    ),
    doc!(
        "before",
        "METRIC(X) OP VALUE before FAULT",
        "From the end of warmup to the fault's first start."
    ),
    doc!(
        "after",
        "METRIC(X) OP VALUE after FAULT [+ D] [for E]",
        "Starts D after the fault's end and lasts E (default: to the end of the run).",
        DURATION
    ),
    doc!(
        "between",
        "METRIC(X) OP VALUE between T and T",
        "A fixed window of the run.",
        DURATION
    ),
    doc!(
        "and",
        "between T and T",
        "The end of a `between` window.",
        DURATION
    ),
    // metrics
    doc!(
        "p50",
        "p50(SUBJECT) OP D",
        "Median latency of the subject (a service, a service's endpoint, or a workload: what its clients saw).",
        DURATION
    ),
    doc!(
        "p90",
        "p90(SUBJECT) OP D",
        "90th percentile latency.",
        DURATION
    ),
    doc!(
        "p95",
        "p95(SUBJECT) OP D",
        "95th percentile latency.",
        DURATION
    ),
    doc!(
        "p99",
        "p99(SUBJECT) OP D\nlognormal(median = D, p99 = D)",
        "99th percentile latency; in `lognormal`, the 99th percentile of the distribution.",
        DURATION
    ),
    doc!(
        "p999",
        "p999(SUBJECT) OP D",
        "99.9th percentile latency.",
        DURATION
    ),
    doc!(
        "mean",
        "mean(SUBJECT) OP D\nexponential(mean = D)  normal(mean = D, stddev = D)",
        "Mean latency; in a distribution, its mean.",
        DURATION
    ),
    doc!(
        "max",
        "max(SUBJECT) OP D\nexponential(BASE, max = D)\neject after N errors for D max RATIO",
        "Highest latency; in a backoff, the largest wait; in `eject`, the most of the replicas ejected at once (default 50%).",
        "duration; in `eject` a ratio in (0%, 100%]"
    ),
    doc!(
        "error_rate",
        "error_rate(SUBJECT) OP RATIO",
        "Failed attempts over all attempts (timeouts, rejections, injected errors, connection failures).",
        RATIO
    ),
    doc!(
        "availability",
        "availability(SUBJECT) OP RATIO",
        "1 − error_rate.",
        RATIO
    ),
    doc!(
        "recovery",
        "recovery(SUBJECT) < D after FAULT",
        "Time from the fault's end until 5 consecutive windows have an error rate at most max(2 × baseline, 0.1%) and a p99 at most 1.5 × the baseline p99 (baseline: `before FAULT`); \"never\" fails.",
        DURATION
    ),
    doc!(
        "throughput",
        "throughput(SUBJECT) OP R",
        "Successful answers per second.",
        RATE
    ),
    doc!(
        "max_replicas",
        "max_replicas(SERVICE) OP N",
        "The most replicas the service had at once (with `autoscale`).",
        COUNT
    ),
    // distributions
    doc!(
        "exponential",
        "exponential(mean = D)\nexponential(BASE, max = D)   (backoff)",
        "Exponentially distributed with this mean; as a backoff, BASE doubled at each retry up to `max`.",
        DURATION
    ),
    doc!(
        "normal",
        "normal(mean = D, stddev = D)",
        "Normally distributed, clamped at 0.",
        DURATION
    ),
    doc!(
        "lognormal",
        "lognormal(median = D, p99 = D)",
        "Log-normally distributed with this median and 99th percentile.",
        DURATION
    ),
    doc!(
        "uniform",
        "uniform(A, B)   (distribution)\narrivals uniform",
        "Uniform between A and B; as `arrivals`, evenly spaced requests.",
        DURATION
    ),
    doc!(
        "pareto",
        "pareto(scale = D, shape = S)",
        "Pareto distributed (heavy tail): minimum `scale`, tail index `shape`.",
        "duration, then a plain number"
    ),
    doc!(
        "stddev",
        "normal(mean = D, stddev = D)",
        "Standard deviation.",
        DURATION
    ),
    doc!(
        "median",
        "lognormal(median = D, p99 = D)",
        "Median.",
        DURATION
    ),
    doc!(
        "scale",
        "pareto(scale = D, shape = S)",
        "The smallest value of a Pareto distribution.",
        DURATION
    ),
    doc!(
        "shape",
        "pareto(scale = D, shape = S)",
        "The tail index of a Pareto distribution (smaller is heavier).",
        "a plain number (`1.5`)"
    ),
    // values
    doc!(
        "round_robin",
        "balance round_robin",
        "Callers pick replicas in turn."
    ),
    doc!(
        "fifo",
        "queue N fifo",
        "Within a priority, the oldest waiting request is served next (the default)."
    ),
    doc!(
        "lifo",
        "queue N lifo",
        "Within a priority, the newest waiting request is served next."
    ),
    doc!(
        "least_request",
        "balance least_request",
        "Callers pick the replica with the fewest requests in progress."
    ),
    doc!(
        "poisson",
        "arrivals poisson",
        "Open-loop requests arrive as a Poisson process (exponential gaps)."
    ),
    doc!("none", "jitter none", "The backoff is used as is."),
    doc!(
        "full",
        "jitter full",
        "Each wait is drawn uniformly from 0 to the backoff."
    ),
    doc!(
        "equal",
        "jitter equal",
        "Each wait is half the backoff plus a uniform draw up to the other half."
    ),
    doc!(
        "continue",
        "on_error continue",
        "A failed call does not fail the endpoint."
    ),
];

/// The documentation of a word, if it is one of the language's.
pub fn lookup(word: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|d| d.word == word)
}

/// Metric names usable in `expect`.
pub const METRICS: &[&str] = &[
    "p50",
    "p90",
    "p95",
    "p99",
    "p999",
    "mean",
    "max",
    "error_rate",
    "availability",
    "recovery",
    "throughput",
    "max_replicas",
];

/// Distribution names.
pub const DISTRIBUTIONS: &[&str] = &["exponential", "normal", "lognormal", "uniform", "pareto"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_is_documented_once() {
        for kw in chaos_grammar::KEYWORDS {
            assert!(lookup(kw).is_some(), "no hover text for keyword `{kw}`");
        }
        for (i, d) in DOCS.iter().enumerate() {
            assert!(
                DOCS[..i].iter().all(|e| e.word != d.word),
                "`{}` documented twice",
                d.word
            );
        }
        for w in METRICS.iter().chain(DISTRIBUTIONS) {
            assert!(lookup(w).is_some(), "no hover text for `{w}`");
        }
    }

    #[test]
    fn markdown_has_syntax_meaning_and_unit() {
        let md = lookup("restart").map(Doc::markdown).unwrap_or_default();
        assert_eq!(
            md,
            "```chaos\nrestart D\n```\nA killed replica serves again this long after it died. Default `5s`.\n\n**Unit:** duration (`250us`, `250ms`, `2s`, `10m`, `1h`, `1m30s`)"
        );
    }
}
