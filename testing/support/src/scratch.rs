//! Scratch folders for one test: removed when the test passes, kept (and named on stderr)
//! when it fails, so the outputs that made it fail can be read afterwards.

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A fresh folder under the system's temp dir; derefs to its [`Path`].
#[derive(Debug)]
pub struct Scratch {
    dir: Option<TempDir>,
    path: PathBuf,
}

/// A fresh, empty folder whose name starts with `chaos-test-NAME-`.
pub fn scratch(name: &str) -> Scratch {
    let dir = tempfile::Builder::new()
        .prefix(&format!("chaos-test-{name}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("a scratch folder for {name}: {e}"));
    let path = dir.path().to_path_buf();
    Scratch {
        dir: Some(dir),
        path,
    }
}

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `NAME` in this folder and returns the file's path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let file = self.path.join(name);
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        file
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "the failed test's files are kept in {}",
                dir.keep().display()
            );
        }
    }
}
