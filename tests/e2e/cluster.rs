//! End-to-end: cluster.
