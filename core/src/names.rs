//! Matching a name a client sent against a table's lower-case name, as
//! Redis does for commands and subcommands: case-insensitively.

/// Whether `asked` is `known` (a lower-case ASCII name) in any case. The
/// length and the first letter rule out nearly every entry of a table
/// before the full comparison: a comparison per entry showed in query
/// profiles (the shell's command table and the core's subcommands both
/// match every request this way).
#[inline]
pub fn is_name(known: &str, asked: &[u8]) -> bool {
    let known = known.as_bytes();
    known.len() == asked.len()
        && known
            .first()
            .is_some_and(|&k| asked[0].to_ascii_lowercase() == k)
        && known.eq_ignore_ascii_case(asked)
}

#[cfg(test)]
mod tests {
    use super::is_name;

    #[test]
    fn any_case_matches_and_nothing_else_does() {
        assert!(is_name("sentinel", b"SeNtInEl"));
        assert!(!is_name("sentinel", b"sentine"));
        assert!(!is_name("sentinel", b"tentinel"));
        assert!(!is_name("", b""));
    }
}
