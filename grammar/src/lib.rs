//! The `.chaos` language front end: text to syntax tree (with spans), and back (formatter).
//!
//! Entry points: [`parse`] (text to [`ast::File`] or a [`ParseError`]) and
//! [`format::format_source`] (text to its canonical layout).

// The tree is built once per file and matched everywhere; boxing the big variants would
// complicate every consumer for no measurable gain.
#[allow(clippy::large_enum_variant)]
pub mod ast;
mod comments;
mod diagnose;
pub mod error;
pub mod format;
mod parser;
mod units;

pub use ast::Span;
pub use error::{ParseError, ParseErrorKind, line_col};
pub use parser::{MAX_NESTING, parse};

/// Every keyword of the language, as in the `keyword` rule of `chaos.pest` (a test keeps the
/// two in sync; the editor grammars are tested against this list).
pub const KEYWORDS: &[&str] = &[
    "import",
    "param",
    "scenario",
    "service",
    "workload",
    "fault",
    "expect",
    "duration",
    "warmup",
    "seed",
    "window",
    "replicas",
    "autoscale",
    "target",
    "delay",
    "interval",
    "workers",
    "queue",
    "rate_limit",
    "restart",
    "balance",
    "latency",
    "endpoint",
    "work",
    "call",
    "parallel",
    "choice",
    "fail",
    "status",
    "timeout",
    "retry",
    "backoff",
    "jitter",
    "circuit_breaker",
    "over",
    "min",
    "open",
    "on_error",
    "rate",
    "spike",
    "arrivals",
    "users",
    "think",
    "at",
    "for",
    "every",
    "from",
    "until",
    "errors",
    "kill",
    "of",
    "random",
    "partition",
    "cpu",
    "loss",
    "memory",
    "limit",
    "on",
    "abort",
    "when",
    "overall",
    "during",
    "before",
    "after",
    "between",
    "and",
];
