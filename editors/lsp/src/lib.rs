//! `chaos lsp`: a language server over stdio built on the compiler's own checker.
//!
//! The server ([`server`]) only moves data: each request compiles the document it is about
//! through [`world::World`] (open buffers first, then the disk) and asks one pure module for
//! the answer: [`diagnostics`], [`hover`], [`completion`], [`navigate`] (definition, references,
//! rename), [`symbols`] (outline) and [`format`].

pub mod completion;
pub mod diagnostics;
pub mod docs;
pub mod format;
pub mod hover;
pub mod index;
pub mod lex;
pub mod navigate;
pub mod server;
pub mod symbols;
pub mod text;
pub mod world;

use tower_lsp_server::{LspService, Server};

/// Serves LSP on `input`/`output` until the client says `exit` or closes the stream.
pub async fn serve<I, O>(input: I, output: O)
where
    I: tokio::io::AsyncRead + Unpin,
    O: tokio::io::AsyncWrite,
{
    let world = world::World::new(Box::new(|path: &std::path::Path| {
        std::fs::read_to_string(path)
    }));
    let (service, socket) = LspService::new(|client| server::Backend::new(client, world));
    Server::new(input, output, socket).serve(service).await;
}

/// Serves LSP on stdin/stdout (what `chaos lsp` runs).
pub fn run_stdio() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout()));
    Ok(())
}
