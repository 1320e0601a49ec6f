//! Redis's argument splitting (`sdssplitargs` semantics), shared by inline
//! requests and config-file lines: whitespace-separated tokens, `"..."` with
//! `\xHH \n \r \t \b \a` escapes, and `'...'` with only `\'` escaped.

/// Why a line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A quote was never closed, or a closing quote was followed by a
    /// non-space character. Redis reports both as "unbalanced quotes".
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Double,
    Single,
}

/// Splits `line` into arguments the way Redis does.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, SplitError> {
    // Redis works on C strings: a NUL byte ends the line.
    let line = match line.iter().position(|&b| b == 0) {
        Some(end) => &line[..end],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        let mut quote = Quote::None;
        loop {
            let Some(&c) = line.get(i) else {
                if quote != Quote::None {
                    return Err(SplitError::UnbalancedQuotes);
                }
                break;
            };
            match quote {
                Quote::Double => {
                    if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                        if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                            current.push(h * 16 + l);
                            i += 4;
                            continue;
                        }
                    }
                    if c == b'\\' && i + 1 < line.len() {
                        current.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                        continue;
                    }
                    if c == b'"' {
                        i = close_quote(line, i)?;
                        break;
                    }
                    current.push(c);
                    i += 1;
                }
                Quote::Single => {
                    if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                        current.push(b'\'');
                        i += 2;
                        continue;
                    }
                    if c == b'\'' {
                        i = close_quote(line, i)?;
                        break;
                    }
                    current.push(c);
                    i += 1;
                }
                Quote::None => {
                    match c {
                        b' ' | b'\n' | b'\r' | b'\t' => break,
                        b'"' => quote = Quote::Double,
                        b'\'' => quote = Quote::Single,
                        _ => current.push(c),
                    }
                    i += 1;
                }
            }
        }
        args.push(current);
    }
}

/// Renders `s` so that [`split_args`] reads it back as one argument: bare
/// when it is safe, otherwise double-quoted with escapes (like `sdscatrepr`).
pub fn quote_arg(s: &[u8]) -> String {
    if is_bare(s) {
        return s.iter().map(|&c| c as char).collect();
    }
    repr(s)
}

/// Whether [`quote_arg`] writes `s` as it is.
pub fn is_bare(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\')
}

/// Always double-quoted, escaped like Redis's `sdscatrepr`.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// The quote at `i` closes the current argument, which must end there:
/// the index after it, or an error when something other than whitespace
/// follows (`"abc"def`).
fn close_quote(line: &[u8], i: usize) -> Result<usize, SplitError> {
    if line.get(i + 1).is_some_and(|&n| !is_space(n)) {
        return Err(SplitError::UnbalancedQuotes);
    }
    Ok(i + 1)
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, SplitError> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_words_split_on_whitespace() {
        assert_eq!(split("  set  a\tb ").unwrap(), vec!["set", "a", "b"]);
        assert!(split("   ").unwrap().is_empty());
    }

    #[test]
    fn double_quotes_understand_escapes() {
        assert_eq!(
            split(r#"a "b c\n\x41\"" d"#).unwrap(),
            vec!["a", "b c\nA\"", "d"]
        );
    }

    #[test]
    fn single_quotes_only_escape_the_quote() {
        assert_eq!(split(r"'it\'s \n'").unwrap(), vec!["it's \\n"]);
    }

    #[test]
    fn empty_quoted_strings_are_arguments() {
        assert_eq!(split(r#"x "" ''"#).unwrap(), vec!["x", "", ""]);
    }

    #[test]
    fn unbalanced_quotes_are_errors() {
        assert_eq!(split(r#""abc"#), Err(SplitError::UnbalancedQuotes));
        assert_eq!(split("'abc"), Err(SplitError::UnbalancedQuotes));
        assert_eq!(split(r#""abc"def"#), Err(SplitError::UnbalancedQuotes));
    }

    #[test]
    fn a_nul_byte_ends_the_line_like_a_c_string() {
        // Found by fuzzing: this used to loop forever, pushing empty args.
        assert_eq!(split_args(b"\n\xf6\x00").unwrap(), vec![b"\xf6".to_vec()]);
        assert_eq!(
            split_args(b"PING \x00 ignored").unwrap(),
            vec![b"PING".to_vec()]
        );
        assert!(split_args(b"\x00").unwrap().is_empty());
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            "",
            "plain",
            "with space",
            "quo\"te",
            "back\\slash",
            "\x01\n",
        ] {
            let quoted = quote_arg(s.as_bytes());
            let back = split_args(quoted.as_bytes()).unwrap();
            assert_eq!(back, vec![s.as_bytes().to_vec()], "{quoted}");
        }
    }
}
