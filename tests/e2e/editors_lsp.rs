//! End-to-end: editors_lsp.
