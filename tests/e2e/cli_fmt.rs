//! End-to-end: cli_fmt.
