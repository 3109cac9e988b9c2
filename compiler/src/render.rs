//! The one place diagnostics become miette reports: named sources (imported files show their
//! own path), labels, help, and labels in other files as related reports.
//!
//! The code goes into the header the way rustc writes it (`× error[E0301]: ...`) rather than
//! through miette's `code()`, which without links draws it on a line of its own.

use std::fmt;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    NamedSource, SourceCode, SourceSpan, SpanContents,
};

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::{FileId, LineIndex, SourceMap};

/// A [`Diagnostic`] with its source texts attached, ready for miette.
#[derive(Debug)]
pub struct Report {
    message: String,
    severity: miette::Severity,
    source: Option<NamedSource<Indexed>>,
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

/// A file's text and its line index, both shared by every report about the file.
///
/// miette's own `SourceCode` for text finds a span's lines by scanning from the top of the file,
/// so each report cost O(file) and a large file's thousands of warnings took seconds. Here the
/// index finds the lines around the span, and miette reads only those: its result is the same,
/// shifted back to the file's offsets and line numbers.
#[derive(Debug, Clone)]
pub struct Indexed {
    text: Arc<str>,
    lines: Arc<LineIndex>,
}

/// Lines read beyond miette's context on each side, so the excerpt never ends where miette
/// would still look (it counts the first line break after a span as part of the span's line).
const MARGIN: usize = 2;

impl SourceCode for Indexed {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        // miette also breaks lines at a lone `\r`, which the index does not: read it whole.
        if self.lines.has_lone_cr() {
            return self
                .text
                .read_span(span, context_lines_before, context_lines_after);
        }
        let end = span.offset() + span.len();
        let first = self
            .lines
            .line(span.offset())
            .saturating_sub(context_lines_before + MARGIN);
        let last = self.lines.line(end) + context_lines_after + MARGIN;
        let base = self.lines.line_start(first).unwrap_or(0);
        let stop = self
            .lines
            .line_start(last + 1)
            .unwrap_or(self.text.len())
            .max(base);
        let excerpt = self.text.get(base..stop).unwrap_or("");
        let local = SourceSpan::new(span.offset().saturating_sub(base).into(), span.len());
        let inner = excerpt.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            SourceSpan::new((inner.span().offset() + base).into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

fn named_source(sources: &SourceMap, file: FileId) -> Option<NamedSource<Indexed>> {
    sources.get(file).map(|f| {
        NamedSource::new(
            &f.name,
            Indexed {
                text: f.text.clone(),
                lines: f.lines().clone(),
            },
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64 texts of lines, CRLF and multibyte chars (and one with a lone `\r`).
    fn random_texts(count: usize) -> Vec<String> {
        const PIECES: [&str; 9] = ["ab", "c ", "\n", "\r\n", "é", "𝄞", "\n\n", "x\r\n", "d\t"];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = (0..count)
            .map(|_| {
                let len = (next() % 30) as usize;
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            })
            .collect();
        texts.push("a\rb\nc\r\rd\n".into());
        texts
    }

    fn parts<'a>(c: &dyn SpanContents<'a>) -> (Vec<u8>, SourceSpan, usize, usize, usize) {
        (
            c.data().to_vec(),
            *c.span(),
            c.line(),
            c.column(),
            c.line_count(),
        )
    }

    /// Reading through the index gives exactly what miette reads from the whole text, for
    /// every span and context miette asks for.
    #[test]
    fn indexed_reads_equal_whole_text_reads() {
        let mut compared = 0;
        for text in random_texts(150) {
            let indexed = Indexed {
                text: text.as_str().into(),
                lines: Arc::new(LineIndex::new(&text)),
            };
            for start in 0..=text.len() {
                for len in [0, 1, 3, 9] {
                    let len = len.min(text.len() - start);
                    let span = SourceSpan::new(start.into(), len);
                    for context in [0, 1, 2] {
                        let whole = text.as_str().read_span(&span, context, context);
                        let ours = indexed.read_span(&span, context, context);
                        match (whole, ours) {
                            (Ok(w), Ok(o)) => {
                                assert_eq!(parts(&*w), parts(&*o), "{text:?} {span:?} {context}")
                            }
                            (Err(_), Err(_)) => {}
                            (w, o) => {
                                panic!("{text:?} {span:?}: {:?} vs {:?}", w.is_ok(), o.is_ok())
                            }
                        }
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 10_000, "only {compared} reads compared");
    }
}
