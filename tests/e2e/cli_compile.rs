//! End-to-end: cli_compile.
