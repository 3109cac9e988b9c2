//! The LSP glue: requests and notifications in, the pure functions of the other modules called
//! with the current documents, results out. Documents are synchronised as full texts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard};

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::world::World;
use crate::{completion, diagnostics, format, hover, navigate, symbols};

pub struct Backend {
    client: Client,
    world: Mutex<World>,
}

impl Backend {
    pub fn new(client: Client, world: World) -> Backend {
        Backend {
            client,
            world: Mutex::new(world),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic elsewhere must not take every later request down with it.
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs a query on the current documents; a bug that panics becomes an LSP error instead of
    /// ending the server.
    fn query<T>(&self, f: impl FnOnce(&World) -> T) -> Result<T> {
        let world = self.world();
        catch_unwind(AssertUnwindSafe(|| f(&world))).map_err(|_| Error::internal_error())
    }

    /// Re-checks every open document (an edit may change what its importers see) and publishes
    /// their diagnostics.
    async fn refresh(&self) {
        let batches: Vec<(Uri, Vec<Diagnostic>, i32)> = self
            .query(|world| {
                world
                    .documents()
                    .map(|doc| {
                        let diags = world
                            .analyze(&doc.uri)
                            .map(|a| diagnostics::for_root(world, &a))
                            .unwrap_or_default();
                        (doc.uri.clone(), diags, doc.version)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (uri, diags, version) in batches {
            self.client
                .publish_diagnostics(uri, diags, Some(version))
                .await;
        }
    }
}

pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            // Not space: a list after every space would be noise; names are typed anyway.
            trigger_characters: Some(vec!["$".into(), "\"".into(), "(".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        ..ServerCapabilities::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: InitializeParams) -> Result<InitializeResult> {
        Ok(InitializeResult {
            capabilities: capabilities(),
            server_info: Some(ServerInfo {
                name: "chaos lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.world().open(doc.uri, doc.text, doc.version);
        self.refresh().await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        // Full sync: the last change holds the whole text.
        let Some(change) = params.content_changes.into_iter().last() else {
            return;
        };
        self.world().change(
            &params.text_document.uri,
            change.text,
            params.text_document.version,
        );
        self.refresh().await;
    }

    async fn did_save(&self, _: DidSaveTextDocumentParams) {
        // Files that are not open are read from disk: a save may change what importers see.
        self.refresh().await;
    }

    async fn did_change_watched_files(&self, _: DidChangeWatchedFilesParams) {
        // An import changed on disk (the VS Code client watches `**/*.chaos`).
        self.refresh().await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.world().close(&uri);
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
        self.refresh().await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        self.query(|w| {
            w.analyze(&p.text_document.uri)
                .and_then(|a| hover::hover(&a, p.position))
        })
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        self.query(|w| {
            w.analyze(&p.text_document.uri)
                .map(|a| CompletionResponse::Array(completion::completions(w, &a, p.position)))
        })
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        self.query(|w| {
            let a = w.analyze(&p.text_document.uri)?;
            let locations = navigate::definition(w, &a, p.position);
            (!locations.is_empty()).then_some(GotoDefinitionResponse::Array(locations))
        })
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let include = params.context.include_declaration;
        self.query(|w| {
            let found = navigate::references(w, &p.text_document.uri, p.position, include);
            (!found.is_empty()).then_some(found)
        })
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        self.query(|w| {
            w.analyze(&params.text_document.uri)
                .map(|a| DocumentSymbolResponse::Nested(symbols::document_symbols(&a)))
        })
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let result = self.query(|w| {
            w.document(&params.text_document.uri)
                .map(|d| format::edits(&d.text))
        })?;
        match result {
            None => Ok(None),
            Some(Ok(edits)) => Ok(Some(edits)),
            // A file that does not parse cannot be formatted; its diagnostics already say why.
            Some(Err(message)) => Err(Error::invalid_params(message)),
        }
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        self.query(|w| {
            let a = w.analyze(&uri)?;
            let fixes = diagnostics::quick_fixes(w, &a, &uri, params.range);
            (!fixes.is_empty()).then_some(fixes)
        })
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        self.query(|w| {
            let a = w.analyze(&params.text_document.uri)?;
            navigate::prepare_rename(&a, params.position)
                .ok()
                .map(PrepareRenameResponse::Range)
        })
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position;
        self.query(|w| navigate::rename(w, &p.text_document.uri, p.position, &params.new_name))?
            .map(Some)
            .map_err(|e| Error::invalid_params(e.to_string()))
    }
}
