//! The `.chaos` language front end: text to syntax tree (with spans), and back (formatter).

pub mod ast;

pub use ast::Span;
