//! The texts of a scenario (root file and imports) held in memory, so every variant compiles
//! without touching the disk, with the root's text replaced or extended.

use std::path::{Path, PathBuf};

use chaos_compiler::{Compiled, Loader, MemoryLoader};
use chaos_plan::Plan;
use chaos_plan::explore::ExploreSpace;

/// A compilation that did not give a plan.
#[derive(Debug, thiserror::Error)]
#[error("the variant does not compile: {summary}")]
pub struct CompileFailure {
    /// The first error's message.
    pub summary: String,
    /// The whole compilation, for printing every diagnostic with its span.
    pub compiled: Box<Compiled>,
}

/// Every text a compilation read, keyed by path, and the root's path and text.
#[derive(Debug, Clone)]
pub struct Sources {
    loader: MemoryLoader,
    root: PathBuf,
    root_text: String,
}

/// The root's text replaced; every other file from the snapshot.
struct Overlay<'a> {
    base: &'a MemoryLoader,
    root: &'a Path,
    text: &'a str,
}

impl Loader for Overlay<'_> {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        if chaos_compiler::source::normalize(path) == chaos_compiler::source::normalize(self.root) {
            Ok(self.text.to_string())
        } else {
            self.base.load(path)
        }
    }
}

impl Sources {
    /// The texts a finished compilation read (`compiled.sources`), with `root` as the root.
    pub fn from_compiled(root: &Path, compiled: &Compiled) -> Option<Sources> {
        let mut loader = MemoryLoader::new();
        let mut root_text = None;
        let want = chaos_compiler::source::normalize(root);
        for (_, f) in compiled.sources.iter() {
            if f.name.starts_with('<') {
                continue;
            }
            loader.insert(&f.path, f.text.to_string());
            if f.path == want {
                root_text = Some(f.text.to_string());
            }
        }
        Some(Sources {
            loader,
            root: root.to_path_buf(),
            root_text: root_text?,
        })
    }

    /// One file, for tests and benches.
    pub fn single(name: &str, text: &str) -> Sources {
        let mut loader = MemoryLoader::new();
        loader.insert(name, text);
        Sources {
            loader,
            root: PathBuf::from(name),
            root_text: text.to_string(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn root_text(&self) -> &str {
        &self.root_text
    }

    /// Compiles the root as it is, with `--set` overrides.
    pub fn compile(&self, sets: &[(String, String)]) -> Result<Plan, CompileFailure> {
        self.compile_text(&self.root_text, sets)
    }

    /// Compiles the root as it is, with the search space of its `explore` block (if any).
    pub fn compile_with_space(
        &self,
        sets: &[(String, String)],
    ) -> Result<(Plan, Option<ExploreSpace>), CompileFailure> {
        let compiled = self.compiled(&self.root_text, sets);
        let explore = compiled.explore.clone();
        Ok((plan_of(compiled)?, explore))
    }

    /// Compiles with the root's text replaced by `text`.
    pub fn compile_text(
        &self,
        text: &str,
        sets: &[(String, String)],
    ) -> Result<Plan, CompileFailure> {
        plan_of(self.compiled(text, sets))
    }

    fn compiled(&self, text: &str, sets: &[(String, String)]) -> Compiled {
        let overlay = Overlay {
            base: &self.loader,
            root: &self.root,
            text,
        };
        chaos_compiler::compile(&self.root, &overlay, sets)
    }
}

/// The plan of a compilation, or why there is none.
fn plan_of(compiled: Compiled) -> Result<Plan, CompileFailure> {
    match compiled.plan.clone() {
        Some(plan) if !compiled.has_errors() => Ok(plan),
        _ => {
            let summary = compiled
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map_or_else(|| "it describes no run".to_string(), |d| d.message.clone());
            Err(CompileFailure {
                summary,
                compiled: Box::new(compiled),
            })
        }
    }
}
