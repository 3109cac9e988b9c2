//! Diagnostics as data: severity, a stable code, a message, labelled spans and a help line.
//! Rendering (miette) lives in `render`; the language server maps these to LSP diagnostics.

use chaos_grammar::Span;
use serde::Serialize;

use crate::source::FileId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Severity {
    Error,
    Warning,
}

/// A span in one file with a short text saying what is there or what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable across releases, e.g. `E0101`; see [`codes`].
    pub code: &'static str,
    pub message: String,
    /// Where the problem is; `None` only when there is no text to point at (an unreadable root file).
    pub primary: Option<Label>,
    /// Related places, e.g. the first definition of a duplicate name.
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    /// A machine-applicable fix in the primary label's file: replace `span` with `replacement`.
    /// Set by [`Diagnostic::suggest`], which also writes the help line from it, so the rendered
    /// help and the language server's quick fix say the same thing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
}

/// A replacement of one span of text, in the file of the diagnostic's primary label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub span: Span,
    pub replacement: String,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            suggestion: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Sets the primary label.
    pub fn at(mut self, file: FileId, span: Span, text: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label {
            file,
            span,
            text: text.into(),
        });
        self
    }

    /// Adds a secondary label.
    pub fn also(mut self, file: FileId, span: Span, text: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            file,
            span,
            text: text.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// A fix: replace `span` with `replacement`; the help line is `help` applied to the
    /// replacement (e.g. ``|r| format!("did you mean `{r}`?")``).
    pub fn suggest(
        mut self,
        span: Span,
        replacement: impl Into<String>,
        help: impl FnOnce(&str) -> String,
    ) -> Diagnostic {
        let replacement = replacement.into();
        self.help = Some(help(&replacement));
        self.suggestion = Some(Suggestion { span, replacement });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The stable codes. Errors are `E`, warnings `W`; the first digit groups them:
/// 0 files and syntax (E0001-E0003 and E0099 are the parser's), 1 names, 2 units, 3 values and time, 4 structure of the call graph.
pub mod codes {
    /// The text does not follow the grammar (the parser's own code is used when it has one).
    pub const SYNTAX: &str = "E0001";
    /// A file (the root or an import) cannot be read.
    pub const UNREADABLE: &str = "E0010";
    /// Files import each other in a cycle.
    pub const IMPORT_CYCLE: &str = "E0011";

    pub const UNKNOWN_SERVICE: &str = "E0101";
    pub const UNKNOWN_ENDPOINT: &str = "E0102";
    pub const UNKNOWN_FAULT: &str = "E0103";
    /// An expectation's subject is neither a service nor a workload.
    pub const UNKNOWN_SUBJECT: &str = "E0104";
    pub const UNKNOWN_METRIC: &str = "E0105";
    /// `$name` or `--set name=...` of a param that is not declared.
    pub const UNKNOWN_PARAM: &str = "E0106";
    /// A word that must be one of a fixed set (`balance`, `arrivals`, `jitter`, a distribution, ...).
    pub const UNKNOWN_KEYWORD: &str = "E0107";
    /// Two services/workloads/faults/params/endpoints with one name.
    pub const DUPLICATE_NAME: &str = "E0108";
    /// The same setting written twice in one block.
    pub const DUPLICATE_SETTING: &str = "E0109";
    pub const MISSING_SCENARIO: &str = "E0110";
    pub const DUPLICATE_SCENARIO: &str = "E0111";
    /// A required setting is absent (`duration`, a workload's `target`, its load).
    pub const MISSING_SETTING: &str = "E0112";
    /// Two settings that exclude each other (`replicas` and `autoscale`, `rate` and `users`).
    pub const CONFLICTING_SETTINGS: &str = "E0113";
    /// Params whose values refer to each other in a cycle.
    pub const PARAM_CYCLE: &str = "E0114";
    /// A `queue` discipline other than `fifo` or `lifo`.
    pub const UNKNOWN_DISCIPLINE: &str = "E0115";
    /// A fault kind in `explore` that is not one (`latency`, `errors`, `kill`, ...).
    pub const UNKNOWN_FAULT_KIND: &str = "E0116";
    /// The same (fault kind, target) twice in `explore`, or a second `explore` block.
    pub const DUPLICATE_EXPLORE: &str = "E0117";

    /// A value of the wrong kind: a rate where a duration is wanted, ...
    pub const WRONG_UNIT: &str = "E0201";
    /// A `--set` value that is not a quantity.
    pub const BAD_SET_VALUE: &str = "E0202";

    /// A value outside what makes sense: 0 workers, a negative duration, 120%...
    pub const OUT_OF_RANGE: &str = "E0301";
    pub const CHOICE_SUM: &str = "E0302";
    pub const AUTOSCALE_BOUNDS: &str = "E0303";
    /// A distribution whose parameters contradict each other (p99 below the median, ...).
    pub const BAD_DISTRIBUTION: &str = "E0304";
    /// A fault, spike or window that starts after the scenario ends.
    pub const AFTER_END: &str = "E0305";
    /// A window that covers no time.
    pub const EMPTY_WINDOW: &str = "E0306";
    /// Missing, unknown, repeated or extra arguments of a distribution.
    pub const BAD_ARGUMENTS: &str = "E0307";
    /// A metric or window that does not apply to its subject (`max_replicas` of a workload, ...).
    pub const NOT_APPLICABLE: &str = "E0308";
    /// `every` producing more occurrences than a run can hold.
    pub const TOO_MANY: &str = "E0309";
    /// A `priority` outside `0..9`.
    pub const PRIORITY_RANGE: &str = "E0310";
    /// Autoscale watermarks where `up` is not above `down`.
    pub const WATERMARKS: &str = "E0311";
    /// `on N of S` / `on N% of S` with no replica (0, 0%) or more replicas than S can have.
    pub const REPLICA_SUBSET: &str = "E0312";
    /// `eject ... max R` with R outside `(0%, 100%]`.
    pub const EJECT_MAX: &str = "E0313";
    /// `health_check ... unhealthy 0` or `healthy 0`.
    pub const HEALTH_THRESHOLD: &str = "E0314";
    /// An `explore` range whose low end is above its high end (`20%..5%`).
    pub const RANGE_ORDER: &str = "E0315";

    /// Endpoints that call each other in a cycle.
    pub const CALL_CYCLE: &str = "E0401";
    /// A `send` with call policies (timeout, retry, breaker, ...): a send waits for nothing.
    pub const SEND_POLICY: &str = "E0402";

    /// A service that no workload reaches.
    pub const UNUSED_SERVICE: &str = "W0001";
    /// An expectation about something that never receives traffic.
    pub const NO_TRAFFIC: &str = "W0002";
    /// A setting that is accepted but has no effect where it is written (`arrivals` with `users`).
    pub const NO_EFFECT: &str = "W0003";
    /// Two calls from one service to one callee with different `circuit_breaker` settings:
    /// the breaker is per (caller, callee), so only the first applies.
    pub const BREAKER_CONFLICT: &str = "W0004";
    /// `every` without `for` on a fault that is not only kills: occurrences last to the end
    /// of the run and pile up.
    pub const PILING_FAULT: &str = "W0005";
    /// `kill N of S` with N above the most replicas S can have.
    pub const KILL_TOO_MANY: &str = "W0006";
    /// A valid run so large that simulating it takes minutes or more (see `estimate`).
    pub const HUGE_RUN: &str = "W0007";
    /// `health_check` or `eject` on a service that never has more than one replica (there is
    /// no other replica to send to), or an `eject ... max` that rounds down to no replica even
    /// at the most replicas: it cannot help.
    pub const SINGLE_REPLICA: &str = "W0008";
    /// `partition A | B` in `explore` between services that do not call each other.
    pub const NO_CALL_TO_CUT: &str = "W0009";
}
