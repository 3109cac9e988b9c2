//! `chaos lsp`: a language server over stdio built on the compiler's own checker.
