//! The open documents, and the compilation of each one through a loader that reads open
//! buffers first and the disk second (the compiler itself does no IO).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chaos_compiler::source::normalize;
use chaos_compiler::{Compiled, FileId, Loader};
use tower_lsp_server::ls_types::Uri;

use crate::index::Index;

/// One open document, as the editor last sent it.
#[derive(Debug, Clone)]
pub struct Document {
    pub uri: Uri,
    pub text: String,
    pub version: i32,
}

/// Reads files that are not open in the editor.
pub type DiskReader = dyn Fn(&Path) -> std::io::Result<String> + Send + Sync;

/// Everything the server knows: open documents keyed by their normalised path.
pub struct World {
    docs: BTreeMap<PathBuf, Document>,
    disk: Box<DiskReader>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("docs", &self.docs.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The path the compiler uses for a URI: the file's path, or a made-up absolute path for
/// documents that are not files (`untitled:`), so that they still compile.
pub fn uri_to_path(uri: &Uri) -> PathBuf {
    let is_file = uri.scheme().as_str().eq_ignore_ascii_case("file");
    match uri.to_file_path() {
        Some(p) if is_file => normalize(&p),
        _ => PathBuf::from(format!(
            "/{}/{}",
            uri.scheme().as_str(),
            uri.path().as_str().trim_start_matches('/')
        )),
    }
}

impl World {
    /// A world that reads unopened files with `disk` (`std::fs::read_to_string` in the server).
    pub fn new(disk: Box<DiskReader>) -> World {
        World {
            docs: BTreeMap::new(),
            disk,
        }
    }

    /// A world that reads nothing from disk (tests).
    pub fn in_memory() -> World {
        World::new(Box::new(|p: &Path| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not open", p.display()),
            ))
        }))
    }

    pub fn open(&mut self, uri: Uri, text: String, version: i32) {
        self.docs
            .insert(uri_to_path(&uri), Document { uri, text, version });
    }

    /// Replaces a document's text (the server asks for full-text sync).
    pub fn change(&mut self, uri: &Uri, text: String, version: i32) {
        let path = uri_to_path(uri);
        match self.docs.get_mut(&path) {
            Some(doc) => {
                doc.text = text;
                doc.version = version;
            }
            None => self.open(uri.clone(), text, version),
        }
    }

    pub fn close(&mut self, uri: &Uri) {
        self.docs.remove(&uri_to_path(uri));
    }

    pub fn document(&self, uri: &Uri) -> Option<&Document> {
        self.docs.get(&uri_to_path(uri))
    }

    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.docs.values()
    }

    /// The URI to show for a path: the open document's own, or a `file:` URI.
    pub fn uri_of(&self, path: &Path) -> Option<Uri> {
        match self.docs.get(&normalize(path)) {
            Some(doc) => Some(doc.uri.clone()),
            None => Uri::from_file_path(path),
        }
    }

    /// Compiles an open document as the root, its imports read through the open buffers.
    pub fn analyze(&self, uri: &Uri) -> Option<Analysis> {
        self.document(uri)?;
        self.analyze_path(&uri_to_path(uri))
    }

    /// Compiles any file as the root (open or on disk), e.g. an import of a file that does not
    /// parse yet, for the names it defines.
    pub fn analyze_path(&self, path: &Path) -> Option<Analysis> {
        let compiled = chaos_compiler::compile(path, &Overlay { world: self }, &[]);
        let root = compiled.root()?;
        let index = Index::build(&compiled);
        Some(Analysis {
            compiled,
            root,
            index,
        })
    }
}

struct Overlay<'a> {
    world: &'a World,
}

impl Loader for Overlay<'_> {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        match self.world.docs.get(&normalize(path)) {
            Some(doc) => Ok(doc.text.clone()),
            None => (self.world.disk)(path),
        }
    }
}

/// One document compiled as the root: sources, diagnostics, syntax trees and the name index.
#[derive(Debug)]
pub struct Analysis {
    pub compiled: Compiled,
    pub root: FileId,
    pub index: Index,
}

impl Analysis {
    pub fn text(&self, file: FileId) -> &str {
        self.compiled.sources.get(file).map_or("", |f| &f.text)
    }

    pub fn path(&self, file: FileId) -> Option<&Path> {
        self.compiled.sources.get(file).map(|f| f.path.as_path())
    }
}
