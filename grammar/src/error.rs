//! `ParseError`: what went wrong, where, what would have been accepted, and how to fix it,
//! in words a user understands (never pest rule names).

use crate::ast::Span;

/// The kinds of parse failure, each with a stable code (see [`ParseError::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ParseErrorKind {
    /// The text does not follow the grammar.
    Syntax,
    /// Blocks or parentheses nested deeper than [`crate::MAX_NESTING`].
    TooDeep,
    /// The input exhausted the parser's budget (call or stack limit).
    TooComplex,
    /// A bug in the parser: the grammar accepted something the lowering did not expect.
    Internal,
}

/// A syntax error with a span into the source and a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{message}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// The offending text (empty at the end of the file).
    pub span: Span,
    /// One line, e.g. "expected a duration such as `250ms`, found `30sec`".
    pub message: String,
    /// What would have been accepted here, each in words (`"\`}\` to close the service"`).
    pub expected: Vec<String>,
    /// How to fix it, when a likely cause is known.
    pub hint: Option<String>,
    /// The fix the hint describes, when it is a plain replacement: `(span, replacement)`
    /// (boxed: errors travel in `Result`s and should stay small).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Box<(Span, String)>>,
}

impl ParseError {
    /// A stable code for documentation and tests: `E0001` syntax, `E0002` too deeply nested,
    /// `E0003` too complex, `E0099` internal error.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ParseErrorKind::Syntax => "E0001",
            ParseErrorKind::TooDeep => "E0002",
            ParseErrorKind::TooComplex => "E0003",
            ParseErrorKind::Internal => "E0099",
        }
    }

    pub(crate) fn internal(span: Span, what: &str) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Internal,
            span,
            message: format!("internal parser error: {what}"),
            expected: Vec::new(),
            hint: Some(
                "this is a bug in chaos; please report it with the file that caused it".into(),
            ),
            fix: None,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset, for plain-text messages.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}
