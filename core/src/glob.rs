//! Redis-style glob matching (`*`, `?`, `[...]` with ranges and `^`, `\`
//! escapes), used by `SENTINEL RESET` and `SENTINEL CONFIG GET`.

/// Does `pattern` match the whole of `text`?
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Iterative with one backtrack point for the last `*`: linear-ish and no
    // recursion, so hostile patterns cannot blow the stack.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pattern, p, text[t], nocase) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], text[t], nocase) {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, text[t], nocase) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches one character against the class starting at `pattern[start]`
/// (`[`). Returns (matched, index after the class).
fn class_match(pattern: &[u8], start: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        let &pc = pattern.get(i)?;
        if pc == b']' {
            break;
        }
        if pc == b'\\' && i + 1 < pattern.len() {
            if eq(pattern[i + 1], c, nocase) {
                matched = true;
            }
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (mut lo, mut hi) = (pattern[i], pattern[i + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let (lc, lo2, hi2) = if nocase {
                (
                    c.to_ascii_lowercase(),
                    lo.to_ascii_lowercase(),
                    hi.to_ascii_lowercase(),
                )
            } else {
                (c, lo, hi)
            };
            if lc >= lo2 && lc <= hi2 {
                matched = true;
            }
            i += 3;
        } else {
            if eq(pc, c, nocase) {
                matched = true;
            }
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes(), false)
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("my*", "mymaster"));
        assert!(m("*master", "mymaster"));
        assert!(m("m?master", "mymaster"));
        assert!(!m("m?master", "mmaster"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
    }

    #[test]
    fn classes_ranges_and_negation() {
        assert!(m("[abc]x", "bx"));
        assert!(!m("[^abc]x", "bx"));
        assert!(m("[a-c]x", "cx"));
        assert!(!m("[a-c]x", "dx"));
    }

    #[test]
    fn escapes_and_case() {
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(!m("MY*", "mymaster"));
        assert!(glob_match(b"ANNOUNCE-*", b"announce-ip", true));
    }

    #[test]
    fn pathological_pattern_finishes() {
        let p = "*a".repeat(50);
        let t = "a".repeat(200) + "b";
        assert!(!m(&p, &t));
    }
}
