//! Child processes a test starts.

use std::process::Child;

/// Kills and waits for a child we started when the test ends, however it ends, so no process
/// outlives a failed test.
#[derive(Debug)]
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
