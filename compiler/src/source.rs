//! Source files by id, and the loader that supplies their text (the compiler itself does no IO).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// One source text: a `.chaos` file, or the command line (for `--set` diagnostics).
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path the loader was asked for (lexically normalised); empty for the command line.
    pub path: PathBuf,
    /// What diagnostics show: the path as the user would recognise it, or `<command line>`.
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    /// 0-based line and column (in chars) of a byte offset, clamped to the text.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.bytes().filter(|b| *b == b'\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Every text a compilation read, by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, path: PathBuf, name: String, text: impl Into<Arc<str>>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            path,
            name,
            text: text.into(),
        });
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The file loaded from this (normalised) path, if any.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| !f.name.starts_with('<') && f.path == path)
            .map(|i| FileId(i as u32))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Supplies file contents: the CLI reads the file system, the language server its open buffers.
pub trait Loader {
    fn load(&self, path: &Path) -> std::io::Result<String>;
}

/// A loader over texts held in memory, keyed by normalised path (tests, the language server).
#[derive(Debug, Clone, Default)]
pub struct MemoryLoader {
    files: HashMap<PathBuf, String>,
}

impl MemoryLoader {
    pub fn new() -> MemoryLoader {
        MemoryLoader::default()
    }

    pub fn insert(&mut self, path: impl AsRef<Path>, text: impl Into<String>) -> &mut Self {
        self.files.insert(normalize(path.as_ref()), text.into());
        self
    }
}

impl Loader for MemoryLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.files.get(&normalize(path)).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file in memory")
        })
    }
}

/// Removes `.` and folds `..` without touching the file system, so the same file imported by
/// two routes gets one id.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Resolves an import path against the importing file's folder.
pub fn resolve_import(importer: &Path, import: &str) -> PathBuf {
    let base = importer.parent().unwrap_or_else(|| Path::new(""));
    normalize(&base.join(import))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(
            normalize(Path::new("a/./b/../c.chaos")),
            PathBuf::from("a/c.chaos")
        );
        assert_eq!(normalize(Path::new("../x/../y")), PathBuf::from("../y"));
        assert_eq!(normalize(Path::new("/a/../../b")), PathBuf::from("/b"));
    }

    #[test]
    fn imports_are_relative_to_the_importer() {
        assert_eq!(
            resolve_import(Path::new("dir/main.chaos"), "../lib/topo.chaos"),
            PathBuf::from("lib/topo.chaos")
        );
        assert_eq!(
            resolve_import(Path::new("main.chaos"), "topo.chaos"),
            PathBuf::from("topo.chaos")
        );
    }

    #[test]
    fn line_col_counts_chars() {
        let mut map = SourceMap::new();
        let id = map.add("x".into(), "x".into(), "ab\ncé d");
        let f = map.get(id).unwrap();
        assert_eq!(f.line_col(0), (0, 0));
        assert_eq!(f.line_col(3), (1, 0));
        assert_eq!(f.line_col(7), (1, 3));
    }
}
