//! Reads the root file and its imports through the [`Loader`], parses each once, and finds
//! import cycles. Files come out imported-first, so items keep a stable declaration order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chaos_grammar::ast::{self, Item, Span};

use crate::diagnostic::{Diagnostic, codes};
use crate::source::{FileId, Loader, SourceMap, normalize, resolve_import};

/// Import chains deeper than this are reported instead of followed.
const MAX_IMPORT_DEPTH: usize = 64;

pub(crate) struct Loaded {
    pub sources: SourceMap,
    /// Indexed by `FileId`; `None` when the file could not be read or parsed.
    pub asts: Vec<Option<ast::File>>,
    /// Parsed files, every import before its importer.
    pub order: Vec<FileId>,
    pub diagnostics: Vec<Diagnostic>,
}

struct Loading<'a> {
    loader: &'a dyn Loader,
    out: Loaded,
    by_path: HashMap<PathBuf, FileId>,
    /// Files being loaded, outermost first, with the import that led to the next one.
    stack: Vec<(FileId, Option<Span>)>,
}

pub(crate) fn load(root: &Path, loader: &dyn Loader) -> Loaded {
    let mut l = Loading {
        loader,
        out: Loaded {
            sources: SourceMap::new(),
            asts: Vec::new(),
            order: Vec::new(),
            diagnostics: Vec::new(),
        },
        by_path: HashMap::new(),
        stack: Vec::new(),
    };
    let path = normalize(root);
    match loader.load(&path) {
        Ok(text) => {
            let id = l.add(&path, root.display().to_string(), text);
            l.visit(id);
        }
        Err(e) => l.out.diagnostics.push(
            Diagnostic::error(
                codes::UNREADABLE,
                format!("cannot read `{}`: {e}", root.display()),
            )
            .help("check the path; it is relative to the current folder"),
        ),
    }
    l.out
}

impl Loading<'_> {
    fn add(&mut self, path: &Path, name: String, text: String) -> FileId {
        let id = self.out.sources.add(path.to_path_buf(), name, text);
        self.out.asts.push(None);
        self.by_path.insert(path.to_path_buf(), id);
        id
    }

    fn visit(&mut self, id: FileId) {
        let Some(file) = self.out.sources.get(id) else {
            return;
        };
        let text = file.text.clone();
        let path = file.path.clone();
        let name = file.name.clone();
        let parsed = match chaos_grammar::parse(&text) {
            Ok(f) => f,
            Err(e) => {
                self.out.diagnostics.push(parse_diagnostic(id, &e));
                return;
            }
        };
        self.stack.push((id, None));
        for item in &parsed.items {
            let Item::Import(import) = item else { continue };
            if let Some(top) = self.stack.last_mut() {
                top.1 = Some(import.span);
            }
            self.import(id, &path, &name, import);
        }
        self.stack.pop();
        self.out.asts[id.0 as usize] = Some(parsed);
        self.out.order.push(id);
    }

    fn import(&mut self, from: FileId, from_path: &Path, from_name: &str, import: &ast::Import) {
        let target = resolve_import(from_path, &import.path.value);
        let shown = resolve_import(Path::new(from_name), &import.path.value)
            .display()
            .to_string();
        if let Some(&existing) = self.by_path.get(&target) {
            if let Some(pos) = self.stack.iter().position(|(f, _)| *f == existing) {
                let mut d = Diagnostic::error(
                    codes::IMPORT_CYCLE,
                    format!("import cycle: `{shown}` imports this file again"),
                )
                .at(from, import.span, "this import closes the cycle");
                if let Some((f, Some(span))) = self.stack.get(pos) {
                    d = d.also(*f, *span, format!("`{shown}` starts the cycle here"));
                }
                self.out
                    .diagnostics
                    .push(d.help("move the shared items into a third file that both import"));
            }
            // Already loaded by another route: its items are in once.
            return;
        }
        if self.stack.len() >= MAX_IMPORT_DEPTH {
            self.out.diagnostics.push(
                Diagnostic::error(
                    codes::IMPORT_CYCLE,
                    format!("imports are nested more than {MAX_IMPORT_DEPTH} deep"),
                )
                .at(from, import.span, "too deep"),
            );
            return;
        }
        match self.loader.load(&target) {
            Ok(text) => {
                let id = self.add(&target, shown, text);
                self.visit(id);
            }
            Err(e) => self.out.diagnostics.push(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read `{shown}`: {e}"))
                    .at(from, import.path.span, "imported here")
                    .help("import paths are relative to the importing file"),
            ),
        }
    }
}

/// A grammar error in the same shape as every other diagnostic (for tools that parse on
/// their own, e.g. `chaos fmt`).
pub fn parse_diagnostic(file: FileId, e: &chaos_grammar::ParseError) -> Diagnostic {
    let label = if e.expected.is_empty() {
        "here".to_string()
    } else {
        format!("expected {}", one_of(&e.expected))
    };
    let mut d = Diagnostic::error(e.code(), e.message.clone()).at(file, e.span, label);
    if let Some(h) = &e.hint {
        d = d.help(h.clone());
    }
    if let Some((span, replacement)) = e.fix.as_deref() {
        // The hint's text is made from this replacement in the grammar.
        d.suggestion = Some(crate::diagnostic::Suggestion {
            span: *span,
            replacement: replacement.clone(),
        });
    }
    d
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
