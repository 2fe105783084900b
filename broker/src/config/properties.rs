//! Reading `server.properties` text (Java's `.properties` rules: comments, continuations,
//! escapes) and `--override key=value` arguments into key/value pairs.

use super::ConfigError;

/// Splits an `--override` argument at its first `=`.
pub fn parse_override(item: &str) -> Result<(String, String), ConfigError> {
    let (key, value) = item
        .split_once('=')
        .ok_or_else(|| ConfigError::BadOverride(item.to_owned()))?;
    if key.trim().is_empty() {
        return Err(ConfigError::BadOverride(item.to_owned()));
    }
    Ok((key.trim().to_owned(), value.trim().to_owned()))
}

/// Parses Java properties text into `(key, value)` pairs in file order.
///
/// Follows `java.util.Properties.load`: `#`/`!` comment lines, `=`, `:` or whitespace as the
/// separator, a trailing odd backslash joins the next line (its leading whitespace dropped), and
/// backslash escapes (`\t`, `\n`, `\uXXXX`, `\=`, ...).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let first = first.trim_start_matches(is_blank);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_owned();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start_matches(is_blank)),
                None => break,
            }
        }
        pairs.push(split_key_value(&logical));
    }
    pairs
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// True when the line ends in an odd number of backslashes (an even number is escaped `\\`s).
fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (String, String) {
    let mut key_end = line.len();
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = i;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches(is_blank);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches(is_blank);
    }
    (unescape(key), unescape(rest))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
