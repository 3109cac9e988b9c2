//! Formatting through the formatter of `chaos fmt` (`chaos_grammar::format`): one edit that
//! replaces the whole text when its canonical layout differs.

use tower_lsp_server::ls_types::TextEdit;

use crate::text::LineIndex;

/// The edits that make `text` canonical (none when it already is), or why it cannot be formatted.
pub fn edits(text: &str) -> Result<Vec<TextEdit>, String> {
    let formatted = chaos_grammar::format::format_source(text)
        .map_err(|e| format!("cannot format a file with a syntax error: {e}"))?;
    if formatted == text {
        return Ok(Vec::new());
    }
    Ok(vec![TextEdit::new(
        LineIndex::new(text).full_range(),
        formatted,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_for_the_whole_text_or_none() {
        let messy = "service   a {\nworkers 2 }\n";
        let edits = edits(messy).unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].range, LineIndex::new(messy).full_range());
        let formatted = &edits[0].new_text;
        assert_eq!(
            formatted,
            &chaos_grammar::format::format_source(messy).unwrap()
        );
        assert!(
            super::edits(formatted).unwrap().is_empty(),
            "formatting is idempotent"
        );
        assert!(
            super::edits("service {")
                .unwrap_err()
                .starts_with("cannot format")
        );
    }
}
