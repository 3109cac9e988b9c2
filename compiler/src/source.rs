//! Source files by id, and the loader that supplies their text (the compiler itself does no IO).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

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
    /// Built on the first diagnostic that needs a line number, then shared by all of them: a
    /// file without diagnostics never pays for it.
    lines: OnceLock<Arc<LineIndex>>,
}

impl SourceFile {
    /// 0-based line and column (in chars) of a byte offset, clamped to the text.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines().line_col(&self.text, offset)
    }

    /// The file's line index (built once).
    pub fn lines(&self) -> &Arc<LineIndex> {
        self.lines
            .get_or_init(|| Arc::new(LineIndex::new(&self.text)))
    }
}

/// Where each line of a text starts, so a byte offset finds its line by binary search
/// instead of a scan from the top (thousands of diagnostics in a large file each need one).
/// Lines end at `\n` (a `\r` before it belongs to the line it ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<usize>,
    lone_cr: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let lone_cr = bytes
            .iter()
            .enumerate()
            .any(|(i, b)| *b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        LineIndex { starts, lone_cr }
    }

    /// Number of lines (a text ending in `\n` has an empty last line).
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// 0-based line of a byte offset (offsets past the end are on the last line).
    pub fn line(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// Byte offset where a line starts.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.starts.get(line).copied()
    }

    /// Whether the text has a `\r` not followed by `\n`, which some renderers (miette) count
    /// as a line break of its own, so their line numbers differ from this index's.
    pub fn has_lone_cr(&self) -> bool {
        self.lone_cr
    }

    /// 0-based line and column (in chars) of a byte offset into `text` (the text this index
    /// was built from), clamped to the text and back to a char boundary.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line(offset);
        let start = self.line_start(line).unwrap_or(0).min(offset);
        let col = text.get(start..offset).map_or(0, |s| s.chars().count());
        (line, col)
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
            lines: OnceLock::new(),
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

    /// The scan the index replaces: count `\n` before the offset, chars since the last one.
    fn naive_line_col(text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.bytes().filter(|b| *b == b'\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count())
    }

    /// xorshift64: deterministic inputs without a dependency.
    fn random_texts(seed: u64, count: usize) -> Vec<String> {
        const PIECES: [&str; 9] = [
            "a",
            "bc ",
            "\n",
            "\r\n",
            "é",
            "𝄞",
            "\n\n",
            "x\r\n\r\n",
            "  ",
        ];
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % 40) as usize;
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn index_agrees_with_a_scan_at_every_offset() {
        let mut checked = 0;
        for text in random_texts(0x9e37_79b9_7f4a_7c15, 500) {
            let index = LineIndex::new(&text);
            assert_eq!(index.len(), text.matches('\n').count() + 1);
            // Past the end too: clamped like the scan.
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    index.line_col(&text, offset),
                    naive_line_col(&text, offset),
                    "{text:?} at {offset}"
                );
                checked += 1;
            }
        }
        assert!(checked > 5_000, "only {checked} offsets checked");
    }

    #[test]
    fn crlf_and_multibyte() {
        let text = "é𝄞\r\nab\r\n\r\nz";
        let index = LineIndex::new(text);
        assert!(!index.has_lone_cr());
        assert_eq!(index.line_col(text, 6), (0, 2)); // the `\r` ends line 0
        assert_eq!(index.line_col(text, 8), (1, 0));
        assert_eq!(index.line_col(text, 3), (0, 1)); // inside `𝄞`: its start
        assert_eq!(index.line_col(text, 14), (3, 0));
        assert!(LineIndex::new("a\rb").has_lone_cr());
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
