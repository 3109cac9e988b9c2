//! End-to-end: reports.
