//! Collects `#` comments with one linear scan of the source (the grammar skips them silently).

use crate::ast::{Comment, Span};

/// Every comment in source order. `#` inside a string is not a comment; strings do not span
/// lines and know two escapes, `\"` and `\\`.
pub fn collect(source: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
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
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
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
}
