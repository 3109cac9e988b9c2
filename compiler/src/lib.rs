//! Names, units, params, imports: from syntax trees to a checked, fully resolved plan.
//!
//! One entry point, [`compile`]: a root path, a [`Loader`] that supplies texts (the compiler
//! does no IO) and `--set` overrides in; every source read, every diagnostic, every parsed
//! syntax tree and, when there is no error, the [`Plan`](chaos_plan::Plan) out. [`render`]
//! draws diagnostics with miette; [`graph`] draws a plan's call graph.

pub mod diagnostic;
pub mod estimate;
pub mod graph;
mod load;
mod lower;
pub mod quantity;
pub mod render;
pub mod source;

use std::path::Path;

use chaos_grammar::ast;
use chaos_plan::Plan;

pub use diagnostic::{Diagnostic, Label, Severity, codes};
pub use load::parse_diagnostic;
pub use source::{FileId, Loader, MemoryLoader, SourceFile, SourceMap};

/// Everything one compilation produced.
#[derive(Debug)]
pub struct Compiled {
    /// Every text read: the root file, its imports, and `<command line>` when `--set` was used.
    pub sources: SourceMap,
    /// Errors and warnings, in file order then position.
    pub diagnostics: Vec<Diagnostic>,
    /// The plan: present when there is no error and the files describe a run (a file of
    /// shared services without a scenario, workload, fault or expect is a library: no plan).
    pub plan: Option<Plan>,
    /// The services of a library (files without a scenario, workload, fault or expect),
    /// checked and resolved like a plan's, when there is no error: what `chaos graph` draws.
    pub library: Option<Vec<chaos_plan::Service>>,
    /// The search space of the run's `explore` block (with the plan; runs ignore it).
    pub explore: Option<chaos_plan::explore::ExploreSpace>,
    /// The syntax tree of each file, by `FileId`; `None` where the file did not parse.
    asts: Vec<Option<ast::File>>,
    root: Option<FileId>,
}

impl Compiled {
    /// The syntax tree of one file, when it parsed.
    pub fn ast(&self, file: FileId) -> Option<&ast::File> {
        self.asts.get(file.0 as usize).and_then(Option::as_ref)
    }

    /// The root file's id (absent when it could not be read).
    pub fn root(&self) -> Option<FileId> {
        self.root
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Loads `root` and its imports through `loader`, checks them with the `--set` overrides
/// (`NAME`, `VALUE` pairs) applied, and lowers them to a plan when there is no error.
pub fn compile(root: &Path, loader: &dyn Loader, sets: &[(String, String)]) -> Compiled {
    let loaded = load::load(root, loader);
    let mut sources = loaded.sources;
    let mut diagnostics = loaded.diagnostics;
    let root_id = loaded
        .order
        .last()
        .copied()
        .or_else(|| sources.find(&source::normalize(root)));
    let (cmd_text, cmd_spans) = lower::command_line(sets);
    let cmdline = (!sets.is_empty())
        .then(|| sources.add(Default::default(), "<command line>".to_string(), cmd_text));
    let mut plan = None;
    let mut library = None;
    let mut explore = None;
    // Name resolution with a file missing or unparsable would only echo that error; an import
    // cycle leaves every file loaded, so checking goes on.
    if diagnostics.iter().all(|d| d.code == codes::IMPORT_CYCLE)
        && let Some(root_id) = root_id
    {
        let files: Vec<(FileId, &ast::File)> = loaded
            .order
            .iter()
            .filter_map(|&id| loaded.asts.get(id.0 as usize)?.as_ref().map(|a| (id, a)))
            .collect();
        let input = lower::Input {
            files,
            root: root_id,
            sets,
            cmdline: cmdline.map(|id| (id, cmd_spans.as_slice())),
        };
        let (out, diags) = lower::lower(&input);
        diagnostics.extend(diags);
        match out.filter(|_| !diagnostics.iter().any(Diagnostic::is_error)) {
            Some(lower::Output::Run(p, e)) => {
                plan = Some(p);
                explore = e;
            }
            Some(lower::Output::Library(services)) => library = Some(services),
            None => {}
        }
    }
    diagnostics.sort_by_key(|d| {
        d.primary
            .as_ref()
            .map_or((0, 0, 0), |l| (1, l.file.0, l.span.start))
    });
    Compiled {
        sources,
        diagnostics,
        plan,
        library,
        explore,
        asts: loaded.asts,
        root: root_id,
    }
}

/// Compiles one text held in memory, as if it were the file `name` (tests, tools).
pub fn compile_str(name: &str, text: &str, sets: &[(String, String)]) -> Compiled {
    let mut loader = MemoryLoader::new();
    loader.insert(name, text);
    compile(Path::new(name), &loader, sets)
}
