//! A forgiving tokenizer for what the parser may reject: the text being typed. Hover on keywords
//! and completion read the tokens around the cursor, so they work in a file that does not parse.

use chaos_grammar::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `[a-z_][a-z0-9_-]*` (also keywords, and words with capitals, which the parser rejects).
    Word,
    /// `$name`
    Param,
    /// `"..."`, possibly unterminated at the end of the line.
    Str,
    /// A number with its unit: `250ms`, `400/s`, `x3`.
    Quantity,
    Comment,
    /// Any other character: `{ } ( ) , = + | < >` and arrows.
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.span.start..self.span.end).unwrap_or("")
    }
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Tokens of the whole text, comments included, whitespace left out.
pub fn tokenize(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            TokenKind::Comment
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] != b'\n' {
                    2
                } else {
                    1
                };
            }
            if i < b.len() && b[i] == b'"' {
                i += 1;
            }
            TokenKind::Str
        } else if c == b'$' {
            i += 1;
            i = word_end(b, i);
            TokenKind::Param
        } else if c.is_ascii_digit() || (c == b'x' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < b.len()
                && (is_word_char(b[i])
                    || b[i] == b'%'
                    || b[i] == b'/'
                    || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            TokenKind::Quantity
        } else if c.is_ascii_alphabetic() || c == b'_' {
            i = word_end(b, i);
            TokenKind::Word
        } else {
            // Two-character operators stay together so `->` is not read as part of a name.
            let two = src.get(i..i + 2).unwrap_or("");
            i += if matches!(two, "->" | "=>" | "<=" | ">=" | "==" | "!=" | "..") {
                2
            } else {
                src.get(i..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8)
            };
            TokenKind::Punct
        };
        out.push(Token {
            kind,
            span: Span::new(start, i),
        });
    }
    out
}

/// The end of a name starting at `i`: word characters, and `-` unless it starts `->`.
fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (is_word_char(b[i]) || (b[i] == b'-' && b.get(i + 1) != Some(&b'>'))) {
        i += 1;
    }
    i
}

/// The token that contains `offset`, or ends right at it (the cursor just after a word).
pub fn token_at(tokens: &[Token], offset: usize) -> Option<&Token> {
    tokens
        .iter()
        .find(|t| t.span.start <= offset && offset < t.span.end)
        .or_else(|| {
            tokens
                .iter()
                .find(|t| t.span.end == offset && t.kind != TokenKind::Punct)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        tokenize(src)
            .iter()
            .map(|t| (t.kind, t.text(src)))
            .collect()
    }

    #[test]
    fn tokens_of_a_line() {
        use TokenKind::*;
        assert_eq!(
            kinds("rate 50/s -> $peak over 2m, # ramp\ncall my-db \"GET /\\\"x\" cpu x3"),
            vec![
                (Word, "rate"),
                (Quantity, "50/s"),
                (Punct, "->"),
                (Param, "$peak"),
                (Word, "over"),
                (Quantity, "2m"),
                (Punct, ","),
                (Comment, "# ramp"),
                (Word, "call"),
                (Word, "my-db"),
                (Str, "\"GET /\\\"x\""),
                (Word, "cpu"),
                (Quantity, "x3"),
            ]
        );
    }

    #[test]
    fn unterminated_string_ends_at_the_line() {
        use TokenKind::*;
        assert_eq!(kinds("\"GET\nwork"), vec![(Str, "\"GET"), (Word, "work")]);
        assert_eq!(
            kinds("a->b 3..8 1.5s"),
            vec![
                (Word, "a"),
                (Punct, "->"),
                (Word, "b"),
                (Quantity, "3"),
                (Punct, ".."),
                (Quantity, "8"),
                (Quantity, "1.5s")
            ]
        );
    }
}
