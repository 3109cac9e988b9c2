//! The one place diagnostics become miette reports: named sources (imported files show their
//! own path), labels, help, and labels in other files as related reports.
//!
//! The code goes into the header the way rustc writes it (`× error[E0301]: ...`) rather than
//! through miette's `code()`, which without links draws it on a line of its own.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceMap};

/// A [`Diagnostic`] with its source texts attached, ready for miette.
#[derive(Debug)]
pub struct Report {
    message: String,
    severity: miette::Severity,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    related: Vec<Report>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

fn named_source(sources: &SourceMap, file: FileId) -> Option<NamedSource<Arc<str>>> {
    sources
        .get(file)
        .map(|f| NamedSource::new(&f.name, f.text.clone()))
}

/// miette refuses spans past the end of the text; a span at the very end is kept visible.
fn source_span(sources: &SourceMap, label: &Label) -> SourceSpan {
    let len = sources.get(label.file).map_or(0, |f| f.text.len());
    let start = label.span.start.min(len);
    let end = label.span.end.clamp(start, len);
    SourceSpan::new(start.into(), end - start)
}

fn labeled(sources: &SourceMap, label: &Label, primary: bool) -> LabeledSpan {
    let text = (!label.text.is_empty()).then(|| label.text.clone());
    if primary {
        LabeledSpan::new_primary_with_span(text, source_span(sources, label))
    } else {
        LabeledSpan::new_with_span(text, source_span(sources, label))
    }
}

/// Builds the miette report of one diagnostic.
pub fn report(diagnostic: &Diagnostic, sources: &SourceMap) -> Report {
    let severity = match diagnostic.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    };
    let mut labels = Vec::new();
    let mut related = Vec::new();
    let home = diagnostic.primary.as_ref().map(|p| p.file);
    if let Some(p) = &diagnostic.primary {
        labels.push(labeled(sources, p, true));
    }
    for s in &diagnostic.secondary {
        if Some(s.file) == home {
            labels.push(labeled(sources, s, false));
        } else {
            // A label in another file needs its own source: shown as a related note.
            related.push(Report {
                message: s.text.clone(),
                severity: miette::Severity::Advice,
                source: named_source(sources, s.file),
                labels: vec![labeled(
                    sources,
                    &Label {
                        text: String::new(),
                        ..s.clone()
                    },
                    true,
                )],
                help: None,
                related: Vec::new(),
            });
        }
    }
    Report {
        message: header(diagnostic),
        severity,
        source: home.and_then(|f| named_source(sources, f)),
        labels,
        help: diagnostic.help.clone(),
        related,
    }
}

/// How to draw: colour for terminals, none for files and snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
    pub unicode: bool,
    pub width: usize,
}

impl Style {
    /// Fixed width, no colour: the form snapshots use.
    pub const PLAIN: Style = Style {
        color: false,
        unicode: true,
        width: 100,
    };
}

/// Renders one diagnostic as text.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, style: Style) -> String {
    let theme = match (style.color, style.unicode) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme {
            characters: miette::ThemeCharacters::ascii(),
            styles: miette::ThemeStyles::ansi(),
        },
        (false, true) => GraphicalTheme::unicode_nocolor(),
        (false, false) => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let mut out = String::new();
    let mut report = report(diagnostic, sources);
    // miette puts a bare `Advice:` line before each related report; drawn one by one after
    // the main report, each note starts with its own `☞` header instead.
    let related = std::mem::take(&mut report.related);
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String only fails on a broken span; fall back to the bare message.
        out = format!("{}\n", header(diagnostic));
    }
    for note in &related {
        let mut text = String::new();
        if handler.render_report(&mut text, note).is_ok() {
            out.push('\n');
            out.push_str(&text);
        }
    }
    out
}

/// Renders every diagnostic without colour, one after the other (snapshots, logs).
pub fn render_all_plain(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    diagnostics
        .iter()
        .map(|d| render(d, sources, Style::PLAIN))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `file:line:col: error[E0301]: message`: one line, for grep and CI problem matchers.
pub fn short(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let place = diagnostic.primary.as_ref().and_then(|label| {
        let file = sources.get(label.file)?;
        let (line, col) = file.line_col(label.span.start);
        Some(format!("{}:{}:{}: ", file.name, line + 1, col + 1))
    });
    format!("{}{}", place.unwrap_or_default(), header(diagnostic))
}

fn severity_word(d: &Diagnostic) -> &'static str {
    match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `error[E0301]: \`workers\` must be at least 1`: the header line, as rustc writes it.
fn header(d: &Diagnostic) -> String {
    format!("{}[{}]: {}", severity_word(d), d.code, d.message)
}
