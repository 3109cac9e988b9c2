//! Collects `#` comments with one linear scan of the source, and gives the parser the same
//! text with comments, tabs and carriage returns outside strings turned into spaces.
//!
//! Blanking keeps every byte offset, so spans into the parser's text are spans into the
//! source; the grammar then only skips `" "` and `"\n"` between tokens. pest tries its
//! whitespace rule once more after every run of whitespace, and each alternative it fails
//! there costs a call: with comments, tabs and `\r` in the rule, that failing try was the
//! largest single cost of parsing.

use std::borrow::Cow;

use crate::ast::{Comment, Span};

/// Every comment in source order. `#` inside a string is not a comment; strings do not span
/// lines and know two escapes, `\"` and `\\`.
#[cfg(test)]
pub fn collect(source: &str) -> Vec<Comment> {
    split(source).0
}

/// The comments, and the text for the parser: `source` with comments, tabs and `\r` outside
/// strings replaced by spaces (borrowed when there are none).
pub fn split(source: &str) -> (Vec<Comment>, Cow<'_, str>) {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let mut blanked: Option<Vec<u8>> = None;
    let mut blank = |from: usize, to: usize| {
        let b = blanked.get_or_insert_with(|| bytes.to_vec());
        b[from..to].fill(b' ');
    };
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'\t' | b'\r' => blank(i, i + 1),
            b'#' => {
                let end = source[i..].find('\n').map_or(source.len(), |n| i + n);
                // A `\r` of a CRLF line ending is not part of the comment.
                let end = if end > i + 1 && bytes[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                out.push(Comment {
                    text: source[i + 1..end].to_string(),
                    span: Span::new(i, end),
                });
                blank(i, end);
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let text = match blanked {
        // Only ASCII bytes of a valid string were overwritten, with ASCII spaces.
        Some(b) => Cow::Owned(String::from_utf8(b).unwrap_or_else(|_| source.to_string())),
        None => Cow::Borrowed(source),
    };
    (out, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings() {
        let src = "a # one\r\nendpoint \"GET /#x\\\"#\" # two\n#three";
        let c = collect(src);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, [" one", " two", "three"]);
        assert_eq!(&src[c[0].span.start..c[0].span.end], "# one");
    }

    #[test]
    fn blanks_comments_tabs_and_cr_outside_strings_only() {
        let src = "a\t# één\r\nb \"x\t#y\r\"\t#z";
        let (_, text) = split(src);
        assert_eq!(text.len(), src.len(), "offsets are kept");
        assert_eq!(
            text,
            "a ".to_string() + &" ".repeat("# één".len()) + " \nb \"x\t#y\r\"   "
        );
        assert!(matches!(split("a b\n").1, Cow::Borrowed(_)));
    }
}
