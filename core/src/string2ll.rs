//! Redis's strict decimal parser (`string2ll`), the one integer parser of
//! the workspace wherever Redis uses it: request length headers, command
//! arguments (`SENTINEL SET`, `IS-MASTER-DOWN-BY-ADDR`, `ACL LOG`…), config
//! values Redis reads strictly. Directives Redis reads with C's `atoi` /
//! `strtoull` keep those (see `sentinel::directives`).

/// The longest text `string2ll` looks at; longer input is rejected outright
/// (Redis's `LONG_STR_SIZE` is 21, and the length must stay below it).
const MAX_DIGITS: usize = 20;

/// Parses `s` exactly as Redis's `string2ll` does: an optional `-`, then
/// either a lone `0` or digits starting with 1-9, no spaces, no `+`, no
/// leading zeros, and no overflow. So `-0`, `01`, `+1` and `` are all
/// rejected, which is what makes `*01\r\n` an invalid multibulk length.
/// Inline: every request header runs it (several calls per request
/// showed in pipelined profiles).
#[inline]
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > MAX_DIGITS {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, _) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    // Accumulate as a negative number so i64::MIN is representable.
    let mut acc: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative {
        Some(acc)
    } else {
        acc.checked_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::string2ll;

    #[test]
    fn accepts_canonical_decimal() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"10"), Some(10));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn rejects_what_redis_rejects() {
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
