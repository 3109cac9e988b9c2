//! Go to definition, find references and rename, across imports and across the open documents
//! that import the file being edited.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chaos_compiler::source::resolve_import;
use chaos_grammar::Span;
use chaos_grammar::ast::Item;
use tower_lsp_server::ls_types::{Location, Position, Range, TextEdit, Uri, WorkspaceEdit};

use crate::index::{Occurrence, SymbolKey};
use crate::text::LineIndex;
use crate::world::{Analysis, World};

/// A place in a file, by path: what identifies a definition across compilations.
type Place = (PathBuf, Span);

/// Where a name is written, and whether that is its definition.
type Found = (Uri, Range, bool);

fn place(analysis: &Analysis, o: &Occurrence) -> Option<Place> {
    Some((analysis.path(o.file)?.to_path_buf(), o.span))
}

fn location(
    world: &World,
    analysis: &Analysis,
    file: chaos_compiler::FileId,
    span: Span,
) -> Option<Location> {
    let uri = world.uri_of(analysis.path(file)?)?;
    Some(Location::new(
        uri,
        LineIndex::new(analysis.text(file)).range(span),
    ))
}

/// The occurrence under the cursor in the analysed document.
pub fn occurrence_at(analysis: &Analysis, pos: Position) -> Option<&Occurrence> {
    let offset = LineIndex::new(analysis.text(analysis.root)).offset(pos);
    analysis.index.at(analysis.root, offset)
}

pub fn definition(world: &World, analysis: &Analysis, pos: Position) -> Vec<Location> {
    if let Some(loc) = import_target(world, analysis, pos) {
        return vec![loc];
    }
    let Some(o) = occurrence_at(analysis, pos) else {
        return Vec::new();
    };
    analysis
        .index
        .definitions(&o.key)
        .filter_map(|d| location(world, analysis, d.file, d.span))
        .collect()
}

/// On the path of an `import`: the start of the imported file.
fn import_target(world: &World, analysis: &Analysis, pos: Position) -> Option<Location> {
    let offset = LineIndex::new(analysis.text(analysis.root)).offset(pos);
    let ast = analysis.compiled.ast(analysis.root)?;
    let root_path = analysis.path(analysis.root)?;
    ast.items.iter().find_map(|item| match item {
        Item::Import(i) if i.path.span.start <= offset && offset <= i.path.span.end => {
            let uri = world.uri_of(&resolve_import(root_path, &i.path.value))?;
            Some(Location::new(uri, Range::default()))
        }
        _ => None,
    })
}

/// Every occurrence of the symbol under the cursor, in this compilation and in every open
/// document whose compilation has the same definition (the files that import this one).
fn all_occurrences(world: &World, uri: &Uri, pos: Position) -> Option<(SymbolKey, Vec<Found>)> {
    let analysis = world.analyze(uri)?;
    let key = occurrence_at(&analysis, pos)?.key.clone();
    let defs: HashSet<Place> = analysis
        .index
        .definitions(&key)
        .filter_map(|d| place(&analysis, d))
        .collect();
    let mut found: BTreeMap<(PathBuf, usize), Found> = BTreeMap::new();
    let mut collect = |a: &Analysis| {
        for o in a.index.all(&key) {
            let (Some((path, span)), Some(loc)) = (place(a, o), location(world, a, o.file, o.span))
            else {
                continue;
            };
            found
                .entry((path, span.start))
                .or_insert((loc.uri, loc.range, o.is_definition));
        }
    };
    collect(&analysis);
    for doc in world.documents() {
        if &doc.uri == uri {
            continue;
        }
        let Some(other) = world.analyze(&doc.uri) else {
            continue;
        };
        let same = other
            .index
            .definitions(&key)
            .filter_map(|d| place(&other, d))
            .any(|p| defs.contains(&p));
        if same || defs.is_empty() {
            collect(&other);
        }
    }
    Some((key, found.into_values().collect()))
}

pub fn references(
    world: &World,
    uri: &Uri,
    pos: Position,
    include_declaration: bool,
) -> Vec<Location> {
    let Some((_, occurrences)) = all_occurrences(world, uri, pos) else {
        return Vec::new();
    };
    occurrences
        .into_iter()
        .filter(|(_, _, is_def)| include_declaration || !is_def)
        .map(|(uri, range, _)| Location::new(uri, range))
        .collect()
}

/// Why a rename was refused, in words for the editor's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error(
        "nothing to rename here: place the cursor on the name of a service, workload, fault or param"
    )]
    NoSymbol,
    #[error("endpoints are renamed by editing their string")]
    Endpoint,
    #[error(
        "`{0}` is not a valid name: names are lowercase letters, digits, `_` and `-`, starting with a letter or `_`"
    )]
    InvalidName(String),
    #[error("`{0}` starts an item and cannot be a name")]
    Reserved(String),
}

/// The range of the name under the cursor, if it can be renamed.
pub fn prepare_rename(analysis: &Analysis, pos: Position) -> Result<Range, RenameError> {
    let o = occurrence_at(analysis, pos).ok_or(RenameError::NoSymbol)?;
    if matches!(o.key, SymbolKey::Endpoint(..)) {
        return Err(RenameError::Endpoint);
    }
    Ok(LineIndex::new(analysis.text(analysis.root)).range(o.span))
}

pub fn rename(
    world: &World,
    uri: &Uri,
    pos: Position,
    new_name: &str,
) -> Result<WorkspaceEdit, RenameError> {
    let new_name = new_name.strip_prefix('$').unwrap_or(new_name);
    if !valid_name(new_name) {
        return Err(RenameError::InvalidName(new_name.to_string()));
    }
    if ITEM_KEYWORDS.contains(&new_name) {
        return Err(RenameError::Reserved(new_name.to_string()));
    }
    let (key, occurrences) = all_occurrences(world, uri, pos).ok_or(RenameError::NoSymbol)?;
    if matches!(key, SymbolKey::Endpoint(..)) {
        return Err(RenameError::Endpoint);
    }
    let mut changes: std::collections::HashMap<Uri, Vec<TextEdit>> =
        std::collections::HashMap::new();
    for (uri, range, _) in occurrences {
        changes
            .entry(uri)
            .or_default()
            .push(TextEdit::new(range, new_name.to_string()));
    }
    Ok(WorkspaceEdit {
        changes: Some(changes),
        ..WorkspaceEdit::default()
    })
}

/// Words that the grammar never accepts as a name.
const ITEM_KEYWORDS: &[&str] = &[
    "import", "param", "scenario", "service", "workload", "fault", "expect",
];

/// `[a-z_][a-z0-9_-]*`, with no `-` right before a `>` or at the end (`a-` would read as `a` and `-`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && name
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("payments"));
        assert!(valid_name("_x-2"));
        assert!(!valid_name("Payments"));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
        assert!(!valid_name("a-"));
    }
}
