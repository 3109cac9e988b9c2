//! Byte offsets (the compiler's spans) to LSP positions (lines and UTF-16 columns) and back.

use std::sync::Arc;

use chaos_compiler::SourceFile;
use chaos_compiler::source;
use chaos_grammar::Span;
use tower_lsp_server::ls_types::{Position, Range};

/// One text and the compiler's index of its lines, for conversions in both directions (a
/// binary search for the line, then the columns of that line only).
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    lines: Arc<source::LineIndex>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        LineIndex {
            text,
            lines: Arc::new(source::LineIndex::new(text)),
        }
    }

    /// The index the compiler keeps for a loaded file: built once per check, shared by every
    /// diagnostic in it.
    pub fn of(file: &'a SourceFile) -> LineIndex<'a> {
        LineIndex {
            text: &file.text,
            lines: file.lines().clone(),
        }
    }

    /// The position of a byte offset (clamped to the text, and back to a char boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.lines.line(offset);
        let start = self.lines.line_start(line).unwrap_or(0);
        let col: usize = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().map(char::len_utf16).sum());
        Position::new(to_u32(line), to_u32(col))
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    /// The byte offset of a position; a column past the end of its line means the line's end,
    /// a line past the end of the text means the end of the text.
    pub fn offset(&self, pos: Position) -> usize {
        let Some(start) = self.lines.line_start(pos.line as usize) else {
            return self.text.len();
        };
        let end = self
            .lines
            .line_start(pos.line as usize + 1)
            .map_or(self.text.len(), |s| s - 1);
        let line = self.text.get(start..end).unwrap_or("");
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The range covering the whole text.
    pub fn full_range(&self) -> Range {
        Range::new(Position::new(0, 0), self.position(self.text.len()))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trip() {
        let text = "ab\ncd\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(0), Position::new(0, 0));
        assert_eq!(idx.position(4), Position::new(1, 1));
        assert_eq!(idx.position(6), Position::new(2, 0));
        assert_eq!(idx.offset(Position::new(1, 1)), 4);
        assert_eq!(idx.offset(Position::new(1, 99)), 5);
        assert_eq!(idx.offset(Position::new(9, 0)), 6);
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is 2 bytes and 1 UTF-16 unit; `𝄞` is 4 bytes and 2 units.
        let text = "é𝄞x";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(2), Position::new(0, 1));
        assert_eq!(idx.position(6), Position::new(0, 3));
        assert_eq!(idx.offset(Position::new(0, 3)), 6);
        // Inside a char: back to its start.
        assert_eq!(idx.position(3), Position::new(0, 1));
    }
}
