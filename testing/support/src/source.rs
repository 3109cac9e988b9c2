//! From source text or a file on disk to a plan, as the command line does it.

use std::path::{Path, PathBuf};

use chaos_compiler::{Compiled, Loader, compile, compile_str, render};
use chaos_plan::Plan;

/// Reads the real file system, as the command line's loader does.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Reads paths relative to one folder, so diagnostics and snapshots show short, stable paths
/// whatever the checkout's location.
#[derive(Debug, Clone)]
pub struct DirLoader(pub PathBuf);

impl Loader for DirLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

/// The plan of one compilation, or its diagnostics rendered without colour; a library (a file
/// of services only) has no plan and says so.
fn plan_of(c: Compiled) -> Result<Plan, String> {
    if c.has_errors() {
        return Err(render::render_all_plain(&c.diagnostics, &c.sources));
    }
    c.plan
        .ok_or_else(|| "a library of services, not a scenario: no plan".to_string())
}

/// Compiles `text` held in memory as the file `t.chaos`, with `--set` overrides.
pub fn compile_source(text: &str, sets: &[(String, String)]) -> Result<Plan, String> {
    plan_of(compile_str("t.chaos", text, sets))
}

/// The plan of `text`; panics with the rendered diagnostics when it has an error.
pub fn plan_from_source(text: &str) -> Plan {
    compile_source(text, &[]).unwrap_or_else(|e| panic!("the scenario does not compile:\n{e}"))
}

/// The plan of a file on disk (imports read relative to it); panics with the rendered
/// diagnostics when it has an error or is a library.
pub fn plan_from_file(path: &Path) -> Plan {
    plan_of(compile(path, &FsLoader, &[]))
        .unwrap_or_else(|e| panic!("{} does not compile:\n{e}", path.display()))
}

/// The plan of a file on disk, `None` for a library of shared services (no scenario); panics
/// with the rendered diagnostics when it has an error.
pub fn plan_or_library(path: &Path) -> Option<Plan> {
    let c = compile(path, &FsLoader, &[]);
    if c.has_errors() {
        let text = render::render_all_plain(&c.diagnostics, &c.sources);
        panic!("{} does not compile:\n{text}", path.display());
    }
    c.plan
}
