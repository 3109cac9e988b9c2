//! The outline of a document: its items, with the endpoints of each service and the
//! statements of `expect`.

use chaos_grammar::ast::{ExpectStmt, Item, ServiceSetting};
use tower_lsp_server::ls_types::{DocumentSymbol, SymbolKind};

use crate::text::LineIndex;
use crate::world::Analysis;

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out; `tags` replaces it.
fn symbol(
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    lines: &LineIndex<'_>,
    full: chaos_grammar::Span,
    name_span: chaos_grammar::Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: lines.range(full),
        selection_range: lines.range(name_span),
        children: (!children.is_empty()).then_some(children),
    }
}

/// The root document's symbols, in source order.
pub fn document_symbols(analysis: &Analysis) -> Vec<DocumentSymbol> {
    let text = analysis.text(analysis.root);
    let lines = LineIndex::new(text);
    let Some(ast) = analysis.compiled.ast(analysis.root) else {
        return Vec::new();
    };
    let snippet =
        |span: chaos_grammar::Span| text.get(span.start..span.end).unwrap_or("").to_string();
    let mut out = Vec::new();
    for item in &ast.items {
        let s = match item {
            Item::Import(i) => symbol(
                i.path.value.clone(),
                Some("import".into()),
                SymbolKind::FILE,
                &lines,
                i.span,
                i.path.span,
                vec![],
            ),
            Item::Param(p) => symbol(
                format!("${}", p.name.name),
                Some(format!("= {}", p.value.text)),
                SymbolKind::CONSTANT,
                &lines,
                p.span,
                p.name.span,
                vec![],
            ),
            Item::Scenario(s) => symbol(
                s.name.value.clone(),
                Some("scenario".into()),
                SymbolKind::MODULE,
                &lines,
                s.span,
                s.name.span,
                vec![],
            ),
            Item::Service(s) => {
                let endpoints = s
                    .settings
                    .iter()
                    .filter_map(|st| match &st.node {
                        ServiceSetting::Endpoint(e) => Some(symbol(
                            e.name.value.clone(),
                            Some("endpoint".into()),
                            SymbolKind::METHOD,
                            &lines,
                            e.span,
                            e.name.span,
                            vec![],
                        )),
                        _ => None,
                    })
                    .collect();
                symbol(
                    s.name.name.clone(),
                    Some("service".into()),
                    SymbolKind::CLASS,
                    &lines,
                    s.span,
                    s.name.span,
                    endpoints,
                )
            }
            Item::Workload(w) => symbol(
                w.name.name.clone(),
                Some("workload".into()),
                SymbolKind::EVENT,
                &lines,
                w.span,
                w.name.span,
                vec![],
            ),
            Item::Fault(f) => symbol(
                f.name.name.clone(),
                Some("fault".into()),
                SymbolKind::FUNCTION,
                &lines,
                f.span,
                f.name.span,
                vec![],
            ),
            Item::Expect(e) => {
                let statements = e
                    .statements
                    .iter()
                    .map(|st| {
                        let cond = match &st.node {
                            ExpectStmt::Check { condition, .. }
                            | ExpectStmt::Abort { condition, .. } => condition,
                        };
                        let kind = match &st.node {
                            ExpectStmt::Check { .. } => "expectation",
                            ExpectStmt::Abort { .. } => "abort",
                        };
                        symbol(
                            snippet(st.span),
                            Some(kind.into()),
                            SymbolKind::BOOLEAN,
                            &lines,
                            st.span,
                            cond.span,
                            vec![],
                        )
                    })
                    .collect();
                let head = chaos_grammar::Span::new(
                    e.span.start,
                    (e.span.start + "expect".len()).min(e.span.end),
                );
                symbol(
                    "expect".into(),
                    None,
                    SymbolKind::NAMESPACE,
                    &lines,
                    e.span,
                    head,
                    statements,
                )
            }
            Item::Explore(e) => {
                let head = chaos_grammar::Span::new(
                    e.span.start,
                    (e.span.start + "explore".len()).min(e.span.end),
                );
                symbol(
                    "explore".into(),
                    Some("search space".into()),
                    SymbolKind::NAMESPACE,
                    &lines,
                    e.span,
                    head,
                    vec![],
                )
            }
        };
        out.push(s);
    }
    out
}
