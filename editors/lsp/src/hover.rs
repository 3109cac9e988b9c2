//! Hover: the meaning and unit of a keyword, metric or distribution; the definition of a name;
//! the resolved value of a param.

use chaos_grammar::Span;
use chaos_grammar::ast::{File, Item, ServiceSetting, Value, ValueKind};
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use crate::docs;
use crate::index::SymbolKey;
use crate::lex::{self, TokenKind};
use crate::navigate::occurrence_at;
use crate::text::LineIndex;
use crate::world::Analysis;

/// Definitions longer than this many lines are cut in a hover.
const MAX_LINES: usize = 12;

pub fn hover(analysis: &Analysis, pos: Position) -> Option<Hover> {
    let text = analysis.text(analysis.root);
    let lines = LineIndex::new(text);
    if let Some(o) = occurrence_at(analysis, pos) {
        let markdown = symbol_markdown(analysis, &o.key)?;
        return Some(markup(markdown, Some(lines.range(o.span))));
    }
    let offset = lines.offset(pos);
    let tokens = lex::tokenize(text);
    let token = lex::token_at(&tokens, offset)?;
    let word = token.text(text);
    let markdown = match token.kind {
        TokenKind::Word => docs::lookup(word)?.markdown(),
        TokenKind::Quantity => quantity_markdown(word)?,
        _ => return None,
    };
    Some(markup(markdown, Some(lines.range(token.span))))
}

fn markup(value: String, range: Option<tower_lsp_server::ls_types::Range>) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range,
    }
}

fn symbol_markdown(analysis: &Analysis, key: &SymbolKey) -> Option<String> {
    let Some(def) = analysis.index.definitions(key).next() else {
        return Some(format!("unknown {} `{}`", key.kind_word(), key.name()));
    };
    let ast = analysis.compiled.ast(def.file)?;
    let text = analysis.text(def.file);
    let mut md = String::new();
    if let SymbolKey::Param(name) = key {
        md.push_str(&param_markdown(analysis, name)?);
    } else {
        let span = definition_span(ast, key)?;
        md.push_str(&format!("```chaos\n{}\n```", excerpt(text, span)));
    }
    if def.file != analysis.root {
        let name = analysis
            .compiled
            .sources
            .get(def.file)
            .map_or("", |f| f.name.as_str());
        md.push_str(&format!("\n\ndefined in `{name}`"));
    }
    let uses = analysis.index.all(key).filter(|o| !o.is_definition).count();
    md.push_str(&format!("\n\n{} {}", key.kind_word(), used(uses)));
    Some(md)
}

fn used(n: usize) -> String {
    match n {
        0 => "not referenced".to_string(),
        1 => "referenced once".to_string(),
        n => format!("referenced {n} times"),
    }
}

/// The whole item (or endpoint) that defines `key`.
fn definition_span(ast: &File, key: &SymbolKey) -> Option<Span> {
    ast.items.iter().find_map(|item| match (item, key) {
        (Item::Service(s), SymbolKey::Service(n)) if &s.name.name == n => Some(s.span),
        (Item::Workload(w), SymbolKey::Workload(n)) if &w.name.name == n => Some(w.span),
        (Item::Fault(f), SymbolKey::Fault(n)) if &f.name.name == n => Some(f.span),
        (Item::Service(s), SymbolKey::Endpoint(svc, ep)) if &s.name.name == svc => {
            s.settings.iter().find_map(|st| match &st.node {
                ServiceSetting::Endpoint(e) if &e.name.value == ep => Some(e.span),
                _ => None,
            })
        }
        _ => None,
    })
}

/// The source of a span, cut after a few lines.
fn excerpt(text: &str, span: Span) -> String {
    let src = text.get(span.start..span.end).unwrap_or("");
    let lines: Vec<&str> = src.lines().collect();
    if lines.len() <= MAX_LINES {
        return src.to_string();
    }
    let mut s = lines[..MAX_LINES - 1].join("\n");
    s.push_str("\n  …");
    s
}

/// `param NAME = VALUE`, and where it leads when the value is another param.
fn param_markdown(analysis: &Analysis, name: &str) -> Option<String> {
    let mut chain = vec![name.to_string()];
    let mut value = param_value(analysis, name)?;
    let mut md = format!("```chaos\nparam {name} = {}\n```", value.text);
    while let ValueKind::Param(next) = &value.kind {
        if chain.contains(next) || chain.len() > 16 {
            md.push_str(&format!(
                "\n\n`${next}` refers back to itself: the params form a cycle"
            ));
            return Some(md);
        }
        chain.push(next.clone());
        match param_value(analysis, next) {
            Some(v) => value = v,
            None => {
                md.push_str(&format!("\n\n`${next}` is not declared"));
                return Some(md);
            }
        }
    }
    if chain.len() > 1 {
        md.push_str(&format!(
            "\n\nresolves to `{}` (through `${}`)",
            value.text,
            chain[1..].join("`, `$")
        ));
    }
    if let Some(meaning) = value_meaning(&value.kind) {
        md.push_str(&format!("\n\nvalue: {meaning}"));
    }
    md.push_str("\n\n`--set ");
    md.push_str(name);
    md.push_str("=VALUE` overrides it");
    Some(md)
}

fn param_value<'a>(analysis: &'a Analysis, name: &str) -> Option<&'a Value> {
    let key = SymbolKey::Param(name.to_string());
    let def = analysis.index.definitions(&key).next()?;
    let ast = analysis.compiled.ast(def.file)?;
    ast.items.iter().find_map(|i| match i {
        Item::Param(p) if p.name.name == name => Some(&p.value),
        _ => None,
    })
}

/// A value in words and base units, e.g. "a duration of 90 s".
pub fn value_meaning(kind: &ValueKind) -> Option<String> {
    Some(match kind {
        ValueKind::Number(n) => format!("the number {}", num(*n)),
        ValueKind::Duration(s) => format!("a duration of {} s", num(*s)),
        ValueKind::Rate(r) => format!("a rate of {} per second", num(*r)),
        ValueKind::Ratio(f) => format!("a ratio of {} ({}%)", num(*f), num(f * 100.0)),
        ValueKind::Multiplier(m) => format!("a multiplier of {}×", num(*m)),
        ValueKind::Size(b) => format!("a size of {} bytes", num(*b)),
        ValueKind::SizeRate(b) => format!("a growth of {} bytes per second", num(*b)),
        ValueKind::Param(_) => return None,
    })
}

/// A quantity literal under the cursor, in base units (parsed as the grammar does).
fn quantity_markdown(word: &str) -> Option<String> {
    let src = format!("param q = {word}");
    let file = chaos_grammar::parse(&src).ok()?;
    let meaning = file.items.iter().find_map(|i| match i {
        Item::Param(p) => value_meaning(&p.value.kind),
        _ => None,
    })?;
    Some(format!("`{word}`: {meaning}"))
}

/// Numbers without a trailing `.0`, and without float noise (`0.1 * 100`).
fn num(x: f64) -> String {
    let rounded = (x * 1e9).round() / 1e9;
    format!("{rounded}")
}
