//! End-to-end: cli_check.
