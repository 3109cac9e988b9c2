//! The compiler's diagnostics as LSP diagnostics of the root document: the same messages and
//! spans as `chaos check`; a problem inside an imported file is also shown on the import that
//! brings it in.

use std::collections::HashMap;

use chaos_compiler::source::resolve_import;
use chaos_compiler::{Diagnostic, FileId, Severity};
use chaos_grammar::Span;
use chaos_grammar::ast::Item;
use tower_lsp_server::ls_types::{
    self as lsp, CodeAction, CodeActionKind, CodeActionOrCommand, DiagnosticRelatedInformation,
    DiagnosticSeverity, Location, NumberOrString, TextEdit, Uri, WorkspaceEdit,
};

use crate::text::LineIndex;
use crate::world::{Analysis, World};

/// The diagnostics to publish for the analysed (root) document.
pub fn for_root(world: &World, analysis: &Analysis) -> Vec<lsp::Diagnostic> {
    published(world, analysis)
        .into_iter()
        .map(|(_, d)| d)
        .collect()
}

/// Each compiler diagnostic that is published, with what is published for it.
fn published<'a>(world: &World, analysis: &'a Analysis) -> Vec<(&'a Diagnostic, lsp::Diagnostic)> {
    let lines = line_index(analysis, analysis.root);
    let via_import = import_spans(analysis);
    let mut out = Vec::new();
    for d in &analysis.compiled.diagnostics {
        let (range, message) = match &d.primary {
            Some(p) if p.file == analysis.root => (lines.range(p.span), d.message.clone()),
            Some(p) => {
                let Some(span) = via_import.get(&p.file) else {
                    continue;
                };
                let name = analysis
                    .compiled
                    .sources
                    .get(p.file)
                    .map_or("", |f| f.name.as_str());
                (lines.range(*span), format!("in `{name}`: {}", d.message))
            }
            None => (lsp::Range::default(), d.message.clone()),
        };
        let published = lsp::Diagnostic {
            range,
            severity: Some(match d.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(d.code.to_string())),
            source: Some("chaos".to_string()),
            message: with_help(&message, d),
            related_information: related(world, analysis, d),
            ..lsp::Diagnostic::default()
        };
        out.push((d, published));
    }
    out
}

/// Quick fixes for the diagnostics of the root document that touch `range`: each compiler
/// suggestion ("did you mean", a space inside a quantity) as an edit of the root document.
pub fn quick_fixes(
    world: &World,
    analysis: &Analysis,
    uri: &Uri,
    range: lsp::Range,
) -> Vec<CodeActionOrCommand> {
    let lines = line_index(analysis, analysis.root);
    let mut out = Vec::new();
    for (d, published) in published(world, analysis) {
        let (Some(primary), Some(fix)) = (&d.primary, &d.suggestion) else {
            continue;
        };
        // A fix inside an imported file is that file's to offer.
        if primary.file != analysis.root || !touches(published.range, range) {
            continue;
        }
        let title = if fix.replacement.is_empty() {
            "Remove the space".to_string()
        } else {
            format!("Replace with `{}`", fix.replacement)
        };
        let edit = TextEdit::new(lines.range(fix.span), fix.replacement.clone());
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title,
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![published]),
            edit: Some(WorkspaceEdit::new(HashMap::from([(
                uri.clone(),
                vec![edit],
            )]))),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    out
}

/// Whether two ranges overlap or touch (a cursor at either end of a diagnostic counts).
fn touches(a: lsp::Range, b: lsp::Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

/// The compiler's shared index of a file: each diagnostic costs a binary search, not a scan.
fn line_index(analysis: &Analysis, file: FileId) -> LineIndex<'_> {
    match analysis.compiled.sources.get(file) {
        Some(f) => LineIndex::of(f),
        None => LineIndex::new(""),
    }
}

fn with_help(message: &str, d: &Diagnostic) -> String {
    match &d.help {
        Some(h) => format!("{message}\nhelp: {h}"),
        None => message.to_string(),
    }
}

/// The labels, each where it points: the primary label's text at its own place, then the
/// secondary labels (the other definition of a duplicate, the other end of a cycle).
fn related(
    world: &World,
    analysis: &Analysis,
    d: &Diagnostic,
) -> Option<Vec<DiagnosticRelatedInformation>> {
    let mut out = Vec::new();
    for label in d.primary.iter().chain(&d.secondary) {
        if label.text.is_empty() {
            continue;
        }
        let Some(path) = analysis.path(label.file) else {
            continue;
        };
        let Some(uri) = world.uri_of(path) else {
            continue;
        };
        let lines = line_index(analysis, label.file);
        out.push(DiagnosticRelatedInformation {
            location: Location::new(uri, lines.range(label.span)),
            message: label.text.clone(),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// For each file brought in (directly or not) by the root's imports, the root import to blame.
fn import_spans(analysis: &Analysis) -> HashMap<FileId, Span> {
    let mut out = HashMap::new();
    let Some(root_ast) = analysis.compiled.ast(analysis.root) else {
        return out;
    };
    let Some(root_path) = analysis.path(analysis.root) else {
        return out;
    };
    for item in &root_ast.items {
        let Item::Import(import) = item else { continue };
        let target = resolve_import(root_path, &import.path.value);
        let Some(first) = analysis.compiled.sources.find(&target) else {
            continue;
        };
        let mut stack = vec![first];
        while let Some(id) = stack.pop() {
            if id == analysis.root || out.contains_key(&id) {
                continue;
            }
            out.insert(id, import.path.span);
            let (Some(ast), Some(path)) = (analysis.compiled.ast(id), analysis.path(id)) else {
                continue;
            };
            for item in &ast.items {
                if let Item::Import(i) = item
                    && let Some(next) = analysis
                        .compiled
                        .sources
                        .find(&resolve_import(path, &i.path.value))
                {
                    stack.push(next);
                }
            }
        }
    }
    out
}
