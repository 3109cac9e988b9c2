//! Completion from the tokens before the cursor: the keywords that may start or continue a
//! statement in the enclosing block, and service, endpoint, workload, fault and param names
//! where a name of that kind fits. It reads tokens, not the syntax tree, so it works while the
//! file is half typed.

use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat,
    MarkupContent, MarkupKind, Position, Range, TextEdit,
};

use crate::docs::{self, DISTRIBUTIONS, METRICS};
use crate::index::SymbolKey;
use crate::lex::{self, Token, TokenKind};
use crate::text::LineIndex;
use crate::world::{Analysis, World};

/// The kind of block the cursor is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Top,
    Scenario,
    Service,
    /// An endpoint body, `parallel { }` or a braced choice branch.
    Steps,
    /// `call SERVICE "ENDPOINT" { }`
    Policies,
    Choice,
    Workload,
    Fault,
    Expect,
    Explore,
    Unknown,
}

impl Block {
    /// Keywords that start a statement in this block.
    fn starters(self) -> &'static [&'static str] {
        match self {
            Block::Top => &[
                "import", "param", "scenario", "service", "workload", "fault", "expect", "explore",
            ],
            Block::Scenario => &["duration", "warmup", "seed", "window", "hop"],
            Block::Service => &[
                "replicas",
                "autoscale",
                "workers",
                "queue",
                "rate_limit",
                "restart",
                "balance",
                "latency",
                "endpoint",
                "health_check",
                "eject",
            ],
            Block::Steps => &["work", "call", "send", "parallel", "choice", "fail"],
            Block::Policies => &[
                "timeout",
                "retry",
                "circuit_breaker",
                "on_error",
                "priority",
            ],
            Block::Workload => &[
                "target", "rate", "spike", "arrivals", "timeout", "users", "priority",
            ],
            Block::Fault => &[
                "latency",
                "errors",
                "kill",
                "partition",
                "cpu",
                "loss",
                "memory",
            ],
            Block::Expect => &["abort"],
            Block::Explore => &[
                "max_faults",
                "latency",
                "errors",
                "kill",
                "cpu",
                "loss",
                "memory",
                "partition",
                "at",
                "for",
            ],
            Block::Choice | Block::Unknown => &[],
        }
    }
}

/// Keywords that may continue the statement that `head` started.
fn continuations(head: &str, block: Block) -> &'static [&'static str] {
    match (head, block) {
        ("call", _) => &[
            "timeout",
            "retry",
            "circuit_breaker",
            "on_error",
            "priority",
        ],
        ("retry", _) => &[
            "backoff",
            "jitter",
            "timeout",
            "circuit_breaker",
            "on_error",
            "priority",
        ],
        ("timeout", Block::Steps | Block::Policies) => {
            &["retry", "circuit_breaker", "on_error", "priority"]
        }
        ("circuit_breaker", _) => &["over", "min", "open", "on_error", "priority"],
        ("autoscale", _) => &[
            "target", "up", "above", "down", "below", "delay", "interval",
        ],
        ("health_check", _) => &["every", "timeout", "unhealthy", "healthy"],
        ("eject", _) => &["after", "errors", "for", "max"],
        ("fail", _) => &["status"],
        ("errors", Block::Fault) => &["status", "on", "of"],
        ("latency" | "errors" | "cpu" | "loss", Block::Explore) => &["up", "on"],
        ("memory", Block::Explore) => &["up", "on", "limit"],
        ("kill", Block::Explore) => &["up", "of"],
        ("at" | "for", Block::Explore) => &["up"],
        ("errors", _) => &["status", "on"],
        ("latency" | "cpu" | "loss", Block::Fault) => &["on", "of"],
        ("memory", _) => &["on", "of", "limit"],
        ("kill", _) => &["of"],
        ("users", _) => &["over", "think"],
        ("rate", _) => &["over", "for"],
        ("spike", _) => &["at", "for"],
        ("fault", _) => &["at", "every", "for", "from", "until"],
        ("metric", _) => &["overall", "during", "before", "after", "between"],
        ("after", _) => &["for"],
        ("between", _) => &["and"],
        ("abort", _) => &["when", "for"],
        _ => &[],
    }
}

/// Where the cursor is, as far as completion cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// Keywords: those that start a statement in the block, and those that continue `head`.
    Keywords {
        block: Block,
        head: Option<String>,
    },
    Services {
        random: bool,
    },
    /// Endpoints of a service (inserted with their quotes).
    Endpoints(String),
    Subjects,
    Faults,
    Params,
    Distributions,
    Values(&'static [&'static str]),
    Metrics,
    Nothing,
}

/// Finds the context from the text before `offset`; also returns the span of the partial
/// token under the cursor, which the completion replaces.
pub fn context(text: &str, offset: usize) -> (Context, chaos_grammar::Span) {
    let tokens = lex::tokenize(text);
    let mut replace = chaos_grammar::Span::new(offset, offset);
    let mut before: Vec<Token> = Vec::new();
    for t in &tokens {
        let text_of = t.text(text);
        let closed_str = t.kind == TokenKind::Str && text_of.len() >= 2 && text_of.ends_with('"');
        if t.span.end < offset
            || (t.span.end == offset && (t.kind == TokenKind::Punct || closed_str))
        {
            if t.kind != TokenKind::Comment {
                before.push(*t);
            }
        } else if t.span.start < offset {
            // The token being typed; inside a comment or a number nothing is offered.
            match t.kind {
                TokenKind::Comment | TokenKind::Quantity => return (Context::Nothing, replace),
                TokenKind::Word | TokenKind::Param | TokenKind::Str => replace = t.span,
                TokenKind::Punct => {}
            }
        }
    }
    let partial = tokens
        .iter()
        .find(|t| t.span == replace && !replace.is_empty())
        .copied();
    if partial.is_some_and(|t| t.kind == TokenKind::Param)
        || text.get(..offset).is_some_and(|s| s.ends_with('$'))
    {
        if text.get(..offset).is_some_and(|s| s.ends_with('$')) {
            replace = chaos_grammar::Span::new(offset - 1, offset);
        }
        return (Context::Params, replace);
    }
    let word = |i: usize| -> Option<&str> {
        let t = before.get(before.len().checked_sub(i)?)?;
        Some(t.text(text))
    };
    let (p1, p2, p3) = (
        word(1).unwrap_or(""),
        word(2).unwrap_or(""),
        word(3).unwrap_or(""),
    );
    let block = enclosing_block(text, &before);
    let in_string = partial.is_some_and(|t| t.kind == TokenKind::Str);
    let ctx = match (p1, p2, p3) {
        // `explore` names whole services (no endpoint, no `random(…)`), in lists.
        ("up", _, _) if block == Block::Explore => Context::Values(&["to"]),
        ("on" | "of" | "," | "partition" | "|", _, _) if block == Block::Explore => {
            Context::Services { random: false }
        }
        (_, "call" | "send" | "target" | "on", _)
            if block != Block::Service && block != Block::Explore && is_name(p1) =>
        {
            Context::Endpoints(p1.to_string())
        }
        // `on N of SERVICE "…"` (not `kill N of SERVICE`, which takes no endpoint).
        (_, "of", _) if block == Block::Fault && is_name(p1) && word(4) == Some("on") => {
            Context::Endpoints(p1.to_string())
        }
        (_, "(", m) if METRICS.contains(&m) && is_name(p1) => Context::Endpoints(p1.to_string()),
        _ if in_string => Context::Nothing,
        ("call" | "send" | "on", _, _) => Context::Services { random: false },
        ("target", _, _) if block == Block::Workload => Context::Services { random: false },
        // `random(...)` only after `kill N of`; `on N of` takes one service.
        ("of", _, head) => Context::Services {
            random: head == "kill",
        },
        ("partition" | "|", _, _) => Context::Services { random: false },
        ("," | "(", _, _) if in_name_list(text, &before) => Context::Services { random: false },
        ("(", m, _) if METRICS.contains(&m) => Context::Subjects,
        // Inside a distribution's arguments or a list of rates: values, not words.
        ("(" | "," | "=" | "->" | "..", _, _) => Context::Nothing,
        ("during" | "before" | "after", _, _) => Context::Faults,
        ("balance", _, _) => Context::Values(&["round_robin", "random", "least_request"]),
        (_, "queue", _) if block == Block::Service && !is_name(p1) => {
            Context::Values(&["fifo", "lifo"])
        }
        ("arrivals", _, _) => Context::Values(&["poisson", "uniform"]),
        ("jitter", _, _) => Context::Values(&["none", "full", "equal"]),
        ("on_error", _, _) => Context::Values(&["continue"]),
        ("work" | "think" | "backoff" | "+", _, _) => Context::Distributions,
        ("latency", _, _) if block == Block::Service => Context::Distributions,
        ("=>", _, _) => Context::Keywords {
            block: Block::Steps,
            head: None,
        },
        _ if block == Block::Expect && statement_complete(&before, text) => Context::Keywords {
            block,
            head: Some(statement_head(text, &before, block)),
        },
        _ if block == Block::Expect => Context::Metrics,
        _ => Context::Keywords {
            block,
            head: Some(statement_head(text, &before, block)),
        },
    };
    (ctx, replace)
}

fn is_name(s: &str) -> bool {
    crate::navigate::valid_name(s)
}

/// In `random(a, ` or `partition a, ` a name list goes on.
fn in_name_list(text: &str, before: &[Token]) -> bool {
    for t in before.iter().rev() {
        match t.text(text) {
            "random" | "partition" => return true,
            "," | "(" | "|" => continue,
            _ if t.kind == TokenKind::Word => continue,
            _ => return false,
        }
    }
    false
}

/// The block of the innermost unclosed `{` before the cursor.
fn enclosing_block(text: &str, before: &[Token]) -> Block {
    let mut stack: Vec<Block> = Vec::new();
    for (i, t) in before.iter().enumerate() {
        match t.text(text) {
            "{" => stack.push(opener(text, &before[..i])),
            "}" => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().copied().unwrap_or(Block::Top)
}

/// What a `{` opens, from the nearest word before it that opens blocks.
fn opener(text: &str, before: &[Token]) -> Block {
    for t in before.iter().rev() {
        return match t.text(text) {
            "scenario" => Block::Scenario,
            "service" => Block::Service,
            "endpoint" | "parallel" | "=>" => Block::Steps,
            "call" => Block::Policies,
            "choice" => Block::Choice,
            "workload" => Block::Workload,
            "fault" => Block::Fault,
            "expect" => Block::Expect,
            "explore" => Block::Explore,
            "{" | "}" => Block::Unknown,
            _ => continue,
        };
    }
    Block::Unknown
}

/// The keyword that started the statement the cursor is in (within the current block):
/// `metric` for an expectation.
fn statement_head(text: &str, before: &[Token], block: Block) -> String {
    let heads: &[&str] = &[
        "call",
        "send",
        "health_check",
        "eject",
        "priority",
        "retry",
        "timeout",
        "circuit_breaker",
        "autoscale",
        "fail",
        "errors",
        "latency",
        "cpu",
        "loss",
        "memory",
        "kill",
        "users",
        "rate",
        "spike",
        "fault",
        "abort",
        "after",
        "between",
        "work",
        "parallel",
        "choice",
        "on_error",
        "partition",
        "target",
        "arrivals",
        "balance",
        "workers",
        "queue",
        "replicas",
        "rate_limit",
        "restart",
        "duration",
        "warmup",
        "seed",
        "window",
        "hop",
        "endpoint",
    ];
    for t in before.iter().rev() {
        let w = t.text(text);
        if w == "{" || w == "}" {
            break;
        }
        if block == Block::Expect && t.kind == TokenKind::Word && METRICS.contains(&w) {
            return "metric".into();
        }
        if heads.contains(&w) {
            return w.to_string();
        }
    }
    String::new()
}

/// In `expect`, a statement is complete once a value follows its comparison.
fn statement_complete(before: &[Token], text: &str) -> bool {
    match before.last() {
        Some(t) if t.kind == TokenKind::Quantity || t.kind == TokenKind::Param => true,
        Some(t) if t.kind == TokenKind::Word => {
            !METRICS.contains(&t.text(text)) && t.text(text) != "abort"
        }
        _ => false,
    }
}

/// The names defined in the document and its imports. While the document does not parse (it
/// is being typed), they are read from its tokens, and each import is compiled on its own.
fn known_names(world: &World, analysis: &Analysis) -> Vec<SymbolKey> {
    if analysis.compiled.ast(analysis.root).is_some() {
        return analysis
            .index
            .defined(|_| true)
            .into_iter()
            .cloned()
            .collect();
    }
    let text = analysis.text(analysis.root);
    let tokens: Vec<Token> = lex::tokenize(text)
        .into_iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .collect();
    let mut out: Vec<SymbolKey> = Vec::new();
    let mut service: Option<String> = None;
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1);
        let next_text = next.map_or("", |n| n.text(text));
        let next_is_name = next.is_some_and(|n| n.kind == TokenKind::Word);
        let next_is_str = next.is_some_and(|n| n.kind == TokenKind::Str);
        match t.text(text) {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    service = None;
                }
            }
            "service" if depth == 0 && next_is_name => {
                service = Some(next_text.to_string());
                out.push(SymbolKey::Service(next_text.to_string()));
            }
            "workload" if depth == 0 && next_is_name => {
                out.push(SymbolKey::Workload(next_text.to_string()));
            }
            "fault" if depth == 0 && next_is_name => {
                out.push(SymbolKey::Fault(next_text.to_string()))
            }
            "param" if depth == 0 && next_is_name => {
                out.push(SymbolKey::Param(next_text.to_string()))
            }
            "endpoint" if next_is_str => {
                if let Some(s) = &service {
                    out.push(SymbolKey::Endpoint(s.clone(), unquote(next_text)));
                }
            }
            "import" if next_is_str => {
                let Some(root) = analysis.path(analysis.root) else {
                    continue;
                };
                let path = chaos_compiler::source::resolve_import(root, &unquote(next_text));
                if let Some(imported) = world.analyze_path(&path) {
                    out.extend(imported.index.defined(|_| true).into_iter().cloned());
                }
            }
            _ => {}
        }
    }
    let mut unique: Vec<SymbolKey> = Vec::new();
    for k in out {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    unique
}

/// The value of a string token: without its quotes, escapes undone.
fn unquote(token: &str) -> String {
    let inner = token.strip_prefix('"').unwrap_or(token);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

pub fn completions(world: &World, analysis: &Analysis, pos: Position) -> Vec<CompletionItem> {
    let text = analysis.text(analysis.root);
    let lines = LineIndex::new(text);
    let offset = lines.offset(pos);
    let (ctx, replace) = context(text, offset);
    let range = lines.range(replace);
    let known = known_names(world, analysis);
    let names = |kind: fn(&SymbolKey) -> bool| -> Vec<String> {
        known
            .iter()
            .filter(|k| kind(k))
            .map(|k| k.name().to_string())
            .collect()
    };
    let mut out = Vec::new();
    match ctx {
        Context::Nothing => {}
        Context::Keywords { block, head } => {
            // What continues the statement first, then what starts a new one.
            let mut words: Vec<&str> = Vec::new();
            if let Some(h) = head.as_deref() {
                words.extend(continuations(h, block));
            }
            let continued = words.len();
            words.extend(block.starters());
            if block == Block::Steps
                && head
                    .as_deref()
                    .is_some_and(|h| ["call", "retry", "timeout", "circuit_breaker"].contains(&h))
            {
                words.extend(Block::Policies.starters());
            }
            let mut seen = Vec::new();
            for (i, w) in words.into_iter().enumerate() {
                if i == continued && block == Block::Expect {
                    out.extend(METRICS.iter().map(|m| metric_item(m, range)));
                }
                if !seen.contains(&w) {
                    seen.push(w);
                    out.push(word_item(w, CompletionItemKind::KEYWORD, range));
                }
            }
        }
        Context::Services { random } => {
            for n in names(|k| matches!(k, SymbolKey::Service(_))) {
                out.push(name_item(&n, "service", CompletionItemKind::CLASS, range));
            }
            if random {
                out.push(snippet_item(
                    "random",
                    "random(${1:a}, ${2:b})",
                    "one of several services, at random",
                    range,
                ));
            }
        }
        Context::Endpoints(service) => {
            for k in &known {
                if let SymbolKey::Endpoint(s, e) = k
                    && *s == service
                {
                    let quoted = format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\""));
                    let mut item = name_item(
                        &quoted,
                        &format!("endpoint of {service}"),
                        CompletionItemKind::METHOD,
                        range,
                    );
                    item.filter_text = Some(quoted.clone());
                    out.push(item);
                }
            }
        }
        Context::Subjects => {
            for n in names(|k| matches!(k, SymbolKey::Service(_))) {
                out.push(name_item(&n, "service", CompletionItemKind::CLASS, range));
            }
            for n in names(|k| matches!(k, SymbolKey::Workload(_))) {
                out.push(name_item(
                    &n,
                    "workload: what its clients saw",
                    CompletionItemKind::EVENT,
                    range,
                ));
            }
        }
        Context::Faults => {
            for n in names(|k| matches!(k, SymbolKey::Fault(_))) {
                out.push(name_item(&n, "fault", CompletionItemKind::FUNCTION, range));
            }
        }
        Context::Params => {
            for n in names(|k| matches!(k, SymbolKey::Param(_))) {
                let mut item = name_item(
                    &format!("${n}"),
                    "param",
                    CompletionItemKind::CONSTANT,
                    range,
                );
                item.filter_text = Some(format!("${n}"));
                out.push(item);
            }
        }
        Context::Distributions => {
            for (name, body) in [
                ("exponential", "exponential(mean = ${1:10ms})"),
                ("normal", "normal(mean = ${1:10ms}, stddev = ${2:2ms})"),
                ("lognormal", "lognormal(median = ${1:5ms}, p99 = ${2:40ms})"),
                ("uniform", "uniform(${1:2ms}, ${2:9ms})"),
                ("pareto", "pareto(scale = ${1:2ms}, shape = ${2:1.5})"),
            ] {
                debug_assert!(DISTRIBUTIONS.contains(&name));
                let detail = docs::lookup(name).map_or("", |d| d.meaning);
                out.push(snippet_item(name, body, detail, range));
            }
        }
        Context::Values(values) => {
            for v in values {
                out.push(word_item(v, CompletionItemKind::ENUM_MEMBER, range));
            }
        }
        Context::Metrics => {
            out.extend(METRICS.iter().map(|m| metric_item(m, range)));
            out.push(word_item("abort", CompletionItemKind::KEYWORD, range));
        }
    }
    out
}

fn documentation(word: &str) -> (Option<String>, Option<Documentation>) {
    match docs::lookup(word) {
        Some(d) => (
            Some(d.syntax.lines().next().unwrap_or(d.syntax).to_string()),
            Some(Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: d.markdown(),
            })),
        ),
        None => (None, None),
    }
}

fn word_item(word: &str, kind: CompletionItemKind, range: Range) -> CompletionItem {
    let (detail, documentation) = documentation(word);
    CompletionItem {
        label: word.to_string(),
        kind: Some(kind),
        detail,
        documentation,
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            range,
            word.to_string(),
        ))),
        ..CompletionItem::default()
    }
}

fn name_item(name: &str, detail: &str, kind: CompletionItemKind, range: Range) -> CompletionItem {
    CompletionItem {
        label: name.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            range,
            name.to_string(),
        ))),
        ..CompletionItem::default()
    }
}

fn snippet_item(label: &str, body: &str, detail: &str, range: Range) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: Some(detail.to_string()),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            range,
            body.to_string(),
        ))),
        ..CompletionItem::default()
    }
}

fn metric_item(metric: &str, range: Range) -> CompletionItem {
    let (detail, documentation) = documentation(metric);
    CompletionItem {
        label: metric.to_string(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail,
        documentation,
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            range,
            format!("{metric}($1) $0"),
        ))),
        ..CompletionItem::default()
    }
}
