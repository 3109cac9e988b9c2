//! End-to-end: local.
