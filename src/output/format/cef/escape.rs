//! CEF escaping: header fields and extension values, and the characters that never reach a
//! receiver raw.

pub(super) fn escaped_char_len(c: char, header: bool) -> usize {
    match c {
        '\\' => 2,
        '|' if header => 2,
        '=' if !header => 2,
        '\r' | '\n' => {
            if header {
                1
            } else {
                2
            }
        }
        c if is_unsafe_char(c) => '\u{FFFD}'.len_utf8(),
        c => c.len_utf8(),
    }
}

/// Characters that must never reach a receiver raw: they end a line for some reader (C0, NEL
/// and the other C1 controls, U+2028/U+2029), or make the text read differently from what it
/// is (bidi embeddings, overrides and isolates, marks, BOM/ZWNBSP). They come from feed
/// metadata and packets, so an attacker chooses them.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\0'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        | '\u{2028}' | '\u{2029}'
        | '\u{200E}' | '\u{200F}' | '\u{061C}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

pub(super) fn escaped_len(text: &str, header: bool) -> usize {
    text.chars().map(|c| escaped_char_len(c, header)).sum()
}

/// Header field escaping: `\` and `|` get a backslash, CR/LF become a space, other unsafe
/// characters ([`is_unsafe_char`]) U+FFFD.
pub fn escape_header(buf: &mut Vec<u8>, text: &str) {
    escape(buf, text, true);
}

/// Extension value escaping: `\`, `=`, CR (`\r`) and LF (`\n`); other unsafe characters
/// ([`is_unsafe_char`]) become U+FFFD.
pub fn escape_value(buf: &mut Vec<u8>, text: &str) {
    escape(buf, text, false);
}

fn escape(buf: &mut Vec<u8>, text: &str, header: bool) {
    let mut plain_from = 0;
    for (i, c) in text.char_indices() {
        let replacement: &[u8] = match c {
            '\\' => b"\\\\",
            '|' if header => b"\\|",
            '=' if !header => b"\\=",
            '\r' | '\n' if header => b" ",
            '\r' => b"\\r",
            '\n' => b"\\n",
            c if is_unsafe_char(c) => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        buf.extend_from_slice(text.as_bytes().get(plain_from..i).unwrap_or_default());
        buf.extend_from_slice(replacement);
        plain_from = i + c.len_utf8();
    }
    buf.extend_from_slice(text.as_bytes().get(plain_from..).unwrap_or_default());
}
